"""`/write`: streams generated text into the reply, about once a second."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.admission import Admission
from bot.discord_app.limits import per_user_cooldown
from bot.discord_app.progress import admitted, run_with_progress
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.write.service import (
    LENGTH_RANGE,
    MAX_PROMPT,
    MAX_SEED,
    WriteRequest,
    WriteResult,
    WriteService,
)

MESSAGE_LIMIT = 2000  # Discord's limit for message content
PREVIEW_CHARS = 1500
EDIT_INTERVAL = 1.0  # seconds between progress edits (Discord rate-limits edits)


def header(style: str, temperature: float, seed: int | None) -> str:
    seed_text = f" · seed {seed}" if seed is not None else ""
    return f"**{style}** · temperature {temperature:g}{seed_text}\n"


def progress_message(request: WriteRequest, text: str) -> str:
    shown = shown_text(text)[-(MESSAGE_LIMIT - 200) :]
    return f"{header(request.style, request.temperature, request.seed)}{shown} ▌"


def final_message(result: WriteResult, temperature: float) -> tuple[str, discord.File | None]:
    """The whole text if it fits in one message, else a preview and a .txt attachment."""
    head = header(result.style, temperature, result.seed)
    notes = "".join(f"\n-# {n}" for n in result.notes)
    full = head + shown_text(result.text) + notes
    if len(full) <= MESSAGE_LIMIT:
        return full, None
    preview = shown_text(result.text[:PREVIEW_CHARS]) + " …\n-# (full text attached)"
    attachment = discord.File(
        io.BytesIO(result.text.encode("utf-8")), filename=f"{result.style}-{result.seed}.txt"
    )
    return (head + preview + notes)[:MESSAGE_LIMIT], attachment


class WriteCog(commands.Cog):
    def __init__(self, service: WriteService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()

    async def _generate(
        self, interaction: discord.Interaction, request: WriteRequest, deadline: float
    ) -> WriteResult:
        """Generate on the style's batcher, editing the reply with the text so far."""

        async def show(text: str) -> None:
            await interaction.edit_original_response(
                content=progress_message(request, text), allowed_mentions=NO_MENTIONS
            )

        return await run_with_progress(
            lambda report: self.service.write_async(request, report, deadline), show, EDIT_INTERVAL
        )

    @app_commands.command(name="write", description="Write new text in a learned style")
    @app_commands.describe(
        style="Whose style to imitate",
        prompt="Opening text to continue (kept in the output)",
        length="Characters to generate (50 to 1,500)",
        temperature="0 = always the likeliest character; higher = more adventurous (max 2)",
        seed="Same seed and options give the same text",
    )
    @per_user_cooldown("write")
    async def write(
        self,
        interaction: discord.Interaction,
        style: app_commands.Range[str, 1, 100],
        prompt: app_commands.Range[str, 0, MAX_PROMPT] = "",
        length: app_commands.Range[int, LENGTH_RANGE[0], LENGTH_RANGE[1]] = 400,
        temperature: app_commands.Range[float, 0.0, 2.0] = 0.8,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        request = WriteRequest(style, prompt or "", length, temperature, seed)
        self.service.validate(request)  # bad options: an ephemeral error, before deferring
        async with admitted(self.admission, f"write:{request.style}", interaction) as deadline:
            result = await self._generate(interaction, request, deadline)
        content, attachment = final_message(result, temperature)
        await interaction.edit_original_response(
            content=content,
            attachments=[attachment] if attachment else [],
            allowed_mentions=NO_MENTIONS,
        )

    @write.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=s, value=s)
            for s in self.service.styles()
            if current.lower() in s.lower()
        ][:25]
