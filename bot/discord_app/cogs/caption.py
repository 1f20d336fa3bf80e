"""`/caption`: compose captions, or caption an attached image."""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands

from bot.caption.service import CaptionRequest, CaptionResult, CaptionService
from bot.commands import CAPTION
from bot.commands.slash import slash_command
from bot.discord_app.admission import Admission
from bot.discord_app.attachments import Image, check_attachment, first_image
from bot.discord_app.buttons import answer_button, handle_press
from bot.discord_app.channel_settings import channel_settings, per_user_cooldown
from bot.discord_app.progress import admitted
from bot.discord_app.replies import NO_MENTIONS, plain_text, remember, shown_text, spoilered
from bot.errors import InvalidInput


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
        image: Image | None = None,
    ) -> None:
        """Caption for a command, a menu or a press, and answer with the button."""
        checked = self.service.validate(request)  # bad options: an ephemeral error, at once
        spoiler = (await channel_settings(interaction)).spoiler
        async with admitted(self.admission, "caption", interaction) as deadline:
            if image is not None:  # kept in memory, never written to disk
                checked = checked.with_image(await image[1]())
            result = await self.service.caption_async(checked, deadline)
        prefix = len(checked.prefix)
        asked = Asked(interaction.user.id, request.count, request.temperature, prefix)
        view = discord.ui.View(timeout=None)
        view.add_item(CaptionButton(asked))
        message = await interaction.followup.send(
            embed=caption_embed(result, image[0] if image else None, spoiler),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )
        remember(interaction, message, "caption", request, result.seed, image=bool(image))

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

    @per_user_cooldown(CAPTION.name)
    @slash_command(CAPTION)
    async def caption(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None,
        starts_with: str,
        **options,
    ) -> None:
        request = CaptionRequest(starts_with or "", **options)
        if image is not None:
            check_attachment(image)
        await self.respond(interaction, request, (image.url, image.read) if image else None)
