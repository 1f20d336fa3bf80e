"""`python -m bot`: Discord when a token is set, else a local console; plus one-shot commands."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bot.config import Settings, read_token
from bot.errors import UserFacingError, plain


def global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """Options read before the models load; a subcommand takes them too (with
    `default=argparse.SUPPRESS`, so they do not overwrite what came before it)."""
    parser.add_argument("--model-dir", type=Path, default=default, help="directory of ONNX models")
    flag = {"action": "store_true", "default": default or False}
    parser.add_argument("--cpu", help="never try the CUDA provider", **flag)
    parser.add_argument("--console", help="console even if a token is set", **flag)
    parser.add_argument("--sync", help="publish slash commands globally at start-up", **flag)
    parser.add_argument("-v", "--verbose", help="log more", **flag)


def build_parser(services=None) -> argparse.ArgumentParser:
    """The whole command line; with `services`, help shows the loaded styles and sizes."""
    from bot.console.commands import LOCAL_COMMANDS, QuietParser

    parser = QuietParser(prog="python -m bot", description=__doc__)
    global_options(parser)
    subparsers = parser.add_subparsers(dest="command", parser_class=QuietParser)
    for name, command in LOCAL_COMMANDS.items():
        global_options(command.add_parser(subparsers, name, services), argparse.SUPPRESS)
    return parser


def one_shot(services, args: argparse.Namespace, output_dir: Path) -> int:
    """Run one command; JSON (or text) on stdout, and exit status 2 for a user error."""
    from bot.console.commands import LOCAL_COMMANDS
    from bot.console.loop import colour_wanted

    command = LOCAL_COMMANDS[args.command]
    try:
        payload = command.payload(services, args, output_dir)
    except UserFacingError as exc:
        if args.json:
            print(json.dumps({"error": plain(str(exc))}))
        else:
            print(f"error: {plain(str(exc))}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(command.text(payload, colour_wanted(sys.stdout)))
    return 0


def run_on_discord(services, token: str, sync: bool) -> int:
    """Connect; a network or login failure is one clear line and exit status 1."""
    import aiohttp
    import discord

    from bot.discord_app.client import run_discord

    api, gateway = os.environ.get("RNNBOT_DISCORD_API"), os.environ.get("RNNBOT_DISCORD_GATEWAY")
    if api and gateway:  # a local stand-in of Discord (examples/two_gateways.py), never Discord
        from bot.discord_app.endpoints import use_local_discord

        use_local_discord(api, gateway)
    try:
        run_discord(services, token, sync_on_start=sync)
    except discord.LoginFailure:
        print("error: Discord refused the token (DISCORD_TOKEN); check it.", file=sys.stderr)
        return 1
    except discord.ConnectionClosed as exc:  # e.g. 4011 with shard ids set (logged above)
        print(f"error: Discord closed the gateway (code {exc.code}).", file=sys.stderr)
        return 1
    except (OSError, aiohttp.ClientError, discord.HTTPException, discord.GatewayNotFound) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: cannot reach Discord ({reason}); check the network.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    early = argparse.ArgumentParser(add_help=False)
    global_options(early)
    first, rest = early.parse_known_args(argv)
    level = logging.INFO if first.verbose or not rest else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if first.model_dir:
        settings.model_dir = first.model_dir
    if first.cpu:
        settings.prefer_gpu = False

    from bot.console.commands import ArgumentError
    from bot.console.loop import Console
    from bot.services import Services

    services = Services.start(settings)
    try:
        try:
            args = build_parser(services).parse_args(argv)
        except ArgumentError as exc:
            if "--json" in argv:
                print(json.dumps({"error": plain(str(exc))}))
            else:
                print(f"error: {plain(str(exc))}", file=sys.stderr)
            return 2
        if args.command:
            return one_shot(services, args, settings.output_dir)
        token = None if args.console else read_token()
        if token:
            return run_on_discord(services, token, args.sync)
        Console(services, settings.output_dir).loop()
        return 0
    except KeyboardInterrupt:
        print("cancelled.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`| head`): nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (so the final flush is quiet)
        return 141
    finally:
        services.close(grace=1.0)


if __name__ == "__main__":
    sys.exit(main())
