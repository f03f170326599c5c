"""The ``sk-ieg clean`` command: find and fix label issues in a file.

``sk-ieg clean INPUT --label COL [--trusted COL] --out OUTPUT`` reads a CSV/TSV
or Parquet table (or an ``.npz`` with ``X`` and ``y`` arrays), turns the
feature columns into numbers with a :class:`~sklearn.compose.ColumnTransformer`
(:func:`build_preprocessor`), fits :class:`~sk_ieg.IEGClassifier`, and writes
the input rows plus the label-issues columns ``corrected_label``,
``sample_weight``, ``is_label_issue`` and ``label_quality`` (see
:mod:`sk_ieg.cleaning`). :func:`add_clean_parser` registers the subcommand and
:func:`run_clean` runs it; :mod:`sk_ieg.cli` only wires them in.

Every user error (a missing column, an unknown file type, a label column with
one class, ...) ends the command with a one-line message on stderr and exit
status 2, before anything is written; the input file is never written to.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sk_ieg.cli.options import add_ieg_params_argument, add_threads_argument

__all__ = ["OUTPUT_COLUMNS", "add_clean_parser", "build_preprocessor", "run_clean"]

#: Columns appended to the input rows (the label column itself is the given label).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "corrected_label", "sample_weight", "is_label_issue", "label_quality")

_KINDS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", ""}
#: One-hot columns per categorical feature at most; rarer categories are pooled.
MAX_CATEGORIES = 50


class CleanError(Exception):
    """A problem with the user's input, reported as one line on stderr."""


# ---------------------------------------------------------------------------- #
# argument parser
# ---------------------------------------------------------------------------- #
def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def add_clean_parser(sub) -> argparse.ArgumentParser:
    """Register the ``clean`` subcommand on an ``add_subparsers()`` object.

    Parameters
    ----------
    sub : argparse._SubParsersAction

    Returns
    -------
    argparse.ArgumentParser
        The ``clean`` parser.
    """
    p = sub.add_parser(
        "clean", help="find and fix label issues in a CSV, Parquet or .npz file",
        description="Fit IEG on a labelled table (or an .npz with X and y arrays) and write the "
        "input rows plus corrected_label, sample_weight, is_label_issue and label_quality. "
        "Numeric columns are imputed (median, plus missing-value indicators) and "
        "standardised; other columns are imputed ('missing') and one-hot encoded.")
    p.add_argument("input", metavar="INPUT",
                   help="a .csv or .tsv (optionally compressed: .gz, .bz2, .xz, .zip, .zst), "
                   ".parquet or .npz file; never written to")
    p.add_argument("--label", metavar="COL", default=None,
                   help="label column (.npz: label array, default 'y')")
    p.add_argument("--trusted", metavar="COL", default=None,
                   help="column marking rows whose label is verified (true/false, 1/0, yes/no; "
                   "empty = false). .npz: array name, default 'trusted' when present. Without "
                   "it IEG picks an unverified probe set itself, with a warning")
    p.add_argument("--out", metavar="OUTPUT", required=True,
                   help="output file (.csv, .tsv, .parquet or .npz); must not be INPUT")
    p.add_argument("--drop", metavar="COLS", type=_columns, default=[],
                   help="comma-separated columns that are not features (ids, free text); "
                   "they are kept in the output")
    p.add_argument("--max-epochs", type=int, default=100, help="IEG epochs (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="IEG random_state (default: 0)")
    add_ieg_params_argument(p, '\'{"hflip": true}\' for natural images')
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------------------- #
# files
# ---------------------------------------------------------------------------- #
def _file_kind(path: Path, role: str) -> tuple[str, str]:
    """(kind, full suffix) of a path from its name."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = ""
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    kind = _KINDS.get(suffix)
    if kind is None or (compression and kind not in ("csv", "tsv")):
        shown = (suffix + compression) or "(none)"
        raise CleanError(f"unknown file type {shown!r} for {role} {str(path)!r}: use .csv, "
                         ".tsv (optionally compressed), .parquet or .npz")
    return kind, suffix + compression


def _require_parquet(role: str) -> None:
    if not (importlib.util.find_spec("pyarrow") or importlib.util.find_spec("fastparquet")):
        raise CleanError(f"{role} is a Parquet file, which needs pyarrow: pip install pyarrow, "
                         "or pip install 'sk-ieg[parquet]'")


def _pandas():
    from sk_ieg.cleaning import require_pandas

    try:
        return require_pandas("sk-ieg clean")
    except ImportError as exc:
        raise CleanError(str(exc)) from exc


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _read_table(path: Path, kind: str):
    pd = _pandas()
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")


def _write_atomically(path: Path, suffix: str, write) -> None:
    """Write through a temporary file beside ``path``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_frame(frame, path: Path, kind: str, suffix: str) -> None:
    if kind == "parquet":
        _write_atomically(path, suffix, lambda p: frame.to_parquet(p))
    else:
        sep = "\t" if kind == "tsv" else ","
        _write_atomically(path, suffix, lambda p: frame.to_csv(p, sep=sep, index=False))


# ---------------------------------------------------------------------------- #
# preprocessing
# ---------------------------------------------------------------------------- #
def _as_float(X):
    return np.asarray(X, dtype=np.float64)


def _as_str_object(X):
    """Categorical values as Python strings, missing values as NaN."""
    pd = _pandas()
    frame = pd.DataFrame(X)
    missing = frame.isna().to_numpy()
    out = np.array(frame.astype(str).to_numpy(dtype=object), dtype=object)
    out[missing] = np.nan
    return out


def build_preprocessor(frame):
    """The feature preprocessing of ``sk-ieg clean`` for a DataFrame.

    Numeric and boolean columns: median imputation with missing-value indicator
    columns, then standardisation. Every other column: values as strings,
    missing ones replaced by ``"missing"``, then one-hot encoding (at most
    :data:`MAX_CATEGORIES` columns per feature, rarer categories pooled;
    categories unseen at fit are ignored).

    Parameters
    ----------
    frame : pandas.DataFrame
        The feature columns only.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; its output is a dense float array.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = [c for c in frame.columns
               if frame[c].dtype.kind in "biuf" or str(frame[c].dtype) == "boolean"]
    other = [c for c in frame.columns if c not in numeric]
    steps = []
    if numeric:
        steps.append(("numeric", make_pipeline(
            FunctionTransformer(_as_float, feature_names_out="one-to-one"),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler()), numeric))
    if other:
        steps.append(("categorical", make_pipeline(
            FunctionTransformer(_as_str_object, feature_names_out="one-to-one"),
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES,
                          sparse_output=False)), other))
    return ColumnTransformer(steps, sparse_threshold=0.0)


def _parse_trusted(values, name: str) -> np.ndarray:
    """A boolean mask from a column of true/false, 1/0, yes/no (missing = false)."""
    arr = np.asarray(values, dtype=object)
    mask = np.zeros(len(arr), bool)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is np.nan:
            continue
        if isinstance(v, (bool, np.bool_)):
            mask[i] = bool(v)
            continue
        text = str(v).strip().lower()
        if text in _TRUE:
            mask[i] = True
        elif text not in _FALSE:
            raise CleanError(f"trusted column {name!r} has the value {v!r} in row {i}; use "
                             "true/false, 1/0 or yes/no (empty = false)")
    return mask


def _columns_hint(name: str, columns, shown: int = 12) -> str:
    """'did you mean ...' and the first columns, for a missing column."""
    import difflib

    names = [str(c) for c in columns]
    close = difflib.get_close_matches(name, names, n=1)
    listed = ", ".join(names[:shown]) + (f", ... ({len(names)} in all)"
                                         if len(names) > shown else "")
    return (f"did you mean {close[0]!r}? " if close else "") + f"columns: {listed}"


def _check_labels(y, name: str) -> None:
    pd = _pandas()
    missing = pd.isna(pd.Series(y, dtype=object)).to_numpy()
    if missing.any():
        raise CleanError(f"label column {name!r} has {int(missing.sum())} missing values "
                         f"(first in row {int(np.flatnonzero(missing)[0])}); fill or drop them")
    classes = pd.unique(pd.Series(y, dtype=object))
    if len(classes) < 2:
        shown = repr(classes[0]) if len(classes) else "none"
        raise CleanError(f"label column {name!r} has only one class ({shown}); cleaning "
                         "needs at least 2")


# ---------------------------------------------------------------------------- #
# .npz input
# ---------------------------------------------------------------------------- #
def _images_from_npz(X: np.ndarray) -> np.ndarray:
    """(N, C, H, W) float32 images, or (N, d) rows, from an array in an .npz."""
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255.0)
    if X.dtype.kind not in "biuf":
        raise CleanError(f"X must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float32)
    if X.ndim == 3:  # (N, H, W): one channel
        X = X[:, None]
    elif X.ndim == 4 and X.shape[1] not in (1, 3, 4) and X.shape[-1] in (1, 3, 4):
        X = X.transpose(0, 3, 1, 2)  # channels last -> channels first
    elif X.ndim not in (2, 4):
        raise CleanError(f"X must have 2 (rows), 3 (N, H, W) or 4 (N, C, H, W) dimensions, "
                         f"got shape {X.shape}")
    return np.ascontiguousarray(X)


def _load_npz(path: Path, label: str | None, trusted: str | None):
    label = label or "y"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise CleanError(f"cannot read {str(path)!r} as .npz: {exc}") from exc
    for key in ("X", label):
        if key not in arrays:
            raise CleanError(f"{str(path)!r} has no array {key!r}; arrays: {sorted(arrays)}")
    if trusted is None and "trusted" in arrays:
        trusted = "trusted"
    if trusted is not None and trusted not in arrays:
        raise CleanError(f"{str(path)!r} has no array {trusted!r}; arrays: {sorted(arrays)}")
    X, y = arrays["X"], arrays[label]
    if y.ndim != 1 or len(y) != len(X):
        raise CleanError(f"{label!r} must be 1-D with one label per row of X ({len(X)}), got "
                         f"shape {y.shape}")
    return arrays, label, trusted


# ---------------------------------------------------------------------------- #
# the command
# ---------------------------------------------------------------------------- #
def _npz_safe(values: np.ndarray) -> np.ndarray:
    """Object arrays (text) as fixed-width strings, so the .npz loads without pickle."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype == object else values


def _fit_ieg(X, y, mask, args):
    from sk_ieg.bench import EpochProgress
    from sk_ieg.estimator import IEGClassifier

    params = dict(max_epochs=args.max_epochs, random_state=args.seed, verbose=0)
    params.update(args.ieg_params)
    params["callbacks"] = [] if args.no_progress else [
        ("progress", EpochProgress("sk-ieg clean", keys=("train_loss", "relabeled")))]
    try:
        clf = IEGClassifier(**params)
    except TypeError as exc:
        raise CleanError(f"--ieg-params: {exc}") from exc
    if mask is None:
        clf.fit(X, y)
    else:
        clf.fit(X, y, trusted=mask)
    return clf.label_issues_


def _summary(given, issues, mask, label: str) -> str:
    pd = _pandas()
    checked = np.ones(len(given), bool) if mask is None else ~mask
    flagged = issues["is_label_issue"].to_numpy(bool)
    n, n_trusted, n_issues = len(given), int((~checked).sum()), int(flagged.sum())
    lines = [f"sk-ieg clean: {n} rows, {n_trusted} trusted, {n_issues} label issues "
             f"({n_issues / max(int(checked.sum()), 1):.1%} of the {int(checked.sum())} "
             "unverified rows)"]
    frame = pd.DataFrame({"given": np.asarray(given, dtype=object)[checked],
                          "issue": flagged[checked],
                          "to": np.asarray(issues["corrected_label"], dtype=object)[checked]})
    rows = [("given " + label, "rows", "issues", "share", "most often corrected to")]
    for cls, part in frame.groupby("given", sort=True):
        bad = part[part["issue"]]
        top = bad["to"].value_counts()
        rows.append((str(cls), str(len(part)), str(len(bad)), f"{len(bad) / len(part):.1%}",
                     f"{top.index[0]} ({top.iloc[0]})" if len(top) else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append("  " + "  ".join(v.ljust(w) if i in (0, 4) else v.rjust(w)
                                      for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(lines)


@dataclass
class _Input:
    """What ``sk-ieg clean`` read: features, labels, the trusted mask and the rows to copy."""

    X: np.ndarray
    y: np.ndarray
    mask: np.ndarray | None
    label: str
    trusted: str | None
    frame: object  #: the rows to write (a DataFrame), or None for .npz to .npz
    arrays: dict | None  #: the arrays of an .npz input
    clash: list  #: input columns named like an output column


def _clean(args) -> str:
    src, dst = Path(args.input), Path(args.out)
    in_kind, out_kind, out_suffix = _check_request(args, src, dst)
    if in_kind == "npz":
        inp = _read_npz_input(src, args, out_kind)
    else:
        inp = _read_table_input(src, in_kind, args)
    if inp.clash:
        raise CleanError(f"INPUT already has {', '.join(map(repr, inp.clash))} (an earlier "
                         "output?); rename them or set them aside with --drop")
    if inp.mask is not None:
        if not inp.mask.any():
            raise CleanError(f"trusted column {inp.trusted!r} marks no row as trusted")
        if inp.mask.all():
            raise CleanError(f"trusted column {inp.trusted!r} marks every row as trusted: "
                             "nothing to clean")

    issues = _fit_ieg(inp.X, inp.y, inp.mask, args)
    if len(issues) != len(inp.y):  # a bug, not bad input: no one-line error
        raise RuntimeError(f"{len(issues)} label-issue rows for {len(inp.y)} input rows")
    _write_output(inp, issues, dst, out_kind, out_suffix)
    return (_summary(inp.y, issues, inp.mask, inp.label) +
            f"\nwrote {dst} ({len(inp.y)} rows; added {', '.join(OUTPUT_COLUMNS)})")


def _check_request(args, src: Path, dst: Path) -> tuple[str, str, str]:
    """Check the paths and options before reading anything: (input kind, output kind,
    output suffix)."""
    in_kind, _ = _file_kind(src, "INPUT")
    out_kind, out_suffix = _file_kind(dst, "OUTPUT")
    if not src.is_file():
        raise CleanError(f"INPUT {str(src)!r} does not exist")
    if _same_file(src, dst):
        raise CleanError(f"OUTPUT {str(dst)!r} is the input file; choose another path "
                         "(the input is never overwritten)")
    if not dst.parent.is_dir():
        raise CleanError(f"the folder of OUTPUT {str(dst.parent)!r} does not exist")
    for kind, role in ((in_kind, "INPUT"), (out_kind, "OUTPUT")):
        if kind == "parquet":
            _require_parquet(role)
    if args.max_epochs < 1:
        raise CleanError(f"--max-epochs must be >= 1, got {args.max_epochs}")
    if args.threads < 1:
        raise CleanError(f"--threads must be >= 1, got {args.threads}")
    if "callbacks" in args.ieg_params:
        raise CleanError("--ieg-params cannot set callbacks")
    _pandas()
    return in_kind, out_kind, out_suffix


def _read_npz_input(src: Path, args, out_kind: str) -> _Input:
    pd = _pandas()
    if args.drop:
        raise CleanError("--drop applies to tables only, not to .npz input")
    arrays, label, trusted = _load_npz(src, args.label, args.trusted)
    y = arrays[label]
    _check_labels(y, label)
    mask = None if trusted is None else _parse_trusted(arrays[trusted], trusted)
    X = _images_from_npz(arrays["X"])
    if X.ndim == 2:
        X = build_preprocessor(pd.DataFrame(X)).fit_transform(pd.DataFrame(X))
        X = X.astype(np.float32)
    out = {k: v for k, v in arrays.items() if v.ndim == 1 and len(v) == len(y)}
    return _Input(X=X, y=y, mask=mask, label=label, trusted=trusted,
                  frame=pd.DataFrame(out) if out_kind != "npz" else None, arrays=arrays,
                  clash=sorted(set(OUTPUT_COLUMNS) & set(arrays)))


def _read_table_input(src: Path, in_kind: str, args) -> _Input:
    frame = _read_table(src, in_kind)
    label, trusted = args.label, args.trusted
    if label is None:
        raise CleanError("--label is required for tables: name the label column")
    if len(frame) == 0:
        raise CleanError(f"INPUT {str(src)!r} has no rows")
    named = [("label", label)] + ([("trusted", trusted)] if trusted else []) + \
        [("--drop", c) for c in args.drop]
    for what, col in named:
        if col not in frame.columns:
            raise CleanError(f"{what} column {col!r} is not in INPUT; "
                             f"{_columns_hint(col, frame.columns)}")
    y = frame[label].to_numpy()
    _check_labels(y, label)
    mask = None if trusted is None else _parse_trusted(frame[trusted].to_numpy(), trusted)
    features = [c for c in frame.columns if c not in {label, trusted, *args.drop}]
    if not features:
        raise CleanError("no feature columns left once the label, trusted and --drop "
                         "columns are set aside")
    clash = sorted(set(OUTPUT_COLUMNS) & set(features))
    X = build_preprocessor(frame[features]).fit_transform(frame[features])
    return _Input(X=np.ascontiguousarray(X, dtype=np.float32), y=y, mask=mask, label=label,
                  trusted=trusted, frame=frame, arrays=None, clash=clash)


def _write_output(inp: _Input, issues, dst: Path, out_kind: str, out_suffix: str) -> None:
    """The input rows plus the label-issues columns, written to ``dst``."""
    added = {c: issues[c].to_numpy() for c in OUTPUT_COLUMNS}
    if out_kind == "npz":
        arrays = inp.arrays
        if arrays is None:  # a table written as .npz: one array per column
            arrays = {str(c): inp.frame[c].to_numpy() for c in inp.frame.columns}
        payload = {k: _npz_safe(v) for k, v in {**arrays, **added}.items()}
        _write_atomically(dst, out_suffix, lambda p: np.savez_compressed(p, **payload))
    else:
        result = inp.frame.copy()
        for c, v in added.items():
            result[c] = v
        _write_frame(result, dst, out_kind, out_suffix)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run_clean(args: argparse.Namespace) -> int:
    """Run ``sk-ieg clean`` with parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        From the parser built by :func:`add_clean_parser`.

    Returns
    -------
    int
        0 on success; 2 after a one-line ``sk-ieg clean: error: ...`` on stderr.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        if args.threads >= 1:
            torch.set_num_threads(args.threads)
        summary = _clean(args)
    except (CleanError, ValueError, FileNotFoundError, ImportError, OSError,
            zipfile.BadZipFile) as exc:
        print(f"sk-ieg clean: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    print(summary)
    return 0
