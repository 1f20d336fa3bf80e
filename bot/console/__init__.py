"""Local front ends: an interactive console and one-shot commands for scripts.

Both use one table of commands (`commands`); each command's options come from its
declaration (`bot.commands`), and what it does (`actions`) parses them, calls its domain
service and returns a JSON-ready payload, which the console (`loop`) shows as text and
the CLI as JSON.
"""
