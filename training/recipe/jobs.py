"""The models `recipe gpu` trains, as the `train` commands they stand for (free of Keras).

Each job is a shipped model, the data it learns from (under the data folder) and the
arguments of its `python -m training train KIND` command, stronger than the shipped
model's where a GPU allows: wider /write styles, a wider painter trained longer, a wider
colour model, the /name model and the caption decoder's concept language model. `--tiny`
swaps in tiny sizes and tiny data (`training.recipe.tiny`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

COLOR_LISTS = (
    "colors/colors.csv",
    "colors/meodai_colornames.csv",
    "colors/colors_18606_rgb.csv",
    "colors/meodai_colornames_cb36672_18606.csv",
)
TINY_COLOR_LISTS = ("colors/colors.csv",)
TINY_LM = ["--units", "16", "--embedding", "8", "--layers", "1"]


@dataclass(frozen=True)
class Job:
    name: str  # the shipped model it may replace (exported_models/NAME.onnx; see `ships`)
    kind: str  # write, paint, color, name, concepts
    share: float  # of the budget left after measuring: most to the models with targets
    data: tuple[str, ...]  # paths under the data folder
    options: tuple[str, ...]  # the `train KIND` options (data and run folder aside)
    tiny_options: tuple[str, ...]
    tiny_data: tuple[str, ...] | None = None  # default: `data`
    data_flag: str = "--data"
    extra_data: tuple[tuple[str, str], ...] = field(default=())  # (flag, path) pairs
    ships: tuple[str, ...] = ()  # the files it replaces, default NAME.onnx

    def train_argv(self, data_root: Path, run_dir: Path, tiny: bool) -> list[str]:
        """The `python -m training train ...` arguments this job stands for."""
        data = (self.tiny_data or self.data) if tiny else self.data
        argv = ["train", TRAIN_KIND[self.kind]]
        for path in data:
            argv += [self.data_flag, str(Path(data_root) / path)]
        for flag, path in self.extra_data:
            argv += [flag, str(Path(data_root) / path)]
        argv += list(self.tiny_options if tiny else self.options)
        return argv + ["--run-dir", str(run_dir)]

    @property
    def max_epochs(self) -> int:
        return int(_option(self.options, "--epochs"))

    def tiny_max_epochs(self) -> int:
        return int(_option(self.tiny_options, "--epochs"))

    @property
    def shipped(self) -> tuple[str, ...]:
        return self.ships or (f"{self.name}.onnx",)


TRAIN_KIND = {
    "write": "write",
    "paint": "paint",
    "color": "color",
    "name": "name",
    "concepts": "caption-concepts",
}


def _option(options: tuple[str, ...], flag: str) -> str:
    return options[options.index(flag) + 1]


# fmt: off
JOBS = (
    Job(
        "shakespeare",
        "write",
        0.27,
        ("text/tinyshakespeare.txt",),
        # Shipped: a mixture of two int8 2 x 256 styles (1.3054 nats/char held out).
        ("--style", "shakespeare", "--units", "512", "--layers", "2", "--dropout", "0.3",
         "--batch-size", "64", "--epochs", "60", "--patience", "5", "--sample-length", "0"),
        ("--style", "shakespeare", *TINY_LM, "--seq-len", "32", "--val-chunk", "500",
         "--val-every", "5", "--batch-size", "16", "--epochs", "2", "--sample-length", "0"),
    ),
    Job(
        "nietzsche",
        "write",
        0.07,
        ("text/nietzsche.txt",),
        ("--style", "nietzsche", "--units", "384", "--layers", "2", "--dropout", "0.3",
         "--batch-size", "64", "--epochs", "60", "--patience", "5", "--sample-length", "0"),
        ("--style", "nietzsche", *TINY_LM, "--seq-len", "32", "--val-chunk", "500",
         "--val-every", "5", "--batch-size", "16", "--epochs", "2", "--sample-length", "0"),
    ),
    Job(
        "monet",
        "paint",
        0.27,
        ("paintings/monet",),
        # Shipped: 2 x 192, thumbnail variant, 20 epochs on 2 CPU cores (2.276 bits/pixel).
        ("--variant", "thumbnail", "--mirror", "--units", "384", "--layers", "2",
         "--batch-size", "32", "--learning-rate", "2e-3", "--epochs", "40", "--patience", "4"),
        ("--variant", "thumbnail", "--mirror", "--size", "8", "--colors", "6", "--thumbnail",
         "2", *TINY_LM, "--batch-size", "8", "--epochs", "2", "--patience", "3"),
    ),
    Job(
        "color",
        "color",
        0.16,
        COLOR_LISTS,
        ("--variant", "bilstm2_bins_wide", "--batch-size", "128", "--epochs", "40",
         "--patience", "5"),
        ("--variant", "tiny_bins", "--batch-size", "16", "--epochs", "2", "--patience", "3"),
        tiny_data=TINY_COLOR_LISTS,
    ),
    Job(
        "names",
        "name",
        0.16,
        COLOR_LISTS,
        ("--embedding", "32", "--units", "384", "--dropout", "0.2", "--batch-size", "128",
         "--epochs", "30", "--patience", "3"),
        ("--units", "16", "--embedding", "8", "--layers", "1", "--batch-size", "16",
         "--epochs", "2"),
        tiny_data=TINY_COLOR_LISTS,
    ),
    Job(
        "captions_concepts",
        "concepts",
        0.07,
        ("captions/flickr8k_captions_train.csv",),
        ("--units", "384", "--batch-size", "256", "--learning-rate", "4e-3", "--epochs", "24",
         "--patience", "3"),
        ("--concepts", "8", *TINY_LM, "--batch-size", "16", "--val-fraction", "0.2",
         "--epochs", "2"),
        extra_data=(("--exclude-images", "captions/images/captions.csv"),),
        # The captioner is re-fitted from it on the CPU by `recipe ship`.
        ships=("captions_encoder.onnx", "captions_image_decoder.onnx"),
    ),
)
# fmt: on
JOB_NAMES = tuple(j.name for j in JOBS)


def job(name: str) -> Job:
    for j in JOBS:
        if j.name == name:
            return j
    raise KeyError(name)
