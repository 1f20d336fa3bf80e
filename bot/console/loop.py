"""The interactive console: it reads typed lines, answers each through the table of
local commands, streams text as it is made, and lets Ctrl-C cancel a running command."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

from bot.console.commands import LOCAL_COMMANDS, QuietParser
from bot.errors import UserFacingError, plain
from bot.help_format import DefaultsHelp
from bot.services import Services


def colour_wanted(stream: TextIO) -> bool:
    """Terminal colour codes only for a terminal, and never when NO_COLOR is set."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


class Stream:
    """Prints text as it grows, as Discord's reply shows it; called from the batcher's
    thread while the console waits."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.printed = 0

    def show(self, text: str) -> None:
        self.out.write(text[self.printed :])
        self.out.flush()
        self.printed = len(text)


class Console:
    def __init__(self, services: Services, output_dir: Path, colour: bool | None = None) -> None:
        self.services = services
        self.output_dir = output_dir
        self.colour = colour
        self.stdout: TextIO | None = None  # where text streams as it is made, in `loop`
        self.parsers = {}
        for name, command in LOCAL_COMMANDS.items():
            parser = QuietParser(
                prog=f"/{name}",
                description=command.help,
                add_help=False,
                formatter_class=DefaultsHelp,
            )
            command.arguments(parser, services)
            self.parsers[name] = parser

    def help(self) -> str:
        lines = ["Commands (add --help to one for its options):"]
        for name, parser in self.parsers.items():
            usage = parser.format_usage().removeprefix("usage: ").strip()
            lines += [f"  {usage}", f"      {LOCAL_COMMANDS[name].help}"]
        lines += ["  /help     this text", "  /quit     leave (or Ctrl-C at the prompt)"]
        lines += ["  On Discord only: /reload (admins). Ctrl-C cancels a running command."]
        return "\n".join(lines)

    def handle(self, line: str) -> str | None:
        """Answer one typed line; None means quit."""
        line = line.strip()
        if not line:
            return ""
        command, _, rest = line.partition(" ")
        name = command.removeprefix("/")
        try:
            if command in ("/quit", "/exit"):
                return None
            if command == "/help":
                return self.help()
            if command.startswith("/") and name in LOCAL_COMMANDS:
                return self.run(name, rest)
            return f"Unknown command {command!r}. Type /help."
        except UserFacingError as exc:
            return f"error: {plain(str(exc))}"

    def run(self, name: str, rest: str) -> str:
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise UserFacingError(f"could not read that line: {exc}") from None
        if "--help" in words or "-h" in words:
            return self.parsers[name].format_help()
        args = self.parsers[name].parse_args(words)
        command = LOCAL_COMMANDS[name]
        if not command.streams or self.stdout is None:
            return command.text(command.payload(self.services, args, self.output_dir), self.colour)
        stream = Stream(self.stdout)
        payload = command.payload(self.services, args, self.output_dir, stream.show)
        stream.show(payload["text"])  # the part after the last progress call
        return command.text({**payload, "text": ""}, self.colour)

    def loop(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        """Ctrl-C during a command cancels it and returns to the prompt; at the prompt it
        leaves."""
        if self.colour is None:
            self.colour = colour_wanted(stdout)
        self.stdout = stdout
        print("No DISCORD_TOKEN set: local console. Type /help, or /color forest.", file=stdout)
        while True:
            print("> ", end="", file=stdout, flush=True)
            try:
                line = stdin.readline()
            except KeyboardInterrupt:
                print(file=stdout)
                break
            if not line:
                break
            try:
                answer = self.handle(line)
            except KeyboardInterrupt:
                answer = "cancelled."
            if answer is None:
                break
            if answer:
                print(answer, file=stdout, flush=True)
