"""What a command declaration is made of: options with their kind, range, default and
help text, and the command's cooldown and help entry.

Help texts are templates: `{low}`, `{high}` and `{default}` are filled in from the option,
so a range is written once, in the option, and every text that states it follows it. The
template is also the translation key (`bot.discord_app.translations`), so a French or
German text states the same numbers in its own way of writing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import InvalidInput

DISCORD = "discord"
LOCAL = "local"  # the console and the one-shot CLI
EVERYWHERE = frozenset({DISCORD, LOCAL})
IMAGE = "image"  # an option's kind: an attachment on Discord, a file path locally
REQUIRED = object()  # an option's default when it has none: the user must give it


def exact_number(value: int | float) -> str:
    """A number as errors state it: 1500, 0.1, 2."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def plain_number(value: int | float) -> str:
    """A number as the console's help shows it: as errors do, but 2^31-1 for a seed's top."""
    if isinstance(value, int) and value >= 2**16 and (value + 1) & value == 0:
        return f"2^{value.bit_length()}-1"
    return exact_number(value)


@dataclass(frozen=True)
class Option:
    name: str  # as typed on Discord; locally `--name` with - for _
    kind: type | str  # str, int, float, bool or IMAGE
    help: str  # Discord's description (a template); also the translation key
    default: Any = None
    low: int | float | None = None  # numbers: the smallest value; text: the shortest length
    high: int | float | None = None  # numbers: the largest value; text: the longest length
    local_help: str = ""  # the console's and CLI's wording (a template); "" for `help`
    where: frozenset[str] = EVERYWHERE
    field: str = ""  # the request's attribute, when it is not `name`
    positional: bool = False  # locally: the words after the command, joined
    out_of_range: str = ""  # the error for a value outside the range (a template)
    # The error for text over `high` characters (a template). Without one, `high` only
    # bounds what Discord lets a user type (a style is looked up: an unknown one is the error).
    too_long: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def attribute(self) -> str:
        return self.field or self.name

    @property
    def flag(self) -> str:
        return self.name if self.positional else "--" + self.name.replace("_", "-")

    def values(self, number=plain_number) -> dict[str, str]:
        """The numbers a template may state, written by `number`."""
        shown = {"low": self.low, "high": self.high, "default": self.default}
        return {
            k: number(v)
            for k, v in shown.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }

    def text(self, template: str | None = None, number=plain_number) -> str:
        """`template` (default: the Discord help) with the option's numbers filled in."""
        return (self.help if template is None else template).format(**self.values(number))

    def check(self, value: Any) -> None:
        """InvalidInput when `value` is outside the option's range (None: not given)."""
        if value is None or self.kind == IMAGE:
            return
        if self.kind is str:
            if self.too_long and self.high is not None and len(value) > self.high:
                raise InvalidInput(self._message(self.too_long, length=len(value)))
            return
        low = -float("inf") if self.low is None else self.low
        high = float("inf") if self.high is None else self.high
        if not low <= value <= high:
            template = self.out_of_range or "{name} must be between {low} and {high}."
            raise InvalidInput(self._message(template))

    def _message(self, template: str, **more: Any) -> str:
        return template.format(name=self.name, **self.values(exact_number), **more)


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # Discord's description (a translation key too)
    summary: str  # the console's and CLI's one line
    options: tuple[Option, ...] = ()
    cooldown: tuple[int, float] | None = None  # (uses, seconds) per user on Discord
    where: frozenset[str] = EVERYWHERE
    about: str = ""  # /help: what it does
    example: str = ""  # /help: a command line to try
    limits: str = ""  # /help: its input limits; `{option.low}` etc. and the extras given

    def __getitem__(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(f"/{self.name} has no option {name!r}")

    def default(self, name: str) -> Any:
        """The option's default, for the request dataclass that carries it."""
        return self[name].default

    def options_for(self, where: str) -> tuple[Option, ...]:
        return tuple(o for o in self.options if where in o.where)

    def check(self, request: object) -> None:
        """Every declared option of a request within its range (InvalidInput otherwise):
        the one check of what a user typed, wherever the request came in."""
        for option in self.options:
            option.check(getattr(request, option.attribute, None))

    def limits_text(self, **extras: Any) -> str:
        named = {option.name: option for option in self.options}
        return self.limits.format(**named, **extras)
