"""Offline loaders for the benchmark data sets. Nothing is ever downloaded.

Every loader reads files that are already on disk, from a *data directory*
laid out as follows (only the folders a loader needs must exist)::

    <data dir>/
        SHA256SUMS.txt                   # optional, for verify_checksums()
        mnist/          {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
        fashion_mnist/  (same four files)
        pmlb/           <name>.tsv.gz    # tab-separated, label column "target"
        cifar10_subset/ cj_cifar10_batch_{0,1,2,3}.png
        cifar10n/       CIFAR-10_human_labels.npz

The directory is, in order: the ``data_dir`` argument of a loader, the
``SK_IEG_DATA`` environment variable, or ``../shared/data`` next to the
repository checkout when it exists (see :func:`data_dir`).
:func:`load_digits`, :func:`load_digits_images` (scikit-learn's bundled
digits) and :func:`load_csv` need no data directory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10N_LABEL_KEYS",
    "DEFAULT_DATA_DIR",
    "data_dir",
    "load_cifar10_subset",
    "load_csv",
    "load_digits",
    "load_digits_images",
    "load_fashion_mnist",
    "load_mnist",
    "load_pmlb",
    "read_idx",
    "verify_checksums",
]

PathLike = str | os.PathLike[str]

#: Environment variable naming the data directory.
DATA_ENV_VAR = "SK_IEG_DATA"

#: CIFAR-10 class names, by class index.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: Names of the CIFAR-10N noisy label sets returned by
#: :func:`load_cifar10_subset`, mapped to their keys in
#: ``CIFAR-10_human_labels.npz``.
CIFAR10N_LABEL_KEYS: dict[str, str] = {
    "aggregate": "aggre_label",
    "random1": "random_label1",
    "random2": "random_label2",
    "random3": "random_label3",
    "worst": "worse_label",
}
_CIFAR10N_CLEAN_KEY = "clean_label"
_CIFAR10_SUBSET_SHEETS = 4
_CIFAR10_SHEET_ROWS = 1000

_HEX = "0123456789abcdef"
_NO_DOWNLOAD = "sk_ieg never downloads data; place the file there yourself"

# IDX data-type codes -> big-endian numpy dtypes.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

_MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


# --------------------------------------------------------------------------- #
# data directory
# --------------------------------------------------------------------------- #
def _default_data_dir() -> Path | None:
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    candidate = Path(__file__).resolve().parents[2] / "shared" / "data"
    return candidate if candidate.is_dir() else None


#: Default data directory at import time: ``$SK_IEG_DATA`` if set, else
#: ``<repository root>/../shared/data`` if it exists, else ``None``.
#: :func:`data_dir` re-reads the environment on every call.
DEFAULT_DATA_DIR: Path | None = _default_data_dir()


def _resolve_data_dir(path: PathLike | None) -> Path:
    if path is not None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"data directory {str(root)!r} does not exist")
        return root
    root = _default_data_dir()
    if root is None:
        raise FileNotFoundError(
            "no data directory found: set the SK_IEG_DATA environment variable to the "
            "folder holding the data files, or pass data_dir=... to the loader "
            "(sk_ieg never downloads data)"
        )
    if not root.is_dir():
        raise FileNotFoundError(
            f"the SK_IEG_DATA environment variable points to {str(root)!r}, which is not "
            "a directory; fix it or pass data_dir=... to the loader"
        )
    return root


def data_dir(path: PathLike | None = None) -> Path:
    """Directory the loaders read from.

    Parameters
    ----------
    path : str or path-like, optional
        Explicit directory; it must exist. When omitted, the
        ``SK_IEG_DATA`` environment variable is used if set, else
        ``<repository root>/../shared/data`` if it exists.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileNotFoundError
        If the chosen directory does not exist, or none is configured; the
        message explains ``SK_IEG_DATA`` and the ``data_dir`` argument.
    """
    return _resolve_data_dir(path)


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {str(path)!r}; {_NO_DOWNLOAD}")
    return path


# --------------------------------------------------------------------------- #
# scikit-learn digits (bundled, no file needed)
# --------------------------------------------------------------------------- #
def load_digits(*, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 digits bundled with scikit-learn, as flat vectors.

    Parameters
    ----------
    scale : bool, default=True
        Divide the pixel values (0..16) by 16, to [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64), dtype float32
    y : ndarray of shape (1797,), dtype int64
        Digits 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    X, y = _sk_load_digits(return_X_y=True)
    X = X.astype(np.float32)
    if scale:
        X /= np.float32(16.0)
    return X, y.astype(np.int64)


def load_digits_images(*, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The scikit-learn digits as one-channel images.

    Parameters
    ----------
    scale : bool, default=True
        Divide the pixel values (0..16) by 16, to [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8), dtype float32
    y : ndarray of shape (1797,), dtype int64
    """
    X, y = load_digits(scale=scale)
    return X.reshape(-1, 1, 8, 8), y


# --------------------------------------------------------------------------- #
# IDX (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------- #
def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    The header is two zero bytes, a data-type code byte, a byte with the
    number of dimensions ``ndim``, then ``ndim`` big-endian uint32 sizes;
    the data follow in C order. Files ending in ``.gz`` are decompressed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    array : ndarray
        Of the shape given in the header, in native byte order. Type codes
        0x08 (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32)
        and 0x0E (float64) are supported.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        On a bad magic number, an unknown type code, a corrupt gzip stream,
        or a data size that does not match the header (the file is named).
    """
    path = Path(path)
    _require_file(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{str(path)!r} is not a readable gzip file: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{str(path)!r} is not an IDX file: bad magic number {raw[:4].hex() or '(empty)'}"
            " (expected 0000 followed by a type code and the number of dimensions)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(
            f"{str(path)!r}: unsupported IDX data type code 0x{code:02x} "
            f"(supported: {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)})"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{str(path)!r} is truncated: the header announces {ndim} dimensions "
            f"but the file has only {len(raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        raise ValueError(
            f"{str(path)!r}: size mismatch, the header announces shape {shape} "
            f"({expected} bytes of data) but the file has {actual} bytes of data"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable native-order copy


def _load_idx_pair(
    folder: str,
    split: str,
    data_dir: PathLike | None,
    scale: bool,
    flatten: bool,
) -> tuple[np.ndarray, np.ndarray]:
    if split not in _MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = _resolve_data_dir(data_dir) / folder
    image_name, label_name = _MNIST_FILES[split]
    images = read_idx(_require_file(root / image_name))
    labels = read_idx(_require_file(root / label_name))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{folder}/{split}: inconsistent files, images of shape {images.shape} "
            f"and labels of shape {labels.shape}"
        )
    n, h, w = images.shape
    X = images.reshape(n, h * w) if flatten else images.reshape(n, 1, h, w)
    if scale:
        X = X.astype(np.float32)
        X /= np.float32(255.0)
    return X, labels.astype(np.int64)


def load_mnist(
    split: str = "train",
    *,
    data_dir: PathLike | None = None,
    scale: bool = True,
    flatten: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the four official IDX files in ``<data dir>/mnist/``.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        60000 training or 10000 test images.
    data_dir : str or path-like, optional
        Data directory (see :func:`data_dir`).
    scale : bool, default=True
        Return float32 pixels in [0, 1]; otherwise the raw uint8 values.
    flatten : bool, default=False
        Return ``X`` of shape (n, 784) instead of (n, 1, 28, 28).

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28) or (n, 784), dtype float32 or uint8
    y : ndarray of shape (n,), dtype int64
        Digits 0..9.

    Raises
    ------
    FileNotFoundError
        If a file is missing (the exact path is named; nothing is downloaded).
    ValueError
        On a bad ``split`` or a corrupt file.
    """
    return _load_idx_pair("mnist", split, data_dir, scale, flatten)


def load_fashion_mnist(
    split: str = "train",
    *,
    data_dir: PathLike | None = None,
    scale: bool = True,
    flatten: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from the four IDX files in ``<data dir>/fashion_mnist/``.

    Same interface and output as :func:`load_mnist`; the ten classes are
    T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag
    and ankle boot.
    """
    return _load_idx_pair("fashion_mnist", split, data_dir, scale, flatten)


# --------------------------------------------------------------------------- #
# delimited tables (PMLB, CSV)
# --------------------------------------------------------------------------- #
def _parse_labels(values: np.ndarray) -> np.ndarray:
    """Numeric labels as int64 when integral, float64 otherwise; else strings."""
    try:
        numeric = values.astype(np.float64)
    except ValueError:
        return values
    if np.all(np.isfinite(numeric)) and np.all(numeric == np.round(numeric)):
        return numeric.astype(np.int64)
    return numeric


def _read_delimited(
    handle: IO[str], *, label: str, sep: str, source: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    reader = csv.reader(handle, delimiter=sep)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ValueError(f"{source} is empty (no header row)") from None
    if label not in header:
        raise ValueError(f"label column {label!r} not found in {source}; columns are {header}")
    rows: list[list[str]] = []
    line_nos: list[int] = []
    for row in reader:
        if not row:  # blank line
            continue
        if len(row) != len(header):
            raise ValueError(
                f"{source}, line {reader.line_num}: expected {len(header)} fields, got {len(row)}"
            )
        rows.append(row)
        line_nos.append(reader.line_num)
    table = np.array(rows, dtype=str).reshape(len(rows), len(header))
    label_idx = header.index(label)
    feature_idx = [j for j in range(len(header)) if j != label_idx]
    feature_names = [header[j] for j in feature_idx]
    X = np.empty((len(rows), len(feature_idx)), dtype=np.float32)
    for out_col, j in enumerate(feature_idx):
        column = np.char.strip(table[:, j])
        column = np.where(column == "", "nan", column)  # empty field = missing
        try:
            X[:, out_col] = column.astype(np.float64)
        except ValueError:
            bad_row = next((i for i, v in enumerate(column) if not _is_float(v)), 0)
            raise ValueError(
                f"feature column {header[j]!r} of {source} is not numeric: value "
                f"{str(column[bad_row])!r} on line {line_nos[bad_row]}"
            ) from None
    y = _parse_labels(np.char.strip(table[:, label_idx]))
    return X, y, feature_names


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def load_csv(
    path: PathLike, *, label: str, sep: str = ","
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a delimited text table with a header row (numpy only).

    Parameters
    ----------
    path : str or path-like
        The file; ``.gz`` files are decompressed.
    label : str
        Name of the label column.
    sep : str, default=","
        Field delimiter (one character), e.g. ``"\\t"``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
        All columns but ``label``, in file order. Empty fields are NaN.
    y : ndarray of shape (n_samples,)
        int64 if every label is an integer, float64 if numeric, otherwise the
        labels as strings.
    feature_names : list of str
        Names of the columns of ``X``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If ``label`` is not a column (the columns are listed), a feature
        column is not numeric (it is named), or a row has the wrong number of
        fields.
    """
    path = Path(path)
    _require_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        return _read_delimited(handle, label=label, sep=sep, source=repr(str(path)))


def load_pmlb(name: str, *, data_dir: PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A PMLB classification table from ``<data dir>/pmlb/<name>.tsv.gz``.

    Parameters
    ----------
    name : str
        Table name, e.g. ``"mushroom"`` or ``"letter"``.
    data_dir : str or path-like, optional
        Data directory (see :func:`data_dir`).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
    y : ndarray of shape (n_samples,)
        The ``target`` column as given (int64 when integral). Labels are not
        re-encoded and need not be ``0..K-1`` (``letter`` uses 1..26); use
        :class:`sklearn.preprocessing.LabelEncoder` before adding noise.

    Raises
    ------
    FileNotFoundError
        If the table does not exist; the available names are listed.
    """
    folder = _resolve_data_dir(data_dir) / "pmlb"
    path = folder / f"{name}.tsv.gz"
    if not isinstance(name, str) or Path(name).name != name or not path.is_file():
        available = sorted(p.name[: -len(".tsv.gz")] for p in folder.glob("*.tsv.gz"))
        raise FileNotFoundError(
            f"no PMLB table {name!r} in {str(folder)!r}; available: "
            f"{', '.join(available) if available else '(none)'}. {_NO_DOWNLOAD}"
        )
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        X, y, _ = _read_delimited(handle, label="target", sep="\t", source=repr(str(path)))
    return X, y


# --------------------------------------------------------------------------- #
# CIFAR-10 subset + CIFAR-10N labels
# --------------------------------------------------------------------------- #
def _read_png_rgb(path: Path) -> np.ndarray:
    """Decode a PNG into an (height, width, 3) uint8 array."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is normally installed
        from torchvision.io import ImageReadMode, read_image

        return read_image(str(path), mode=ImageReadMode.RGB).permute(1, 2, 0).numpy()
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def load_cifar10_subset(
    *, data_dir: PathLike | None = None, scale: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The first 4000 CIFAR-10 training images with clean and human labels.

    The images come from four PNG sheets
    ``<data dir>/cifar10_subset/cj_cifar10_batch_{0..3}.png`` (from
    ConvNetJS; each sheet is 1000 rows x 1024 RGB pixels, row ``r`` being
    one 32x32 image in row-major pixel order), in CIFAR-10 training-set
    order. The labels come from
    ``<data dir>/cifar10n/CIFAR-10_human_labels.npz`` (CIFAR-10N, Wei et al.,
    ICLR 2022): the clean CIFAR-10 labels and five sets of real human noisy
    labels for the same images.

    .. warning::
       The CIFAR-10N labels are licensed CC BY-NC 4.0: use them for
       non-commercial evaluation only, and do not ship them.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Data directory (see :func:`data_dir`).
    scale : bool, default=True
        Return float32 pixels in [0, 1]; otherwise the raw uint8 values.

    Returns
    -------
    X : ndarray of shape (4000, 3, 32, 32), dtype float32 or uint8
        Channels first (RGB).
    y_clean : ndarray of shape (4000,), dtype int64
        Class indices 0..9, named by :data:`CIFAR10_CLASSES`.
    noisy_labels : dict of str to ndarray of shape (4000,), dtype int64
        Human labels, keyed ``"aggregate"`` (majority vote of three
        annotators, about 9 % wrong), ``"random1"``, ``"random2"``,
        ``"random3"`` (one annotator each, about 17 % wrong) and ``"worst"``
        (a wrong label whenever one annotator gave one, about 40 % wrong);
        see :data:`CIFAR10N_LABEL_KEYS`.

    Raises
    ------
    FileNotFoundError
        If a file is missing (the exact path is named; nothing is downloaded).
    ValueError
        If a sheet or the label file does not have the expected layout.
    """
    root = _resolve_data_dir(data_dir)
    sheets = []
    for i in range(_CIFAR10_SUBSET_SHEETS):
        path = _require_file(root / "cifar10_subset" / f"cj_cifar10_batch_{i}.png")
        sheet = _read_png_rgb(path)
        if sheet.shape != (_CIFAR10_SHEET_ROWS, 32 * 32, 3):
            raise ValueError(
                f"{str(path)!r}: expected a {_CIFAR10_SHEET_ROWS} x 1024 RGB sheet, "
                f"got an image array of shape {sheet.shape}"
            )
        sheets.append(sheet)
    # (n, 1024 pixels, 3) -> (n, 32, 32, 3) -> (n, 3, 32, 32)
    images = np.concatenate(sheets).reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)
    X = np.ascontiguousarray(images)
    if scale:
        X = X.astype(np.float32)
        X /= np.float32(255.0)
    n = X.shape[0]

    label_path = _require_file(root / "cifar10n" / "CIFAR-10_human_labels.npz")
    with np.load(label_path) as npz:
        wanted = [_CIFAR10N_CLEAN_KEY, *CIFAR10N_LABEL_KEYS.values()]
        missing = [key for key in wanted if key not in npz.files]
        if missing:
            raise ValueError(f"{str(label_path)!r} lacks the arrays {missing}; it has {npz.files}")
        y_clean = npz[_CIFAR10N_CLEAN_KEY][:n].astype(np.int64)
        noisy = {name: npz[key][:n].astype(np.int64) for name, key in CIFAR10N_LABEL_KEYS.items()}
    if y_clean.shape[0] != n:
        raise ValueError(f"{str(label_path)!r} has fewer than {n} labels")
    return X, y_clean, noisy


# --------------------------------------------------------------------------- #
# checksums
# --------------------------------------------------------------------------- #
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(
    data_dir: PathLike | None = None, *, names: Iterable[str] | None = None
) -> dict[str, bool]:
    """Check files against ``<data dir>/SHA256SUMS.txt``.

    The file has one ``<sha256 hex>  <relative path>`` line per file, as
    written by ``sha256sum`` (paths may start with ``./``).

    Parameters
    ----------
    data_dir : str or path-like, optional
        Data directory (see :func:`data_dir`).
    names : iterable of str, optional
        Relative paths or folders to check, e.g. ``["mnist",
        "pmlb/adult.tsv.gz"]``; by default every listed file.

    Returns
    -------
    results : dict of str to bool
        For each checked relative path, ``True`` if the file exists and its
        SHA-256 matches, ``False`` if it is missing or differs.

    Raises
    ------
    FileNotFoundError
        If ``SHA256SUMS.txt`` is missing.
    ValueError
        If the checksum file is malformed or a name matches no listed file.
    """
    root = _resolve_data_dir(data_dir)
    sums_path = _require_file(root / "SHA256SUMS.txt")
    listed: dict[str, str] = {}
    for line_no, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or not set(digest) <= set(_HEX):
            raise ValueError(f"{str(sums_path)!r}, line {line_no}: malformed entry {line!r}")
        rel = parts[1].lstrip("*")  # sha256sum's binary-mode marker
        rel = rel[2:] if rel.startswith("./") else rel
        listed[rel] = digest
    if names is None:
        selected = list(listed)
    else:
        if isinstance(names, str):
            names = [names]
        selected = []
        for name in names:
            key = name.strip("/")
            key = key[2:] if key.startswith("./") else key
            matches = [rel for rel in listed if rel == key or rel.startswith(key + "/")]
            if not matches:
                raise ValueError(f"{name!r} matches no file listed in {str(sums_path)!r}")
            selected.extend(m for m in matches if m not in selected)
    results: dict[str, bool] = {}
    for rel in selected:
        path = root / rel
        results[rel] = path.is_file() and _sha256(path) == listed[rel]
    return results
