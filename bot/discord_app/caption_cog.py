"""`/caption`: compose captions, or caption an attached image."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
from bot.discord_app.buttons import answer_button, handle_press
from bot.discord_app.limits import channel_settings, per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, plain_text, shown_text, spoilered
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


def caption_embed(
    result: CaptionResult, image_url: str | None, spoiler: bool = False
) -> discord.Embed:
    lines = [f"{i}. {spoilered(shown_text(c), spoiler)}" for i, c in enumerate(result.captions, 1)]
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


ANOTHER = ("🔁", "Another caption")


@dataclass(frozen=True)
class Asked:
    """What a caption answer's button needs: the first caption begins with `given`
    characters the user chose; an image answer shows its picture as the thumbnail."""

    owner: int
    count: int
    temperature: float
    given: int

    @property
    def custom_id(self) -> str:
        return (
            f"caption:again:{self.owner}:{self.count}:{round(self.temperature * 100)}:{self.given}"
        )


class CaptionButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"caption:again:(?P<owner>\d+):(?P<count>\d+):(?P<t>\d+):(?P<given>\d+)",
):
    def __init__(self, asked: Asked) -> None:
        emoji, label = ANOTHER
        super().__init__(answer_button(emoji, label, asked.custom_id))
        self.asked = asked

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match
    ) -> CaptionButton:
        return cls(
            Asked(
                int(match["owner"]), int(match["count"]), int(match["t"]) / 100, int(match["given"])
            )
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog(CaptionCog.__cog_name__)
        await handle_press(
            interaction, "caption", self.asked.owner, lambda: cog.pressed(interaction, self.asked)
        )


def first_image(message: discord.Message) -> tuple[str, Callable[[], Awaitable[bytes]]] | None:
    """(URL, download) of a message's first image: an attachment, else an embed's image
    (a caption answer's picture is its thumbnail)."""
    for attachment in message.attachments:
        if (attachment.content_type or "").startswith("image/"):
            check_attachment(attachment)
            return attachment.url, attachment.read
    for embed in message.embeds:
        url = embed.image.url or embed.thumbnail.url
        if url:
            return url, lambda url=url: message._state.http.get_from_cdn(url)
    return None


class CaptionCog(commands.Cog):
    def __init__(self, service: CaptionService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    def context_menus(self) -> list[app_commands.ContextMenu]:
        """The right-click commands (discord.py keeps context menus out of cogs: the bot
        adds these to its tree)."""
        return [
            app_commands.ContextMenu(
                name="Caption this image",
                callback=self.caption_message,
                extras={"setting": "caption"},
            ),
            app_commands.ContextMenu(
                name="Caption their avatar",
                callback=self.caption_avatar,
                extras={"setting": "caption"},
            ),
        ]

    async def respond(
        self,
        interaction: discord.Interaction,
        request: CaptionRequest,
        image: tuple[str, Callable[[], Awaitable[bytes]]] | None = None,
    ) -> None:
        """Caption for a command, a menu or a press, and answer with the button."""
        prefix, _ = self.service.validate(request)
        spoiler = (await channel_settings(interaction)).spoiler
        async with admitted(self.admission, "caption", interaction) as deadline:
            if image is not None:
                request.image = await image[1]()  # kept in memory, never written to disk
            result = await self.service.caption_async(request, deadline)
        asked = Asked(interaction.user.id, request.count, request.temperature, len(prefix))
        view = discord.ui.View(timeout=None)
        view.add_item(CaptionButton(asked))
        await interaction.followup.send(
            embed=caption_embed(result, image[0] if image else None, spoiler),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    async def pressed(self, interaction: discord.Interaction, asked: Asked) -> None:
        """Another take: a new seed, sampled (the beam's best is already shown)."""
        embed = interaction.message.embeds[0] if interaction.message.embeds else None
        first = (embed.description or "").split("\n")[0] if embed else ""
        first = re.sub(r"^1\. ", "", first).strip("|")
        request = CaptionRequest(
            plain_text(first)[: asked.given], asked.count, asked.temperature, beam_width=0
        )
        await self.respond(interaction, request, first_image(interaction.message))

    async def caption_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        image = first_image(message)
        if image is None:
            raise InvalidInput(
                "That message has no image to caption; right-click a message with a picture."
            )
        await self.respond(interaction, CaptionRequest(), image)

    async def caption_avatar(
        self, interaction: discord.Interaction, user: discord.User | discord.Member
    ) -> None:
        avatar = user.display_avatar.with_format("png").with_size(256)
        await self.respond(interaction, CaptionRequest(), (avatar.url, avatar.read))

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
        await self.respond(interaction, request, (image.url, image.read) if image else None)
