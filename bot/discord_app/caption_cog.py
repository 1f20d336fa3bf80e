"""`/caption`: compose captions, or caption an attached image."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.caption.service import (
    COUNT_RANGE,
    MAX_PREFIX,
    MAX_SEED,
    CaptionRequest,
    CaptionResult,
    CaptionService,
)
from bot.discord_app.admission import Admission
from bot.discord_app.limits import per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.errors import InvalidInput
from bot.images import ALLOWED_FORMATS, MAX_BYTES

IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}


def check_attachment(attachment: discord.Attachment) -> None:
    """Cheap checks on what Discord tells us, before downloading anything."""
    if attachment.size > MAX_BYTES:
        raise InvalidInput(
            f"That file is {attachment.size / 2**20:.1f} MB; images up to "
            f"{MAX_BYTES / 2**20:.0f} MB please."
        )
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_TYPES:
        kinds = ", ".join(ALLOWED_FORMATS.values())
        raise InvalidInput(f"Please attach an image ({kinds}); that file is not one.")


def caption_embed(result: CaptionResult, image_url: str | None) -> discord.Embed:
    lines = [f"{i}. {shown_text(c)}" for i, c in enumerate(result.captions, 1)]
    embed = discord.Embed(
        title="Caption for your image" if result.conditioned else "Captions",
        description="\n".join(lines),
    )
    if image_url:
        embed.set_thumbnail(url=image_url)
    footer = f"{result.method} · seed {result.seed}"
    if result.notes:
        footer += " · " + " ".join(result.notes)
    embed.set_footer(text=footer[:2000])
    return embed


class CaptionCog(commands.Cog):
    def __init__(self, service: CaptionService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    @app_commands.command(name="caption", description="Compose captions, or caption an image")
    @app_commands.describe(
        image="A picture to caption (PNG, JPEG, WebP or GIF, up to 8 MB)",
        starts_with="How the caption should begin",
        count="How many captions (1 to 5)",
        temperature="0 = safest wording; higher = more adventurous (max 2)",
        seed="Same seed and options give the same captions",
    )
    @per_user_cooldown("caption")
    async def caption(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None = None,
        starts_with: app_commands.Range[str, 0, MAX_PREFIX] = "",
        count: app_commands.Range[int, COUNT_RANGE[0], COUNT_RANGE[1]] = 1,
        temperature: app_commands.Range[float, 0.0, 2.0] = 0.7,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        request = CaptionRequest(starts_with or "", count, temperature, seed)
        if image is not None:
            check_attachment(image)
        self.service.validate(request)
        async with admitted(self.admission, "caption", interaction) as deadline:
            if image is not None:
                request.image = await image.read()  # kept in memory, never written to disk
            result = await self.service.caption_async(request, deadline)
        await interaction.followup.send(
            embed=caption_embed(result, image.url if image else None),
            allowed_mentions=NO_MENTIONS,
        )
