"""`/help`: how to use each command, with an example and the limits that apply now.

The limits are read when someone asks (cooldowns can be changed in the environment and
per server or channel with `/settings`, the waiting line in the configuration), and the
text, example and input limits come from each command's declaration (`bot.commands`), so
the help cannot drift from what the commands enforce.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import COMMANDS, PUBLIC
from bot.config import Settings
from bot.discord_app.channel_settings import channel_cooldown
from bot.images import ALLOWED_FORMATS, MAX_BYTES

HELP_DESCRIPTION = "How to use each command, with examples and the limits here"
DEFAULT_WAITING = Settings.max_waiting  # the configuration's default

EXTRA_FIELDS = (
    (
        "Right-click",
        "On a message, **Apps → Caption this image**, **Apps → Palette of this image** or "
        "**Apps → Continue this text**; on a user, **Apps → Caption their avatar**.",
    ),
    (
        "Buttons",
        "Answers carry buttons: again, continue, hotter and cooler on /write; another "
        "caption on /caption; new painting, variations and bigger on /paint; colour "
        "alternatives and **Name this colour** on /color. Only the person who asked may "
        "press them, unless the server allows anyone. `/history show` lists your last 10 "
        "generations, each with a button that makes it again; `/history forget` deletes them.",
    ),
    (
        "Admins",
        "`/settings` shows or changes settings for the server or one channel, and "
        "`/settings daily set` makes the bot post here every day; "
        "`/reload` re-reads changed model files; `/models` lists the loaded models "
        "and their key numbers.",
    ),
)


def _formats() -> str:
    kinds = list(ALLOWED_FORMATS.values())
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]


def _command_texts() -> dict[str, tuple[str, str, str]]:
    """Per command: what it does, an example, and its limits besides the cooldown."""
    extras = {"formats": _formats(), "megabytes": MAX_BYTES // 2**20}
    return {
        name: (COMMANDS[name].about, COMMANDS[name].example, COMMANDS[name].limits_text(**extras))
        for name in PUBLIC
    }


def cooldown_text(rate: int, per: float) -> str:
    if rate <= 0:
        return "no cooldown"
    uses = "use" if rate == 1 else "uses"
    return f"{rate} {uses} per {per:g} s"


def help_embed(limits: dict[str, tuple[int, float]], max_waiting: int) -> discord.Embed:
    """One field per command, then right-click, buttons and admin commands; `limits`
    holds each command's per-user cooldown as (uses, seconds). Well within Discord's
    6,000 characters per embed and 1,024 per field value."""
    embed = discord.Embed(
        title="How to use this bot",
        description=(
            f"Busy models keep a waiting line of {max_waiting} per model; when it is full "
            "the bot says how long to wait. Cooldowns are per user."
        ),
    )
    for command, (does, example, limit) in _command_texts().items():
        cooldown = cooldown_text(*limits[command])
        value = f"{does}\nExample: `{example}`\n{limit} Cooldown: {cooldown}."
        embed.add_field(name=f"/{command}", value=value, inline=False)
    for name, value in EXTRA_FIELDS:
        embed.add_field(name=name, value=value, inline=False)
    return embed


def waiting_line(client: discord.Client) -> int:
    """The bot's configured waiting line; a client without services (tests, a bare
    bot) gets the configuration's default."""
    settings = getattr(getattr(client, "services", None), "settings", None)
    return getattr(settings, "max_waiting", DEFAULT_WAITING)


class HelpCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description=HELP_DESCRIPTION)
    async def show_help(self, interaction: discord.Interaction) -> None:
        limits = {command: await channel_cooldown(interaction, command) for command in PUBLIC}
        await interaction.response.send_message(
            embed=help_embed(limits, waiting_line(interaction.client)),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
