"""The colour-model variants compared in the model card (kept free of Keras imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColorVariant:
    """One row of the variants table; `padding` tells the encoder which side to pad."""

    name: str
    description: str
    padding: str  # "left" (tutorial) or "right" (masked)
    loss: str  # "mse" on RGB, "lab" (MSE in CIELAB / 100) or "bins" (cross-entropy)
    embedding: int = 0  # 0: one-hot characters
    units: tuple[int, ...] = (256, 128)
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    dense: int = 128
    bins: int = 0  # > 0: a distribution over this many CIELAB bins instead of one colour


VARIANTS = {
    v.name: v
    for v in [
        ColorVariant(
            "tutorial", "one-hot, left pad, LSTM 256 > LSTM 128 > Dense 128, MSE", "left", "mse"
        ),
        ColorVariant(
            "tutorial_dropout", "tutorial + dropout 0.3 between layers", "left", "mse", dropout=0.3
        ),
        ColorVariant(
            "embed_mask",
            "embedding 32, right pad + mask, LSTM 128, dropout 0.3, MSE",
            "right",
            "mse",
            embedding=32,
            units=(128,),
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm_mask",
            "embedding 32, mask, BiLSTM 128, dropout 0.3, MSE",
            "right",
            "mse",
            embedding=32,
            units=(128,),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm_lab",
            "embedding 32, mask, BiLSTM 128, dropout 0.3, MSE in CIELAB",
            "right",
            "lab",
            embedding=32,
            units=(128,),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm2_lab",
            "embedding 64, mask, 2 x BiLSTM 128, dropout 0.3, MSE in CIELAB",
            "right",
            "lab",
            embedding=64,
            units=(128, 128),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm2_bins",
            "embedding 64, mask, 2 x BiLSTM 128, dropout 0.3, softmax over 256 CIELAB bins",
            "right",
            "bins",
            embedding=64,
            units=(128, 128),
            bidirectional=True,
            dropout=0.3,
            bins=256,
        ),
        ColorVariant(
            "bilstm2_bins_wide",
            "embedding 128, mask, 2 x BiLSTM 256, dropout 0.3, dense 256, softmax over 256 "
            "CIELAB bins (recipe gpu)",
            "right",
            "bins",
            embedding=128,
            units=(256, 256),
            bidirectional=True,
            dropout=0.3,
            dense=256,
            bins=256,
        ),
        ColorVariant(
            "tiny_bins",
            "for tests: embedding 8, LSTM 8, softmax over 16 bins",
            "right",
            "bins",
            embedding=8,
            units=(8,),
            dense=8,
            bins=16,
        ),
        ColorVariant(
            "tiny",
            "for tests and smoke runs: embedding 8, LSTM 8",
            "right",
            "lab",
            embedding=8,
            units=(8,),
            dense=8,
        ),
    ]
}
DEFAULT_VARIANT = "bilstm2_lab"
