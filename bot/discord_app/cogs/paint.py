"""`/paint`: shows the canvas filling in, then the finished painting."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, replace

import discord
import numpy as np
from discord import app_commands
from discord.ext import commands

from bot.commands import MAX_SEED, PAINT
from bot.commands.slash import slash_command
from bot.discord_app.admission import Admission
from bot.discord_app.attachments import png_file
from bot.discord_app.buttons import answer_button, handle_press
from bot.discord_app.channel_settings import per_user_cooldown
from bot.discord_app.progress import admitted, run_with_progress
from bot.discord_app.replies import NO_MENTIONS, remember
from bot.paint.service import DISPLAY_SIZE, PaintRequest, PaintService, preview_png

EDIT_INTERVAL = 1.0  # seconds between progress edits

BIG_DISPLAY = 1024  # pixels of the ⬆ render
ACTIONS = {"new": ("🔁", "New painting"), "vary": ("🎨", "Variations"), "big": ("⬆️", "Bigger")}


@dataclass(frozen=True)
class Painted:
    """What a painting's buttons need to paint the next one (the seed and its options)."""

    owner: int
    seed: int
    temperature: float
    size: int

    def custom_id(self, action: str) -> str:
        return (
            f"paint:{action}:{self.owner}:{self.seed}:{round(self.temperature * 100)}:{self.size}"
        )


class PaintButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"paint:(?P<action>new|vary|big):(?P<owner>\d+):(?P<seed>\d+):(?P<t>\d+):(?P<size>\d+)",
):
    def __init__(self, painted: Painted, action: str) -> None:
        emoji, label = ACTIONS[action]
        super().__init__(answer_button(emoji, label, painted.custom_id(action)))
        self.painted, self.action = painted, action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match
    ) -> PaintButton:
        painted = Painted(
            int(match["owner"]), int(match["seed"]), int(match["t"]) / 100, int(match["size"])
        )
        return cls(painted, match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog(PaintCog.__cog_name__)
        painted = self.painted
        request = PaintRequest(painted.seed, painted.temperature, painted.size)
        if self.action == "new":
            request = replace(request, seed=None)
        elif self.action == "vary":
            request = replace(request, variation=secrets.randbelow(MAX_SEED))
        display = BIG_DISPLAY if self.action == "big" else DISPLAY_SIZE
        await handle_press(
            interaction, "paint", painted.owner, lambda: cog.respond(interaction, request, display)
        )


def painting_view(painted: Painted) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(PaintButton(painted, action))
    return view


class PaintCog(commands.Cog):
    def __init__(self, service: PaintService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    async def respond(
        self, interaction: discord.Interaction, request: PaintRequest, display: int = DISPLAY_SIZE
    ) -> None:
        """Paint for a command or a press, showing the canvas fill in, then the buttons."""
        plan = self.service.validate(request)  # bad options: an ephemeral error, at once
        painter = plan.painter
        async with admitted(self.admission, "paint", interaction) as deadline:

            async def show(snapshot: tuple[np.ndarray, int]) -> None:
                canvas, rows = snapshot
                partial = await asyncio.to_thread(preview_png, canvas, painter.palette)
                await interaction.edit_original_response(
                    content=f"Painting… {rows}/{painter.size} rows",
                    attachments=[png_file(partial, "partial.png")],
                    allowed_mentions=NO_MENTIONS,
                )

            result = await run_with_progress(
                lambda report: self.service.paint_async(
                    plan, lambda c, r: report((c, r)), deadline
                ),
                show,
                EDIT_INTERVAL,
            )
        final = await asyncio.to_thread(result.png, display)
        varied = " · a variation" if request.variation is not None else ""
        painted = Painted(interaction.user.id, result.seed, request.temperature, result.size)
        message = await interaction.edit_original_response(
            content=f"A painting in the style of Monet · seed {result.seed}{varied} · temperature "
            f"{request.temperature:g} · {result.size}x{result.size} in {result.seconds:.1f} s",
            attachments=[png_file(final)],
            view=painting_view(painted),
            allowed_mentions=NO_MENTIONS,
        )
        remember(
            interaction, message, "paint", request, result.seed, size=result.size, display=display
        )

    @per_user_cooldown(PAINT.name)
    @slash_command(PAINT)
    async def paint(self, interaction: discord.Interaction, **options) -> None:
        await self.respond(interaction, PaintRequest(**options))

    @paint.autocomplete("size")
    async def size_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return [
            app_commands.Choice(name=f"{s} x {s}", value=s) for s in sorted(self.service.painters())
        ]
