"""`python -m training data fetch`: downloads through pooch from a local HTTP server (good,
corrupt, interrupted, an archive), copies from a tiny mirror, and the real manifest's shape.
Nothing here reads outside the repository or the network beyond 127.0.0.1."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from training.__main__ import main
from training.data_fetch import (
    Dataset,
    Derived,
    fetch,
    load_manifest,
    select,
)
from training.errors import UserError

TEXT = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
NAMED_HEX = b"name,hex,good name\r\nZ\xc3\xbcrich Blue,#248bcc,\r\n18th Century Green,#a59344,x"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def github_tarball(files: dict[str, bytes], top: str = "repo-0123abcd") -> bytes:
    """A .tar.gz laid out like GitHub's archive of a commit: everything under REPO-COMMIT/."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


PAINTINGS = {"a.jpg": b"\xff\xd8painting a", "b.jpg": b"\xff\xd8painting b"}
ARCHIVE = github_tarball(
    {
        "README.md": b"not kept",
        "monet_jpg/a.jpg": PAINTINGS["a.jpg"],
        "monet_jpg/b.jpg": PAINTINGS["b.jpg"],
        "monet_jpg/held_back.jpg": b"\xff\xd8not listed, not kept",
    }
)
ROUTES = {
    "/good.txt": TEXT,
    "/corrupt.txt": TEXT.replace(b"hear", b"HEAR"),
    "/mojibake.txt": "Zürich, Æsop\n".encode().decode("latin-1").encode(),
    "/owner/repo/archive/0123abcd.tar.gz": ARCHIVE,
    "/truncated.tar.gz": ARCHIVE[: len(ARCHIVE) // 2],
}


class Handler(BaseHTTPRequestHandler):
    """Serves ROUTES; /interrupted promises more bytes than it sends, then hangs up."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        if self.path == "/interrupted.txt":
            self.send_response(200)
            self.send_header("Content-Length", str(len(TEXT) + 10_000))
            self.end_headers()
            self.wfile.write(TEXT[:20])
            self.wfile.flush()
            return  # HTTP/1.0: the server closes the connection now
        body = ROUTES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def single(url: str, data: bytes, path: str = "text/corpus.txt", **extra) -> Dataset:
    return Dataset(name="corpus", url=url, sha256=sha(data), files={path: sha(data)}, **extra)


def paintings(url: str) -> Dataset:
    return Dataset(
        name="monet",
        url=url,
        files={f"paintings/monet/{n}": sha(d) for n, d in PAINTINGS.items()},
        unpack_from="monet_jpg",
        unpack_to="paintings/monet",
    )


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_good_download_lands_verified_and_is_not_fetched_twice(server, tmp_path):
    dest = tmp_path / "data"
    dataset = single(f"{server}/good.txt", TEXT)
    fetch([dataset], dest, log=lambda line: None)
    assert (dest / "text/corpus.txt").read_bytes() == TEXT
    assert files_under(dest) == ["text", "text/corpus.txt"]  # no staging left behind

    Handler.hits.clear()
    said = []
    fetch([dataset], dest, log=said.append)
    assert Handler.hits == [] and said == ["corpus: up to date"]


def test_checksum_mismatch_is_one_line_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(UserError) as caught:
        fetch([single(f"{server}/corrupt.txt", TEXT)], dest, log=print)
    message = str(caught.value)
    assert "\n" not in message and "corrupt.txt" in message and "hash" in message.lower()
    assert files_under(dest) == []


def test_interrupted_download_is_one_line_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(UserError, match=r"download from .*interrupted.txt failed") as caught:
        fetch([single(f"{server}/interrupted.txt", TEXT)], dest, log=print)
    assert "\n" not in str(caught.value)
    assert files_under(dest) == []


def test_missing_file_on_the_server(server, tmp_path):
    with pytest.raises(UserError, match="404"):
        fetch([single(f"{server}/gone.txt", TEXT)], tmp_path / "data", log=print)
    assert files_under(tmp_path / "data") == []


def test_archive_keeps_only_listed_files_and_checks_each(server, tmp_path):
    dest = tmp_path / "data"
    fetch([paintings(f"{server}/owner/repo/archive/0123abcd.tar.gz")], dest, log=print)
    assert files_under(dest) == [
        "paintings",
        "paintings/monet",
        "paintings/monet/a.jpg",
        "paintings/monet/b.jpg",
    ]
    assert (dest / "paintings/monet/b.jpg").read_bytes() == PAINTINGS["b.jpg"]


def test_archive_without_a_listed_file_or_broken_leaves_nothing(server, tmp_path):
    dest = tmp_path / "data"
    wanting = paintings(f"{server}/owner/repo/archive/0123abcd.tar.gz")
    wanting.files["paintings/monet/c.jpg"] = sha(b"c")
    with pytest.raises(UserError, match="has no monet_jpg/c.jpg"):
        fetch([wanting], dest, log=print)
    with pytest.raises(UserError, match="broken archive"):
        fetch([paintings(f"{server}/truncated.tar.gz")], dest, log=print)
    assert files_under(dest) == []


def test_fix_repairs_double_encoded_utf8(server, tmp_path):
    mojibake = ROUTES["/mojibake.txt"]
    repaired = "Zürich, Æsop\n".encode()
    dataset = Dataset(
        name="nietzsche",
        url=f"{server}/mojibake.txt",
        sha256=sha(mojibake),
        files={"text/n.txt": sha(repaired)},
        fix="latin1_roundtrip",
    )
    fetch([dataset], tmp_path / "data", log=print)
    assert (tmp_path / "data/text/n.txt").read_bytes() == repaired


def test_a_subset_source_is_kept_unverified_with_a_note(server, tmp_path, capsys):
    """The mirror keeps part of meodai-colors; the source's full list has no known checksum."""
    dataset = Dataset(
        name="full-list",
        url=f"{server}/good.txt",
        files={"colors/list.csv": sha(b"the mirror's subset")},
        subset="the mirror holds a subset",
    )
    fetch([dataset], tmp_path / "data", log=print)
    assert (tmp_path / "data/colors/list.csv").read_bytes() == TEXT
    assert "note: full-list: not checksum-verified" in capsys.readouterr().err


def rgb_csv() -> bytes:
    return "name,red,green,blue\nZürich Blue,36,139,204\n18th Century Green,165,147,68\n".encode()


def write_manifest(folder: Path, url: str) -> Path:
    manifest = folder / "sources.toml"
    manifest.write_text(
        f"""
[names]
url = "{url}"
licence = "MIT"
sha256 = "{sha(NAMED_HEX)}"
[names.files]
"colors/named.csv" = "{sha(NAMED_HEX)}"
[[names.derived]]
path = "colors/named_rgb.csv"
recipe = "hex_to_rgb"
from = "colors/named.csv"
sha256 = "{sha(rgb_csv())}"
""",
        encoding="utf-8",
    )
    return manifest


def test_from_mirror_copies_verifies_and_derives(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    (mirror / "colors").mkdir(parents=True)
    (mirror / "colors/named.csv").write_bytes(NAMED_HEX)
    manifest = write_manifest(tmp_path, "http://127.0.0.1:9/unused.csv")
    dest = tmp_path / "data"
    argv = ["data", "fetch", "all", "--from", str(mirror), "--dest", str(dest)]

    assert main([*argv, "--manifest", str(manifest)]) == 0
    assert (dest / "colors/named.csv").read_bytes() == NAMED_HEX
    assert (dest / "colors/named_rgb.csv").read_bytes() == rgb_csv()
    capsys.readouterr()
    assert main(["data", "list", "--dest", str(dest), "--manifest", str(manifest)]) == 0
    assert capsys.readouterr().out.split() == ["names", "fetched", "MIT"]

    (mirror / "colors/named.csv").write_bytes(NAMED_HEX + b"\r\nextra,#000000,")
    (dest / "colors/named.csv").unlink()
    capsys.readouterr()
    assert main([*argv, "--manifest", str(manifest)]) == 2
    error = capsys.readouterr().err.strip()
    assert re.fullmatch(r"error: names: checksum mismatch for colors/named.csv: .*", error)
    assert not (dest / "colors/named.csv").exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_unknown_name_and_missing_mirror_file(tmp_path, capsys):
    manifest = write_manifest(tmp_path, "http://127.0.0.1:9/unused.csv")
    (tmp_path / "mirror").mkdir()
    base = ["data", "fetch", "--manifest", str(manifest), "--dest", str(tmp_path / "data")]
    assert main([*base, "nope"]) == 2
    assert "unknown data set nope; known: names" in capsys.readouterr().err
    assert main([*base, "names", "--from", str(tmp_path / "mirror")]) == 2
    assert "not found in the mirror" in capsys.readouterr().err


def test_derived_files_keep_order_line_endings_and_whitespace(tmp_path):
    """The recipes' output is pinned byte for byte, so their details are the contract."""
    mirror = tmp_path / "mirror"
    (mirror / "images").mkdir(parents=True)
    rows = [("image", "caption"), ("b.jpg", "two  dogs ."), ("a.jpg", "a, cat"), ("c.jpg", "x")]
    with open(mirror / "captions.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    for name in ("a.jpg", "b.jpg"):
        (mirror / "images" / name).write_bytes(name.encode())
    lines = b"two dogs .\na, cat\nx\n"
    of_images = b'image,caption\r\nb.jpg,two  dogs .\r\na.jpg,"a, cat"\r\n'
    dataset = Dataset(
        name="captions",
        url="unused",
        files={
            p: sha((mirror / p).read_bytes())
            for p in ("captions.csv", "images/a.jpg", "images/b.jpg")
        },
        derived=(
            Derived("lines.txt", "caption_lines_csv", "captions.csv", sha(lines)),
            Derived("images/captions.csv", "captions_of_images", "captions.csv", sha(of_images)),
        ),
    )
    dest = tmp_path / "data"
    fetch([dataset], dest, mirror=mirror, log=print)
    assert (dest / "lines.txt").read_bytes() == lines
    assert (dest / "images/captions.csv").read_bytes() == of_images


def test_the_manifest_pins_every_source():
    datasets = load_manifest()
    assert {
        "colors",
        "meodai-colors",
        "meodai-colors-18606",
        "shakespeare",
        "nietzsche",
        "flickr8k-captions",
        "flickr8k-images",
        "coco-captions",
        "monet",
        "mobilenet-v2",
    } <= set(datasets)
    pinned = re.compile(
        r"https://(raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+"
        r"|github\.com/[^/]+/[^/]+/archive/[0-9a-f]{40}\.tar\.gz)"
    )
    paths = []
    for dataset in datasets.values():
        assert pinned.fullmatch(dataset.url), dataset.url
        assert dataset.licence and dataset.checksums in ("source", "mirror")
        assert dataset.is_archive == (dataset.sha256 is None) or dataset.subset
        digests = [dataset.sha256 or "0" * 64, *dataset.outputs().values()]
        assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
        paths += dataset.outputs()
    assert len(paths) == len(set(paths)) == 1183
    assert len(datasets["flickr8k-images"].files) == 900 and len(datasets["monet"].files) == 270
    order = [d.name for d in select(datasets, ["flickr8k-images"])]
    assert order == ["flickr8k-captions", "flickr8k-images"]
