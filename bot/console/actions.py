"""What each local command does: parse nothing, call its domain service with the values
its declaration read, and return a JSON-ready payload (the CLI prints it as JSON) and the
text the console and plain CLI show for it. Commands that save a PNG check `--out`
before any work, so a bad path costs nothing."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from bot.caption.service import CaptionRequest
from bot.commands import CAPTION, COLOR, NAME, PAINT, WRITE
from bot.commands.arguments import option_values
from bot.contract.descriptions import describe
from bot.errors import UserFacingError
from bot.images import read_image_file
from bot.name.service import NameRequest
from bot.paint.service import DISPLAY_SIZE, PaintRequest
from bot.services import Services
from bot.write.service import WriteRequest

DEFAULT_STYLE = "shakespeare"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "color"


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
