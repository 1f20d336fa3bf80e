"""What the Discord front end keeps: server settings, daily posts and members' history, in
one SQLite file."""
