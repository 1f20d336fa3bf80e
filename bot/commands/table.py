"""Every command the bot offers, declared once: the Discord cogs, the console and CLI,
/help, /settings, the translations and the services all read these."""

from __future__ import annotations

from bot.commands.options import DISCORD, IMAGE, LOCAL, REQUIRED, Command, Option

MAX_SEED = 2**31 - 1
LOCAL_ONLY = frozenset({LOCAL})


def seed(same: str) -> Option:
    return Option(
        "seed",
        int,
        f"Same seed and {same}",
        low=0,
        high=MAX_SEED,
        local_help="{low} to {high}; same seed, same " + same.rsplit(" ", 1)[-1],
    )


COLOR = Command(
    "color",
    "Show the colour a name evokes",
    "the colour a name evokes",
    (
        Option(
            "name",
            str,
            "A colour name, real or invented (e.g. forest)",
            REQUIRED,
            low=1,
            high=100,
            local_help="a colour name, {low} to {high} characters",
            positional=True,
            too_long="That name is {length:,} characters long; the limit is {high}.",
        ),
        Option(
            "model_only", bool, "", False, local_help="skip the known-name lookup", where=LOCAL_ONLY
        ),
    ),
    cooldown=(5, 10.0),
    about="Shows the colour a name evokes, real or invented, with a swatch.",
    example="/color name:sunset over the bay",
    limits="Name up to {name.high} characters.",
)

WRITE = Command(
    "write",
    "Write new text in a learned style",
    "text in a learned style",
    (
        Option(
            "style",
            str,
            "Whose style to imitate (default: this server's choice)",
            low=1,
            high=100,
        ),
        Option(
            "prompt",
            str,
            "Opening text to continue (kept in the output)",
            "",
            low=0,
            high=500,
            local_help="opening text, kept (up to {high} characters)",
            too_long="The prompt is {length:,} characters; the limit is {high}.",
        ),
        Option(
            "length",
            int,
            "Characters to generate ({low} to {high})",
            400,
            low=50,
            high=1500,
            local_help="characters, {low} to {high}",
            out_of_range="length must be between {low} and {high} characters.",
        ),
        Option(
            "temperature",
            float,
            "0 = always the likeliest character; higher = more adventurous (max {high})",
            0.8,
            low=0.0,
            high=2.0,
            local_help="{low} (greedy) to {high}",
        ),
        seed("options give the same text"),
        # The sampler's own settings; it checks their ranges (`bot.runtime.sampling`).
        Option("top_k", int, "", 0, local_help="keep the k likeliest (0: all)", where=LOCAL_ONLY),
        Option("top_p", float, "", 1.0, local_help="nucleus mass, (0, 1]", where=LOCAL_ONLY),
    ),
    cooldown=(2, 30.0),
    about="Writes new text in a learned style, continuing your prompt if you give one.",
    example="/write style:shakespeare prompt:ROMEO: length:400",
    limits="Length {length.low} to {length.high:,} characters; prompt up to {prompt.high}.",
)

CAPTION = Command(
    "caption",
    "Compose captions, or caption an image",
    "captions, or a caption for an image",
    (
        Option(
            "image",
            IMAGE,
            "A picture to caption (PNG, JPEG, WebP or GIF, up to 8 MB)",
            local_help="caption this image (PNG, JPEG, WebP, GIF)",
        ),
        Option(
            "starts_with",
            str,
            "How the caption should begin",
            "",
            low=0,
            high=60,
            local_help="how the caption begins (up to {high})",
            too_long="starts_with is limited to {high} characters.",
        ),
        Option(
            "count",
            int,
            "How many captions ({low} to {high})",
            1,
            low=1,
            high=5,
            local_help="captions, {low} to {high}",
        ),
        Option(
            "temperature",
            float,
            "0 = safest wording; higher = more adventurous (max {high})",
            0.7,
            low=0.0,
            high=2.0,
            local_help="{low} (greedy) to {high}",
        ),
        seed("options give the same captions"),
        Option(
            "beam",
            int,
            "",
            low=0,
            high=10,
            local_help="beam width {low} (sample) to {high}; default 3 for images, else 0",
            where=LOCAL_ONLY,
            field="beam_width",
            out_of_range="beam width must be between {low} (sampling) and {high}.",
        ),
    ),
    cooldown=(3, 30.0),
    about="Composes captions, or captions an image you attach.",
    example="/caption image:<attach a photo>",
    limits="{count.low} to {count.high} captions; images {formats}, up to {megabytes} MB.",
)

PAINT = Command(
    "paint",
    "Paint a new picture in the style of Monet",
    "a painting in the style of Monet",
    (
        seed("temperature give the same painting"),
        Option(
            "temperature",
            float,
            "Lower = calmer colours, higher = wilder ({low} to {high})",
            1.0,
            low=0.1,
            high=2.0,
            local_help="{low} to {high}",
        ),
        Option("size", int, "Canvas size in pixels (the sizes the painter was trained at)"),
    ),
    cooldown=(1, 30.0),
    about="Paints a new picture in the style of Monet; watch the canvas fill in.",
    example="/paint seed:7",
    limits="The same seed and temperature give the same painting.",
)

NAME = Command(
    "name",
    "Invent names for a colour",
    "invented names for a colour",
    (
        Option(
            "color",
            str,
            "#7a9e3b, #7a3, rgb(122, 158, 59) or a colour name",
            REQUIRED,
            low=1,
            high=100,
            positional=True,
            too_long="A colour is at most {high} characters.",
        ),
        Option(
            "temperature",
            float,
            "0 = safest names; higher = wilder (max {high})",
            0.8,
            low=0.0,
            high=2.0,
            local_help="{low} to {high}",
        ),
        seed("colour give the same names"),
    ),
    cooldown=(3, 30.0),
    about="Invents names for a colour given as hex, rgb() or a colour name.",
    example="/name color:#7a9e3b",
    limits="Colour text up to {color.high} characters.",
)

PALETTE = Command(
    "palette",
    "The five main colours of an image, named",
    "an image's five dominant colours, named twice",
    (
        Option(
            "image",
            IMAGE,
            "A picture (PNG, JPEG, WebP or GIF, up to 8 MB)",
            REQUIRED,
            local_help="a PNG, JPEG, WebP or GIF image",
            positional=True,
        ),
    ),
    cooldown=(3, 30.0),
    about=(
        "Finds the five main colours of a picture and names each: its nearest known "
        "colour and an invented name."
    ),
    example="/palette image:<attach a photo>",
    limits="Images {formats}, up to {megabytes} MB; the same image, the same palette.",
)

MODELS = Command(
    "models",
    "Loaded models and their key numbers",
    "loaded models: data, key metric, training date",
)

COMMANDS: dict[str, Command] = {
    c.name: c for c in (COLOR, WRITE, CAPTION, PAINT, NAME, PALETTE, MODELS)
}
# The commands everyone may use on Discord: a server can switch each off or change its
# cooldown (`/settings`), and /help explains each.
PUBLIC: tuple[str, ...] = tuple(
    name for name, c in COMMANDS.items() if c.cooldown is not None and DISCORD in c.where
)
