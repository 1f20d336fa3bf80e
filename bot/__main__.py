"""`python -m bot`: Discord when a token is set, else a local console; plus one-shot commands."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import Settings, read_token
from bot.console import add_caption_arguments, add_write_arguments
from bot.errors import UserFacingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--model-dir", type=Path, help="directory of ONNX models")
    parser.add_argument("--cpu", action="store_true", help="never try the CUDA provider")
    parser.add_argument("--console", action="store_true", help="console even if a token is set")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="publish slash commands globally at start-up (Discord only)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command")
    color = commands.add_parser("color", help="one colour, printed (and its swatch saved)")
    color.add_argument("name")
    color.add_argument("--model-only", action="store_true", help="skip the known-name lookup")
    color.add_argument("--out", type=Path, help="PNG path (default out/color-NAME.png)")
    color.add_argument("--json", action="store_true", help="print one JSON object")
    add_write_arguments(commands.add_parser("write", help="text in a learned style"))
    add_caption_arguments(commands.add_parser("caption", help="captions, or an image's caption"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose or args.command is None else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if args.model_dir:
        settings.model_dir = args.model_dir
    if args.cpu:
        settings.prefer_gpu = False

    from bot.console import Console, color_payload
    from bot.services import Services

    services = Services.start(settings)
    if args.command == "color":
        try:
            if args.json:
                _, payload = color_payload(
                    services, args.name, args.model_only, args.out, settings.output_dir
                )
                print(json.dumps(payload))
            else:
                console = Console(services, settings.output_dir)
                print(console.show_color(args.name, args.model_only, args.out))
        except UserFacingError as exc:
            if args.json:
                print(json.dumps({"error": str(exc)}))
            else:
                print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0

    if args.command == "write":
        return write_main(services, args)
    if args.command == "caption":
        return caption_main(services, args)

    token = None if args.console else read_token()
    if token:
        from bot.discord_app.client import run_discord

        run_discord(services, token, sync_on_start=args.sync)
    else:
        Console(services, settings.output_dir).loop()
    return 0


def caption_main(services, args) -> int:
    from bot.console import caption_payload

    try:
        payload = caption_payload(services, args)
    except UserFacingError as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 2
    print(json.dumps(payload) if args.json else "\n".join(payload["captions"]))
    return 0


def write_main(services, args) -> int:
    from bot.console import write_payload

    try:
        payload = write_payload(services, args)
    except UserFacingError as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 2
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(payload["text"])
        print(
            f"-- {payload['style']}, seed {payload['seed']}, "
            f"{payload['chars_per_second']:.0f} characters/s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
