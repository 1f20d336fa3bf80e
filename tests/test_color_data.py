from pathlib import Path

import numpy as np
import pytest

from training.__main__ import main as training_main
from training.color.data import load_colors, read_color_csv, split
from training.errors import UserError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_cleaning_trims_folds_and_counts_drops(tmp_path):
    csv_path = write(
        tmp_path / "a.csv",
        "name,red,green,blue\n"
        "  Forest  Green ,34,139,34\n"
        "forest green,34,139,34\n"
        "FOREST GREEN,1,2,3\n"
        "Café,200,180,150\n"
        ",1,2,3\n"
        "too bright,256,0,0\n"
        "fractional,1.5,0,0\n"
        "words,a,b,c\n",
    )
    table = load_colors([csv_path])
    assert table.names == ["forest green", "cafe"]
    assert table.rgb.tolist() == [[34, 139, 34], [200, 180, 150]]
    assert table.dropped["duplicate name"] == 1
    assert table.dropped["duplicate name, other colour"] == 1
    assert table.dropped["empty name"] == 1
    assert table.dropped["invalid colour value"] == 3
    assert table.sources == [{"file": "a.csv", "rows": 8, "kept": 2}]


def test_hex_lists_and_first_list_wins(tmp_path):
    a = write(tmp_path / "a.csv", "name,hex,good name\nSky,#87ceeb,x\nBad,#12345z,\nShort,#fff,\n")
    b = write(tmp_path / "b.csv", "name,red,green,blue\nsky,0,0,0\nnew,1,2,3\n")
    table = load_colors([a, b])
    assert table.names == ["sky", "short", "new"]
    assert table.rgb.tolist() == [[135, 206, 235], [255, 255, 255], [1, 2, 3]]
    assert table.dropped["invalid colour value"] == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour,r,g,b\nx,1,2,3\n", "line 1: header"),
        ("name,red,green,blue\nok,1,2,3\nbroken,1\n", "line 3: expected at least 4 fields"),
    ],
)
def test_malformed_file_names_the_line(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        read_color_csv(write(tmp_path / "bad.csv", text))


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,red,green,blue\nok,1,2,3\ncaf\xe9,1,2,3\n".encode("latin-1"))
    with pytest.raises(UserError, match="line 3: not valid UTF-8"):
        read_color_csv(path)


def test_cli_reports_malformed_file_without_traceback(tmp_path, capsys):
    bad = write(tmp_path / "bad.csv", "name,red,green,blue\nbroken,1\n")
    assert training_main(["train", "color", "--data", str(bad), "--out", ""]) == 2
    err = capsys.readouterr().err
    assert "bad.csv line 2" in err
    assert "Traceback" not in err


def test_split_is_deterministic_and_stable(color_csv):
    table = load_colors([color_csv])
    train1, val1 = split(table, 0.25)
    train2, val2 = split(table, 0.25)
    assert val1.names == val2.names and train1.names == train2.names
    assert set(val1.names).isdisjoint(train1.names)
    assert len(val1) + len(train1) == len(table)
    # Adding rows does not move existing names across the split.
    bigger = type(table)(table.names + ["brand new"], np.vstack([table.rgb, [[1, 2, 3]]]))
    _, val3 = split(bigger, 0.25)
    assert set(val1.names) <= set(val3.names)
