"""Each command declared once (`table`), and what a declaration is (`options`)."""

from bot.commands.options import DISCORD, IMAGE, LOCAL, REQUIRED, Command, Option
from bot.commands.table import (
    CAPTION,
    COLOR,
    COMMANDS,
    MAX_SEED,
    MODELS,
    NAME,
    PAINT,
    PALETTE,
    PUBLIC,
    WRITE,
)

__all__ = [
    "CAPTION",
    "COLOR",
    "COMMANDS",
    "DISCORD",
    "IMAGE",
    "LOCAL",
    "MAX_SEED",
    "MODELS",
    "NAME",
    "PAINT",
    "PALETTE",
    "PUBLIC",
    "REQUIRED",
    "WRITE",
    "Command",
    "Option",
]
