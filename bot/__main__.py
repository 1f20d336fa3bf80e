"""`python -m bot`: Discord when a token is set, else a local console; plus one-shot commands."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import Settings, read_token
from bot.errors import UserFacingError


def build_parser() -> argparse.ArgumentParser:
    from bot.console import COMMANDS

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--model-dir", type=Path, help="directory of ONNX models")
    parser.add_argument("--cpu", action="store_true", help="never try the CUDA provider")
    parser.add_argument("--console", action="store_true", help="console even if a token is set")
    parser.add_argument(
        "--sync", action="store_true", help="publish slash commands globally at start-up"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    subparsers = parser.add_subparsers(dest="command")
    for name, command in COMMANDS.items():
        command.add_parser(subparsers, name)
    return parser


def one_shot(services, args: argparse.Namespace, output_dir: Path) -> int:
    """Run one command; JSON (or text) on stdout, and exit status 2 for a user error."""
    from bot.console import COMMANDS

    command = COMMANDS[args.command]
    try:
        payload = command.payload(services, args, output_dir)
    except UserFacingError as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 2
    print(json.dumps(payload, ensure_ascii=False) if args.json else command.text(payload))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose or args.command is None else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if args.model_dir:
        settings.model_dir = args.model_dir
    if args.cpu:
        settings.prefer_gpu = False

    from bot.console import Console
    from bot.services import Services

    services = Services.start(settings)
    try:
        if args.command:
            return one_shot(services, args, settings.output_dir)
        token = None if args.console else read_token()
        if token:
            from bot.discord_app.client import run_discord

            run_discord(services, token, sync_on_start=args.sync)
        else:
            Console(services, settings.output_dir).loop()
        return 0
    except KeyboardInterrupt:
        print("cancelled.", file=sys.stderr)
        return 130
    finally:
        services.close(grace=1.0)


if __name__ == "__main__":
    sys.exit(main())
