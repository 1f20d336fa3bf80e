"""`/paint`: shows the canvas filling in, then the finished painting."""

from __future__ import annotations

import asyncio
import io

import discord
import numpy as np
from discord import app_commands
from discord.ext import commands

from bot.discord_app.admission import Admission
from bot.discord_app.limits import per_user_cooldown
from bot.discord_app.progress import admitted, run_with_progress
from bot.discord_app.replies import NO_MENTIONS
from bot.paint.service import MAX_SEED, PaintRequest, PaintService, render_png

EDIT_INTERVAL = 1.0  # seconds between progress edits


def png_file(data: bytes, name: str = "painting.png") -> discord.File:
    return discord.File(io.BytesIO(data), filename=name)


class PaintCog(commands.Cog):
    def __init__(self, service: PaintService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    @app_commands.command(name="paint", description="Paint a new picture in the style of Monet")
    @app_commands.describe(
        seed="Same seed and temperature give the same painting",
        temperature="Lower = calmer colours, higher = wilder (0.1 to 2)",
        size="Canvas size in pixels (the sizes the painter was trained at)",
    )
    @per_user_cooldown("paint")
    async def paint(
        self,
        interaction: discord.Interaction,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        temperature: app_commands.Range[float, 0.1, 2.0] = 1.0,
        size: int | None = None,
    ) -> None:
        request = PaintRequest(seed, temperature, size)
        painter = self.service.validate(request)
        async with admitted(self.admission, "paint", interaction) as deadline:

            async def show(snapshot: tuple[np.ndarray, int]) -> None:
                canvas, rows = snapshot
                partial = await asyncio.to_thread(render_png, canvas, painter.palette, rows)
                await interaction.edit_original_response(
                    content=f"Painting… {rows}/{painter.size} rows",
                    attachments=[png_file(partial, "partial.png")],
                    allowed_mentions=NO_MENTIONS,
                )

            result = await run_with_progress(
                lambda report: self.service.paint_async(
                    request, lambda c, r: report((c, r)), deadline
                ),
                show,
                EDIT_INTERVAL,
            )
        final = await asyncio.to_thread(result.png)
        await interaction.edit_original_response(
            content=f"A painting in the style of Monet · seed {result.seed} · temperature "
            f"{temperature:g} · {result.size}x{result.size} in {result.seconds:.1f} s",
            attachments=[png_file(final)],
            allowed_mentions=NO_MENTIONS,
        )

    @paint.autocomplete("size")
    async def size_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return [
            app_commands.Choice(name=f"{s} x {s}", value=s) for s in sorted(self.service.painters())
        ]
