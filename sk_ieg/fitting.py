"""The fit prelude: validate the data and split it into noisy and probe rows.

:func:`prepare_fit` reads the estimator's fitted attributes (for ``partial_fit``) but
sets none: everything about the data is checked before the estimator changes.
:func:`warmup_probe_rows` chooses a probe set when no trusted rows were given.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier

from sk_ieg._validation import FittedRows, check_trusted_mask, check_X, check_y
from sk_ieg.model_selection import select_probe_rows
from sk_ieg.state import TORCH_PROCESS_LOCK, NoisyRows

__all__ = ["TORCH_PROCESS_LOCK", "FitData", "check_module_output", "forked_rng", "prepare_fit",
           "warmup_probe_rows", "warn_missing_classes"]



@contextlib.contextmanager
def forked_rng(device):
    """Torch's global RNG (and the device's, on CUDA) restored on exit, under the
    process lock: for code that draws from it (dropout, a user's module)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with TORCH_PROCESS_LOCK, torch.random.fork_rng(devices=devices):
        yield


@dataclass(frozen=True)
class FitData:
    """One call's data, validated, encoded and split."""

    #: what validate_data recorded of X (n_features_in_, feature_names_in_); None for
    #: partial_fit, which keeps the fitted ones
    features: FittedRows | None
    X: np.ndarray  #: noisy rows
    y: np.ndarray  #: their encoded labels
    #: probe rows and encoded labels; None: keep the previous probe set (partial_fit)
    X_probe: np.ndarray | None
    y_probe: np.ndarray | None
    classes: np.ndarray  #: all classes, in the user's label space
    seeds: np.ndarray  #: module, views, loader, probe sampler, probe selection
    rows: NoisyRows
    #: indices into X of the probe rows when they came from X (mask or selection)
    probe_indices: np.ndarray | None
    #: True when no trusted rows were given: the probe set is still to be selected
    needs_probe: bool = False

    @property
    def input_shape(self) -> tuple:
        return self.X.shape[1:]


def _check_trusted_arguments(X_trusted, y_trusted, trusted) -> None:
    if trusted is not None and (X_trusted is not None or y_trusted is not None):
        raise ValueError("pass the trusted rows either as a mask (trusted=...) or as "
                         "X_trusted and y_trusted, not both")
    if X_trusted is None and y_trusted is not None:
        raise ValueError("y_trusted was given without X_trusted")
    if X_trusted is not None and y_trusted is None:
        raise ValueError("X_trusted was given without y_trusted")


def _check_trusted_rows(est, X, X_trusted, y_trusted, rows):
    if hasattr(X_trusted, "__len__") and len(X_trusted) == 0:
        raise ValueError("the trusted set is empty: X_trusted has 0 rows")
    X_trusted = check_X(est, X_trusted, shape=X.shape[1:], what="X_trusted", rows=rows)
    y_trusted = check_y(y_trusted, len(X_trusted), "y_trusted")
    if len(X_trusted) == len(X):
        warnings.warn(
            f"X_trusted has as many rows as X ({len(X)}): scikit-learn's search and "
            "cross-validation utilities slice every fit parameter of that length "
            "together with X, so X_trusted may have been cut into folds (and a "
            "Pipeline passes it to this step untransformed). Mark the trusted rows "
            "of X with fit(X, y, trusted=mask) instead.", UserWarning, stacklevel=5)
    return X_trusted, y_trusted


def _encoder(est, y, y_trusted, classes, partial) -> LabelEncoder:
    encoder = LabelEncoder()
    if partial:
        encoder.classes_ = est.classes_
    else:
        labels = [y] + [np.asarray(v) for v in (y_trusted, classes) if v is not None]
        try:
            encoder.fit(np.concatenate(labels))
        except TypeError as exc:
            raise ValueError(f"y (with y_trusted and classes): labels of mixed types cannot be "
                             f"ordered: {exc}") from exc
    if len(encoder.classes_) < 2:
        raise ValueError(f"y (with y_trusted): IEG needs at least 2 classes, got "
                         f"{len(encoder.classes_)} class: {encoder.classes_.tolist()}")
    return encoder


def _seeds(est, partial: bool) -> np.ndarray:
    if partial:  # continue the random streams of the fit
        g = est.ieg_state_.rng.views
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g, device=g.device))
        rng = np.random.RandomState(seed)
    else:
        rng = check_random_state(est.random_state)
    return rng.randint(0, 2**31 - 1, size=5)


def prepare_fit(est, X, y, X_trusted=None, y_trusted=None, trusted=None, classes=None, *,
                partial: bool) -> FitData:
    """Validate and split one call's data; ``partial``: continue a fitted ``est``."""
    _check_trusted_arguments(X_trusted, y_trusted, trusted)
    rows = None if partial else FittedRows()
    X = check_X(est, X, reset=not partial, shape=est.input_shape_ if partial else None,
                rows=rows)
    y = check_y(y, len(X), "y")
    mask = None if trusted is None else check_trusted_mask(trusted, len(X))
    if mask is not None and mask.all():
        raise ValueError("trusted marks every row of X: IEG needs noisy rows too")
    if mask is not None and not mask.any():
        mask = None  # an empty trusted set: as if none was given
    if X_trusted is not None:
        X_trusted, y_trusted = _check_trusted_rows(est, X, X_trusted, y_trusted, rows)
    encoder = _encoder(est, y, y_trusted, classes, partial)
    try:
        y_enc = encoder.transform(y)
        yt_enc = None if y_trusted is None else encoder.transform(y_trusted)
    except ValueError as exc:
        raise ValueError(f"y or y_trusted: labels not seen in the first call of partial_fit: "
                         f"{exc}") from exc
    n_noisy = len(X) if mask is None else int((~mask).sum())
    if n_noisy < 2:
        raise ValueError(f"X has {n_noisy} noisy row: IEG trains in batches of at least 2 "
                         f"rows (n_samples = {n_noisy})")
    common = dict(classes=encoder.classes_, seeds=_seeds(est, partial), features=rows)
    if mask is not None:
        return FitData(X=X[~mask], y=y_enc[~mask], X_probe=X[mask], y_probe=y_enc[mask],
                       rows=NoisyRows(y_enc[~mask], mask, y_enc[mask]),
                       probe_indices=np.flatnonzero(mask), **common)
    return FitData(X=X, y=y_enc, X_probe=X_trusted, y_probe=yt_enc, rows=NoisyRows(y_enc),
                   probe_indices=None, needs_probe=X_trusted is None and not partial, **common)


def check_module_output(module: torch.nn.Module, X: np.ndarray, n_classes: int, device) -> None:
    """``module`` maps rows of ``X`` to logits of shape (n_rows, n_classes), or a
    ``ValueError`` naming ``module`` (an eval-mode forward: no state changes)."""
    training = module.training
    try:
        with torch.no_grad(), forked_rng(device):
            out = module.eval()(torch.as_tensor(X, device=device))
    except RuntimeError as exc:
        raise ValueError(f"module: {type(module).__name__} cannot take rows of shape "
                         f"{X.shape[1:]}: {exc}") from exc
    finally:
        module.train(training)
    if not torch.is_tensor(out) or tuple(out.shape) != (len(X), n_classes):
        got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(f"module: {type(module).__name__} returned {got} for {len(X)} rows; "
                         f"IEG needs logits of shape (n_rows, n_classes) = ({len(X)}, "
                         f"{n_classes})")


def warmup_probe_rows(est, data: FitData, module: torch.nn.Module) -> FitData:
    """``data`` with a probe set chosen from its noisy rows: a short warm-up fit of
    ``module``, then per class the rows whose given label the warm-up network agrees
    with most (:func:`~sk_ieg.model_selection.select_probe_rows`)."""
    epochs = est.auto_probe_epochs or max(1, est.max_epochs // 10)
    seed = int(data.seeds[4])
    # A lone last row would be a batch of one, which BatchNorm refuses: drop it here.
    lone = len(data.X) % est.batch_size == 1 and len(data.X) > est.batch_size
    check_module_output(module, data.X[:2], len(data.classes), est.device)
    with forked_rng(est.device):  # dropout draws from torch's global RNG
        torch.manual_seed(seed)
        warmup = NeuralNetClassifier(
            copy.deepcopy(module), criterion=torch.nn.CrossEntropyLoss,
            optimizer=est.optimizer, lr=est.lr, max_epochs=epochs, batch_size=est.batch_size,
            train_split=None, device=est.device, verbose=0, iterator_train__shuffle=True,
            iterator_train__drop_last=lone,
            iterator_train__generator=torch.Generator().manual_seed(seed),
            iterator_valid__generator=torch.Generator(),
            **{f"optimizer__{k}": v for k, v in est.get_params_for("optimizer").items()})
        warmup.fit(data.X, data.y)
        proba = warmup.predict_proba(data.X)
    rows = select_probe_rows(data.y, proba, est.auto_probe_per_class)
    warnings.warn(
        f"no trusted rows were given: IEG uses as its probe set the {len(rows)} rows whose "
        f"given label a {epochs}-epoch warm-up network agrees with most (up to "
        f"{est.auto_probe_per_class} per class). Their labels are not verified: pass a "
        "few verified rows per class (trusted=mask) when you can.", UserWarning,
        stacklevel=4)  # the caller of fit or partial_fit
    return replace(data, X_probe=data.X[rows], y_probe=data.y[rows], probe_indices=rows,
                   needs_probe=False)


def warn_missing_classes(data: FitData) -> None:
    """Warn when the probe set lacks classes (probe batches cannot represent them)."""
    if data.y_probe is None:
        return
    missing = np.setdiff1d(np.arange(len(data.classes)), data.y_probe)
    if len(missing):
        warnings.warn(f"the trusted set has no rows of classes "
                      f"{data.classes[missing].tolist()}; probe batches cannot represent "
                      "them", UserWarning, stacklevel=4)
