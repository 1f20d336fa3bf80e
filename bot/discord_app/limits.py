"""Per-user cooldowns, read from the environment when a command runs.

Defaults (uses per seconds): color 5/10, write 2/30, caption 3/30, paint 1/30, name 3/30.
Override with e.g. RNNBOT_COOLDOWN_PAINT="2/60"; "0/0" disables a command's cooldown.
"""

from __future__ import annotations

import os

import discord
from discord import app_commands

DEFAULTS = {
    "color": (5, 10.0),
    "write": (2, 30.0),
    "caption": (3, 30.0),
    "paint": (1, 30.0),
    "name": (3, 30.0),
}


def cooldown_for(command: str) -> tuple[int, float]:
    raw = os.environ.get(f"RNNBOT_COOLDOWN_{command.upper()}", "")
    if raw:
        rate, _, per = raw.partition("/")
        return int(rate), float(per)
    return DEFAULTS[command]


def per_user_cooldown(command: str):
    """An app_commands check: at most `rate` uses per `per` seconds per user."""

    def factory(interaction: discord.Interaction) -> app_commands.Cooldown | None:
        rate, per = cooldown_for(command)
        return app_commands.Cooldown(rate, per) if rate > 0 else None

    return app_commands.checks.dynamic_cooldown(factory, key=lambda i: i.user.id)
