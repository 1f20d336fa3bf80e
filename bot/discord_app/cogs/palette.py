"""`/palette` and the right-click "Palette of this image": a picture's five dominant
colours as a swatch strip, each with its hex code, the nearest known colour name and a
name the /name model invents for it."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import PALETTE
from bot.commands.slash import slash_command
from bot.discord_app.admission import Admission
from bot.discord_app.attachments import Image, check_attachment, first_image, png_file
from bot.discord_app.channel_settings import channel_settings, per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.errors import InvalidInput
from bot.palette.service import PaletteResult, PaletteService


def palette_text(result: PaletteResult) -> str:
    """One line per colour: hex, share of the picture, known name, invented name."""
    lines = ["**The palette of your image**"]
    for c in result.colors:
        invented = f" · *{shown_text(c.invented)}*" if c.invented else ""
        lines.append(f"`{c.hex}` {c.share:.0%} · {shown_text(c.known)}{invented}")
    lines += [f"-# {shown_text(note)}" for note in result.notes]
    return "\n".join(lines)[:1900]


class PaletteCog(commands.Cog):
    def __init__(self, service: PaletteService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    def context_menus(self) -> list[app_commands.ContextMenu]:
        """The right-click command (the bot adds it to its tree)."""
        return [
            app_commands.ContextMenu(
                name="Palette of this image",
                callback=self.palette_message,
                extras={"setting": "palette"},
            )
        ]

    async def respond(self, interaction: discord.Interaction, image: Image) -> None:
        spoiler = (await channel_settings(interaction)).spoiler
        async with admitted(self.admission, "palette", interaction) as deadline:
            data = await image[1]()  # kept in memory, never written to disk
            result = await self.service.palette_async(data, deadline)
            strip = await asyncio.to_thread(self.service.render, result)
        name = f"{'SPOILER_' if spoiler else ''}palette.png"
        await interaction.followup.send(
            palette_text(result), file=png_file(strip, name), allowed_mentions=NO_MENTIONS
        )

    async def palette_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        image = first_image(message)
        if image is None:
            raise InvalidInput("That message has no image; right-click a message with a picture.")
        await self.respond(interaction, image)

    @per_user_cooldown(PALETTE.name)
    @slash_command(PALETTE)
    async def palette(self, interaction: discord.Interaction, image: discord.Attachment) -> None:
        check_attachment(image)
        await self.respond(interaction, (image.url, image.read))
