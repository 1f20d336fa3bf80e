"""The Discord commands, one cog each; the plumbing they share lies one level up."""
