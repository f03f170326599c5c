"""Input checks shared by the estimator, the cleaning meta-estimator and model selection.

* :data:`PARAMETERS`: the one constraint table of :class:`~sk_ieg.IEGClassifier`'s
  hyper-parameters (scikit-learn's ``_param_validation`` constraints). Validation
  (:func:`validate_params`) and the types in the class docstring
  (:func:`document_types`) both follow from it.
* :func:`check_trusted_mask`: the one check of a boolean ``trusted`` mask.
* :func:`check_X`, :func:`check_y`: rows and labels of ``fit`` / ``predict``.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from sk_ieg.augment import POLICIES
from sk_ieg.meta import META_GRADIENT_METHODS
from sk_ieg.step import META_SCOPES

__all__ = ["PARAMETERS", "FittedRows", "check_X", "check_trusted_mask", "check_y", "document_types",
           "validate_params"]


class _Range(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` that refuses bools
    (``True`` is an ``Integral`` to Python, never a sensible count or rate)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def _choice(*values):
    """``StrOptions`` that keeps the order of ``values`` (messages and docs)."""
    constraint = StrOptions(set(values))
    constraint.options = tuple(values)
    return constraint


def _int(low, high=None):
    return _Range(Integral, low, high, closed="both" if high is not None else "left")


def _real(low, high=None, closed="both"):
    return _Range(Real, low, high, closed=closed if high is not None else
                  ("left" if closed in ("both", "left") else "neither"))


#: Constraints of every hyper-parameter IEG adds or validates, in signature order.
#: One declaration each: the estimator's ``__init__`` stores exactly these names
#: (plus skorch's own), ``validate_params`` checks them and the class docstring's
#: types are written from them.
PARAMETERS: dict[str, list] = {
    "lr": [_real(0)],
    "max_epochs": [_int(1)],
    "batch_size": [_int(2)],
    "n_views": [_int(1)],
    "temperature": [_real(0, closed="neither")],
    "given_label_weight": [_real(0, 1)],
    "meta_lr": [_real(0, closed="neither")],
    "meta_gradient": [_choice(*META_GRADIENT_METHODS)],
    "relabel": ["boolean"],
    "reweight": ["boolean"],
    "mixup": ["boolean"],
    "probe_mixup_weight": [_real(0)],
    "mixup_weight": [_real(0), _choice("auto")],
    "consistency_weight": [_real(0), _choice("auto")],
    "meta_scope": [_choice(*META_SCOPES)],
    "meta_strength": [_real(0, 1), _choice("auto")],
    "relabel_strength": [_real(0, 1), _choice("auto")],
    "noise_transition": [_choice("auto"), None],
    "early_learning_weight": [_real(0)],
    "early_learning_decay": [_real(0, 1, closed="left")],
    "mixup_size": [_int(2), None],
    "compile": ["boolean"],
    "augmentation": [_choice("auto", "tabular", "image", "none"), callable],
    "policy": [_choice(*POLICIES), None],
    "hflip": ["boolean"],
    "crop_padding": [_int(0), None],
    "cutout_size": [_int(0), None],
    "weak_jitter": [_real(0)],
    "strong_jitter": [_real(0)],
    "strong_mask_prob": [_real(0, 1)],
    "probe_batch_size": [_int(2), None],
    "probe_prior": [_choice("given", "balanced", "trusted")],
    "lr_schedule": [_choice("cosine_restarts", "constant")],
    "first_cycle_epochs": [_real(0, closed="neither"), _choice("auto")],
    "ramp_up": [_real(0, 1)],
    "ema_decay": [_real(0, 1, closed="left"), None],
    "statistics_decay": [_real(0, 1, closed="left")],
    "auto_probe_per_class": [_int(1)],
    "auto_probe_epochs": [_int(1), None],
    "random_state": ["random_state"],
}


def validate_params(estimator) -> None:
    """Check every parameter of :data:`PARAMETERS` on ``estimator``.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` and ``TypeError`` whose message names the parameter and
        what it accepts.
    """
    params = {name: getattr(estimator, name) for name in PARAMETERS}
    validate_parameter_constraints(PARAMETERS, params, caller_name=type(estimator).__name__)


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if constraint is callable:
        return "callable"
    if constraint == "boolean":
        return "bool"
    if constraint == "random_state":
        return "int, RandomState instance or None"
    if isinstance(constraint, StrOptions):
        return "{" + ", ".join(f'"{v}"' for v in constraint.options) + "}"
    kind = "int" if constraint.type is Integral else "float"
    low, high = constraint.left, constraint.right
    if high is None:
        return f"{kind} {'>=' if constraint.closed in ('left', 'both') else '>'} {low}"
    left = "[" if constraint.closed in ("left", "both") else "("
    right = "]" if constraint.closed in ("right", "both") else ")"
    return f"{kind} in {left}{low}, {high}{right}"


def document_types(cls) -> type:
    """Write each ``name : @type`` line of ``cls``'s docstring from :data:`PARAMETERS`
    and the signature's default: ``name : int >= 1, default=2``. A class decorator."""
    defaults = {}
    for klass in reversed(cls.__mro__[:-1]):  # skorch's own parameters (compile) included
        defaults.update((k, p.default) for k, p in
                        inspect.signature(klass.__init__).parameters.items())

    def render(match):
        name = match.group(1)
        types = " or ".join(_describe(c) for c in PARAMETERS[name])
        default = defaults[name]
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        return f"{name} : {types}, default={shown}"

    cls.__doc__ = re.sub(r"(\w+) : @type", render, cls.__doc__)
    return cls


# ----------------------------------------------------------------------------- data
def check_trusted_mask(trusted, n: int, *, owner: str | None = None) -> np.ndarray:
    """The ``trusted`` mask as a boolean array of shape ``(n,)``, or a clear error.

    Only a boolean mask is accepted: integer arrays are ambiguous (a 0/1 mask or row
    indices?).
    """
    where = f"{owner}: " if owner else ""
    mask = np.asarray(trusted)
    if mask.shape != (n,):
        raise ValueError(f"{where}trusted must be a boolean mask with one entry per row, of "
                         f"shape (n_samples,) = ({n},); got shape {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"{where}trusted must be a boolean mask, got dtype {mask.dtype}; for "
                         "row indices idx use mask = np.zeros(len(X), bool); mask[idx] = True")
    return mask


class FittedRows(BaseEstimator):
    """Stands in for an estimator while a new ``X`` is validated: ``validate_data``
    records ``n_features_in_`` and ``feature_names_in_`` here, so the estimator itself
    changes only once everything is validated."""


def _reworded(text: str, what: str, name: str) -> str:
    text = text.replace(FittedRows.__name__, name)
    return f"{what}{text[1:]}" if text.startswith("X ") and what != "X" else text


def _check_row_shape(got: tuple, shape: tuple, what: str, name: str) -> None:
    # A differing feature count of tabular rows gets validate_data's own message.
    if got != shape and not (len(got) == len(shape) == 1):
        raise ValueError(f"{what} has rows of shape {got}, but {name} was fitted with rows of "
                         f"shape {shape} ({int(np.prod(shape))} features per row)")


def check_X(estimator, X, *, reset: bool = False, shape: tuple | None = None,
            what: str = "X", rows: FittedRows | None = None) -> np.ndarray:
    """Rows as a finite float32 array, 2-D or 4-D for the default module, with rows of
    ``shape`` when given; messages name ``what`` and ``estimator``. ``validate_data``
    runs on ``rows`` (a :class:`FittedRows`, where ``reset=True`` records the feature
    count and names) or, without it, on the fitted ``estimator`` itself."""
    name = type(estimator).__name__
    if shape is not None and len(getattr(X, "shape", ())) >= 2:  # arrays, frames: before
        _check_row_shape(tuple(X.shape[1:]), tuple(shape), what, name)  # the feature count
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            X = validate_data(estimator if rows is None else rows, X, reset=reset,
                              allow_nd=True, dtype=np.float32, ensure_all_finite=True,
                              ensure_min_samples=1)
        except ValueError as exc:
            raise ValueError(f"{what}: {_reworded(str(exc), what, name)}") from exc
    for w in caught:  # feature-name warnings name the argument they are about
        warnings.warn(_reworded(str(w.message), what, name), w.category, stacklevel=4)
    if shape is not None:
        _check_row_shape(X.shape[1:], tuple(shape), what, name)
    if not X.flags.writeable:  # torch.from_numpy warns on read-only arrays (memmaps)
        X = X.copy()
    if X.ndim not in (2, 4) and estimator.module is None:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features) or 4-D images "
                         f"(n_samples, C, H, W) for the default module, got shape {X.shape}")
    return X


def check_y(y, n: int, what: str) -> np.ndarray:
    """Class labels: 1-D, ``n`` of them, no missing values, a classification target."""
    if y is None:
        raise ValueError(f"IEGClassifier requires {what} to be passed, but the target "
                         f"{what} is None")
    y = column_or_1d(np.asarray(y), warn=True)  # the user's dtype: strings stay strings
    if len(y) != n:
        raise ValueError(f"{what} has {len(y)} labels but there are {n} rows")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{what} contains NaN or infinity")
    if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and math.isnan(v))
                                   for v in y):
        raise ValueError(f"{what} contains missing labels (None or NaN)")
    try:
        check_classification_targets(y)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    return y
