"""Property-based tests of input handling (hypothesis).

Three properties over shapes, dtypes, label types, class sets, sizes, trusted-set
forms and parameter values:

1. ``test_fit_or_clear_error``: every draw either fits (finite probabilities whose
   rows sum to 1, labels among ``classes_`` of the user's dtype kind) or raises a
   ``ValueError`` / ``TypeError`` whose message names the offending argument or
   parameter, never a raw torch error; a diverging fit raises a
   ``FloatingPointError`` and leaves the estimator unfitted.
2. ``test_failed_refit_keeps_model``: a refit (``fit`` or ``partial_fit``) that
   fails leaves a fitted model bit for bit as it was.
3. ``test_determinism``: the same valid draw fitted twice with the same
   ``random_state`` gives identical probabilities.

Each draw is described by a :class:`Case`: the data, the estimator's parameters
and the list of what is wrong with it (with the names an error message may use),
so every expectation follows from the draw explicitly.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from torch import nn

from sk_ieg import IEGClassifier

# ------------------------------------------------------------------ settings
settings.register_profile(
    "sk_ieg_properties",
    derandomize=True,  # the same examples on every run (CI)
    database=None,
    deadline=None,
    max_examples=100,
    print_blob=False,
    # no "explain" phase: it re-runs a failing example hundreds of times
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
PROFILE = settings.get_profile("sk_ieg_properties")

#: Examples per property (the file runs N_FIT + N_REFIT + N_DETERMINISM in total).
N_FIT = 500
N_REFIT = 200
N_DETERMINISM = 80

#: Phrases of raw torch / internal errors that must never reach the user.
RAW_ERROR_PHRASES = (
    "mat1 and mat2", "shapes cannot be multiplied", "Expected more than 1 value per channel",
    "Trying to create tensor with negative dimension", "must match the size of tensor",
    "Expected input batch_size", "out of bounds", "index out of range",
    "Sizes of tensors must match", "not implemented for", "Something went wrong here",
)


# ------------------------------------------------------------------ modules, views
class Flat(nn.Module):
    """A user module for any row shape: flatten, then one linear layer."""

    def __init__(self, n_in: int = 1, n_out: int = 2):
        super().__init__()
        self.lin = nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.lin(x.flatten(1))


class NaNOut(Flat):
    """A user module whose outputs are all NaN: training must diverge."""

    def forward(self, x):
        return super().forward(x) * float("nan")


def jitter_view(x, *, strong, generator):
    """A user augmentation: Gaussian jitter, more for strong views."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + (0.1 if strong else 0.01) * noise


# ------------------------------------------------------------------ helpers
def names_argument(message: str, names) -> bool:
    """True when ``message`` names one of ``names`` as a whole word (``X`` in
    ``"X_trusted"`` does not count, ``lr`` in ``"'lr' parameter"`` does)."""
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message)
               for n in names)


def raw_phrase(message: str):
    """The first raw-torch phrase found in ``message``, or None."""
    return next((p for p in RAW_ERROR_PHRASES if p in message), None)


class _Quiet:
    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        # X on a 1e20 scale (a draw that may diverge) overflows numpy's variance
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def expect_unfitted(est) -> None:
    """``est`` must refuse to predict with ``NotFittedError``."""
    X = np.zeros((2,) + tuple(getattr(est, "input_shape_", (1,))), dtype=np.float32)
    with pytest.raises(NotFittedError):
        est.predict(X)


# ------------------------------------------------------------------ the draw
LABEL_POOLS = {
    "int": np.array([0, 1, 7, -2, 10, 3], dtype=np.int64),
    "str": np.array(["a", "b", "cat", "dog", "zebra", "yak"]),
    "float": np.array([0.0, 1.0, 2.0, 5.0, -1.0, 3.0]),
    "continuous": np.array([0.5, 1.5, 2.25, 3.75, -0.5, 9.5]),
}

#: Per parameter: valid values, values to refuse (the message names the parameter),
#: values that may diverge (a FloatingPointError or a finite fit) and values that may
#: be refused by name or else may diverge.
PARAM_VALUES = {
    "lr": ([0.01, 0.0], [-0.1, math.nan, "0.1", None], [1e6, 1e12, 1e30], [math.inf]),
    "n_views": ([1, 3], [0, -1, 2.5, True], [], []),
    "temperature": ([1.0, 2.0, 1e-3], [0, -1.0, math.nan], [], [math.inf]),
    "ema_decay": ([None, 0.0, 0.5], [1.0, 1.5, -0.1, "0.9"], [], []),
    "mixup_size": ([2, 3, 1000], [1, 0, -3, 2.5], [], []),
    "compile": ([], ["yes", 1, None], [], []),
    "probe_batch_size": ([2, 3], [0, -1], [], [1]),
    "meta_scope": (["head"], ["last"], [], []),
    "meta_gradient": (["finite_difference"], ["exact"], [], []),
    "consistency_weight": ([0.0], [-1.0], [], []),
    "given_label_weight": ([0.0, 1.0], [1.5], [], []),
    "max_epochs": ([], [0, 1.5], [], []),
    "random_state": ([None], ["seed"], [], []),
}


@dataclass
class Case:
    X: np.ndarray
    y: np.ndarray
    fit_kwargs: dict
    params: dict
    #: (what is wrong, names an error message may use)
    bad: list = field(default_factory=list)
    #: (what may be refused, names): values the library may accept or refuse by name
    #: (batch sizes of 1: BatchNorm cannot train on one row)
    optional: list = field(default_factory=list)
    #: None, "must" (a FloatingPointError) or "may" (a FloatingPointError or a finite fit)
    diverge: str | None = None
    labels: np.ndarray | None = None  #: every label of y and y_trusted (valid draws)

    def accepted_names(self):
        return sorted({n for _, names in self.bad + self.optional for n in names})

    def describe(self):
        kw = {k: (v.shape, v.dtype) if isinstance(v, np.ndarray) else v
              for k, v in self.fit_kwargs.items()}
        return (f"X {self.X.shape} {self.X.dtype}, y {self.y.dtype} {np.unique(self.y)[:6]}, "
                f"fit {kw}, params {self.params}, bad {self.bad}, optional {self.optional}, "
                f"diverge {self.diverge}")


def _make_X(rng, shape, dtype):
    if dtype == "bool":
        return rng.rand(*shape) < 0.5
    if dtype == "uint8":
        return rng.randint(0, 256, size=shape).astype(np.uint8)
    if dtype == "int64":
        return rng.randint(-5, 6, size=shape).astype(np.int64)
    return (2 * rng.randn(*shape)).astype(dtype)


#: Where a draw puts its faults (None: a valid draw); "any": everywhere at once.
FAULT_AREAS = ["X", "labels", "trusted", "augmentation", "batch_size", "params", "module",
               "any"]


def draw_case(draw, *, valid_only: bool = False) -> Case:
    """One draw of data, trusted rows and parameters. A draw is valid, or has faults
    in one area (several at once for "any"); ``valid_only``: always valid."""
    bad, optional = [], []
    focus = None if valid_only else draw(st.sampled_from([None] * 5 + FAULT_AREAS),
                                         label="fault area")

    def fault(area: str) -> bool:
        return focus in (area, "any")

    seed = draw(st.integers(0, 2**16), label="seed")
    rng = np.random.RandomState(seed)
    layout = draw(st.sampled_from(["2d", "2d", "2d", "4d", "3d"]), label="layout")
    n = draw(st.integers(2, 24 if layout == "4d" else 70), label="n")
    if layout == "2d":
        row = (draw(st.integers(1, 6), label="n_features"),)
    elif layout == "4d":
        row = draw(st.sampled_from([(1, 4, 4), (3, 5, 5)]), label="image shape")
    else:
        row = (draw(st.integers(1, 3), label="dim 1"), draw(st.integers(1, 3), label="dim 2"))
    dtypes = ["float32", "float64", "int64", "bool"] + (["uint8"] if layout == "4d" else [])
    dtype = draw(st.sampled_from(dtypes), label="X dtype")
    X = _make_X(rng, (n,) + row, dtype)
    X_fault = draw(st.sampled_from(["nan", "inf", "-inf", "strings", "1d", "complex",
                                    "overflow", "huge", None]),
                   label="X fault") if fault("X") else None
    diverge = None
    if X_fault in ("nan", "inf", "-inf"):
        X = X.astype(np.float64) if not dtype.startswith("float") else X
        X.flat[rng.randint(X.size)] = float(X_fault)
        bad.append(("non-finite X", ["X"]))
    elif X_fault == "strings":
        X = np.where(X.astype(bool), "yes", "no")
        bad.append(("X of strings", ["X"]))
    elif X_fault == "1d":
        X = X.reshape(n, -1)[:, 0].copy()
        bad.append(("1-D X", ["X"]))
    elif X_fault == "complex":
        X = X.astype(np.complex128)
        bad.append(("complex X", ["X"]))
    elif X_fault == "overflow":  # finite in float64, infinite in float32
        X = X.astype(np.float64)
        X.flat[rng.randint(X.size)] = 1e300
        bad.append(("X overflows float32", ["X"]))
    elif X_fault == "huge":  # finite, on a scale that may make training diverge
        X = X.astype(np.float64) * 1e20
        diverge = "may"

    # labels
    label_fault = draw(st.sampled_from(["continuous", "nan", "one class", "length", "2-D",
                                        None]), label="label fault") if fault("labels") else None
    label_kind = "continuous" if label_fault == "continuous" else draw(
        st.sampled_from(["int", "str", "float"]), label="label kind")
    if label_fault == "nan":
        label_kind = "float"
    k = 1 if label_fault == "one class" else draw(st.sampled_from([2, 3, 4, 5]),
                                                   label="n classes")
    pool = LABEL_POOLS[label_kind]
    y = pool[rng.randint(k, size=n)]
    y[:min(n, k)] = pool[:min(n, k)]
    y = y[rng.permutation(n)]
    y_fit = y
    if label_fault == "continuous":
        bad.append(("continuous labels", ["y"]))
    elif label_fault == "nan":
        y[rng.randint(n)] = math.nan
        bad.append(("NaN label", ["y"]))
    elif label_fault == "length":
        y_fit = np.append(y, y[:1]) if rng.rand() < 0.5 else y[:-1]
        bad.append(("y of another length", ["y"]))
    elif label_fault == "2-D":
        y_fit = np.stack([y, y], axis=1)
        bad.append(("2-D y", ["y"]))

    # trusted rows
    modes = ["mask", "mask", "arrays", "none"]
    if fault("trusted"):
        modes = ["mask", "arrays", "int_mask", "both", "y_only", "mask_length"]
    mode = draw(st.sampled_from(modes), label="trusted mode")
    fit_kwargs = {}
    labels = [y]
    if mode in ("mask", "int_mask", "both", "mask_length"):
        low = 0 if mode == "mask" else 1
        high = n if mode == "mask" and fault("trusted") else n - (2 if valid_only else 1)
        m = draw(st.integers(low, max(low, high)), label="n trusted")
        mask = np.zeros(n, bool)
        mask[rng.choice(n, m, replace=False)] = True
        if mask.all():
            bad.append(("trusted marks every row", ["trusted"]))
        if mode == "int_mask":
            mask = mask.astype(np.int64)
            bad.append(("trusted is an int 0/1 array", ["trusted"]))
        elif mode == "mask_length":
            mask = np.append(mask, False) if rng.rand() < 0.5 else mask[:-1]
            bad.append(("trusted of another length", ["trusted"]))
        elif (~mask).sum() == 1:  # one noisy row: IEG may refuse batches of one row
            optional.append(("one noisy row", ["X", "trusted"]))
        fit_kwargs["trusted"] = mask
    if mode in ("arrays", "both", "y_only"):
        nt = draw(st.integers(0 if fault("trusted") else 1, 8), label="n X_trusted")
        Xt = _make_X(rng, (nt,) + row, dtype)
        yt = pool[rng.randint(k, size=nt)]
        variants = ["ok", "ok", "unseen"] + (["features", "y_length", "nan X", "nan y"]
                                             if fault("trusted") else [])
        variant = draw(st.sampled_from(variants), label="X_trusted variant")
        if variant == "features":
            Xt = _make_X(rng, (nt,) + row[:-1] + (row[-1] + 1,), dtype)
            bad.append(("X_trusted rows of another shape", ["X_trusted"]))
        elif variant == "y_length":
            yt = pool[rng.randint(k, size=nt + 1)]
            bad.append(("y_trusted of another length", ["y_trusted"]))
        elif variant == "unseen" and nt > 0:
            yt[0] = pool[k]  # a class y does not have: valid for fit
        elif variant == "nan X" and nt > 0:
            Xt = Xt.astype(np.float64)
            Xt.flat[0] = math.nan
            bad.append(("non-finite X_trusted", ["X_trusted"]))
        elif variant == "nan y" and nt > 0:
            yt = yt.astype(np.float64) if label_kind != "str" else yt.astype(object)
            yt[0] = math.nan
            bad.append(("NaN in y_trusted", ["y_trusted"]))
        if nt == 0:
            bad.append(("empty X_trusted", ["X_trusted"]))
        if mode != "y_only":
            fit_kwargs["X_trusted"] = Xt
        fit_kwargs["y_trusted"] = yt
        labels.append(yt)
        if mode == "both":
            bad.append(("trusted and X_trusted together", ["trusted", "X_trusted"]))
        if mode == "y_only":
            bad.append(("y_trusted without X_trusted", ["X_trusted", "y_trusted"]))
    all_labels = np.concatenate([np.asarray(v, dtype=object) for v in labels])
    if label_kind != "continuous" and len(set(all_labels.tolist())) < 2:
        bad.append(("fewer than 2 classes", ["y", "y_trusted"]))

    # estimator
    params = {"max_epochs": 1, "verbose": 0, "random_state": int(seed)}
    n_classes = len(set(all_labels.tolist()))
    module_fault = draw(st.sampled_from(["nan", "outputs", "options"]), label="module fault") \
        if fault("module") else None
    if module_fault is not None:
        module = module_fault
    if module_fault == "options":
        module = "default"
    elif layout == "2d":
        module = draw(st.sampled_from(["default", "default", "default", "user"]),
                      label="module")
    else:
        module = "user" if layout == "3d" else "default"
    augs = {"2d": ["auto", "auto", "tabular", "none", "callable"],
            "3d": ["none", "callable"],
            "4d": ["auto", "auto", "image", "none", "callable"]}[layout]
    if fault("augmentation"):
        augs = {"2d": ["image", "bogus"], "3d": ["auto", "tabular", "image"],
                "4d": ["bogus"]}[layout]
    aug = draw(st.sampled_from(augs), label="augmentation")
    if fault("augmentation"):
        bad.append((f"augmentation={aug!r} on {layout} X", ["augmentation"]))
    params["augmentation"] = jitter_view if aug == "callable" else aug
    if module == "default" and layout == "3d":  # no default module for 3-D rows
        module = "user"
    if module == "default":
        option, value = ("module__hidden_units", (8,)) if layout == "2d" else (
            "module__widths", (4,))
        if module_fault == "options":
            value = draw(st.sampled_from([(-1,), (8, -2)]), label="module option")
            bad.append((f"{option}={value}", ["module", option, option.split("__")[1]]))
        params[option] = value
    else:
        n_out = max(n_classes, 2)
        if module == "outputs":
            n_out = draw(st.sampled_from([n_out + 1, 1]), label="module outputs")
            bad.append((f"a module with {n_out} outputs for {n_classes} classes", ["module"]))
        params.update(module=NaNOut if module == "nan" else Flat,
                      module__n_in=int(np.prod(row)), module__n_out=n_out)
        if module == "nan":
            diverge = "must"

    # batch size
    hows = ["any"] * 6 + ["n-1", "n"]
    if fault("batch_size"):
        hows = ["bad", "one", "n-1"]
    how = draw(st.sampled_from(hows), label="batch_size")
    if how == "any":
        params["batch_size"] = draw(st.integers(2, 70), label="batch size")
    elif how == "n-1":
        params["batch_size"] = max(2, n - 1)  # n % batch_size == 1
    elif how == "n":
        params["batch_size"] = n
    elif how == "one":
        params["batch_size"] = 1
        optional.append(("batch_size=1", ["batch_size"]))
    else:
        params["batch_size"] = draw(st.sampled_from([0, -1, 2.5, "8", None]))
        bad.append(("batch_size", ["batch_size"]))

    # other parameters (more refusals by name: see PARAM_VALUES)
    n_changed = draw(st.sampled_from([1, 1, 2] if fault("params") else [0, 0, 0, 1]),
                     label="parameters changed")
    for _ in range(n_changed):
        name = draw(st.sampled_from(sorted(PARAM_VALUES)), label="parameter")
        if name == "meta_scope" and module != "default":
            continue
        valid, invalid, diverging, maybe = PARAM_VALUES[name]
        choices = [("valid", v) for v in valid]
        if fault("params"):
            choices = ([("bad", v) for v in invalid] + [("diverge", v) for v in diverging]
                       + [("optional", v) for v in maybe])
        if not choices:
            continue
        what, value = draw(st.sampled_from(choices), label=name)
        params[name] = value
        if what == "bad":
            bad.append((f"{name}={value!r}", [name]))
        elif what == "optional":
            optional.append((f"{name}={value!r}", [name]))
        if what in ("diverge", "optional") and diverge is None:
            diverge = "may"
    return Case(X=X, y=y_fit, fit_kwargs=fit_kwargs, params=params, bad=bad,
                optional=optional, diverge=diverge, labels=all_labels)


def fitted_checks(est, case: Case) -> None:
    """What a successful fit must give on the training rows."""
    classes = est.classes_
    expected = sorted(set(case.labels.tolist()))
    assert sorted(classes.tolist()) == expected, (classes, expected)
    proba = est.predict_proba(case.X)
    assert proba.shape == (len(case.X), len(classes)), proba.shape
    assert np.all(np.isfinite(proba)), f"non-finite probabilities: {proba[:3]}"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5, atol=1e-5)
    pred = est.predict(case.X)
    assert pred.shape == (len(case.X),)
    assert np.isin(pred, classes).all()
    assert pred.dtype.kind == case.y.dtype.kind, (
        f"predict returns dtype {pred.dtype} for labels of dtype {case.y.dtype}")
    assert classes.dtype.kind == case.y.dtype.kind, (
        f"classes_ has dtype {classes.dtype} for labels of dtype {case.y.dtype}")
    assert len(est.sample_weights_) == len(case.X)
    assert np.all(np.isfinite(est.sample_weights_))
    assert len(est.corrected_labels_) == len(case.X)
    assert np.isin(est.corrected_labels_, classes).all()
    assert np.array_equal(est.given_labels_, case.y), "given_labels_ differs from y"


def fit_outcome(est, case: Case):
    """Fit; the exception raised, or None."""
    try:
        with _Quiet():
            est.fit(case.X, case.y, **case.fit_kwargs)
    except Exception as exc:  # noqa: BLE001 - classified by the caller
        return exc
    return None


# ------------------------------------------------------------------ property 1
def check_clear_error(exc, est, case: Case, note: str) -> None:
    """``exc`` must be a ValueError/TypeError naming one of the case's bad inputs, not a
    raw torch error, and ``est`` must still be unfitted."""
    names = case.accepted_names()
    assert isinstance(exc, (ValueError, TypeError)), (
        f"{type(exc).__name__}: {exc} (expected ValueError/TypeError naming {names}; {note})")
    msg = str(exc)
    # A torch message may be quoted as the cause, after the argument it is about
    # ("module: ... cannot be built ...: <torch's words>"), never on its own.
    head = msg.split(": ", 1)[0] if ": " in msg else ""
    assert raw_phrase(msg) is None or names_argument(head, names), (
        f"raw torch error: {msg} ({note})")
    assert names_argument(msg, names), f"message names none of {names}: {msg!r} ({note})"
    expect_unfitted(est)


def check_fit_case(case: Case) -> None:
    """Property 1 for one draw."""
    est = IEGClassifier(**case.params)
    exc = fit_outcome(est, case)
    note = case.describe()
    if case.bad:
        assert exc is not None, f"accepted bad input ({note})"
        check_clear_error(exc, est, case, note)
    elif case.optional and exc is not None and not isinstance(exc, FloatingPointError):
        check_clear_error(exc, est, case, note)  # refused by name: allowed
    elif case.diverge == "must":
        assert isinstance(exc, FloatingPointError), (
            f"expected a FloatingPointError, got {type(exc).__name__}: {exc} ({note})")
        expect_unfitted(est)
    elif case.diverge == "may" and isinstance(exc, FloatingPointError):
        expect_unfitted(est)
    else:
        assert exc is None, f"valid draw refused: {type(exc).__name__}: {exc} ({note})"
        fitted_checks(est, case)


@settings(PROFILE, max_examples=N_FIT)
@given(st.data())
def test_fit_or_clear_error(data):
    check_fit_case(draw_case(data.draw))


# ------------------------------------------------------------------ property 2
def _base_data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4).astype(np.float32)
    y = np.array(["ant", "bee", "cow"])[np.arange(30) % 3]
    mask = np.zeros(30, bool)
    mask[:6] = True
    return X, y, mask


@pytest.fixture(scope="module")
def fitted():
    X, y, mask = _base_data()
    est = IEGClassifier(max_epochs=1, module__hidden_units=(8,), verbose=0, batch_size=8,
                        random_state=0)
    with _Quiet():
        est.fit(X, y, trusted=mask)
    return est, est.predict_proba(X)


def _snapshot(est, X):
    return {"proba": est.predict_proba(X), "classes_": est.classes_.copy(),
            "n_features_in_": est.n_features_in_,
            "sample_weights_": est.sample_weights_.copy()}


def shrinking_view(x, *, strong, generator):
    """A broken user augmentation: drops a feature."""
    return x[:, :-1]


#: Bad parameters for a refit, as attribute -> value. ``module*`` and ``compile`` are
#: skorch "special" parameters whose ``set_params`` re-initialises the module at once:
#: they are set as attributes, so that only the refit is under test; the others go
#: through ``set_params``.
REFIT_PARAMS = [
    {"lr": -1.0}, {"lr": math.nan}, {"lr": "0.1"}, {"batch_size": 0}, {"n_views": 0},
    {"n_views": True}, {"temperature": 0.0}, {"ema_decay": 1.5}, {"mixup_size": 1},
    {"augmentation": "image"}, {"augmentation": "bogus"}, {"max_epochs": 0},
    {"probe_batch_size": 0}, {"meta_scope": "last"}, {"random_state": "seed"},
    {"compile": "yes"}, {"compile": 1}, {"module__hidden_units": (-1,)},
    {"module": Flat, "module__n_in": 4, "module__n_out": 2},  # 2 outputs for 3 classes
    {"module": Flat, "module__n_in": 5, "module__n_out": 3},  # wrong input size
    {"augmentation": shrinking_view},
    {"lr": math.inf},  # refused by name, or diverges
    {"lr": 1e12}, {"lr": 1e30}, {"module": NaNOut, "module__n_in": 4, "module__n_out": 3},
]
#: The entries of REFIT_PARAMS whose refit diverges (on the fixture's model and data):
#: a FloatingPointError.
DIVERGING = [{"lr": 1e12}, {"lr": 1e30},
             {"module": NaNOut, "module__n_in": 4, "module__n_out": 3}]
SPECIAL = ("module", "compile")


def _refit_params(method):
    """REFIT_PARAMS for ``method``: partial_fit keeps training ``module_`` (skorch builds
    the module in ``initialize``), so a changed ``module*`` attribute is no bad partial_fit."""
    return [p for p in REFIT_PARAMS
            if method == "fit" or not any(k.startswith("module") for k in p)]

REFIT_DATA = ["nan_X", "inf_X", "y_length", "nan_y", "int_mask", "all_trusted", "one_class",
              "3d_X", "empty_X", "string_X", "both", "y_only", "xt_features", "yt_length",
              "fit_param", "wrong_features", "unseen_y", "unseen_y_trusted", "nan_X_trusted"]
#: Only a refit by partial_fit refuses these (fit starts afresh).
PARTIAL_ONLY = {"wrong_features", "unseen_y", "unseen_y_trusted"}
#: Only a refit by fit refuses these (partial_fit keeps the fitted classes).
FIT_ONLY = {"one_class"}


def _refit_rows(rng, X, y, mask):
    """A random subset of the base rows (with trusted and noisy rows of 2 classes)."""
    k = rng.randint(8, len(X) + 1)
    rows = np.union1d(rng.choice(len(X), k, replace=False), [0, 7, 8])
    return X[rows], y[rows], mask[rows]


def _bad_refit_data(kind, rng, X, y, mask):
    X, y, kw = X.copy(), y.copy(), {"trusted": mask.copy()}
    n = len(X)
    i = rng.randint(n)
    if kind == "nan_X":
        X.flat[rng.randint(X.size)] = np.nan
    elif kind == "inf_X":
        X.flat[rng.randint(X.size)] = -np.inf if rng.rand() < 0.5 else np.inf
    elif kind == "y_length":
        y = y[:-1] if rng.rand() < 0.5 else np.append(y, y[:1])
    elif kind == "nan_y":
        y = (np.arange(n) % 3).astype(float)
        y[i] = np.nan
    elif kind == "int_mask":
        kw["trusted"] = mask.astype(int)
    elif kind == "all_trusted":
        kw["trusted"] = np.ones(n, bool)
    elif kind == "one_class":
        y = np.full(n, "ant")
    elif kind == "3d_X":
        X = X.reshape(n, 2, 2)
    elif kind == "empty_X":
        X, y, kw = X[:0], y[:0], {}
    elif kind == "string_X":
        X = np.full(X.shape, "a")
    elif kind == "both":
        kw.update(X_trusted=X[:3], y_trusted=y[:3])
    elif kind == "y_only":
        kw = {"y_trusted": y[:3]}
    elif kind == "xt_features":
        kw = {"X_trusted": X[:3, :3], "y_trusted": y[:3]}
    elif kind == "yt_length":
        kw = {"X_trusted": X[:3], "y_trusted": y[:4]}
    elif kind == "nan_X_trusted":
        Xt = X[:3].copy()
        Xt[rng.randint(3), rng.randint(4)] = np.nan
        kw = {"X_trusted": Xt, "y_trusted": y[:3]}
    elif kind == "fit_param":
        kw["sample_weight"] = np.ones(n)
    elif kind == "wrong_features":
        X = np.hstack([X, X[:, :1]]) if rng.rand() < 0.5 else X[:, :3].copy()
    elif kind == "unseen_y":
        y = y.astype("<U5")
        y[i] = "emu"
    elif kind == "unseen_y_trusted":
        kw = {"X_trusted": X[:3], "y_trusted": np.array(["ant", "bee", "emu"])}
    return X, y, kw


def check_refit(base, base_proba, method: str, params: dict | None, kind: str | None,
                seed: int) -> None:
    """Property 2 for one bad refit: ``params`` set on a copy of ``base`` (or
    ``kind`` of bad data), ``method`` called; it must raise and change nothing."""
    X, y, mask = _base_data()
    rng = np.random.RandomState(seed)
    est = copy.deepcopy(base)
    before = _snapshot(est, X)
    assert np.array_equal(before["proba"], base_proba), "deepcopy changed the predictions"
    restore = {}
    fX, fy, fmask = _refit_rows(rng, X, y, mask)
    if params is not None:
        if "module" in params:  # a user module takes none of the default's options
            restore["module__hidden_units"] = est.__dict__.pop("module__hidden_units")
        for name, value in params.items():
            restore[name] = est.__dict__.get(name, _MISSING)
            if name.startswith(SPECIAL):
                setattr(est, name, value)
            else:
                est.set_params(**{name: value})
        kw = {"trusted": fmask}
        what = f"{params}"
    else:
        fX, fy, kw = _bad_refit_data(kind, rng, fX, fy, fmask)
        what = kind
    raised = None
    try:
        with _Quiet():
            getattr(est, method)(fX, fy, **kw)
    except Exception as exc:  # noqa: BLE001 - any refusal; then the model must be intact
        raised = exc
    # restore the parameters, as attributes (set_params(module=...) would re-initialise)
    for name, value in restore.items():
        if value is _MISSING:
            est.__dict__.pop(name, None)
        else:
            setattr(est, name, value)
    assert raised is not None, f"{method} accepted a bad refit ({what})"
    if params is not None and params in DIVERGING:
        assert isinstance(raised, FloatingPointError), (
            f"diverging {method} ({what}) raised {type(raised).__name__}: {raised}")
    try:
        after = _snapshot(est, X)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(
            f"{method} with {what} raised {type(raised).__name__}: {raised}; then the model "
            f"no longer predicts: {type(exc).__name__}: {exc}") from exc
    assert np.array_equal(after["proba"], before["proba"]), (
        f"{method} with {what} raised {type(raised).__name__}: {raised} and changed "
        f"predict_proba (max diff {np.nanmax(np.abs(after['proba'] - before['proba']))})")
    assert np.array_equal(after["classes_"], before["classes_"]), (what, after["classes_"])
    assert after["classes_"].dtype == before["classes_"].dtype, what
    assert after["n_features_in_"] == before["n_features_in_"], (what, after["n_features_in_"])
    assert np.array_equal(after["sample_weights_"], before["sample_weights_"]), (
        f"{method} with {what} changed sample_weights_")


_MISSING = object()


@settings(PROFILE, max_examples=N_REFIT)
@given(st.data())
def test_failed_refit_keeps_model(fitted, data):
    base, base_proba = fitted
    method = data.draw(st.sampled_from(["fit", "partial_fit"]), label="method")
    params = kind = None
    if data.draw(st.booleans(), label="bad data"):
        skip = FIT_ONLY if method == "partial_fit" else PARTIAL_ONLY
        kind = data.draw(st.sampled_from([k for k in REFIT_DATA if k not in skip]),
                         label="data")
    else:
        params = data.draw(st.sampled_from(_refit_params(method)), label="parameters")
    check_refit(base, base_proba, method, params, kind,
                data.draw(st.integers(0, 2**16), label="seed"))


# ------------------------------------------------------------------ property 3
@settings(PROFILE, max_examples=N_DETERMINISM)
@given(st.data())
def test_determinism(data):
    case = draw_case(data.draw, valid_only=True)
    assert not case.bad and case.diverge is None, case.describe()
    case.params["random_state"] = data.draw(st.integers(0, 2**31 - 1), label="random_state")
    probas = []
    first = IEGClassifier(**case.params)
    for est in (first, IEGClassifier(**case.params), first):  # fresh, fresh, refit
        exc = fit_outcome(est, case)
        assert exc is None, f"valid draw refused: {type(exc).__name__}: {exc} ({case.describe()})"
        probas.append(est.predict_proba(case.X))
    assert np.array_equal(probas[0], probas[1]), (
        f"two fits differ (max {np.abs(probas[0] - probas[1]).max()}; {case.describe()})")
    assert np.array_equal(probas[0], probas[2]), (
        f"a refit differs (max {np.abs(probas[0] - probas[2]).max()}; {case.describe()})")
