"""The README and docs/ stay short, linked and true; the training recipes stay runnable.

Fast and model-free: the recipes are checked with `bash -n`, then run with `python` and
`cp` replaced by a recorder, so every `python -m training ...` line they would run is
parsed by the real command line and every `data/...` path is checked against the data
manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
RECIPES = sorted((ROOT / "training" / "recipes").glob("*.sh"))
README_MAX_LINES = 200
# docs/data.md documents `fetch --from MIRROR` and where its checksums came from: it names
# the project's local mirror on purpose. No other doc may point a command at it.
MIRROR_NAMED_IN = {"data.md"}

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a link in a code block is not a link)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept)


def _relative_links(doc: Path) -> list[str]:
    targets = LINK.findall(_prose(doc.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_the_docs_exist():
    names = {d.name for d in DOCS}
    expected = {
        "discord.md",
        "training.md",
        "models.md",
        "benchmarks.md",
        "architecture.md",
        "scaling.md",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"


def _anchors(doc: Path) -> set[str]:
    """The anchors GitHub makes for a Markdown file's headings."""
    seen: dict[str, int] = {}
    for line in _prose(doc.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
            if seen[slug]:
                seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_at_files(doc: Path):
    broken = []
    for target in _relative_links(doc):
        path, _, anchor = target.partition("#")
        file = (doc.parent / path) if path else doc
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{doc.name} links to missing files: {broken}"


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_doc_points_at_the_local_mirror(doc: Path):
    if doc.parent.name == "docs" and doc.name in MIRROR_NAMED_IN:
        pytest.skip(f"{doc.name} names the mirror for `data fetch --from`")
    hits = [
        n
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if "../shared" in line
    ]
    assert not hits, f"{doc.name} mentions ../shared on lines {hits}; use data/ paths"


def test_the_readme_states_what_ci_runs():
    """The README's test command is `.ci/run`'s, but for pip's `-q` (quieter CI logs)."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    ci = next((line for line in lines if line.startswith("python3 -m venv .venv && ")), "")
    assert ci, "no `python3 -m venv .venv && ...` line in .ci/run"
    assert ci.replace("pip install -q ", "pip install ") in README.read_text(encoding="utf-8")


def test_there_are_recipes():
    assert RECIPES, "no training/recipes/*.sh"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_is_valid_bash(recipe: Path):
    result = subprocess.run(["bash", "-n", str(recipe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    head = recipe.read_text(encoding="utf-8").splitlines()
    assert head[0] == "#!/usr/bin/env bash"
    assert head[1].startswith("# "), "a comment header says what it makes and how long it takes"
    assert "set -euo pipefail" in head


RECORDER = """\
import json, os, sys
with open(os.environ["RECIPE_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps([os.path.basename(sys.argv[1]), *sys.argv[2:]]) + "\\n")
"""


def _manifest_paths() -> dict[str, str]:
    """Every path the data sets put under data/ (files and derived files), by data set."""
    manifest = tomllib.loads((ROOT / "training" / "data_sources.toml").read_text("utf-8"))
    owner = {}
    for name, entry in manifest.items():
        for path in entry.get("files", {}):
            owner[path] = name
        for derived in entry.get("derived", []):
            owner[derived["path"]] = name
    return owner


def _dry_run(recipe: Path, tmp_path: Path) -> list[list[str]]:
    """Run the recipe from a copy of its folder with `python` and `cp` recorded, not run."""
    home = tmp_path / "repo" / "training" / "recipes"
    home.mkdir(parents=True)
    shutil.copy(recipe, home / recipe.name)
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "record.py").write_text(RECORDER, encoding="utf-8")
    for name in ("python", "cp"):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{shims / "record.py"}" "$0" "$@"\n')
        shim.chmod(0o755)
    log = tmp_path / "commands.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("OUT_DIR", "DATA_FROM")}
    env.update(PATH=f"{shims}{os.pathsep}{env.get('PATH', '')}", RECIPE_LOG=str(log))
    result = subprocess.run(
        ["bash", str(home / recipe.name)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_commands_parse_and_use_fetched_data(recipe: Path, tmp_path: Path):
    from training.__main__ import build_parser

    commands = _dry_run(recipe, tmp_path)
    training = [c[3:] for c in commands if c[:3] == ["python", "-m", "training"]]
    assert training, "the recipe runs no `python -m training` command"
    assert len(training) == sum(c[0] == "python" for c in commands), "python runs only training"

    fetched: set[str] = set()
    owner = _manifest_paths()
    for argv in training:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{recipe.name}: `python -m training {' '.join(argv)}` does not parse")
        if argv[:2] == ["data", "fetch"]:
            unknown = set(args.names) - set(owner.values()) - {"all"}
            assert not unknown, f"{recipe.name}: no data set called {sorted(unknown)}"
            fetched |= set(owner.values()) if "all" in args.names else set(args.names)
            continue
        for word in argv:
            if not word.startswith("data/"):
                continue
            inside = word.removeprefix("data/").rstrip("/")
            sets = {n for p, n in owner.items() if p == inside or p.startswith(inside + "/")}
            assert sets, f"{recipe.name}: {word} is not in training/data_sources.toml"
            assert sets & fetched, f"{recipe.name}: {word} is used before its data set is fetched"
