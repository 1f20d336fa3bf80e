"""`/name`: invented names for a colour, with its swatch."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.colors.service import MAX_INPUT_LENGTH
from bot.discord_app.admission import Admission
from bot.discord_app.limits import per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.names.service import MAX_SEED, NameRequest, NameResult, NameService


def name_embed(result: NameResult) -> discord.Embed:
    embed = discord.Embed(
        title=f"Names for {result.hex}",
        description="\n".join(f"**{shown_text(n)}**" for n in result.names) or "(none)",
        colour=discord.Colour.from_rgb(*result.rgb),
    )
    footer = f"colour from {result.resolved_from} · seed {result.seed}"
    if result.notes:
        footer += " · " + " ".join(result.notes)
    embed.set_footer(text=footer[:2000])
    embed.set_image(url="attachment://swatch.png")
    return embed


class NameCog(commands.Cog):
    def __init__(self, service: NameService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    @app_commands.command(name="name", description="Invent names for a colour")
    @app_commands.describe(
        color="#7a9e3b, #7a3, rgb(122, 158, 59) or a colour name",
        temperature="0 = safest names; higher = wilder (max 2)",
        seed="Same seed and colour give the same names",
    )
    @per_user_cooldown("name")
    async def name(
        self,
        interaction: discord.Interaction,
        color: app_commands.Range[str, 1, MAX_INPUT_LENGTH],
        temperature: app_commands.Range[float, 0.0, 2.0] = 0.8,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        await self.respond(interaction, NameRequest(color, temperature, seed))

    async def respond(self, interaction: discord.Interaction, request: NameRequest) -> None:
        """Names for a command or for /color's "Name this colour" button."""
        self.service.graph()  # unavailable model: a clear ephemeral error before deferring
        async with admitted(self.admission, "name", interaction) as deadline:
            result = await self.service.name_async(request, deadline)
            png = await asyncio.to_thread(self.service.render, result)
        await interaction.followup.send(
            embed=name_embed(result),
            file=discord.File(io.BytesIO(png), filename="swatch.png"),
            allowed_mentions=NO_MENTIONS,
        )
