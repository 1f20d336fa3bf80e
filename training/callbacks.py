"""Keras callbacks shared by every training command."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import keras


class LossCurvePlot(keras.callbacks.Callback):
    """Redraws the loss curve PNG from the CSV log after every epoch, so it survives a resume."""

    def __init__(self, csv_path: Path, png_path: Path, title: str, ylabel: str = "loss") -> None:
        super().__init__()
        self.csv_path = Path(csv_path)
        self.png_path = Path(png_path)
        self.title = title
        self.ylabel = ylabel

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        plot_loss_curve(self.csv_path, self.png_path, self.title, self.ylabel)


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` to the logs (and so to the CSV log), so resumed runs add up."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["epoch_seconds"] = round(time.perf_counter() - self._started, 2)


def plot_loss_curve(csv_path: Path, png_path: Path, title: str, ylabel: str = "loss") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not csv_path.exists():
        return
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        if key in rows[0]:
            ax.plot(epochs, [float(r[key]) for r in rows], marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def standard_callbacks(
    run_dir: Path, title: str, patience: int, ylabel: str = "loss", resume: bool = False
) -> list[keras.callbacks.Callback]:
    """Best checkpoint by val_loss, early stopping, CSV log and loss-curve PNG in `run_dir`.

    The log is appended to only when resuming, so a curve never mixes two runs.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "log.csv"
    if not resume:
        log_path.unlink(missing_ok=True)
    return [
        EpochTimer(),
        keras.callbacks.ModelCheckpoint(
            run_dir / "best.weights.h5",
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True
        ),
        keras.callbacks.CSVLogger(str(log_path), append=True),
        LossCurvePlot(log_path, run_dir / "loss_curve.png", title, ylabel),
    ]
