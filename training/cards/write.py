"""The `/write` style's card: a single model's or a mixture's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.contract.metadata import ModelMetadata
from bot.runtime.onnx_guard import metadata_props
from bot.text.vocabulary import Vocabulary
from training.cards.common import (
    fmt_seconds,
    sample_lines,
    save_card,
)
from training.errors import UserError
from training.tokenlm.corpus import held_out_split_text
from training.tokenlm.evaluate import evaluate_text, load_step_model


def write_card(
    model_path: Path, run_dir: Path, data: list[Path], prompt: str = "", note: str = ""
) -> Path:
    step = load_step_model(model_path)
    meta = step.model.metadata
    style = meta.extra["style"]
    vocab = Vocabulary(meta.vocabulary)
    held_out = evaluate_text(step, held_out_split_text(vocab, data, meta.extra["split"]))
    curve = model_path.with_name(f"{model_path.stem}_loss.png")
    shutil.copy(run_dir / "loss_curve.png", curve)
    m, cfg = meta.metrics, meta.extra["config"]
    lines = [
        f"# Model card: `{model_path.name}` ({style} style, /write)",
        "",
        f"Character-level LSTM language model, {cfg['layers']} x {cfg['units']} units, "
        f"embedding {cfg['embedding']}, dropout {cfg['dropout']}, vocabulary of "
        f"{len(meta.vocabulary)} characters. Exported as a single-step ONNX graph (token and "
        "(h, c) per layer in; next-character logits and new state out).",
        "",
        "## Training",
        "",
        f"- Command: `{meta.training_command}` (export: `python -m training export write "
        f"--run-dir {run_dir} --out {model_path}`)",
        "- Data: "
        + ", ".join(f"{d['file']} ({d['characters']:,} characters)" for d in meta.data_sources),
        f"- Split: every {meta.extra['split']['val_every']}th chunk of "
        f"{meta.extra['split']['val_chunk']:,} characters held out "
        f"({meta.extra['split']['val_tokens']:,} validation, "
        f"{meta.extra['split']['train_tokens']:,} training characters)",
        f"- Epochs: {m['epochs_run']} run, best {m['best_epoch']} (early-stopping patience "
        f"{meta.extra['settings']['patience']}); batch {meta.extra['settings']['batch_size']}, "
        f"sequence length {meta.extra['settings']['seq_len']}",
        *([f"- Note: {note}"] if note else []),
        f"- Hardware: {m['hardware']}; training time {fmt_seconds(m['training_seconds'])}",
        f"- Exported: {meta.trained_at}",
        "",
        "## Metrics",
        "",
        "| measure | nats/char | bits/char |",
        "|---|---|---|",
        f"| validation loss during training (100-character windows, state reset each window) "
        f"| {m['val_nats_per_token']} | {m['val_bits_per_token']} |",
        f"| `evaluate write` on the same held-out chunks ({held_out['n_chars']:,} characters, "
        f"state carried) | {held_out['nats_per_char']} | {held_out['bits_per_char']} |",
        f"| training loss at the best epoch (with dropout) | {m['train_nats_per_token']} | "
        f"{round(m['train_nats_per_token'] / np.log(2), 4)} |",
        "",
        f"![loss curve]({curve.name})",
        "",
        *sample_lines(model_path, style, prompt),
    ]
    return save_card(model_path, lines, {"held_out": held_out})


def ensemble_card(model_path: Path, data: list[Path], prompt: str = "", note: str = "") -> Path:
    """The card of a mixture of /write models (`ensemble write`): what each member is and
    how it was trained, and the held-out score of every member beside the mixture's."""
    step = load_step_model(model_path)
    meta = step.model.metadata
    style, split = meta.extra["style"], meta.extra["split"]
    members = meta.extra["ensemble"]["members"]
    held_out = evaluate_text(step, held_out_split_text(Vocabulary(meta.vocabulary), data, split))

    def shape(cfg: dict) -> str:
        return (
            f"{cfg['layers']} x {cfg['units']} units, embedding {cfg['embedding']}, "
            f"dropout {cfg['dropout']}"
        )

    lines = [
        f"# Model card: `{model_path.name}` ({style} style, /write)",
        "",
        f"A mixture of {len(members)} character-level LSTM language models trained apart on "
        f"the same text and split, vocabulary of {len(meta.vocabulary)} characters. One "
        "single-step ONNX graph: the token and every member's (h, c) in; the log of the "
        "weighted mean of the members' next-character distributions, and the new states, out.",
        "",
        "## Members",
        "",
        "| member | model | weight | held-out nats/char | trained |",
        "|---|---|---|---|---|",
        *(
            f"| {i} (`{m['file']}`) | {shape(m['config'])} | {m['weight']:.2f} | "
            f"{m['held_out_nats_per_char']} | {m['metrics'].get('epochs_run', '?')} epochs, "
            f"{fmt_seconds(m['metrics'].get('training_seconds'))}, "
            f"{m['metrics'].get('hardware', 'hardware not recorded')} |"
            for i, m in enumerate(members)
        ),
        "",
        *(f"- Member {i}: `{m['training_command']}`" for i, m in enumerate(members)),
        f"- Mixed by: `{meta.training_command}`",
        "- Data: "
        + ", ".join(f"{d['file']} ({d['characters']:,} characters)" for d in meta.data_sources),
        f"- Split: every {split['val_every']}th chunk of {split['val_chunk']:,} characters "
        f"held out ({split['val_tokens']:,} validation, {split['train_tokens']:,} training "
        "characters), the same for every member",
        *([f"- Note: {note}"] if note else []),
        f"- Exported: {meta.trained_at}",
        "",
        "## Metrics",
        "",
        f"`evaluate write` on the held-out chunks ({held_out['n_chars']:,} characters, "
        "state carried):",
        "",
        "| model | nats/char | bits/char |",
        "|---|---|---|",
        *(
            f"| member {i} alone | {m['held_out_nats_per_char']} | "
            f"{round(m['held_out_nats_per_char'] / np.log(2), 4)} |"
            for i, m in enumerate(members)
        ),
        f"| **the mixture (this file)** | **{held_out['nats_per_char']}** | "
        f"{held_out['bits_per_char']} |",
        "",
        *sample_lines(model_path, style, prompt),
    ]
    return save_card(model_path, lines, {"held_out": held_out})


def write_card_main(args) -> None:
    extra = ModelMetadata.from_props(metadata_props(Path(args.model).read_bytes())).extra
    if "ensemble" in extra:
        ensemble_card(args.model, args.data, args.prompt, args.note)
    elif args.run_dir is None:
        raise UserError("--run-dir is needed for a single model's card")
    else:
        write_card(args.model, args.run_dir, args.data, args.prompt, args.note)
