"""The ``sk-ieg clean`` command (sk_ieg/cli/clean.py) on tiny files."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from sk_ieg.cli import main
from sk_ieg.cli.clean import OUTPUT_COLUMNS, build_preprocessor
from sk_ieg.noise import make_noisy_labels, split_trusted

pd = pytest.importorskip("pandas")

FAST = ["--max-epochs", "1", "--no-progress"]
NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                  "nine"])


@pytest.fixture(scope="module")
def table():
    """300 digits rows as a table: numbers with gaps, a text column, string labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    trusted = np.zeros(len(y), bool)
    trusted[split_trusted(y, 3, random_state=0)] = True
    given = y.copy()
    given[~trusted] = make_noisy_labels(y[~trusted], "uniform", 0.4, n_classes=10,
                                        random_state=0)
    frame = pd.DataFrame(X[:, 8:40], columns=[f"px{i}" for i in range(32)])
    frame.loc[::7, "px3"] = np.nan
    frame["parity"] = np.where(y % 2, "odd", "even")
    frame.loc[::5, "parity"] = None
    frame["digit"] = NAMES[given]
    frame["checked"] = np.where(trusted, "yes", "")
    frame["row_id"] = np.arange(len(y))
    return frame


def _write(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


@pytest.fixture
def csv(tmp_path, table):
    return _write(table, tmp_path / "data.csv")


def _ok(capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_clean_writes_input_rows_plus_issue_columns(csv, tmp_path, table, capsys):
    before = csv.read_bytes()
    out = _ok(capsys, ["clean", str(csv), "--label", "digit", "--trusted", "checked",
                       "--drop", "row_id", "--out", str(tmp_path / "out.csv"), *FAST])
    result = pd.read_csv(tmp_path / "out.csv")
    assert list(result.columns) == list(table.columns) + list(OUTPUT_COLUMNS)
    assert len(result) == len(table)
    pd.testing.assert_series_equal(result["row_id"], table["row_id"])
    assert set(result["corrected_label"]) <= set(NAMES)
    assert result["label_quality"].between(0, 1).all()
    trusted = table["checked"].eq("yes").to_numpy()
    assert not result["is_label_issue"][trusted].any()
    assert (result["corrected_label"][trusted] == table["digit"][trusted]).all()
    flagged = result["is_label_issue"].to_numpy()
    np.testing.assert_array_equal(flagged, result["corrected_label"] != table["digit"])
    # Summary: rows, issues per class.
    assert f"{len(table)} rows, {trusted.sum()} trusted, {flagged.sum()} label issues" in out
    assert "given digit" in out and "\n  zero " in out
    assert csv.read_bytes() == before


@pytest.mark.parametrize("suffix", [".tsv", ".parquet"])
def test_clean_reads_and_writes_tsv_and_parquet(tmp_path, table, capsys, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    src = _write(table, tmp_path / f"data{suffix}")
    dst = tmp_path / f"out{suffix}"
    _ok(capsys, ["clean", str(src), "--label", "digit", "--trusted", "checked", "--out",
                 str(dst), *FAST])
    result = pd.read_parquet(dst) if suffix == ".parquet" else pd.read_csv(dst, sep="\t")
    assert list(result.columns)[-4:] == list(OUTPUT_COLUMNS) and len(result) == len(table)


def test_clean_without_trusted_column_lets_ieg_pick_a_probe_set(csv, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ok(capsys, ["clean", str(csv), "--label", "digit", "--drop", "checked,row_id",
                     "--out", str(tmp_path / "out.csv"), *FAST])
    assert len(pd.read_csv(tmp_path / "out.csv")) == 300


def test_clean_npz_images(tmp_path, capsys):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X[:200] * 15).astype(np.uint8).reshape(-1, 8, 8)  # (N, H, W) uint8
    trusted = np.zeros(200, bool)
    trusted[split_trusted(y[:200], 2, random_state=0)] = True
    np.savez(tmp_path / "img.npz", X=X, y=y[:200], trusted=trusted)
    _ok(capsys, ["clean", str(tmp_path / "img.npz"), "--out", str(tmp_path / "out.npz"),
                 "--ieg-params", '{"hflip": false}', *FAST])
    with np.load(tmp_path / "out.npz") as out:
        assert set(out.files) == {"X", "y", "trusted", *OUTPUT_COLUMNS}
        np.testing.assert_array_equal(out["X"], X)
        assert out["is_label_issue"].dtype == bool and len(out["label_quality"]) == 200
    _ok(capsys, ["clean", str(tmp_path / "img.npz"), "--out", str(tmp_path / "out.csv"), *FAST])
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["y", "trusted",
                                                               *OUTPUT_COLUMNS]


def test_clean_sets_and_restores_threads(csv, tmp_path, capsys, monkeypatch):
    seen = []
    import sk_ieg.cli.clean as clean_cli

    real = clean_cli._fit_ieg
    monkeypatch.setattr(clean_cli, "_fit_ieg",
                        lambda *a: seen.append(torch.get_num_threads()) or real(*a))
    before = torch.get_num_threads()
    _ok(capsys, ["clean", str(csv), "--label", "digit", "--trusted", "checked", "--threads",
                 "2", "--out", str(tmp_path / "o.csv"), *FAST])
    assert seen == [2] and torch.get_num_threads() == before


def test_preprocessor_imputes_scales_and_one_hot_encodes():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0], "b": ["x", None, "y", "x"],
                          "c": [True, False, True, True]})
    X = build_preprocessor(frame).fit_transform(frame)
    # a (scaled) + its missing indicator + c, then b: x, y, missing.
    assert X.shape == (4, 6) and np.isfinite(X).all()
    np.testing.assert_allclose(X[:, :3].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(X[:, 3:].sum(axis=1), 1)


# ---------------------------------------------------------------- bad input
def _fails(capsys, argv, *, match):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sk-ieg clean: error: ") and match in lines[0], lines[0]


@pytest.mark.parametrize("args, match", [
    (["--label", "nope", "--trusted", "checked"], "label column 'nope' is not in INPUT"),
    (["--label", "digit", "--trusted", "nope"], "trusted column 'nope' is not in INPUT"),
    (["--label", "digit", "--drop", "nope"], "--drop column 'nope'"),
    (["--trusted", "checked"], "--label is required"),
    (["--label", "digit", "--trusted", "parity"], "has the value 'odd'"),
    (["--label", "digit", "--trusted", "checked", "--max-epochs", "0"], "--max-epochs"),
    (["--label", "digit", "--trusted", "checked", "--ieg-params", '{"nonsense": 1}'],
     "nonsense"),
])
def test_bad_arguments_fail_in_one_line(csv, tmp_path, capsys, args, match):
    before = csv.read_bytes()
    _fails(capsys, ["clean", str(csv), "--out", str(tmp_path / "out.csv"), *FAST, *args],
           match=match)
    assert csv.read_bytes() == before
    assert not (tmp_path / "out.csv").exists()


def test_label_column_with_one_class(tmp_path, table, capsys):
    src = _write(table.assign(digit="seven"), tmp_path / "one.csv")
    _fails(capsys, ["clean", str(src), "--label", "digit", "--trusted", "checked", "--out",
                    str(tmp_path / "o.csv"), *FAST], match="only one class ('seven')")


def test_missing_labels(tmp_path, table, capsys):
    src = _write(table.assign(digit=table["digit"].where(table.index != 4)), tmp_path / "m.csv")
    _fails(capsys, ["clean", str(src), "--label", "digit", "--out", str(tmp_path / "o.csv"),
                    *FAST], match="1 missing values (first in row 4)")


def test_trusted_column_marking_nothing(tmp_path, table, capsys):
    src = _write(table.assign(checked="no"), tmp_path / "t.csv")
    _fails(capsys, ["clean", str(src), "--label", "digit", "--trusted", "checked", "--out",
                    str(tmp_path / "o.csv"), *FAST], match="marks no row as trusted")


@pytest.mark.parametrize("name, role", [("data.xlsx", "INPUT"), ("data", "INPUT"),
                                        ("out.json", "OUTPUT"), ("out.parquet.gz", "OUTPUT")])
def test_unknown_file_types(tmp_path, table, capsys, name, role):
    src = tmp_path / (name if role == "INPUT" else "data.csv")
    _write(table, tmp_path / "x.csv").rename(src)
    before = src.read_bytes()
    dst = tmp_path / (name if role == "OUTPUT" else "out.csv")
    _fails(capsys, ["clean", str(src), "--label", "digit", "--out", str(dst), *FAST],
           match="unknown file type")
    assert src.read_bytes() == before and not dst.exists()


def test_output_must_not_be_the_input(csv, tmp_path, capsys, monkeypatch):
    before, mtime = csv.read_bytes(), csv.stat().st_mtime_ns
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.csv"
    link.symlink_to(csv)
    for out in (str(csv), "data.csv", f"../{tmp_path.name}/data.csv", str(link)):
        _fails(capsys, ["clean", str(csv), "--label", "digit", "--trusted", "checked",
                        "--out", out, *FAST], match="is the input file")
    assert csv.read_bytes() == before and csv.stat().st_mtime_ns == mtime


def test_missing_files_and_folders(csv, tmp_path, capsys):
    _fails(capsys, ["clean", str(tmp_path / "absent.csv"), "--label", "digit", "--out",
                    str(tmp_path / "o.csv")], match="does not exist")
    _fails(capsys, ["clean", str(csv), "--label", "digit", "--out",
                    str(tmp_path / "nowhere" / "o.csv")], match="does not exist")


def test_earlier_output_columns_are_not_taken_for_features(tmp_path, table, capsys):
    src = _write(table.assign(label_quality=0.5), tmp_path / "again.csv")
    _fails(capsys, ["clean", str(src), "--label", "digit", "--out", str(tmp_path / "o.csv"),
                    *FAST], match="already has 'label_quality'")


def test_parquet_without_pyarrow(csv, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyarrow", "fastparquet")
                        else real(name, *a))
    _fails(capsys, ["clean", str(csv), "--label", "digit", "--out",
                    str(tmp_path / "o.parquet"), *FAST], match="needs pyarrow")


def test_bad_npz(tmp_path, capsys):
    np.savez(tmp_path / "a.npz", X=np.zeros((4, 2)), labels=np.arange(4))
    _fails(capsys, ["clean", str(tmp_path / "a.npz"), "--out", str(tmp_path / "o.npz")],
           match="has no array 'y'")
    (tmp_path / "b.npz").write_text("not a zip")
    _fails(capsys, ["clean", str(tmp_path / "b.npz"), "--out", str(tmp_path / "o.npz")],
           match="cannot read")


def test_command_line_exit_status(csv, tmp_path):
    before = csv.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "sk_ieg", "clean", str(csv), "--label", "nope",
                           "--out", str(csv)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("sk-ieg clean: error:")
    assert csv.read_bytes() == before


def test_table_written_as_npz_loads_without_pickle(csv, tmp_path, table, capsys):
    _ok(capsys, ["clean", str(csv), "--label", "digit", "--trusted", "checked", "--out",
                 str(tmp_path / "out.npz"), *FAST])
    with np.load(tmp_path / "out.npz", allow_pickle=False) as out:
        assert set(out.files) == {*map(str, table.columns), *OUTPUT_COLUMNS}
        assert set(out["corrected_label"]) <= set(NAMES)
