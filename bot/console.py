"""Local front ends: an interactive console and one-shot commands for scripts.

Both use one table of commands; each parses its options, calls its domain service and
returns a JSON-ready payload, which the console shows as text and the CLI as JSON.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.caption.service import CaptionRequest
from bot.errors import UserFacingError
from bot.images import read_image_file
from bot.paint.service import DISPLAY_SIZE, PaintRequest
from bot.services import Services
from bot.write.service import WriteRequest


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "color"


def color_block(rgb: tuple[int, int, int], width: int = 8) -> str:
    """A block of the colour in a true-colour terminal."""
    return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m{' ' * width}\x1b[0m"


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def color_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="*", help="a colour name")
    parser.add_argument("--model-only", action="store_true", help="skip the known-name lookup")
    parser.add_argument("--out", type=Path, help="PNG path (default out/color-NAME.png)")


def color_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    result = services.color.color(" ".join(args.name), model_only=args.model_only)
    path = args.out or output_dir / f"color-{slug(result.name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(services.color.render(result))
    return {
        "name": result.name,
        "rgb": list(result.rgb),
        "hex": result.hex,
        "source": result.source,
        "image": str(path),
        "notes": result.notes,
    }


def color_text(payload: dict) -> str:
    rgb = tuple(payload["rgb"])
    source = "known colour" if payload["source"] == "known" else "predicted by the model"
    head = f"{color_block(rgb)}  {payload['name']}: {payload['hex']}  rgb{rgb}  ({source})"
    notes = [f"  note: {n}" for n in payload["notes"]]
    return "\n".join([head, *notes, f"  swatch: {payload['image']}"])


def write_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", default="shakespeare")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)


def write_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    request = WriteRequest(
        args.style, args.prompt, args.length, args.temperature, args.seed, args.top_k, args.top_p
    )
    result = services.write.write(request)
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


def write_text(payload: dict) -> str:
    notes = "".join(f"\n  note: {n}" for n in payload["notes"])
    return (
        f"{payload['text']}\n-- {payload['style']}, seed {payload['seed']}, "
        f"{payload['chars_per_second']:.0f} characters/s{notes}"
    )


def caption_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", type=Path, help="caption this image")
    parser.add_argument("--starts-with", default="")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--beam", type=int, help="beam width (0: sample; default: 3 for images)")


def caption_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    image = None if args.image is None else read_image_file(Path(args.image))
    request = CaptionRequest(
        args.starts_with, args.count, args.temperature, args.seed, image, args.beam
    )
    result = services.caption.caption(request)
    return {
        "captions": result.captions,
        "seed": result.seed,
        "method": result.method,
        "image": str(args.image) if args.image else None,
        "notes": result.notes,
    }


def caption_text(payload: dict) -> str:
    lines = [f"{i}. {c}" for i, c in enumerate(payload["captions"], 1)]
    lines += [f"-- {payload['method']}, seed {payload['seed']}"]
    lines += [f"  note: {n}" for n in payload["notes"]]
    return "\n".join(lines)


def paint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--size", type=int, help="canvas size (one the painter supports)")
    parser.add_argument("--out", type=Path, help="PNG path (default out/paint-SEED.png)")


def paint_payload(services: Services, args: argparse.Namespace, output_dir: Path) -> dict:
    result = services.paint.paint(PaintRequest(args.seed, args.temperature, args.size))
    path = args.out or output_dir / f"paint-{result.seed}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
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


def paint_text(payload: dict) -> str:
    return (
        f"painted {payload['width']}x{payload['height']} in {payload['seconds']:.1f} s, "
        f"seed {payload['seed']}: {payload['image']}"
    )


@dataclass(frozen=True)
class LocalCommand:
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    payload: Callable[[Services, argparse.Namespace, Path], dict]
    text: Callable[[dict], str]

    def add_parser(self, subparsers, name: str) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=self.help)
        self.arguments(parser)
        _json_flag(parser)
        return parser


COMMANDS = {
    "color": LocalCommand("the colour a name evokes", color_arguments, color_payload, color_text),
    "write": LocalCommand("text in a learned style", write_arguments, write_payload, write_text),
    "caption": LocalCommand(
        "captions, or a caption for an image", caption_arguments, caption_payload, caption_text
    ),
    "paint": LocalCommand(
        "a painting in the style of Monet", paint_arguments, paint_payload, paint_text
    ),
}


class _ConsoleParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UserFacingError(message)


class Console:
    def __init__(self, services: Services, output_dir: Path) -> None:
        self.services = services
        self.output_dir = output_dir
        self.parsers = {}
        for name, command in COMMANDS.items():
            parser = _ConsoleParser(prog=f"/{name}", add_help=False)
            command.arguments(parser)
            self.parsers[name] = parser

    def help(self) -> str:
        lines = ["Commands:"]
        for name, parser in self.parsers.items():
            usage = parser.format_usage().removeprefix("usage: ").strip()
            lines += [f"  {usage}", f"      {COMMANDS[name].help}"]
        lines += ["  /models   loaded models", "  /help     this text", "  /quit     leave"]
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
            if command == "/models":
                return self.models()
            if command.startswith("/") and name in COMMANDS:
                return self.run(name, rest)
            return f"Unknown command {command!r}. Type /help."
        except UserFacingError as exc:
            return f"error: {exc}"

    def run(self, name: str, rest: str) -> str:
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise UserFacingError(f"could not read that line: {exc}") from None
        args = self.parsers[name].parse_args(words)
        command = COMMANDS[name]
        return command.text(command.payload(self.services, args, self.output_dir))

    def models(self) -> str:
        engine = self.services.engine
        lines = [f"{name}: {m.metadata.kind}" for name, m in sorted(engine.models.items())]
        lines += [f"{name}: UNAVAILABLE ({why})" for name, why in sorted(engine.failures.items())]
        return "\n".join(lines) or f"no models in {engine.model_dir}"

    def loop(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        """Ctrl-C during a command cancels it and returns to the prompt; at the prompt it
        leaves."""
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
