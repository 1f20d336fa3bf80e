"""`/color`: the Discord front end of the colour service."""

from __future__ import annotations

import asyncio
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.color.service import CheckedName, ColorResult, ColorService
from bot.commands import COLOR
from bot.commands.slash import slash_command
from bot.discord_app.admission import Admission
from bot.discord_app.attachments import png_file
from bot.discord_app.buttons import answer_button, handle_press
from bot.discord_app.channel_settings import per_user_cooldown
from bot.discord_app.cogs.name import NameCog
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, remember
from bot.name.service import NameRequest
from bot.render import parse_hex

SOURCE_TEXT = {
    "known": "a known colour from the training lists",
    "model": "predicted by the model (this name is not in its lists)",
    "alternative": "another colour the model also sees for that name",
}
NAME_THIS = ("🏷️", "Name this colour")


class ColorButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"color:(?P<action>show|name):(?P<owner>\d+):(?P<hex>#[0-9a-f]{6})",
):
    """An alternative's swatch (`show`), or /name for the colour (`name`)."""

    def __init__(self, action: str, owner: int, hex_code: str) -> None:
        emoji, label = NAME_THIS if action == "name" else ("🎨", hex_code)
        super().__init__(answer_button(emoji, label, f"color:{action}:{owner}:{hex_code}"))
        self.action, self.owner, self.hex = action, owner, hex_code

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match
    ) -> ColorButton:
        return cls(match["action"], int(match["owner"]), match["hex"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.action == "name":
            cog = interaction.client.get_cog(NameCog.__cog_name__)
            work = lambda: cog.respond(interaction, NameRequest(self.hex))  # noqa: E731
            await handle_press(interaction, "name", self.owner, work)
            return
        cog = interaction.client.get_cog(ColorCog.__cog_name__)
        await handle_press(
            interaction, "color", self.owner, lambda: cog.show(interaction, self.hex)
        )


def color_view(result: ColorResult, owner: int) -> discord.ui.View:
    """The alternatives, then "Name this colour" for the answer."""
    view = discord.ui.View(timeout=None)
    for hex_code in dict.fromkeys(result.alternative_hexes):
        if hex_code != result.hex:
            view.add_item(ColorButton("show", owner, hex_code))
    view.add_item(ColorButton("name", owner, result.hex))
    return view


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

    def _answer(self, name: CheckedName) -> tuple[ColorResult, bytes]:
        result = self.service.color(name)
        return result, self.service.render(result)

    @per_user_cooldown(COLOR.name)
    @slash_command(COLOR)
    async def color(self, interaction: discord.Interaction, name: str) -> None:
        # Checked before deferring so that a bad name gets a private (ephemeral) reply.
        checked = self.service.validate(name)
        async with admitted(self.admission, "color", interaction):
            result, png = await asyncio.to_thread(self._answer, checked)
        await self._send(interaction, result, png)

    async def show(self, interaction: discord.Interaction, hex_code: str) -> None:
        """An alternative, pressed: its own swatch and buttons."""
        result = ColorResult(hex_code, parse_hex(hex_code), "alternative")
        async with admitted(self.admission, "color", interaction):
            png = await asyncio.to_thread(self.service.render, result)
        await self._send(interaction, result, png)

    async def _send(
        self, interaction: discord.Interaction, result: ColorResult, png: bytes
    ) -> None:
        message = await interaction.followup.send(
            embed=color_embed(result),
            file=png_file(png, "swatch.png"),
            view=color_view(result, interaction.user.id),
            allowed_mentions=NO_MENTIONS,
        )
        alternative = result.source == "alternative"
        remember(
            interaction, message, "color", None, None, name=result.name, alternative=alternative
        )

    @color.autocomplete("name")
    async def color_name_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in self.service.suggest(current)]
