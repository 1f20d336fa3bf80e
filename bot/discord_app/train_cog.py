"""`/train style`: an admin teaches the bot a new /write style from an uploaded text.

The training runs as a separate process (`python -m training finetune write ...`), so
the bot never imports TensorFlow and a crash in training cannot take the bot down. One
job runs at a time per bot; its reply shows progress (epoch, losses, the newest sample,
drawn at a fixed seed per epoch) about once a minute, with a Cancel button. On success
the model is moved into the model directory (a rename, so the engine never sees half a
file) and loaded as `/reload` does; the style is offered in the server that trained it
until its admins publish it. On failure or cancel the old models stay and the reply says
why. The uploaded text lives in a temporary folder for the job only, unless the admin
asks to keep it (`keep_text:True`): then a trained style's text is kept as
`STYLE.txt` in RNNBOT_TRAIN_TEXTS (default: `texts/` in the model directory), to train
it again later.

Limits come from the environment: RNNBOT_TRAIN_MAX_BYTES (1 MB), RNNBOT_TRAIN_MIN_CHARS
(5,000), RNNBOT_TRAIN_SECONDS (780: a reply can be edited for 15 minutes only),
RNNBOT_TRAIN_EPOCHS (20), RNNBOT_TRAIN_PROGRESS (60 s between progress edits).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.admin_cog import can_manage, require_manage, server_admin_only
from bot.discord_app.limits import settings_store
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.errors import InvalidInput, UserFacingError
from bot.services import Services

STYLE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
SAMPLE = re.compile(r"--- epoch (\d+), temperature 0\.5 ---\n(.*?)\n\n", re.DOTALL)


def limit(name: str, default: float) -> float:
    return float(os.environ.get(f"RNNBOT_TRAIN_{name}", default))


@dataclass
class TrainingJob:
    """One fine-tuning process and what its reply shows."""

    style: str
    folder: Path
    process: asyncio.subprocess.Process | None = None
    output: list[str] = field(default_factory=list)
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"

    @property
    def model(self) -> Path:
        return self.folder / f"{self.style}.onnx"

    def progress(self) -> str:
        """Epochs done, the last losses, and the newest sample."""
        rows = []
        with contextlib.suppress(OSError), (self.run_dir / "log.csv").open() as f:
            rows = list(csv.DictReader(f))
        minutes = (time.monotonic() - self.started) / 60
        lines = [f"Training **{self.style}** · {minutes:.0f} min"]
        if rows:
            last = rows[-1]
            best = min(float(r["val_loss"]) for r in rows)
            lines.append(
                f"epoch {len(rows)} · loss {float(last['loss']):.3f} · held-out "
                f"{float(last['val_loss']):.3f} nats/char (best {best:.3f})"
            )
        samples = SAMPLE.findall("".join(self.output))
        if samples:
            epoch, text = samples[-1]
            lines.append(f"sample after epoch {epoch}:\n> {shown_text(text[:300])}")
        return "\n".join(lines)[:1900]


class CancelView(discord.ui.View):
    def __init__(self, cog: TrainCog, owner: int) -> None:
        super().__init__(timeout=None)
        self.cog, self.owner = cog, owner

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.danger, emoji="✖️")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if interaction.user.id != self.owner and not await can_manage(interaction):
            await interaction.response.send_message(
                "Only the admin who started it can cancel it.", ephemeral=True
            )
            return
        self.cog.cancel()
        await interaction.response.send_message("Cancelling…", ephemeral=True)


def stage(job: TrainingJob, model_dir: Path) -> None:
    """Copy the job's model (and its weights) into `model_dir` under a temporary name and
    rename it there, so the engine never sees half a file."""
    for source in (job.model, job.model.with_suffix(".weights.h5")):
        if source.exists():
            staged = model_dir / f".{source.name}.part"
            shutil.copyfile(source, staged)
            staged.replace(model_dir / source.name)


@server_admin_only
class TrainCog(commands.GroupCog, group_name="train"):
    """Teach the bot a new writing style"""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.job: TrainingJob | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await require_manage(interaction)

    def cancel(self) -> None:
        if self.job is not None and self.job.process is not None:
            self.job.cancelled = True
            with contextlib.suppress(ProcessLookupError):
                self.job.process.kill()

    @app_commands.command(name="style", description="Fine-tune a new /write style on a text file")
    @app_commands.describe(
        name="The new style's name (lowercase letters, digits, - and _)",
        text="A UTF-8 text file in the style to learn",
        base="The style to start from (default: the first loaded)",
        keep_text="Keep the text once the style is trained (default: it is deleted)",
    )
    async def style(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        text: discord.Attachment,
        base: app_commands.Range[str, 1, 100] | None = None,
        keep_text: bool = False,
    ) -> None:
        base_file = self.check(name, text, base)
        if self.job is not None:
            raise UserFacingError("A training job is running already; try again when it ends.")
        self.job = job = TrainingJob(name, Path(tempfile.mkdtemp(prefix="rnnbot-train-")))
        try:  # the job is claimed before any await, so two uploads cannot both start
            content = await self.read_text(text)
            await interaction.response.send_message(
                f"Training **{name}** from {base_file.stem}: starting…",
                view=CancelView(self, interaction.user.id),
                allowed_mentions=NO_MENTIONS,
            )
            text_file = job.folder / "text.txt"
            await asyncio.to_thread(text_file.write_text, content, encoding="utf-8")
            message = await self.run(interaction, job, base_file)
            if keep_text and message.startswith("✅"):
                message = f"{message}\n{await asyncio.to_thread(self.keep, job)}"[:1900]
            await interaction.edit_original_response(content=message, view=None)
        finally:  # file work off the event loop, which must keep every shard's heartbeat
            self.job = None
            await asyncio.to_thread(shutil.rmtree, job.folder, ignore_errors=True)

    def keep(self, job: TrainingJob) -> str:
        """Keep a trained style's text (the admin asked to); says where, or why not."""
        folder = Path(
            os.environ.get("RNNBOT_TRAIN_TEXTS") or self.services.engine.model_dir / "texts"
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(job.folder / "text.txt", folder / f"{job.style}.txt")
        except OSError as error:
            return f"The text could not be kept ({error.strerror}); it is deleted."
        return f"The text is kept as `{job.style}.txt` for retraining."

    async def read_text(self, text: discord.Attachment) -> str:
        """The upload as text, if it is UTF-8 and long enough to learn from."""
        try:
            content = (await text.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("That file is not UTF-8 text; save it as UTF-8 and retry.") from None
        minimum = int(limit("MIN_CHARS", 5000))
        if len(content) < minimum:
            raise InvalidInput(f"That text has {len(content):,} characters; at least {minimum:,}.")
        return content

    def check(self, name: str, text: discord.Attachment, base: str | None) -> Path:
        """The base model's file, once the request is known to be acceptable."""
        if not STYLE_NAME.fullmatch(name):
            raise InvalidInput("A style name is lowercase letters, digits, - and _ (1 to 32).")
        if text.size > limit("MAX_BYTES", 1_000_000):
            raise InvalidInput(
                f"That file is {text.size:,} bytes; the limit here is "
                f"{int(limit('MAX_BYTES', 1_000_000)):,}."
            )
        styles = self.services.write.styles()
        if name in styles:
            raise InvalidInput(f"There is a style called {name} already; pick another name.")
        if base is None:
            if not styles:
                raise InvalidInput("No style is loaded to start from.")
            base = sorted(styles)[0]
        if base not in styles:
            raise InvalidInput(f"No style {base!r} to start from: {', '.join(sorted(styles))}.")
        return self.services.engine.models[styles[base]].path

    async def run(self, interaction: discord.Interaction, job: TrainingJob, base: Path) -> str:
        """Train, showing progress; returns the final message."""
        command = [
            sys.executable, "-m", "training", "finetune", "write",
            "--from", str(base), "--data", str(job.folder / "text.txt"),
            "--style", job.style, "--run-dir", str(job.run_dir), "--out", str(job.model),
            "--epochs", str(int(limit("EPOCHS", 20))), "--sample-length", "200",
        ]  # fmt: skip
        job.process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        reader = asyncio.ensure_future(self.read_output(job))
        deadline = job.started + limit("SECONDS", 780)
        interval = limit("PROGRESS", 60)
        while job.process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.process.wait(), interval)
            if job.process.returncode is None:
                if time.monotonic() > deadline:
                    job.process.kill()
                    await job.process.wait()
                    await reader
                    return f"Training **{job.style}** ran out of time; nothing changed."
                with contextlib.suppress(discord.HTTPException):
                    await interaction.edit_original_response(content=job.progress())
        await reader
        if job.cancelled:
            return f"Training **{job.style}** was cancelled; nothing changed."
        if job.process.returncode != 0 or not job.model.exists():
            tail = "".join(job.output)[-300:].strip().splitlines()[-1:] or ["no output"]
            return f"Training **{job.style}** failed ({tail[0][:200]}); the old models stay."
        return await self.install(interaction, job)

    async def read_output(self, job: TrainingJob) -> None:
        while line := await job.process.stdout.readline():
            job.output.append(line.decode("utf-8", "replace"))
            del job.output[:-400]  # keep the recent output only

    async def install(self, interaction: discord.Interaction, job: TrainingJob) -> str:
        """Move the model into the model directory (atomically) and load it."""
        engine = self.services.engine
        await asyncio.to_thread(stage, job, engine.model_dir)
        report = await asyncio.to_thread(engine.reload)
        store = settings_store(interaction)
        if store is not None:
            await store.add_style(job.style, interaction.guild_id)
        status = report.get(job.style, "loaded")
        return (
            f"✅ **{job.style}** is trained ({status}): try `/write style:{job.style}`. "
            "It is offered in this server only; `/train publish` offers it everywhere."
            + "\n"
            + job.progress().partition("\n")[2]
        )[:1900]

    @app_commands.command(name="publish", description="Offer a style trained here in every server")
    @app_commands.describe(name="A style this server trained")
    async def publish(self, interaction: discord.Interaction, name: str) -> None:
        store = settings_store(interaction)
        if store is None or not await store.publish_style(name, interaction.guild_id):
            raise InvalidInput(f"{name!r} is not a style this server trained.")
        await interaction.response.send_message(
            f"**{name}** is now offered in every server.", ephemeral=True
        )
