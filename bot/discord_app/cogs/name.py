"""`/name`: invented names for a colour, with its swatch."""

from __future__ import annotations

import asyncio

import discord
from discord.ext import commands

from bot.commands import NAME
from bot.commands.slash import slash_command
from bot.discord_app.admission import Admission
from bot.discord_app.attachments import png_file
from bot.discord_app.channel_settings import per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, remember, shown_text
from bot.name.service import NameRequest, NameResult, NameService


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

    @per_user_cooldown(NAME.name)
    @slash_command(NAME)
    async def name(self, interaction: discord.Interaction, **options) -> None:
        await self.respond(interaction, NameRequest(**options))

    async def respond(self, interaction: discord.Interaction, request: NameRequest) -> None:
        """Names for a command or for /color's "Name this colour" button."""
        self.service.graph()  # unavailable model: a clear ephemeral error before deferring
        async with admitted(self.admission, "name", interaction) as deadline:
            result = await self.service.name_async(request, deadline)
            png = await asyncio.to_thread(self.service.render, result)
        message = await interaction.followup.send(
            embed=name_embed(result),
            file=png_file(png, "swatch.png"),
            allowed_mentions=NO_MENTIONS,
        )
        remember(interaction, message, "name", request, result.seed)
