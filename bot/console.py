"""A local front end: an interactive console and one-shot commands for scripts."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import TextIO

from bot.colors.service import ColorResult
from bot.errors import UserFacingError
from bot.services import Services

HELP = """Commands:
  /color NAME     the colour a name evokes (add --model-only to skip the known-name lookup)
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
