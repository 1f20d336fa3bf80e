"""Images in and out of Discord messages: the cheap checks on an attachment before it is
downloaded, finding a message's picture, and a PNG to attach to a reply."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import discord

from bot.errors import InvalidInput
from bot.images import ALLOWED_FORMATS, MAX_BYTES

IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
Image = tuple[str, Callable[[], Awaitable[bytes]]]  # its URL, and how to download it


def png_file(data: bytes, name: str = "painting.png") -> discord.File:
    return discord.File(io.BytesIO(data), filename=name)


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


def first_image(message: discord.Message) -> Image | None:
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
