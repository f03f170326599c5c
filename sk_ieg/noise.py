"""Synthetic label noise and trusted (probe) subsets, in pure numpy.

The IEG paper (Zhang et al., "Distilling Effective Supervision from Severe
Label Noise", CVPR 2020) corrupts the training labels of CIFAR-10/100 and
keeps a small class-balanced *probe* set drawn from the clean labels before
the noise is added. This module provides both pieces:

* :func:`make_noisy_labels` corrupts integer class labels with one of the
  standard noise models (``"uniform"``, ``"symmetric"``, ``"pairflip"``,
  ``"asymmetric"``) or with an arbitrary row-stochastic transition matrix;
* :func:`transition_matrix` gives the exact expected transition matrix
  ``T[i, j] = P(noisy = j | true = i)`` of each named noise model;
* :func:`noise_rate` measures the fraction of corrupted labels;
* :func:`split_trusted` draws a class-balanced trusted subset.

All randomness comes from ``random_state`` (``None``, an int or a
:class:`numpy.random.RandomState`), through
:func:`sklearn.utils.check_random_state`; the global numpy RNG is never
seeded and the inputs are never modified.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

__all__ = [
    "CIFAR10_ASYMMETRIC_MAP",
    "NOISE_TYPES",
    "make_noisy_labels",
    "noise_rate",
    "split_trusted",
    "transition_matrix",
]

#: Names accepted by ``noise`` in :func:`make_noisy_labels` and
#: :func:`transition_matrix` (a transition matrix is accepted too).
NOISE_TYPES: tuple[str, ...] = ("uniform", "symmetric", "pairflip", "asymmetric")

#: Class-dependent ("asymmetric") CIFAR-10 noise of Patrini et al. (2017), used
#: by default when ``noise="asymmetric"`` and ``n_classes == 10``. CIFAR-10
#: class indices: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog,
#: 6 frog, 7 horse, 8 ship, 9 truck. The map is truck -> automobile,
#: bird -> airplane, deer -> horse and cat <-> dog (read-only).
CIFAR10_ASYMMETRIC_MAP: Mapping[int, int] = MappingProxyType({9: 1, 2: 0, 4: 7, 3: 5, 5: 3})

_ROW_SUM_TOL = 1e-6


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise ValueError(f"rate must be a real number in [0, 1], got {rate!r}")
    value = float(rate)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    return value


def _check_n_classes(n_classes: Any) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    return int(n_classes)


def _check_labels(y: ArrayLike) -> np.ndarray:
    """Return ``y`` as a new 1-D int64 array of non-negative class indices."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class indices, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64, copy=True)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))][0].item()
            raise ValueError(f"y must contain integer class indices, got non-integer label {bad!r}")
        out = arr.astype(np.int64)
    else:
        raise ValueError(
            "y must contain integer class indices in [0, n_classes), "
            f"got an array of dtype {arr.dtype}; encode the labels first "
            "(e.g. with sklearn.preprocessing.LabelEncoder)"
        )
    if out.size and out.min() < 0:
        raise ValueError(f"y must contain class indices >= 0, got negative label {int(out.min())}")
    return out


def _check_matrix(noise: Any, n_classes: int | None) -> np.ndarray:
    """Validate a row-stochastic transition matrix; return a float64 copy."""
    try:
        T = np.array(noise, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"noise must be one of {', '.join(map(repr, NOISE_TYPES))} or a "
            f"transition matrix, got {noise!r}"
        ) from exc
    if T.ndim != 2 or T.shape[0] != T.shape[1] or T.shape[0] < 1:
        raise ValueError(
            f"a transition matrix must be square with shape (n_classes, n_classes), "
            f"got shape {T.shape}"
        )
    if n_classes is not None and T.shape[0] != n_classes:
        raise ValueError(
            f"the transition matrix has shape {T.shape} but n_classes={n_classes}; "
            f"expected shape ({n_classes}, {n_classes})"
        )
    if not np.all(np.isfinite(T)):
        raise ValueError("the transition matrix contains NaN or infinite entries")
    if np.any(T < 0):
        i, j = np.argwhere(T < 0)[0]
        raise ValueError(
            f"the transition matrix must have non-negative entries, "
            f"got T[{i}, {j}] = {float(T[i, j])}"
        )
    sums = T.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_TOL)
    if bad.size:
        raise ValueError(
            f"each row of the transition matrix must sum to 1 (within {_ROW_SUM_TOL}), "
            f"got row {bad[0]} summing to {float(sums[bad[0]])}"
        )
    return T


def _check_mapping(noise: str, mapping: Mapping[int, int] | None, n_classes: int) -> dict[int, int]:
    """Resolve and validate the class map of asymmetric noise."""
    if noise != "asymmetric":
        if mapping is not None:
            raise ValueError(f"mapping is only used with noise='asymmetric', got noise={noise!r}")
        return {}
    if mapping is None:
        if n_classes == 10:
            return dict(CIFAR10_ASYMMETRIC_MAP)
        raise ValueError(
            "a mapping {from_class: to_class} is required for noise='asymmetric' "
            f"unless n_classes == 10 (CIFAR-10 default), got n_classes={n_classes}"
        )
    if not isinstance(mapping, Mapping):
        raise ValueError(
            f"mapping must be a dict {{from_class: to_class}}, got {type(mapping).__name__}"
        )
    resolved: dict[int, int] = {}
    for src, dst in mapping.items():
        for value in (src, dst):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or not 0 <= value < n_classes
            ):
                raise ValueError(
                    f"mapping entries must be class indices in [0, {n_classes}), "
                    f"got {src!r}: {dst!r}"
                )
        resolved[int(src)] = int(dst)
    return resolved


def _check_noise_name(noise: Any) -> str:
    if noise not in NOISE_TYPES:
        raise ValueError(
            f"noise must be one of {', '.join(map(repr, NOISE_TYPES))} or a "
            f"(n_classes, n_classes) transition matrix, got {noise!r}"
        )
    return str(noise)


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def transition_matrix(
    noise: str | ArrayLike,
    rate: float,
    n_classes: int,
    *,
    mapping: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Exact expected transition matrix of a noise model.

    ``T[i, j]`` is the probability that :func:`make_noisy_labels` turns true
    class ``i`` into class ``j``; each row sums to 1.

    Parameters
    ----------
    noise : {"uniform", "symmetric", "pairflip", "asymmetric"} or array-like
        Noise model (see :func:`make_noisy_labels`). A transition matrix is
        validated and returned as a float64 copy (``rate`` is then ignored).
    rate : float
        Corruption probability in [0, 1].
    n_classes : int
        Number of classes ``K``.
    mapping : dict of {int: int}, optional
        Class map of ``noise="asymmetric"``; defaults to
        :data:`CIFAR10_ASYMMETRIC_MAP` when ``n_classes == 10``.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes), dtype float64
        * uniform: ``(1 - rate) I + rate / K``;
        * symmetric: ``1 - rate`` on the diagonal, ``rate / (K - 1)`` elsewhere;
        * pairflip: ``1 - rate`` on the diagonal, ``rate`` at ``(c, (c + 1) % K)``;
        * asymmetric: ``1 - rate`` at ``(c, c)`` and ``rate`` at
          ``(c, mapping[c])`` for mapped classes, identity rows otherwise.

    Raises
    ------
    ValueError
        On an unknown noise name, a rate outside [0, 1], a bad ``n_classes``
        or ``mapping``, or an invalid matrix.

    Examples
    --------
    >>> transition_matrix("pairflip", 0.2, 3)
    array([[0.8, 0.2, 0. ],
           [0. , 0.8, 0.2],
           [0.2, 0. , 0.8]])
    """
    n_classes = _check_n_classes(n_classes)
    if not isinstance(noise, str):
        if mapping is not None:
            raise ValueError("mapping is only used with noise='asymmetric'")
        return _check_matrix(noise, n_classes)
    name = _check_noise_name(noise)
    rate = _check_rate(rate)
    resolved = _check_mapping(name, mapping, n_classes)
    K = n_classes
    eye = np.eye(K)
    if name == "uniform":
        return (1.0 - rate) * eye + rate / K
    if name == "symmetric":
        if K < 2:
            raise ValueError(f"symmetric noise needs n_classes >= 2, got {K}")
        return (1.0 - rate) * eye + rate / (K - 1) * (1.0 - eye)
    if name == "pairflip":
        return (1.0 - rate) * eye + rate * np.roll(eye, 1, axis=1)
    # asymmetric
    T = eye.copy()
    for src, dst in resolved.items():
        T[src, src] -= rate
        T[src, dst] += rate
    return T


def make_noisy_labels(
    y: ArrayLike,
    noise: str | ArrayLike = "uniform",
    rate: float = 0.4,
    *,
    n_classes: int | None = None,
    mapping: Mapping[int, int] | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Corrupt integer class labels with synthetic label noise.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels: integer class indices in ``[0, n_classes)``. Not modified.
    noise : {"uniform", "symmetric", "pairflip", "asymmetric"} or array-like, \
default="uniform"
        Noise model. Each label is selected for corruption independently with
        probability ``rate``; a selected label ``c`` is then replaced by

        * ``"uniform"``: a class drawn uniformly from **all** ``n_classes``
          classes, so it may land on ``c`` again. This is the noise of the
          IEG paper's code; the realised flip rate is
          ``rate * (1 - 1 / n_classes)``.
        * ``"symmetric"``: a class drawn uniformly from the **other**
          ``n_classes - 1`` classes (realised flip rate ``rate``).
        * ``"pairflip"``: ``(c + 1) % n_classes``.
        * ``"asymmetric"``: ``mapping[c]``; classes absent from ``mapping``
          are kept.
        * a row-stochastic matrix ``T`` of shape ``(n_classes, n_classes)``:
          every label ``c`` is replaced by a draw from row ``T[c]``, and
          ``rate`` is ignored (put the corruption level in ``T``).
    rate : float, default=0.4
        Corruption probability in [0, 1]; ignored when ``noise`` is a matrix.
    n_classes : int, optional
        Number of classes. Defaults to ``T.shape[0]`` for a matrix and to
        ``y.max() + 1`` otherwise.
    mapping : dict of {int: int}, optional
        ``{from_class: to_class}`` for ``noise="asymmetric"`` (an error with
        any other noise). When omitted and ``n_classes == 10`` the CIFAR-10
        map :data:`CIFAR10_ASYMMETRIC_MAP` is used; for other ``n_classes`` a
        mapping is required.
    random_state : None, int or numpy.random.RandomState, default=None
        Source of randomness; pass an int for reproducible output.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,), dtype int64
        A new array; ``y`` itself is left unchanged.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, holds negative, non-integer or ``>= n_classes``
        labels, or if ``noise``, ``rate``, ``n_classes`` or ``mapping`` is
        invalid.

    See Also
    --------
    transition_matrix : the expected ``P(noisy | true)`` of each noise model.
    noise_rate : the realised fraction of changed labels.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(np.arange(10), 1000)
    >>> y_noisy = make_noisy_labels(y, "symmetric", 0.4, random_state=0)
    >>> round(noise_rate(y, y_noisy), 1)
    0.4
    """
    labels = _check_labels(y)
    is_matrix = not isinstance(noise, str)
    T: np.ndarray | None = None
    if is_matrix:
        T = _check_matrix(noise, None if n_classes is None else _check_n_classes(n_classes))
        K = T.shape[0]
        if mapping is not None:
            raise ValueError("mapping is only used with noise='asymmetric'")
    else:
        name = _check_noise_name(noise)
        rate = _check_rate(rate)
        if n_classes is None:
            if labels.size == 0:
                raise ValueError("cannot infer n_classes from an empty y; pass n_classes")
            K = int(labels.max()) + 1
        else:
            K = _check_n_classes(n_classes)
        resolved = _check_mapping(name, mapping, K)
        if name == "symmetric" and K < 2:
            raise ValueError(f"symmetric noise needs n_classes >= 2, got {K}")
    if labels.size and labels.max() >= K:
        raise ValueError(
            f"y must contain class indices < n_classes={K}, got label {int(labels.max())}"
        )

    rng = check_random_state(random_state)
    n = labels.shape[0]
    if T is not None:
        noisy = labels.copy()
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            noisy[idx] = rng.choice(K, size=idx.size, p=T[c])
        return noisy

    noisy = labels.copy()
    if rate == 0.0 or n == 0:
        return noisy
    flip = np.flatnonzero(rng.random_sample(n) < rate)
    if name == "uniform":
        noisy[flip] = rng.randint(0, K, size=flip.size)
    elif name == "symmetric":
        draw = rng.randint(0, K - 1, size=flip.size)
        # Skip over the true class: uniform over the K - 1 other classes.
        noisy[flip] = draw + (draw >= labels[flip])
    elif name == "pairflip":
        noisy[flip] = (labels[flip] + 1) % K
    else:  # asymmetric
        lookup = np.arange(K, dtype=np.int64)
        for src, dst in resolved.items():
            lookup[src] = dst
        noisy[flip] = lookup[labels[flip]]
    return noisy


def noise_rate(y_true: ArrayLike, y_noisy: ArrayLike) -> float:
    """Fraction of labels that differ between ``y_true`` and ``y_noisy``.

    Parameters
    ----------
    y_true, y_noisy : array-like of shape (n_samples,)
        Labels of any comparable type (ints, strings, ...).

    Returns
    -------
    rate : float
        ``mean(y_true != y_noisy)``.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, have different lengths, or are empty.
    """
    a = np.asarray(y_true)
    b = np.asarray(y_noisy)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"y_true and y_noisy must be 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_noisy must have the same length, got {a.size} and {b.size}")
    if a.size == 0:
        raise ValueError("y_true and y_noisy are empty; the noise rate is undefined")
    return float(np.mean(a != b))


def split_trusted(
    y: ArrayLike,
    n_per_class: int,
    *,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Indices of a class-balanced trusted (probe) subset.

    Draws exactly ``n_per_class`` rows of every class present in ``y``,
    without replacement. As in the IEG paper, pass the *clean* labels, i.e.
    draw the probe set before the noise is added.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels of any type (ints, strings, ...); classes are ``np.unique(y)``.
    n_per_class : int
        Rows per class, a positive int.
    random_state : None, int or numpy.random.RandomState, default=None
        Source of randomness; pass an int for reproducible output.

    Returns
    -------
    indices : ndarray of shape (n_classes * n_per_class,), dtype int64
        Sorted row indices into ``y``, without duplicates.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or is empty, if ``n_per_class`` is not a positive
        int, or if a class has fewer than ``n_per_class`` rows (the class is
        named in the message).

    Examples
    --------
    >>> idx = split_trusted([0, 0, 1, 1, 1, 2, 2], 2, random_state=0)
    >>> idx.shape
    (6,)
    """
    if (
        isinstance(n_per_class, bool)
        or not isinstance(n_per_class, numbers.Integral)
        or n_per_class < 1
    ):
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError("y is empty; cannot draw a trusted subset")
    classes, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=classes.size)
    too_small = np.flatnonzero(counts < n_per_class)
    if too_small.size:
        k = too_small[0]
        raise ValueError(
            f"class {classes[k].item()!r} has only {counts[k]} rows, fewer than "
            f"n_per_class={n_per_class}"
        )
    rng = check_random_state(random_state)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    chosen = [
        rng.choice(order[start : start + count], size=int(n_per_class), replace=False)
        for start, count in zip(starts, counts)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
