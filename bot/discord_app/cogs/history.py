"""`/history show` and `/history forget`: a member's last generations, each with a button
that makes it again exactly (same seed, same options), and a way to delete them all.

Both answer privately and work wherever the bot's commands do: servers, DMs and user
installs. The rows live in the settings database (`bot.discord_app.store.history`); a
`discord.ext.tasks` loop drops those past the kept days every hour.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.caption.service import CaptionRequest
from bot.discord_app.buttons import answer_button, handle_press
from bot.discord_app.replies import NO_MENTIONS, report_error, send_ephemeral
from bot.discord_app.store.history import Generation, HistoryStore
from bot.errors import quoted
from bot.name.service import NameRequest
from bot.paint.service import DISPLAY_SIZE, PaintRequest
from bot.write.service import WriteRequest

log = logging.getLogger(__name__)

REQUESTS = {
    "paint": PaintRequest,
    "write": WriteRequest,
    "name": NameRequest,
    "caption": CaptionRequest,
}
COGS = {
    "paint": "PaintCog",
    "write": "WriteCog",
    "name": "NameCog",
    "caption": "CaptionCog",
    "color": "ColorCog",
}
NOT_SHOWN = {"image", "display", "alternative", "top_k", "top_p"}  # left out of the list


def request_for(entry: Generation) -> object:
    """The request that made `entry`, with its seed (fields it lacks keep defaults)."""
    kind = REQUESTS[entry.command]
    names = {f.name for f in dataclasses.fields(kind)}
    given = {k: v for k, v in entry.options.items() if k in names and k != "image"}
    return kind(**given, **({"seed": entry.seed} if "seed" in names else {}))


def rerunnable(entry: Generation) -> bool:
    """An image was never kept, so a caption of one cannot be made again."""
    return entry.command in COGS and not entry.options.get("image")


async def rerun(interaction: discord.Interaction, entry: Generation) -> None:
    """Make the generation again, answering as the command itself does."""
    cog = interaction.client.get_cog(COGS[entry.command])
    if entry.command == "color":
        name = entry.options["name"]
        if entry.options.get("alternative"):
            await cog.show(interaction, name)
        else:
            await cog.color.callback(cog, interaction, name)
    elif entry.command == "paint":
        await cog.respond(
            interaction, request_for(entry), entry.options.get("display", DISPLAY_SIZE)
        )
    else:
        await cog.respond(interaction, request_for(entry))


RERUN_ID = re.compile(r"(?P<owner>\d{1,20}):(?P<entry>\d{1,19}):(?P<place>\d{1,2})")
NOT_VALID = "This button no longer works; run /history show for fresh ones."
NOT_YOURS = "These buttons are for the member who ran /history; run /history show yourself."


class RerunButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"history:rerun:(?P<rest>.*)",
):
    """Its custom_id (under 60 characters) names the member and their entry. Anything
    matching the prefix is taken, so a forged or mangled id gets a clear answer; and a
    press only ever reads the presser's own history."""

    def __init__(self, owner: int, entry: int, place: int, disabled: bool = False) -> None:
        button = answer_button("🔁", str(place), f"history:rerun:{owner}:{entry}:{place}")
        button.disabled = disabled
        super().__init__(button)
        self.owner: int | None = owner
        self.entry: int | None = entry

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match
    ) -> RerunButton:
        parts = RERUN_ID.fullmatch(match["rest"])
        if parts is None:
            button = cls(0, 0, 0)
            button.owner = button.entry = None  # not one of ours: answered as such
            return button
        return cls(int(parts["owner"]), int(parts["entry"]), int(parts["place"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.entry is None or self.entry >= 2**63:  # beyond SQLite's integers
            await send_ephemeral(interaction, NOT_VALID)
            return
        if interaction.user.id != self.owner:  # whatever the server's button policy
            await send_ephemeral(interaction, NOT_YOURS)
            return
        history: HistoryStore = interaction.client.history
        try:
            entry = await history.get(interaction.user.id, self.entry)
        except Exception as error:  # the database is down: say so, privately
            await report_error(interaction, error)
            return
        if entry is None:  # forgotten, or past the kept days
            await send_ephemeral(interaction, "That generation is no longer in your history.")
            return
        if not rerunnable(entry):
            await send_ephemeral(interaction, "That generation cannot be made again.")
            return
        await handle_press(
            interaction, entry.command, interaction.user.id, lambda: rerun(interaction, entry)
        )


def describe(entry: Generation) -> str:
    """One line: the command with its options, the seed, when, and the answer's link."""
    shown = [
        f"{key}:{quoted(str(value), 30) if isinstance(value, str) else value}"
        for key, value in entry.options.items()
        if key not in NOT_SHOWN and value not in (None, "")
    ]
    seed = f" · seed {entry.seed}" if entry.seed is not None else ""
    image = " · an image (not kept)" if entry.options.get("image") else ""
    return (
        f"/{entry.command} {' '.join(shown)}{image}{seed} · <t:{int(entry.at)}:R> · "
        f"[message]({entry.link})"
    )


def history_message(owner: int, entries: list[Generation]) -> tuple[discord.Embed, discord.ui.View]:
    embed = discord.Embed(title="Your last generations")
    lines = [f"**{place}.** {describe(e)}" for place, e in enumerate(entries, 1)]
    embed.description = "\n".join(lines)[:4000]
    embed.set_footer(text="🔁 n makes number n again: same seed, same options.")
    view = discord.ui.View(timeout=None)
    for place, entry in enumerate(entries, 1):
        view.add_item(RerunButton(owner, entry.id, place, disabled=not rerunnable(entry)))
    return embed, view


class HistoryCog(commands.GroupCog, group_name="history"):
    """Your recent generations with this bot"""

    def __init__(self, history: HistoryStore) -> None:
        super().__init__()
        self.history = history

    async def cog_load(self) -> None:
        self.prune.start()

    async def cog_unload(self) -> None:
        self.prune.cancel()

    @tasks.loop(hours=1)
    async def prune(self) -> None:
        try:
            dropped = await self.history.prune()
        except Exception as error:  # the database is down: the next hour tries again
            log.warning("history: could not drop old generations (%s)", error)
            return
        if dropped:
            log.info("history: dropped %d old generations", dropped)

    @app_commands.command(name="show", description="Your last 10 generations, to make again")
    async def show(self, interaction: discord.Interaction) -> None:
        """Deferred first: the read waits for this process's pending history writes,
        which may wait on a busy database longer than Discord's 3 s."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.history.recent(interaction.user.id)
        if not entries:
            await interaction.followup.send(
                f"Nothing yet: your generations of the last {self.history.days} days show here.",
                ephemeral=True,
            )
            return
        embed, view = history_message(interaction.user.id, entries)
        await interaction.followup.send(
            embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="forget", description="Delete everything this bot keeps about you")
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        deleted = await self.history.forget(interaction.user.id)
        await interaction.followup.send(
            f"Deleted your history ({deleted} generations). The bot keeps nothing else about "
            "you: settings belong to servers, and cooldowns are only held in memory.",
            ephemeral=True,
        )
