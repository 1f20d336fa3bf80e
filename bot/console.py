"""A local front end: an interactive console and one-shot commands for scripts."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import TextIO

from bot.caption.service import CaptionRequest
from bot.colors.service import ColorResult
from bot.errors import UserFacingError
from bot.services import Services
from bot.write.service import WriteRequest

HELP = """Commands:
  /color NAME     the colour a name evokes (add --model-only to skip the known-name lookup)
  /write [--style S] [--prompt TEXT] [--length N] [--temperature T] [--seed N]
                  text in a learned style
  /caption [--image PATH] [--starts-with TEXT] [--count N] [--temperature T] [--seed N]
                  captions, or a caption for an image
  /models         loaded models
  /help           this text
  /quit           leave"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "color"


def color_block(rgb: tuple[int, int, int], width: int = 8) -> str:
    """A block of the colour in a true-colour terminal."""
    return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m{' ' * width}\x1b[0m"


def color_payload(
    services: Services, name: str, model_only: bool, out: Path | None, output_dir: Path
) -> tuple[ColorResult, dict]:
    """Run /color and save the swatch; returns the result and the JSON the CLI prints."""
    result = services.color.color(name, model_only=model_only)
    path = out or output_dir / f"color-{slug(result.name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(services.color.render(result))
    payload = {
        "name": result.name,
        "rgb": list(result.rgb),
        "hex": result.hex,
        "source": result.source,
        "image": str(path),
        "notes": result.notes,
    }
    return result, payload


def add_write_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--style", default="shakespeare")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def write_payload(services: Services, args: argparse.Namespace) -> dict:
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


def add_caption_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--image", type=Path, help="caption this image")
    parser.add_argument("--starts-with", default="")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--beam", type=int, help="beam width (0: sample; default: 3 for images)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def caption_payload(services: Services, args: argparse.Namespace) -> dict:
    image = None
    if args.image is not None:
        try:
            image = Path(args.image).read_bytes()
        except OSError as exc:
            raise UserFacingError(f"cannot read {args.image}: {exc.strerror}") from None
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


class _ConsoleParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UserFacingError(message)


class Console:
    def __init__(self, services: Services, output_dir: Path) -> None:
        self.services = services
        self.output_dir = output_dir

    def handle(self, line: str) -> str | None:
        """Answer one typed line; None means quit."""
        line = line.strip()
        if not line:
            return ""
        command, _, rest = line.partition(" ")
        try:
            if command in ("/quit", "/exit"):
                return None
            if command == "/help":
                return HELP
            if command == "/models":
                return self.models()
            if command == "/color":
                return self.color(rest)
            if command == "/write":
                return self.write(rest)
            if command == "/caption":
                return self.caption(rest)
            return f"Unknown command {command!r}. Type /help."
        except UserFacingError as exc:
            return f"error: {exc}"

    def color(self, rest: str) -> str:
        words = shlex.split(rest) if rest.count('"') % 2 == 0 else rest.split()
        model_only = "--model-only" in words
        name = " ".join(w for w in words if w != "--model-only")
        return self.show_color(name, model_only)

    def show_color(self, name: str, model_only: bool = False, out: Path | None = None) -> str:
        result, payload = color_payload(self.services, name, model_only, out, self.output_dir)
        source = "known colour" if result.source == "known" else "predicted by the model"
        lines = [
            f"{color_block(result.rgb)}  {result.name}: {result.hex}  rgb{result.rgb}  ({source})",
            *(f"  note: {n}" for n in result.notes),
            f"  swatch: {payload['image']}",
        ]
        return "\n".join(lines)

    @staticmethod
    def parse(rest: str, command: str, add_arguments) -> argparse.Namespace:
        parser = add_arguments(_ConsoleParser(prog=command, add_help=False))
        try:
            return parser.parse_args(shlex.split(rest))
        except ValueError as exc:
            raise UserFacingError(f"could not read that line: {exc}") from None

    def caption(self, rest: str) -> str:
        payload = caption_payload(
            self.services, self.parse(rest, "/caption", add_caption_arguments)
        )
        lines = [f"{i}. {c}" for i, c in enumerate(payload["captions"], 1)]
        lines += [f"-- {payload['method']}, seed {payload['seed']}"]
        lines += [f"  note: {n}" for n in payload["notes"]]
        return "\n".join(lines)

    def write(self, rest: str) -> str:
        payload = write_payload(self.services, self.parse(rest, "/write", add_write_arguments))
        notes = "".join(f"\n  note: {n}" for n in payload["notes"])
        return (
            f"{payload['text']}\n-- {payload['style']}, seed {payload['seed']}, "
            f"{payload['chars_per_second']:.0f} characters/s{notes}"
        )

    def models(self) -> str:
        engine = self.services.engine
        lines = [f"{name}: {m.metadata.kind}" for name, m in sorted(engine.models.items())]
        lines += [f"{name}: UNAVAILABLE ({why})" for name, why in sorted(engine.failures.items())]
        return "\n".join(lines) or f"no models in {engine.model_dir}"

    def loop(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        print("No DISCORD_TOKEN set: local console. Type /help, or /color forest.", file=stdout)
        while True:
            print("> ", end="", file=stdout, flush=True)
            line = stdin.readline()
            if not line:
                break
            answer = self.handle(line)
            if answer is None:
                break
            if answer:
                print(answer, file=stdout, flush=True)
