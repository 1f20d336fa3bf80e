"""`python -m training recipe ship --from DIR [--model-dir exported_models]`: on the CPU,
turn what `recipe gpu` sent back into shipped models, where they are better.

For each model: rebuild its run folder (config.json, best.weights.h5, log.csv and the loss
curve) from DIR, export it with the usual parity check (`export_run`, `export_color`, the
name model's `export_run`; the concept LM re-fits the image captioner on top of it, as
`caption_image.sh` does), quantize a /write style where the int8 criterion allows
(`quantize_write`: at most 0.002 nats/char), and score it and the shipped model on the
same held-out split. A new model replaces the shipped one only if it is better (files
staged beside the model folder, then renamed over the old ones) and its card is then
regenerated; the card says where, for how long and by which command it was trained.
Prints the old-versus-new table.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import warnings
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.errors import UserError
from training.recipe.jobs import JOBS, Job
from training.recipe.plan import Rule, check_outputs, is_better, read_run_config

if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    raise UserError("recipe ship exports with TensorFlow: run it with KERAS_BACKEND=tensorflow")
os.environ["KERAS_BACKEND"] = "tensorflow"

ROOT = Path(__file__).resolve().parents[2]
REPO_MODELS = ROOT / "exported_models"
BACKBONE = "pretrained/mobilenet_v2_1.0_224_quant.tflite"
RULES = {
    "write": Rule("nats_per_char", "held-out nats/char (state carried)"),
    "paint": Rule("bits_per_pixel", "held-out bits/pixel"),
    "color": Rule(
        "delta_e_mean",
        "held-out CIEDE2000 mean (chroma ratio must stay >= min(old, 0.9))",
        "chroma_ratio",
        0.9,
    ),
    "name": Rule("val_nats_per_char", "held-out nats/char given the colour"),
    "concepts": Rule("nats_per_char", "captioner's held-out nats/char with the image"),
}


@dataclass
class Context:
    record: dict
    source: Path
    model_dir: Path
    data_root: Path
    stage: Path  # beside model_dir (same file system): staged files are renamed into it
    tiny: bool
    dry_run: bool

    def data(self, job: Job) -> list[Path]:
        paths = (job.tiny_data or job.data) if self.tiny else job.data
        return [self.data_root / p for p in paths]

    def note(self, entry: dict) -> str:
        r = self.record
        return (
            f"trained on {r['hardware']} by `{r['command']}` ({entry.get('epochs_run', 0)} "
            f"epochs, {entry.get('training_seconds', 0):.0f} s of a {r['minutes']:g}-minute "
            "budget for every model), exported, checked and evaluated by "
            "`python -m training recipe ship`"
        )

    def install(self, files: dict[Path, str]) -> None:
        """Rename each staged file over its shipped name (atomic on one file system)."""
        for staged, name in files.items():
            os.chmod(staged, 0o644)
            os.replace(staged, self.model_dir / name)


@dataclass
class Row:
    model: str
    measure: str
    old: float | None
    new: float | None
    decision: str
    why: str = ""


def rebuild_run(entry: dict, source: Path, run_dir: Path) -> Path:
    """The run folder the export and card functions read, from the run config in DIR."""
    from training.callbacks import plot_loss_curve
    from training.tokenlm.train import BEST_WEIGHTS, CONFIG_FILE

    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(json.dumps(entry["run"], indent=1), encoding="utf-8")
    shutil.copy(source / entry["weights"], run_dir / BEST_WEIGHTS)
    with (run_dir / "log.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["epoch", "loss", "val_loss", "epoch_seconds"])
        writer.writeheader()
        for row in entry["log"]:
            writer.writerow({k: row[k] for k in writer.fieldnames})
    title = f"{entry['kind']} (recipe gpu)"
    plot_loss_curve(run_dir / "log.csv", run_dir / "loss_curve.png", title)
    return run_dir


def _decide(ctx: Context, job: Job, old: dict | None, new: dict) -> tuple[bool, Row]:
    rule = RULES[job.kind]
    better, why = is_better(rule, old, new)
    if better and ctx.dry_run:
        decision = "better (dry run: not replaced)"
    else:
        decision = "replaced" if better else "kept the shipped one"
    row = Row(job.name, rule.label, old and old[rule.metric], new[rule.metric], decision, why)
    return better and not ctx.dry_run, row


def _previous(ctx: Context, name: str) -> Path | None:
    """A copy of the shipped file, for cards that compare with it after it is replaced."""
    old = ctx.model_dir / name
    if not old.exists():
        return None
    copy = ctx.stage / name.replace(".onnx", "_previous.onnx")
    shutil.copy(old, copy)
    return copy


def ship_write(job: Job, entry: dict, run_dir: Path, ctx: Context) -> Row:
    from training.cards import write_card
    from training.quantize import held_out_nats, quantize_write, update_card
    from training.tokenlm.export import export_run
    from training.tokenlm.train import BEST_WEIGHTS

    data = ctx.data(job)
    new = ctx.stage / f"{job.name}.onnx"
    export_run(run_dir, new)
    report = None
    try:
        report = quantize_write(new, data, new, max_cost=0.002)
        print(f"{job.name}: int8 weights, {report['cost']:+} nats/char on the held-out chunks")
    except UserError as exc:
        print(f"{job.name}: {exc} (the float model is shipped)")
    old = ctx.model_dir / new.name
    scores = {
        "new": held_out_nats(new, data),
        "old": held_out_nats(old, data) if old.exists() else None,
    }
    replace, row = _decide(ctx, job, scores["old"], scores["new"])
    if replace:
        weights = ctx.stage / f"{job.name}.weights.h5"  # what `finetune write` starts from
        shutil.copy(run_dir / BEST_WEIGHTS, weights)
        ctx.install({new: new.name, weights: weights.name})
        final = ctx.model_dir / new.name
        write_card(final, run_dir, data, note=ctx.note(entry))
        if report:
            update_card(final, report)
    return row


def _painting_bits(path: Path, folder: Path, val_names: list[str]) -> dict:
    from training.paint.evaluate import held_out_bits

    bits, paintings = held_out_bits(path, folder, val_names)
    return {"bits_per_pixel": round(bits, 4), "paintings": paintings}


def ship_paint(job: Job, entry: dict, run_dir: Path, ctx: Context) -> Row:
    from training.cards import paint_card
    from training.tokenlm.export import export_run
    from training.tokenlm.train import BEST_WEIGHTS

    (folder,) = ctx.data(job)
    new = ctx.stage / f"{job.name}.onnx"
    export_run(run_dir, new)
    val_names = entry["run"]["split"]["val_names"]  # by a hash of the file name: the same
    old = ctx.model_dir / new.name
    scores = {
        "new": _painting_bits(new, folder, val_names),
        "old": _painting_bits(old, folder, val_names) if old.exists() else None,
    }
    replace, row = _decide(ctx, job, scores["old"], scores["new"])
    if replace:
        previous = _previous(ctx, new.name)
        weights = ctx.stage / f"{job.name}.weights.h5"  # what paint_monet.sh grows from
        shutil.copy(run_dir / BEST_WEIGHTS, weights)
        ctx.install({new: new.name, weights: weights.name})
        others = [previous] if previous else []
        paint_card(ctx.model_dir / new.name, run_dir, others, folder, note=ctx.note(entry))
    return row


def ship_color(job: Job, entry: dict, run_dir: Path, ctx: Context) -> Row:
    import numpy as np

    from bot.color.bins import ColorBins
    from training.cards import color_card
    from training.color.data import MAX_NAME_LENGTH
    from training.color.evaluate import evaluate_color
    from training.color.metrics import color_metrics
    from training.color.model import build_color_model
    from training.color.train import color_metadata, color_setup, export_color
    from training.color.variants import ColorVariant
    from training.recipe.setup import parse
    from training.tokenlm.train import BEST_WEIGHTS

    run = entry["run"]
    data = ctx.data(job)
    d = color_setup(parse(job.train_argv(ctx.data_root, run_dir, ctx.tiny)))
    if d.vocab.tokens != run["vocabulary"]:
        raise UserError("the colour lists differ from the ones it trained on (vocabulary)")
    d.variant = ColorVariant(**{**run["variant"], "units": tuple(run["variant"]["units"])})
    d.bins, d.mean_rgb = run["bins"], np.asarray(run["mean_rgb"])  # as trained, not refitted
    model = build_color_model(d.variant, d.vocab.size, MAX_NAME_LENGTH)
    with warnings.catch_warnings():  # the file holds no optimizer state, by design
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(run_dir / BEST_WEIGHTS)
    predicted = model.predict(d.x_val, verbose=0)
    answers = ColorBins(d.bins).answers(predicted) if d.bins else predicted
    metrics = color_metrics(d.val.rgb, answers, d.mean_rgb)
    metrics.update(
        variant=d.variant.name,
        n_train=run["n_train"],
        epochs_run=entry["epochs_run"],
        best_epoch=entry["best_epoch"],
        training_seconds=entry["training_seconds"],
        hardware=run["hardware"],
    )
    new = ctx.stage / f"{job.name}.onnx"
    export_color(model, d.variant, color_metadata(d, metrics, run["training_command"]), new,
                 d.x_val[:256])  # fmt: skip
    old = ctx.model_dir / new.name
    fraction = run["val_fraction"]
    scores = {
        "new": evaluate_color(new, data, fraction),
        "old": evaluate_color(old, data, fraction) if old.exists() else None,
    }
    replace, row = _decide(ctx, job, scores["old"], scores["new"])
    if replace:
        previous = _previous(ctx, new.name)
        ctx.install({new: new.name})
        color_card(ctx.model_dir / new.name, run_dir, None, previous, data)
    return row


def _name_nats(path: Path, data: list[Path], fraction: float) -> dict:
    from bot.name.service import color_input, color_state
    from bot.runtime.engine import InferenceEngine
    from bot.runtime.lm import StepGraph
    from training.caption.evaluate import caption_nats
    from training.color.data import load_colors, split

    graph = StepGraph(InferenceEngine(path.parent, prefer_gpu=False).load_file(path))
    val = split(load_colors(data), fraction)[1]
    nats = caption_nats(graph, val.names, color_state(graph, color_input(val.rgb)))
    return {"val_nats_per_char": round(nats, 4), "val_names": len(val)}


def ship_name(job: Job, entry: dict, run_dir: Path, ctx: Context) -> Row:
    from training.cards import name_card
    from training.name.train import export_run
    from training.tokenlm.train import CONFIG_FILE

    data = ctx.data(job)
    run = {**entry["run"], "data": [str(p) for p in data]}  # this machine's copies
    (run_dir / CONFIG_FILE).write_text(json.dumps(run, indent=1), encoding="utf-8")
    new = ctx.stage / f"{job.name}.onnx"
    export_run(run_dir, new)
    old = ctx.model_dir / new.name
    fraction = run["val_fraction"]
    scores = {
        "new": _name_nats(new, data, fraction),
        "old": _name_nats(old, data, fraction) if old.exists() else None,
    }
    replace, row = _decide(ctx, job, scores["old"], scores["new"])
    if replace:
        ctx.install({new: new.name})
        color_model = ctx.model_dir / "color.onnx"
        if color_model.exists():
            name_card(ctx.model_dir / new.name, color_model, run_dir, data)
        else:
            row.why += "; no card (no colour model for the round trip)"
    return row


def _captioner_nats(decoder: Path, encoder: Path, captions: Path, images: Path) -> dict:
    from training.caption.evaluate import evaluate_caption

    args = Namespace(model=decoder, encoder=encoder, data=[captions], images=images,
                     held_out=True, val_fraction=0.1, retrieval_images=100)  # fmt: skip
    return evaluate_caption(args)


def ship_concepts(job: Job, entry: dict, run_dir: Path, ctx: Context) -> Row:
    """The concept LM is the image captioner's starting point: the captioner is re-fitted
    on it (`train caption-image --condition concepts`, caption_image.sh's options) and
    the pair replaces the shipped encoder and decoder if it scores better with images."""
    from training.caption.concept_lm import load_concept_run

    load_concept_run(run_dir)  # the weights fit the configuration
    captions = ctx.data_root / "captions/images/captions.csv"
    images, backbone = captions.parent, ctx.data_root / BACKBONE
    rule = RULES[job.kind]
    if ctx.tiny or not backbone.exists() or not any(images.glob("*.jpg")):
        why = "--tiny" if ctx.tiny else "data fetch flickr8k-images mobilenet-v2 first"
        return Row(job.name, rule.label, None, None, "not shipped: no captioner fitted", why)
    from training.caption.image_train import train_caption_image
    from training.recipe.setup import parse

    encoder = ctx.stage / "captions_encoder.onnx"
    image_run = ctx.stage / "capimg_concepts"
    train_caption_image(parse([
        "train", "caption-image", "--decoder-run", str(run_dir), "--condition", "concepts",
        "--concept-l2", "0.3", "--captions", str(captions), "--images", str(images),
        "--backbone", str(backbone), "--epochs", "10", "--patience", "2",
        "--run-dir", str(image_run), "--out", str(encoder),
    ]))  # fmt: skip
    decoder = ctx.stage / "captions_image_decoder.onnx"
    old_encoder, old_decoder = ctx.model_dir / encoder.name, ctx.model_dir / decoder.name
    scores = {
        "new": _captioner_nats(decoder, encoder, captions, images),
        "old": _captioner_nats(old_decoder, old_encoder, captions, images)
        if old_encoder.exists() and old_decoder.exists()
        else None,
    }
    replace, row = _decide(ctx, job, scores["old"], scores["new"])
    if replace:
        ctx.install({decoder: decoder.name, encoder: encoder.name})
        card_data = [ctx.data_root / "captions/coco_captions_val2017.json",
                     ctx.data_root / "captions/flickr8k_captions_train.csv"]  # fmt: skip
        plain = ctx.model_dir / "captions.onnx"
        if plain.exists() and all(p.exists() for p in card_data):
            from training.cards import caption_card

            caption_card(plain, ctx.model_dir / encoder.name, card_data, images, image_run,
                         [image_run], note=ctx.note(entry))  # fmt: skip
        else:
            row.why += "; no card (captions.onnx or the caption data missing)"
    return row


SHIPPERS: dict[str, Callable[[Job, dict, Path, Context], Row]] = {
    "write": ship_write,
    "paint": ship_paint,
    "color": ship_color,
    "name": ship_name,
    "concepts": ship_concepts,
}


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def table(rows: list[Row], record: dict) -> str:
    lines = [
        "| model | measured on its held-out split | shipped | new | s/epoch on "
        f"{record['hardware']} | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        epoch = record["models"].get(r.model, {}).get("measure", {}).get("epoch_seconds", "")
        why = f" ({r.why})" if r.why else ""
        lines.append(
            f"| {r.model} | {r.measure} | {_fmt(r.old)} | {_fmt(r.new)} | {epoch} "
            f"| {r.decision}{why} |"
        )
    return "\n".join(lines)


def ship_main(args) -> list[Row]:
    source = Path(args.source)
    record = read_run_config(source)
    check_outputs(source)
    tiny = bool(record.get("tiny"))
    if tiny != bool(args.tiny):
        raise UserError(
            f"{source} was made {'with' if tiny else 'without'} --tiny: ship it "
            f"{'with' if tiny else 'without'} --tiny"
        )
    model_dir = Path(args.model_dir).resolve()
    if tiny and model_dir == REPO_MODELS:
        raise UserError("--tiny never writes into exported_models/: give another --model-dir")
    model_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}-recipe-", dir=model_dir.parent))
    rows = []
    try:
        data_root = Path(args.data_root)
        if tiny:
            from training.recipe.tiny import make_tiny_data

            data_root = make_tiny_data(stage / "data")
        ctx = Context(record, source, model_dir, data_root, stage, tiny, args.dry_run)
        for job in JOBS:
            entry = record["models"].get(job.name)
            if entry is None:
                continue
            if not entry.get("weights"):
                label, why = RULES[job.kind].label, entry.get("stopped", "")
                rows.append(Row(job.name, label, None, None, "not trained", why))
                continue
            run_dir = rebuild_run(entry, source, stage / "runs" / job.name)
            rows.append(SHIPPERS[job.kind](job, entry, run_dir, ctx))
            print(table(rows[-1:], record).splitlines()[-1], flush=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(table(rows, record))
    return rows
