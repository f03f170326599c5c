"""Model selection that respects noisy labels: trusted-aware splitter and scorer.

Cross-validating a label-noise method on its own noisy labels rewards the model
that reproduces the noise. With a boolean mask ``trusted`` that marks the rows
of ``X`` whose label is verified, these pieces let scikit-learn's search
utilities choose by verified labels instead:

* :class:`TrustedStratifiedKFold` splits trusted and noisy rows separately,
  stratified by class, so every training fold keeps trusted rows of every class
  (the estimator's probe set) and every test fold holds trusted rows to score on;
* :func:`make_trusted_scorer` (and the ready-made :data:`trusted_accuracy_scorer`)
  scores a fitted estimator on the held-out trusted rows only;
* :func:`select_probe_rows` is the rule behind
  :class:`~sk_ieg.IEGClassifier`'s fallback when no trusted rows are given.

The mask reaches the estimator, the splitter and the scorer through metadata
routing (``sklearn.set_config(enable_metadata_routing=True)``): the splitter and
the scorer request ``trusted`` by default; the estimator (or the Pipeline step)
needs ``set_fit_request(trusted=True)``.

Examples
--------
>>> import sklearn
>>> from sklearn.model_selection import GridSearchCV
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sk_ieg import IEGClassifier, TrustedStratifiedKFold, trusted_accuracy_scorer
>>> sklearn.set_config(enable_metadata_routing=True)
>>> pipe = make_pipeline(StandardScaler(),
...                      IEGClassifier(verbose=0).set_fit_request(trusted=True))
>>> search = GridSearchCV(pipe, {"iegclassifier__max_epochs": [30, 60]},
...                       cv=TrustedStratifiedKFold(3, shuffle=True, random_state=0),
...                       scoring=trusted_accuracy_scorer)
>>> # search.fit(X, y, trusted=mask)
>>> sklearn.set_config(enable_metadata_routing=False)
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.validation import _num_samples, column_or_1d

from sk_ieg._validation import check_trusted_mask

__all__ = [
    "TrustedScorer",
    "TrustedStratifiedKFold",
    "make_trusted_scorer",
    "select_probe_rows",
    "trusted_accuracy_scorer",
]

_ROUTING_HINT = ("enable metadata routing (sklearn.set_config(enable_metadata_routing=True)) "
                 "and pass trusted=mask to fit of GridSearchCV / cross_validate (params=...)")


def _check_mask(trusted: ArrayLike, n: int, owner: str) -> np.ndarray:
    if trusted is None:
        raise ValueError(f"{owner} needs the boolean mask of trusted rows; {_ROUTING_HINT}")
    return check_trusted_mask(trusted, n, owner=owner)


class TrustedStratifiedKFold(BaseCrossValidator):
    """K-fold that keeps trusted rows of every class in each training fold.

    Trusted and noisy rows are split separately, each stratified by class (the
    given label for noisy rows): per class, rows are dealt to the folds in turn,
    continuing where the previous class stopped so fold sizes stay even. A
    trusted class with ``m >= 2`` rows thus loses at most ``ceil(m / n_splits)``
    rows to any test fold and keeps at least one in every training fold; a
    trusted class with a single row is never held out (it stays in every
    training fold). Each test fold holds about ``1 / n_splits`` of the trusted
    rows, which :data:`trusted_accuracy_scorer` scores on.

    The mask is a metadata parameter requested by default: with metadata routing
    enabled, ``GridSearchCV(..., cv=TrustedStratifiedKFold()).fit(X, y,
    trusted=mask)`` routes it here.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Shuffle the rows of each class before dealing them to folds.
    random_state : int, RandomState instance or None, default=None
        Drives the shuffling; only with ``shuffle=True``.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : the same on one set of labels.
    make_trusted_scorer : score on held-out trusted rows.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    >>> trusted = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 0], bool)
    >>> cv = TrustedStratifiedKFold(2)
    >>> [sorted(set(y[tr][trusted[tr]])) for tr, te in cv.split(y, y, trusted=trusted)]
    [[0, 1], [0, 1]]
    """

    __metadata_request__split = {"trusted": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None, trusted=None):
        """Number of splits, ``n_splits`` (the arguments are ignored)."""
        return self.n_splits

    def _check_params(self):
        k = self.n_splits
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {k!r}")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle must be a bool, got {self.shuffle!r}")
        if not self.shuffle and self.random_state is not None:
            raise ValueError("setting random_state has no effect since shuffle is False; "
                             "leave random_state at None or set shuffle=True")

    def split(self, X, y, groups=None, trusted=None):
        """Indices of the training and test rows of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,)
            Labels: verified ones on trusted rows, given ones elsewhere.
        groups : None
            Ignored; present for the splitter API.
        trusted : array-like of bool of shape (n_samples,)
            True where the label of the row is verified.

        Yields
        ------
        train : ndarray of int
        test : ndarray of int
        """
        self._check_params()
        if y is None:
            raise ValueError("TrustedStratifiedKFold needs y to stratify by class")
        n = _num_samples(X)
        mask = _check_mask(trusted, n, type(self).__name__)
        X, y = indexable(X, y)
        y = column_or_1d(y)
        k = self.n_splits
        if k > n:
            raise ValueError(f"cannot split {n} rows into n_splits={k} folds")
        n_trusted = int(mask.sum())
        if n_trusted < k:
            warnings.warn(f"only {n_trusted} trusted rows for {k} folds: some test folds hold "
                          "no trusted row and cannot be scored on verified labels",
                          UserWarning, stacklevel=2)
        rng = check_random_state(self.random_state)
        folds = np.full(n, -1)
        offset = 0
        for part, is_trusted in ((mask, True), (~mask, False)):
            idx = np.flatnonzero(part)
            if len(idx) == 0:
                continue
            _, inverse = np.unique(y[idx], return_inverse=True)
            for c in range(inverse.max() + 1):
                rows = idx[inverse.reshape(-1) == c]
                if is_trusted and len(rows) < 2:
                    continue  # never held out: fold -1 is in every training set
                if self.shuffle:
                    rows = rng.permutation(rows)
                folds[rows] = (offset + np.arange(len(rows))) % k
                offset += len(rows)
        for f in range(k):
            yield np.flatnonzero(folds != f), np.flatnonzero(folds == f)


class TrustedScorer:
    """Score an estimator on the trusted rows of a test set only.

    A scorer in scikit-learn's sense, ``scorer(estimator, X, y, trusted=mask)``,
    that requests the metadata parameter ``trusted`` for ``score``: with
    metadata routing enabled, ``GridSearchCV(..., scoring=scorer)`` and
    ``cross_validate`` pass it the held-out part of the mask given to ``fit``.
    Build it with :func:`make_trusted_scorer`.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_pred, **kwargs)`` on the trusted rows.
    response_method : str, default="predict"
        Estimator method giving ``y_pred`` (``"predict_proba"`` for log loss...).
    sign : {1, -1}, default=1
        -1 for losses, so that greater is better.
    kwargs : dict, default=None
        Extra keyword arguments of ``score_func``.
    """

    def __init__(self, score_func: Callable, *, response_method: str = "predict",
                 sign: int = 1, kwargs: dict | None = None):
        self.score_func = score_func
        self.response_method = response_method
        self.sign = sign
        self.kwargs = kwargs

    def __call__(self, estimator, X, y_true, trusted=None, **kwargs):
        """Score of ``estimator`` on the rows of ``X`` marked by ``trusted``.

        Returns NaN, with a warning, when no row is marked.
        """
        if kwargs:
            raise TypeError(f"unexpected score parameters: {sorted(kwargs)}")
        mask = _check_mask(trusted, _num_samples(X), repr(self))
        if not mask.any():
            warnings.warn("no trusted row in this test set: its trusted score is NaN",
                          UserWarning, stacklevel=2)
            return math.nan
        y_pred = getattr(estimator, self.response_method)(_safe_indexing(X, mask))
        y = _safe_indexing(np.asarray(y_true), mask)
        return self.sign * float(self.score_func(y, y_pred, **(self.kwargs or {})))

    def get_metadata_routing(self):
        """Request ``trusted`` for ``score`` (the scorer's routing)."""
        request = MetadataRequest(owner=type(self).__name__)
        request.score.add_request(param="trusted", alias=True)
        return request

    def __repr__(self):
        name = getattr(self.score_func, "__name__", repr(self.score_func))
        extra = "" if self.response_method == "predict" else \
            f", response_method={self.response_method!r}"
        extra += ", greater_is_better=False" if self.sign < 0 else ""
        extra += "".join(f", {k}={v!r}" for k, v in (self.kwargs or {}).items())
        return f"make_trusted_scorer({name}{extra})"


def make_trusted_scorer(score_func: Callable = accuracy_score, *,
                        response_method: str = "predict", greater_is_better: bool = True,
                        **kwargs) -> TrustedScorer:
    """A scorer measuring ``score_func`` on held-out trusted rows only.

    Parameters
    ----------
    score_func : callable, default=sklearn.metrics.accuracy_score
        ``score_func(y_true, y_pred, **kwargs)``.
    response_method : str, default="predict"
        Estimator method whose output is ``y_pred``.
    greater_is_better : bool, default=True
        False for losses: the score is then negated.
    **kwargs
        Passed to ``score_func``.

    Returns
    -------
    scorer : TrustedScorer
        Use as ``scoring=`` of GridSearchCV / cross_validate with metadata
        routing enabled and ``trusted=mask`` passed to their ``fit``.

    Examples
    --------
    >>> from sklearn.metrics import balanced_accuracy_score
    >>> make_trusted_scorer(balanced_accuracy_score)
    make_trusted_scorer(balanced_accuracy_score)
    """
    if not callable(score_func):
        raise ValueError(f"score_func must be callable, got {score_func!r}")
    return TrustedScorer(score_func, response_method=response_method,
                         sign=1 if greater_is_better else -1, kwargs=kwargs or None)


#: Accuracy on the held-out trusted rows (metadata routing passes the mask).
trusted_accuracy_scorer = make_trusted_scorer(accuracy_score)


def select_probe_rows(y: ArrayLike, proba: ArrayLike, n_per_class: int) -> np.ndarray:
    """Per class, the rows whose given label the model agrees with most.

    The rule :class:`~sk_ieg.IEGClassifier` uses to pick a probe set when it is
    given no trusted rows: for every class ``c``, the ``n_per_class`` rows
    labelled ``c`` with the highest ``proba[:, c]`` (all of them when the class
    has fewer rows). Networks fit clean labels before noisy ones, so after a
    short warm-up these rows are mostly correctly labelled, though never
    verified.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Encoded labels, integers in ``[0, n_classes)``.
    proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities (any score increasing with agreement).
    n_per_class : int
        Rows per class, at least 1.

    Returns
    -------
    indices : ndarray of shape (n_selected,), dtype int64
        Sorted row indices.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1, 1])
    >>> proba = np.array([[.9, .1], [.2, .8], [.6, .4], [.3, .7], [.5, .5]])
    >>> select_probe_rows(y, proba, 1)
    array([0, 3])
    """
    if not isinstance(n_per_class, numbers.Integral) or isinstance(n_per_class, bool) \
            or n_per_class < 1:
        raise ValueError(f"n_per_class must be an integer >= 1, got {n_per_class!r}")
    y = np.asarray(y)
    proba = np.asarray(proba)
    if y.ndim != 1 or proba.ndim != 2 or len(proba) != len(y):
        raise ValueError(f"y must be 1-D and proba 2-D with as many rows, got shapes {y.shape} "
                         f"and {proba.shape}")
    if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= proba.shape[1])):
        raise ValueError(f"y must hold class indices in [0, {proba.shape[1]})")
    chosen = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        order = np.argsort(-proba[rows, c], kind="stable")
        chosen.append(rows[order[:n_per_class]])
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else \
        np.empty(0, dtype=np.int64)
