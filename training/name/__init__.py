"""`/name`: the inverse of `/color`, a character language model that reads a colour."""
