"""`/write`: streams generated text into the reply, about once a second."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, replace

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import WRITE
from bot.commands.slash import slash_command
from bot.contract.trained import owner
from bot.discord_app.admission import Admission
from bot.discord_app.buttons import answer_button, fits, handle_press
from bot.discord_app.channel_settings import channel_settings, per_user_cooldown, style_scope
from bot.discord_app.progress import admitted, run_with_progress
from bot.discord_app.replies import NO_MENTIONS, plain_text, remember, shown_text, spoilered
from bot.errors import InvalidInput
from bot.write.service import WritePlan, WriteRequest, WriteResult, WriteService

MESSAGE_LIMIT = 2000  # Discord's limit for message content
PREVIEW_CHARS = 1500
EDIT_INTERVAL = 1.0  # seconds between progress edits (Discord rate-limits edits)


def header(style: str, temperature: float, seed: int | None) -> str:
    seed_text = f" · seed {seed}" if seed is not None else ""
    return f"**{style}** · temperature {temperature:g}{seed_text}\n"


def progress_message(request: WriteRequest, text: str, spoiler: bool = False) -> str:
    shown = spoilered(shown_text(text)[-(MESSAGE_LIMIT - 200) :].lstrip("\\"), spoiler)
    return f"{header(request.style, request.temperature, request.seed)}{shown} ▌"


def final_message(
    result: WriteResult, temperature: float, spoiler: bool = False
) -> tuple[str, discord.File | None]:
    """The whole text if it fits in one message, else a preview and a .txt attachment."""
    head = header(result.style, temperature, result.seed)
    notes = "".join(f"\n-# {n}" for n in result.notes)
    full = head + spoilered(shown_text(result.text), spoiler) + notes
    if len(full) <= MESSAGE_LIMIT:
        return full, None
    preview = spoilered(shown_text(result.text[:PREVIEW_CHARS]), spoiler)
    preview += " …\n-# (full text attached)"
    attachment = discord.File(
        io.BytesIO(result.text.encode("utf-8")), filename=f"{result.style}-{result.seed}.txt"
    )
    return (head + preview + notes)[:MESSAGE_LIMIT], attachment


CONTINUE_CHARS = 300  # what ➕ adds
TEMPERATURE_STEP = 0.2  # what 🌡 and 🧊 change
TEMPERATURE = WRITE["temperature"]
ACTIONS = {  # custom_id action -> (emoji, label)
    "again": ("🔁", "Again"),
    "more": ("➕", "Continue"),
    "hotter": ("🌡️", "Hotter"),
    "cooler": ("🧊", "Cooler"),
}


@dataclass(frozen=True)
class Answer:
    """What a /write answer's buttons need to make the next one: `given` leading
    characters of the message's text were not generated (the prompt, or the text a
    continuation continued)."""

    style: str
    seed: int
    temperature: float
    length: int
    given: int
    owner: int

    def custom_id(self, action: str) -> str:
        return (
            f"write:{action}:{self.owner}:{self.seed}:{round(self.temperature * 100)}:"
            f"{self.length}:{self.given}:{self.style}"
        )


class WriteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"write:(?P<action>again|more|hotter|cooler):(?P<owner>\d+):(?P<seed>\d+):"
    r"(?P<t>\d+):(?P<length>\d+):(?P<given>\d+):(?P<style>.+)",
):
    def __init__(self, answer: Answer, action: str) -> None:
        emoji, label = ACTIONS[action]
        button = answer_button(emoji, label, answer.custom_id(action))
        super().__init__(button)
        self.answer, self.action = answer, action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match
    ) -> WriteButton:
        answer = Answer(
            match["style"],
            int(match["seed"]),
            int(match["t"]) / 100,
            int(match["length"]),
            int(match["given"]),
            int(match["owner"]),
        )
        return cls(answer, match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog(WriteCog.__cog_name__)
        await handle_press(
            interaction,
            "write",
            self.answer.owner,
            lambda: cog.pressed(interaction, self.answer, self.action),
        )


def answer_view(answer: Answer) -> discord.ui.View | None:
    """The buttons under a finished answer (none if its custom_ids would not fit)."""
    if not fits(answer.custom_id("hotter")):
        return None
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        button = WriteButton(answer, action)
        if action == "hotter" and answer.temperature >= TEMPERATURE.high:
            button.item.disabled = True
        if action == "cooler" and answer.temperature <= TEMPERATURE.low:
            button.item.disabled = True
        view.add_item(button)
    return view


async def message_text(message: discord.Message) -> str:
    """The whole text of a /write answer: its attachment when it was too long to show,
    else the message body between the header line and the notes."""
    for attachment in message.attachments:
        if attachment.filename.endswith(".txt"):
            return (await attachment.read()).decode("utf-8")
    body = message.content.partition("\n")[2]
    body = re.sub(r"(\n-# [^\n]*)+$", "", body)
    if body.startswith("||") and body.endswith("||"):  # a spoiler: the text's own are escaped
        body = body[2:-2]
    return plain_text(body)


def split_given(given: str) -> tuple[str, str]:
    """(kept, prompt): a prompt holds as many of the last characters of what is given as
    a prompt may; anything before them is kept in front of the result."""
    kept = given[: max(0, len(given) - WRITE["prompt"].high)]
    return kept, given[len(kept) :]


def next_request(answer: Answer, action: str, text: str) -> tuple[str, WriteRequest, int]:
    """(text kept before the generation, the request, characters given) for a press.

    Again and hotter/cooler start over from the given part (again with a new seed);
    continue gives all of the text."""
    temperature, seed, length = answer.temperature, answer.seed, answer.length
    given = text[: answer.given]
    if action == "again":
        seed = None
    elif action == "more":
        given, seed, length = text, None, CONTINUE_CHARS
    else:
        step = TEMPERATURE_STEP if action == "hotter" else -TEMPERATURE_STEP
        temperature = round(min(TEMPERATURE.high, max(TEMPERATURE.low, temperature + step)), 2)
    kept, prompt = split_given(given)
    return kept, WriteRequest(answer.style, prompt, length, temperature, seed), len(given)


class StylePicker(discord.ui.View):
    """A short-lived private choice of style for "Continue this text" (the text is held
    only until it times out: a choice, not a lasting button)."""

    def __init__(self, cog: WriteCog, text: str, styles: list[str], owner: int) -> None:
        super().__init__(timeout=180)
        self.cog, self.text, self.owner = cog, text, owner
        self.pick.options = [discord.SelectOption(label=s, value=s) for s in styles[:25]]

    @discord.ui.select(placeholder="Continue in which style?")
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await handle_press(
            interaction,
            "write",
            self.owner,
            lambda: self.cog.continue_text(interaction, self.text, select.values[0]),
        )


class WriteCog(commands.Cog):
    def __init__(self, service: WriteService, admission: Admission | None = None) -> None:
        self.service = service
        self.admission = admission or Admission()
        self._trained_lanes: dict[str, str] = {}

    def lane(self, model: str) -> str:
        """A style's waiting line, named so that no server's private style shows (lane
        names are metrics labels): a trained style's by a number."""
        if owner(model) is None:
            return f"write:{model}"
        return self._trained_lanes.setdefault(model, f"write:trained{len(self._trained_lanes)}")

    async def _generate(
        self,
        interaction: discord.Interaction,
        plan: WritePlan,
        deadline: float,
        kept: str,
        spoiler: bool,
    ) -> WriteResult:
        """Generate on the style's batcher, editing the reply with the text so far."""

        async def show(text: str) -> None:
            await interaction.edit_original_response(
                content=progress_message(plan.request, kept + text, spoiler),
                allowed_mentions=NO_MENTIONS,
            )

        return await run_with_progress(
            lambda report: self.service.write_async(plan, report, deadline),
            show,
            EDIT_INTERVAL,
        )

    async def respond(
        self,
        interaction: discord.Interaction,
        request: WriteRequest,
        kept: str = "",
        given: int = -1,
    ) -> None:
        """Generate for a command or a press and answer with the text and its buttons.
        `kept` goes in front of the generated text; `given` (default: the prompt's
        length) is how much of the shown text was not generated."""
        scope = await style_scope(interaction)
        plan = self.service.validate(request, scope)  # bad options: an ephemeral error, at once
        spoiler = (await channel_settings(interaction)).spoiler
        lane = self.lane(plan.model.graph.model.name)
        async with admitted(self.admission, lane, interaction) as deadline:
            result = await self._generate(interaction, plan, deadline, kept, spoiler)
        result = replace(result, text=kept + result.text)
        content, attachment = final_message(result, request.temperature, spoiler)
        answer = Answer(
            result.style,
            result.seed,
            request.temperature,
            request.length,
            given if given >= 0 else len(result.prompt),
            interaction.user.id,
        )
        view = answer_view(answer)
        message = await interaction.edit_original_response(
            content=content,
            attachments=[attachment] if attachment else [],
            allowed_mentions=NO_MENTIONS,
            **({"view": view} if view else {}),
        )
        remember(interaction, message, "write", request, result.seed)

    def context_menus(self) -> list[app_commands.ContextMenu]:
        """The right-click command (the bot adds it to its tree)."""
        return [
            app_commands.ContextMenu(
                name="Continue this text",
                callback=self.continue_message,
                extras={"setting": "write"},
            )
        ]

    async def continue_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Continue someone's message: in the channel's style, the only style, or one the
        user picks from a private menu."""
        mine = message.author.id == interaction.client.user.id
        text = await message_text(message) if mine else message.content
        if not text.strip():
            raise InvalidInput("That message has no text to continue; right-click one with text.")
        style = await self.default_style(interaction)
        if style is not None:
            await self.continue_text(interaction, text, style)
            return
        styles = list(self.service.styles(await style_scope(interaction)))
        if not styles:
            raise InvalidInput("No writing style is loaded right now; try again later.")
        await interaction.response.send_message(
            "Which style should continue it?",
            view=StylePicker(self, text, styles, interaction.user.id),
            ephemeral=True,
        )

    async def continue_text(self, interaction: discord.Interaction, text: str, style: str) -> None:
        kept, prompt = split_given(text)
        request = WriteRequest(style, prompt, CONTINUE_CHARS)
        await self.respond(interaction, request, kept, len(text))

    async def pressed(self, interaction: discord.Interaction, answer: Answer, action: str) -> None:
        text = await message_text(interaction.message)
        kept, request, given = next_request(answer, action, text)
        await self.respond(interaction, request, kept, given)

    @per_user_cooldown(WRITE.name)
    @slash_command(WRITE)
    async def write(
        self, interaction: discord.Interaction, style: str | None, prompt: str, **options
    ) -> None:
        style = style or await self.default_style(interaction)
        if style is None:
            styles = ", ".join(self.service.styles(await style_scope(interaction)))
            styles = styles or "none are loaded"
            raise InvalidInput(f"Pick a style: {styles}.")
        await self.respond(interaction, WriteRequest(style, prompt or "", **options))

    async def default_style(self, interaction: discord.Interaction) -> str | None:
        """The channel's `write_style` setting, else the only loaded style; None when the
        user must choose."""
        chosen = (await channel_settings(interaction)).write_style
        if chosen:
            return chosen
        styles = list(self.service.styles(await style_scope(interaction)))
        return styles[0] if len(styles) == 1 else None

    @write.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        styles = self.service.styles(await style_scope(interaction))
        matching = [s for s in styles if current.lower() in s.lower()]
        return [app_commands.Choice(name=s, value=s) for s in matching][:25]
