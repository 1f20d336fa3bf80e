"""Local front ends: an interactive console and one-shot commands for scripts.

Both use one table of commands; each command's options come from its declaration
(`bot.commands`), and each parses them, calls its domain service and returns a JSON-ready
payload, which the console shows as text and the CLI as JSON.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.caption.service import CaptionRequest
from bot.commands import CAPTION, COLOR, MODELS, NAME, PAINT, PALETTE, WRITE, Command
from bot.commands.arguments import add_arguments, option_values
from bot.contract.descriptions import describe
from bot.errors import UserFacingError, plain
from bot.help_format import DefaultsHelp
from bot.images import read_image_file
from bot.name.service import NameRequest
from bot.paint.service import DISPLAY_SIZE, PaintRequest
from bot.services import Services
from bot.write.service import WriteRequest

DEFAULT_STYLE = "shakespeare"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "color"


def colour_wanted(stream: TextIO) -> bool:
    """Terminal colour codes only for a terminal, and never when NO_COLOR is set."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def color_block(rgb: tuple[int, int, int], width: int = 8) -> str:
    """A block of the colour in a true-colour terminal."""
    return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m{' ' * width}\x1b[0m"


def png_path(out: Path | None, default: Path) -> Path:
    """`--out` must name a .png file in a folder that exists (no folder is made for it);
    the default goes into the output folder, which is made if needed."""
    if out is None:
        default.parent.mkdir(parents=True, exist_ok=True)
        return default
    if out.is_dir():
        raise UserFacingError(f"--out {out} is a folder; give a file name ending in .png")
    if out.suffix.lower() != ".png":
        raise UserFacingError(f"--out {out} must end in .png (the image is a PNG)")
    if not out.parent.is_dir():
        raise UserFacingError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def color_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    if args.out is not None:
        png_path(args.out, output_dir)  # a bad --out is refused before any work
    values = option_values(COLOR, args)
    result = services.color.color(values["name"], model_only=values["model_only"])
    kind = "-model" if result.source == "model" else ""  # never overwrites the known swatch
    path = png_path(args.out, output_dir / f"color-{slug(result.name)}{kind}.png")
    path.write_bytes(services.color.render(result))
    return {
        "name": result.name,
        "rgb": list(result.rgb),
        "hex": result.hex,
        "source": result.source,
        "image": str(path),
        "notes": result.notes,
        "alternatives": result.alternative_hexes,
    }


def color_text(payload: dict, colour: bool) -> str:
    rgb = tuple(payload["rgb"])
    source = "known colour" if payload["source"] == "known" else "predicted by the model"
    block = f"{color_block(rgb)}  " if colour else ""
    head = f"{block}{payload['name']}: {payload['hex']}  rgb{rgb}  ({source})"
    notes = [f"  note: {n}" for n in payload["notes"]]
    also = payload.get("alternatives") or []
    others = [f"  also: {', '.join(also)}"] if also else []
    return "\n".join([head, *others, *notes, f"  swatch: {payload['image']}"])


def style_help(services: Services | None) -> dict[str, str]:
    styles = ", ".join(services.write.styles()) if services else ""
    return {
        "style": f"a loaded style: {styles or 'none loaded'} (default: {DEFAULT_STYLE}, "
        "or the only style there is)"
    }


def default_style(services: Services) -> str:
    """Shakespeare where it is loaded, else the only style; else the user must choose."""
    styles = list(services.write.styles())
    if DEFAULT_STYLE in styles or not styles:
        return DEFAULT_STYLE
    if len(styles) == 1:
        return styles[0]
    raise UserFacingError(f"Choose a style with --style: {', '.join(styles)}.")


def write_payload(
    services: Services,
    args: argparse.Namespace,
    output_dir: Path,
    shown: Callable[[str], None] | None = None,
) -> dict:
    """`shown(text_so_far)` is called as the text grows (the console streams it)."""
    values = option_values(WRITE, args)
    request = WriteRequest(**{**values, "style": values["style"] or default_style(services)})
    result = services.write.write(request, shown)
    return {
        "text": result.text,
        "style": result.style,
        "seed": result.seed,
        "prompt": result.prompt,
        "length": args.length,
        "temperature": args.temperature,
        "generated_chars": result.generated_chars,
        "seconds": round(result.seconds, 4),
        "chars_per_second": round(result.chars_per_second, 1),
        "notes": result.notes,
    }


def write_text(payload: dict, colour: bool) -> str:
    notes = "".join(f"\n  note: {n}" for n in payload["notes"])
    return (
        f"{payload['text']}\n-- {payload['style']}, seed {payload['seed']}, "
        f"{payload['chars_per_second']:.0f} characters/s{notes}"
    )


def caption_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    image = None if args.image is None else read_image_file(Path(args.image))
    request = CaptionRequest(**{**option_values(CAPTION, args), "image": image})
    result = services.caption.caption(request)
    return {
        "captions": result.captions,
        "seed": result.seed,
        "method": result.method,
        "image": str(args.image) if args.image else None,
        "notes": result.notes,
    }


def caption_text(payload: dict, colour: bool) -> str:
    lines = [f"{i}. {c}" for i, c in enumerate(payload["captions"], 1)]
    lines += [f"-- {payload['method']}, seed {payload['seed']}"]
    lines += [f"  note: {n}" for n in payload["notes"]]
    return "\n".join(lines)


def palette_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    if args.out is not None:
        png_path(args.out, output_dir)  # a bad --out is refused before any work
    result = services.palette.palette(read_image_file(Path(args.image)))
    path = png_path(args.out, output_dir / f"palette-{slug(Path(args.image).stem)}.png")
    path.write_bytes(services.palette.render(result))
    return {
        "colors": [
            {
                "hex": c.hex,
                "rgb": list(c.rgb),
                "share": round(c.share, 4),
                "known": c.known,
                "invented": c.invented,
            }
            for c in result.colors
        ],
        "image": str(path),
        "notes": result.notes,
    }


def palette_text(payload: dict, colour: bool) -> str:
    lines = []
    for c in payload["colors"]:
        block = f"{color_block(tuple(c['rgb']), 4)}  " if colour else ""
        invented = f" · {c['invented']}" if c["invented"] else ""
        lines.append(f"{block}{c['hex']}  {c['share']:5.1%}  {c['known']}{invented}")
    lines += [f"  note: {n}" for n in payload["notes"]]
    return "\n".join([*lines, f"  strip: {payload['image']}"])


def size_help(services: Services | None) -> dict[str, str]:
    sizes = ", ".join(str(s) for s in sorted(services.paint.painters())) if services else ""
    return {"size": f"canvas size: {sizes or 'none loaded'}"}


def paint_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    if args.out is not None:
        png_path(args.out, output_dir)  # a bad --out is refused before any work
    result = services.paint.paint(PaintRequest(**option_values(PAINT, args)))
    path = png_path(args.out, output_dir / f"paint-{result.seed}.png")
    path.write_bytes(result.png())
    return {
        "image": str(path),
        "width": result.size,
        "height": result.size,
        "display_size": DISPLAY_SIZE,
        "seed": result.seed,
        "temperature": args.temperature,
        "seconds": round(result.seconds, 3),
    }


def paint_text(payload: dict, colour: bool) -> str:
    return (
        f"painted {payload['width']}x{payload['height']} in {payload['seconds']:.1f} s, "
        f"seed {payload['seed']}: {payload['image']}"
    )


def name_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    if args.out is not None:
        png_path(args.out, output_dir)
    result = services.name.name(NameRequest(**option_values(NAME, args)))
    path = png_path(args.out, output_dir / f"name-{result.hex.lstrip('#')}.png")
    path.write_bytes(services.name.render(result))
    return {
        "names": result.names,
        "hex": result.hex,
        "rgb": list(result.rgb),
        "resolved_from": result.resolved_from,
        "seed": result.seed,
        "image": str(path),
        "notes": result.notes,
    }


def name_text(payload: dict, colour: bool) -> str:
    rgb = tuple(payload["rgb"])
    block = f"{color_block(rgb)}  " if colour else ""
    lines = [f"{block}{payload['hex']} ({payload['resolved_from']}):"]
    lines += [f"  {n}" for n in payload["names"]]
    lines += [f"  note: {n}" for n in payload["notes"]]
    return "\n".join([*lines, f"-- seed {payload['seed']}, swatch: {payload['image']}"])


def models_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    engine = services.engine
    return {
        "models": [describe(m) for _, m in sorted(engine.models.items())],
        "unavailable": dict(sorted(engine.failures.items())),
        "model_dir": str(engine.model_dir),
    }


def models_text(payload: dict, colour: bool) -> str:
    lines = []
    for m in payload["models"]:
        metrics = ", ".join(f"{k} {v}" for k, v in m["metrics"].items()) or "no metrics"
        lines.append(
            f"{m['name']} ({m['kind']}): data {', '.join(m['data']) or '?'}; {metrics}; "
            f"trained {m['trained'] or '?'}"
        )
    lines += [f"{name}: UNAVAILABLE ({why})" for name, why in payload["unavailable"].items()]
    return "\n".join(lines) or f"no models in {payload['model_dir']}"


class ArgumentError(UserFacingError):
    """A command line that does not parse (shown as an error, JSON with --json)."""


class QuietParser(argparse.ArgumentParser):
    """Argument errors raise instead of printing usage and exiting."""

    def error(self, message: str):
        raise ArgumentError(f"{message} (see --help)")


def no_helps(services: Services | None) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class LocalCommand:
    declared: Command
    payload: Callable[..., dict]  # (services, args, output folder[, shown]) -> JSON-ready
    text: Callable[[dict, bool], str]
    helps: Callable[[Services | None], dict[str, str]] = no_helps  # help that names models
    saves: str = ""  # the PNG --out names by default ("" when the command saves none)
    streams: bool = False  # its payload takes `shown(text_so_far)` and has a "text"

    @property
    def help(self) -> str:
        return self.declared.summary

    def arguments(self, parser: argparse.ArgumentParser, services: Services | None) -> None:
        add_arguments(parser, self.declared, self.helps(services))
        if self.saves:
            parser.add_argument(
                "--out",
                type=Path,
                help=f"PNG path in an existing folder (default out/{self.saves})",
            )

    def add_parser(
        self, subparsers, name: str, services: Services | None
    ) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(
            name,
            help=self.help,
            description=self.help,
            formatter_class=DefaultsHelp,
        )
        self.arguments(parser, services)
        _json_flag(parser)
        return parser


LOCAL_COMMANDS = {
    c.declared.name: c
    for c in (
        LocalCommand(COLOR, color_payload, color_text, saves="color-NAME.png"),
        LocalCommand(WRITE, write_payload, write_text, style_help, streams=True),
        LocalCommand(CAPTION, caption_payload, caption_text),
        LocalCommand(PAINT, paint_payload, paint_text, size_help, saves="paint-SEED.png"),
        LocalCommand(NAME, name_payload, name_text, saves="name-HEX.png"),
        LocalCommand(PALETTE, palette_payload, palette_text, saves="palette-NAME.png"),
        LocalCommand(MODELS, models_payload, models_text),
    )
}


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
