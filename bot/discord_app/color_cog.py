"""`/color`: the Discord front end of the colour service."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.colors.service import ColorResult, ColorService
from bot.discord_app.admission import Admission
from bot.discord_app.limits import per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS

SOURCE_TEXT = {
    "known": "a known colour from the training lists",
    "model": "predicted by the model (this name is not in its lists)",
}


def color_embed(result: ColorResult) -> discord.Embed:
    embed = discord.Embed(title=result.name, colour=discord.Colour.from_rgb(*result.rgb))
    embed.add_field(name="Hex", value=f"`{result.hex}`")
    embed.add_field(name="RGB", value=f"`{result.rgb[0]}, {result.rgb[1]}, {result.rgb[2]}`")
    embed.add_field(name="Source", value=SOURCE_TEXT[result.source], inline=False)
    if result.alternatives:
        # The model sees these too: a name like "sunset" has more than one colour.
        embed.add_field(name="Also", value=", ".join(f"`{h}`" for h in result.alternative_hexes))
    if result.notes:
        embed.set_footer(text=" ".join(result.notes)[:2000])
    embed.set_image(url="attachment://swatch.png")
    return embed


class ColorCog(commands.Cog):
    def __init__(self, service: ColorService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    def _answer(self, name: str) -> tuple[ColorResult, bytes]:
        result = self.service.color(name)
        return result, self.service.render(result)

    @app_commands.command(name="color", description="Show the colour a name evokes")
    @app_commands.describe(name="A colour name, real or invented (e.g. forest)")
    @per_user_cooldown("color")
    async def color(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        # Validate before deferring so that a bad name gets a private (ephemeral) reply.
        model = self.service.model()
        self.service.clean_name(name, model)
        async with admitted(self.admission, "color", interaction):
            result, png = await asyncio.to_thread(self._answer, name)
        await interaction.followup.send(
            embed=color_embed(result),
            file=discord.File(io.BytesIO(png), filename="swatch.png"),
            allowed_mentions=NO_MENTIONS,
        )

    @color.autocomplete("name")
    async def color_name_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in self.service.suggest(current)]
