"""`python -m training data {list,fetch}`: the training data, as someone who clones gets it.

Every data set and the pretrained image encoder come from public sources pinned in one
manifest, `training/data_sources.toml` (URL at a fixed commit, licence, SHA-256 of every
file). `fetch` downloads with pooch, or copies from a local mirror (`--from DIR`), and
lays the files out under `data/` exactly as the mirror does, so a recipe's paths differ
only in their prefix. Files that the recipes use but no source holds (the colours as
R,G,B, the captions alone, the captions of the 900 photos) are made here from the others,
deterministically, and checked against the same manifest.

A data set is assembled in a hidden staging folder inside the destination and moved into
place only once every checksum holds, so a failed or interrupted fetch leaves nothing
half-written. See docs/data.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import tomllib
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from training.data_recipes import FIXES, RECIPES
from training.errors import UserError

MANIFEST = Path(__file__).with_name("data_sources.toml")
DEFAULT_DEST = Path("data")


@dataclass(frozen=True)
class Derived:
    """A file made by code (`recipe`) from another file (`source`), both under data/."""

    path: str
    recipe: str
    source: str
    sha256: str


@dataclass(frozen=True)
class Dataset:
    """One manifest entry. `files` maps each path under data/ to its SHA-256; `sha256` is
    the download's own checksum when known (None: pooch cannot check it, the files are)."""

    name: str
    url: str
    files: dict[str, str]
    licence: str = ""
    title: str = ""
    sha256: str | None = None
    checksums: str = ""
    unpack_from: str | None = None
    unpack_to: str | None = None
    fix: str | None = None
    subset: str | None = None
    needs: tuple[str, ...] = ()
    derived: tuple[Derived, ...] = ()

    @property
    def is_archive(self) -> bool:
        return self.unpack_from is not None

    def outputs(self) -> dict[str, str]:
        """Every file this data set leaves under data/, with its checksum."""
        return {**self.files, **{d.path: d.sha256 for d in self.derived}}


# ---- the manifest ------------------------------------------------------------------------


def load_manifest(path: Path = MANIFEST) -> dict[str, Dataset]:
    """The data sets in the manifest, by name, in the manifest's order."""
    try:
        tables = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read the data manifest {path}: {exc}") from exc
    try:
        return {name: _dataset(name, table) for name, table in tables.items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"data manifest {path}: a malformed entry ({exc!r})") from exc


def _dataset(name: str, table: dict) -> Dataset:
    unpack = table.get("unpack") or {}
    derived = tuple(
        Derived(d["path"], d["recipe"], d["from"], d["sha256"]) for d in table.get("derived", [])
    )
    dataset = Dataset(
        name=name,
        url=table["url"],
        files=dict(table["files"]),
        licence=table.get("licence", ""),
        title=table.get("title", ""),
        sha256=table.get("sha256"),
        checksums=table.get("checksums", ""),
        unpack_from=unpack.get("from"),
        unpack_to=unpack.get("to"),
        fix=table.get("fix"),
        subset=table.get("subset"),
        needs=tuple(table.get("needs", ())),
        derived=derived,
    )
    _check_entry(dataset)
    return dataset


def _check_entry(dataset: Dataset) -> None:
    """Refuse a manifest entry the fetch could not honour, before any download."""
    problem = None
    if not dataset.is_archive and len(dataset.files) != 1:
        problem = "a single-file download must list exactly one file"
    elif dataset.is_archive and not dataset.unpack_to:
        problem = "unpack needs both 'from' and 'to'"
    elif dataset.fix and dataset.fix not in FIXES:
        problem = f"unknown fix {dataset.fix!r}"
    elif any(d.recipe not in RECIPES for d in dataset.derived):
        problem = "unknown recipe in 'derived'"
    elif any(Path(p).is_absolute() or ".." in Path(p).parts for p in dataset.outputs()):
        problem = "file paths must stay inside the data folder"
    elif dataset.is_archive and any(
        not Path(p).is_relative_to(dataset.unpack_to) for p in dataset.files
    ):
        problem = f"an archive's files must all be under unpack.to ({dataset.unpack_to})"
    if problem:
        raise UserError(f"data manifest, {dataset.name}: {problem}")


def select(datasets: dict[str, Dataset], names: Iterable[str]) -> list[Dataset]:
    """The named data sets ('all': every one), each after the ones it needs."""
    names = list(names)
    wanted = list(datasets) if "all" in names else names
    unknown = sorted(set(wanted) - set(datasets))
    if unknown:
        raise UserError(f"unknown data set {', '.join(unknown)}; known: {', '.join(datasets)}")
    ordered: list[Dataset] = []
    for name in wanted:
        _add_with_needs(datasets, name, ordered, ())
    return ordered


def _add_with_needs(
    datasets: dict[str, Dataset], name: str, ordered: list[Dataset], chain: tuple[str, ...]
) -> None:
    if name in chain:
        raise UserError(f"data manifest: {' -> '.join((*chain, name))} is a cycle")
    if name not in datasets:
        raise UserError(f"data manifest: {chain[-1]} needs unknown data set {name}")
    if datasets[name] in ordered:
        return
    for need in datasets[name].needs:
        _add_with_needs(datasets, need, ordered, (*chain, name))
    ordered.append(datasets[name])


# ---- checksums ---------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in blocks (paintings, photos and the backbone add up)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(dataset: Dataset, root: Path, paths: Collection[str]) -> None:
    """Every path under `root` exists with the manifest's checksum; else one clear line."""
    expected = dataset.outputs()
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(f"{dataset.name}: {missing[0]}{more} missing (from {dataset.url})")
    for path in paths:
        actual = sha256_of(root / path)
        if actual != expected[path]:
            raise UserError(
                f"{dataset.name}: checksum mismatch for {path}: SHA-256 {actual}, "
                f"the manifest says {expected[path]}"
            )


def is_current(dataset: Dataset, dest: Path) -> bool:
    """Already fetched: every output present with its checksum (so `all` can be rerun)."""
    return all(
        (dest / path).is_file() and sha256_of(dest / path) == digest
        for path, digest in dataset.outputs().items()
    )


def _derive(dataset: Dataset, stage: Path, dest: Path) -> None:
    """Make the derived files in the staging folder, reading inputs staged or already fetched."""
    for item in dataset.derived:
        source = stage / item.source if (stage / item.source).is_file() else dest / item.source
        if not source.is_file():
            raise UserError(f"{dataset.name}: {item.path} is made from {item.source}, not here")
        target = stage / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(RECIPES[item.recipe](source, target.parent))
        _verify(dataset, stage, [item.path])


# ---- getting the files -------------------------------------------------------------------


def _download(dataset: Dataset, stage: Path) -> None:
    """Download with pooch into `stage` (checked against the download's own checksum when
    known), then put the listed files at their paths there."""
    import pooch  # imported on use: the other subcommands do not need it
    import requests

    pooch.get_logger().setLevel("WARNING")  # we say what is fetched, once, ourselves
    try:
        downloaded = Path(
            pooch.retrieve(
                dataset.url,
                known_hash=f"sha256:{dataset.sha256}" if dataset.sha256 else None,
                fname="archive.tar.gz" if dataset.is_archive else "download",
                path=stage / ".download",
            )
        )
    except ValueError as exc:  # pooch: the checksum did not match
        said = " ".join(str(exc).split())
        raise UserError(
            f"{dataset.name}: {dataset.url}: checksum mismatch, nothing kept: {said}"
        ) from exc
    except requests.RequestException as exc:
        raise UserError(
            f"{dataset.name}: download from {dataset.url} failed, nothing kept: {_reason(exc)}"
        ) from exc
    if dataset.is_archive:
        _unpack(dataset, downloaded, stage)
    else:
        _place_single(dataset, downloaded, stage)
    shutil.rmtree(stage / ".download")


def _reason(exc: BaseException) -> str:
    """The innermost message of a requests/urllib3 error, not a repr of nested tuples."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _unpack(dataset: Dataset, archive: Path, stage: Path) -> None:
    """Unpack the one folder named in the manifest (pooch's Untar, in one pass over the
    archive), keep the listed files and check each: a GitHub archive is made on request,
    so it has no stable checksum of its own. Unlisted files go with the staging folder."""
    import pooch

    print(
        f"{dataset.name}: archive SHA-256 {sha256_of(archive)} (not pinned; its files are)",
        file=sys.stderr,
    )
    try:
        top = _archive_top(archive)
        folder = f"{top}/{dataset.unpack_from}"
        pooch.Untar(members=[folder], extract_dir="unpacked")(str(archive), "download", None)
        members = {path: f"{top}/{_inside(dataset, path)}" for path in dataset.files}
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{dataset.name}: broken archive from {dataset.url}: {exc}") from exc
    _place_unpacked(dataset, archive.parent / "unpacked", members, stage)


def _archive_top(archive: Path) -> str:
    """The folder everything in the archive sits in (GitHub's: 'REPO-COMMIT')."""
    with tarfile.open(archive) as tar:
        first = tar.next()
    if first is None:
        raise tarfile.TarError("empty archive")
    return first.name.split("/")[0]


def _inside(dataset: Dataset, path: str) -> str:
    """Where a file listed at `path` under data/ sits in the archive, below its top folder."""
    return f"{dataset.unpack_from}/{Path(path).relative_to(dataset.unpack_to).as_posix()}"


def _place_unpacked(dataset: Dataset, unpacked: Path, members: dict[str, str], stage: Path) -> None:
    missing = [path for path, member in members.items() if not (unpacked / member).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UserError(
            f"{dataset.name}: the archive from {dataset.url} has no "
            f"{_inside(dataset, missing[0])}{more}"
        )
    for path, member in members.items():
        (stage / path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(unpacked / member, stage / path)
    _verify(dataset, stage, dataset.files)


def _place_single(dataset: Dataset, downloaded: Path, stage: Path) -> None:
    (path,) = dataset.files
    target = stage / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if dataset.fix:
        target.write_bytes(FIXES[dataset.fix](downloaded.read_bytes()))
    else:
        os.replace(downloaded, target)
    if dataset.subset:
        print(f"note: {dataset.name}: not checksum-verified: {dataset.subset}", file=sys.stderr)
    else:
        _verify(dataset, stage, [path])


def _copy_from(dataset: Dataset, mirror: Path, stage: Path) -> None:
    """Copy the listed files from a mirror laid out like data/, checking every one."""
    for path in dataset.files:
        source = mirror / path
        if not source.is_file():
            raise UserError(f"{dataset.name}: {source} not found in the mirror")
        (stage / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, stage / path)
    _verify(dataset, stage, dataset.files)


def _move_into(stage: Path, dest: Path, paths: Iterable[str]) -> None:
    for path in paths:
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / path, dest / path)


def fetch_one(dataset: Dataset, dest: Path, mirror: Path | None = None) -> None:
    """Fetch one data set (download, or copy from `mirror`) into `dest`, all or nothing."""
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".fetching-{dataset.name}-", dir=dest))
    try:
        if mirror is None:
            _download(dataset, stage)
        else:
            _copy_from(dataset, mirror, stage)
        _derive(dataset, stage, dest)
        _move_into(stage, dest, dataset.outputs())
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def fetch(
    datasets: Iterable[Dataset],
    dest: Path = DEFAULT_DEST,
    mirror: Path | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Fetch each data set that is not already in `dest` with the right checksums."""
    for dataset in datasets:
        if is_current(dataset, dest):
            log(f"{dataset.name}: up to date")
            continue
        origin = mirror or dataset.url
        log(f"{dataset.name}: fetching from {origin}")
        fetch_one(dataset, dest, mirror)
        log(f"{dataset.name}: {len(dataset.outputs())} files verified in {dest}")


# ---- command line ------------------------------------------------------------------------


def add_parser(actions) -> None:
    """The `data` subcommand, added to `python -m training`'s subparsers."""
    data = actions.add_parser("data", help="fetch the training data and pretrained encoder")
    verbs = data.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("fetch", help="download (or copy from a mirror), verify, unpack")
    p.set_defaults(handler="training.data_fetch:fetch_main")
    p.add_argument("names", nargs="+", metavar="NAME", help="data set names, or 'all'")
    p.add_argument(
        "--from",
        dest="mirror",
        type=Path,
        help="copy from a local mirror laid out like data/ instead of downloading",
    )
    _common_arguments(p)
    p = verbs.add_parser("list", help="the data sets, their licences and whether fetched")
    p.set_defaults(handler="training.data_fetch:list_main")
    _common_arguments(p)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the data goes")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)


def fetch_main(args: argparse.Namespace) -> None:
    """`data fetch`: the named data sets (and what they need) into --dest."""
    if args.mirror is not None and not args.mirror.is_dir():
        raise UserError(f"--from {args.mirror}: not a folder")
    fetch(select(load_manifest(args.manifest), args.names), args.dest, args.mirror)


def list_main(args: argparse.Namespace) -> None:
    """`data list`: name, state in --dest, licence; one line each."""
    for dataset in load_manifest(args.manifest).values():
        print(f"{dataset.name:20} {_state(dataset, args.dest):8} {dataset.licence}")


def _state(dataset: Dataset, dest: Path) -> str:
    """fetched (all checksums hold), differs (all there, some other bytes), or missing."""
    if is_current(dataset, dest):
        return "fetched"
    present = all((dest / path).is_file() for path in dataset.outputs())
    return "differs" if present else "missing"
