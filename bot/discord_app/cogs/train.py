"""`/train style`: an admin teaches the bot a new /write style from an uploaded text.

The training runs as a separate process (`python -m training finetune write ...`), so
the bot never imports TensorFlow and a crash in training cannot take the bot down. One
job runs at a time per bot; its reply shows progress (epoch, losses, the newest sample,
drawn at a fixed seed per epoch) about once a minute, with a Cancel button. On success
the model is moved into the server's own folder of the model directory (`bot.contract.trained`;
a rename, so the engine never sees half a file) and loaded as `/reload` does; the style
is offered in the server that trained it until its admins publish it. A style name can
never be a shipped model's, so no install replaces a file `/train` did not write. On
failure or cancel the old models stay and the reply says why. The uploaded text lives
in a temporary folder for the job only, unless the admin asks to keep it
(`keep_text:True`): then it is kept as `SERVER/STYLE.txt` in RNNBOT_TRAIN_TEXTS
(default: `texts/` in the model directory), to train it again later.

The trainer runs at a lower CPU priority with bounded threads, without the bot's
secrets, and dies with the bot (also when the bot is killed: Linux's parent-death
signal); a bot that starts removes what a killed one left behind.

Limits come from the environment (`bot.config.TrainLimits`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import TrainLimits
from bot.contract.trained import StyleScope, model_name, owner
from bot.discord_app.channel_settings import settings_store, style_scope
from bot.discord_app.cogs.admin import can_manage, require_manage, server_admin_only
from bot.discord_app.replies import NO_MENTIONS, shown_text
from bot.discord_app.store.settings import SettingsStore
from bot.discord_app.training_job import (
    JOB_PREFIX,
    OUTPUT_CHARS,
    OWNER_FILE,
    TrainingJob,
    adopt_old_styles,
    as_trainer,
    clean_up_after_killed_bots,
    stage,
    trainer_environment,
    without_paths,
)
from bot.errors import InvalidInput, UserFacingError, quoted
from bot.services import Services

STYLE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


log = logging.getLogger(__name__)


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
        await interaction.response.send_message(self.cog.cancel(), ephemeral=True)


@server_admin_only
class TrainCog(commands.GroupCog, group_name="train"):
    """Teach the bot a new writing style"""

    def __init__(self, services: Services, store: SettingsStore | None = None) -> None:
        super().__init__()
        self.services = services
        self.store = store
        self.job: TrainingJob | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await require_manage(interaction)

    async def cog_load(self) -> None:
        removed = await asyncio.to_thread(clean_up_after_killed_bots)
        if removed:
            log.warning("removed %d training job(s) left by a bot that was stopped", len(removed))
        if self.store is not None:
            engine = self.services.engine
            styles = await self.store.every_trained_style()
            moved = await asyncio.to_thread(adopt_old_styles, engine.model_dir, styles)
            if moved:
                log.warning("moved styles into their servers' folders: %s", ", ".join(moved))
                await asyncio.to_thread(engine.reload)

    async def cog_unload(self) -> None:
        """The bot stops: so does its trainer, and its folder goes."""
        job = self.job
        if job is not None and job.process is not None and job.process.returncode is None:
            job.cancelled = True
            with contextlib.suppress(ProcessLookupError):
                job.process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.process.wait(), 5)
        if job is not None:
            await asyncio.to_thread(shutil.rmtree, job.folder, ignore_errors=True)

    def cancel(self) -> str:
        """Stop the running job, if it can still be stopped; says what happened."""
        job = self.job
        if job is None or job.process is None:
            return "No training job is running."
        if job.installing:
            return "Too late to cancel: the style is trained and being installed."
        job.cancelled = True
        with contextlib.suppress(ProcessLookupError):
            job.process.kill()
        return "Cancelling…"

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
        scope = await style_scope(interaction)
        base_file = self.check(name, text, base, scope)
        if self.job is not None:
            raise UserFacingError("A training job is running already; try again when it ends.")
        folder = Path(tempfile.mkdtemp(prefix=JOB_PREFIX))
        self.job = job = TrainingJob(name, interaction.guild_id, folder)
        try:  # the job is claimed before the next await, so two uploads cannot both start
            await asyncio.to_thread(self.write_owners, job)
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

    @staticmethod
    def write_owners(job: TrainingJob) -> None:
        """Who the job folder belongs to, for `clean_up_after_killed_bots`."""
        trainer = job.process.pid if job.process is not None else None
        (job.folder / OWNER_FILE).write_text(json.dumps({"bot": os.getpid(), "trainer": trainer}))

    def keep(self, job: TrainingJob) -> str:
        """Keep a trained style's text (the admin asked to); says where, or why not."""
        texts = TrainLimits.from_env().texts or self.services.engine.model_dir / "texts"
        folder = texts / str(job.guild_id)
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
        minimum = TrainLimits.from_env().min_chars
        if len(content) < minimum:
            raise InvalidInput(f"That text has {len(content):,} characters; at least {minimum:,}.")
        return content

    def check(
        self, name: str, text: discord.Attachment, base: str | None, scope: StyleScope
    ) -> Path:
        """The base model's file, once the request is known to be acceptable."""
        if not STYLE_NAME.fullmatch(name):
            raise InvalidInput("A style name is lowercase letters, digits, - and _ (1 to 32).")
        most = TrainLimits.from_env().max_bytes
        if text.size > most:
            raise InvalidInput(f"That file is {text.size:,} bytes; the limit here is {most:,}.")
        self.check_name(name, scope)
        styles = self.services.write.styles(scope)
        if base is None:
            shipped = list(self.services.write.styles())
            if not styles:
                raise InvalidInput("No style is loaded to start from.")
            base = (shipped or list(styles))[0]
        if base not in styles:
            raise InvalidInput(f"No style {quoted(base)} to start from: {', '.join(styles)}.")
        return self.services.engine.models[styles[base]].path

    def check_name(self, name: str, scope: StyleScope) -> None:
        """A new style may take no shipped model's name (of any kind) and no name another
        server's published style has; a server may train its own style anew."""
        engine = self.services.engine
        shipped = {n for n in [*engine.models, *engine.failures] if owner(n) is None}
        if name in shipped or name in self.services.write.styles():
            raise InvalidInput(f"{name} is the name of one of the bot's models; pick another.")
        theirs = self.services.write.styles(scope).get(name)
        if theirs is not None and owner(theirs) != scope.guild_id:
            raise InvalidInput(f"There is a published style called {name}; pick another name.")

    async def run(self, interaction: discord.Interaction, job: TrainingJob, base: Path) -> str:
        """Train, showing progress; returns the final message."""
        limits = TrainLimits.from_env()
        command = [
            sys.executable, "-m", "training", "finetune", "write",
            "--from", str(base), "--data", str(job.folder / "text.txt"),
            "--style", job.style, "--run-dir", str(job.run_dir), "--out", str(job.model),
            "--epochs", str(limits.epochs), "--sample-length", "200",
        ]  # fmt: skip
        job.process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=trainer_environment(),
            preexec_fn=as_trainer,
        )
        await asyncio.to_thread(self.write_owners, job)
        reader = asyncio.ensure_future(self.read_output(job))
        deadline = job.started + limits.seconds
        interval = limits.progress
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
            tail = job.output[-300:].strip().splitlines()[-1:] or ["no output"]
            reason = shown_text(without_paths(tail[0])[:200])
            return f"Training **{job.style}** failed ({reason}); the old models stay."
        return await self.install(interaction, job)

    async def read_output(self, job: TrainingJob) -> None:
        """The trainer's output, in pieces of any length (a line may be longer than any
        buffer: a text's new characters are printed on one)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := await job.process.stdout.read(65536):
            job.output = (job.output + decoder.decode(chunk))[-OUTPUT_CHARS:]

    async def install(self, interaction: discord.Interaction, job: TrainingJob) -> str:
        """Move the model into the server's folder (atomically) and load it."""
        job.installing = True
        engine = self.services.engine
        await asyncio.to_thread(stage, job, engine.model_dir)
        report = await asyncio.to_thread(engine.reload)
        await asyncio.to_thread(self.services.pool.reload_replicas)  # a tier's replicas too
        store = settings_store(interaction)
        if store is not None:
            await store.add_style(job.style, job.guild_id)
        status = report.get(model_name(job.guild_id, job.style), "loaded")
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
        scope = await style_scope(interaction)
        offered = self.services.write.styles(scope).get(name)
        if store is None or offered != model_name(interaction.guild_id, name):
            raise InvalidInput(f"{quoted(name)} is not a style this server trained.")
        published = await store.published_styles()
        if any(s == name and g != interaction.guild_id for g, s in published):
            raise InvalidInput(f"Another server has published a style called {name} already.")
        if not await store.publish_style(name, interaction.guild_id):
            raise InvalidInput(f"{quoted(name)} is not a style this server trained.")
        await interaction.response.send_message(
            f"**{name}** is now offered in every server.", ephemeral=True
        )
