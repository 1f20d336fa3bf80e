"""sRGB -> CIELAB, for the bot (colour bins) and for training (loss, metrics).

`srgb_to_lab` takes an array namespace (`numpy` or `keras.ops`) so the same formula
serves evaluation in float64 numpy and a differentiable perceptual loss in Keras.
"""

from __future__ import annotations

import numpy as np

# sRGB (D65) linear RGB -> XYZ, rows already divided by the D65 white point.
_RGB_TO_XYZ_D65 = np.array(
    [
        [0.4124564 / 0.95047, 0.3575761 / 0.95047, 0.1804375 / 0.95047],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339 / 1.08883, 0.1191920 / 1.08883, 0.9503041 / 1.08883],
    ]
)
_EPSILON = 216 / 24389
_KAPPA = 24389 / 27


def srgb_to_lab(rgb, xp=np):
    """rgb in [0, 1], shape (..., 3) -> L*a*b* (..., 3)."""
    rgb = xp.clip(rgb, 0.0, 1.0)
    linear = xp.where(rgb <= 0.04045, rgb / 12.92, xp.power((rgb + 0.055) / 1.055, 2.4))
    matrix = _RGB_TO_XYZ_D65.T
    if xp is not np:
        matrix = xp.convert_to_tensor(matrix, dtype="float32")
    xyz = xp.matmul(linear, matrix)
    # Small positive floor keeps the cube root's gradient finite at black.
    f = xp.where(xyz > _EPSILON, xp.power(xp.maximum(xyz, 1e-6), 1 / 3), (_KAPPA * xyz + 16) / 116)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return xp.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)
