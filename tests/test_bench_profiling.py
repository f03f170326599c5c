"""time_step_phases: every phase is timed, the estimator is left as it was."""

import numpy as np
import pytest
import torch

from sk_ieg import SPEED_SETTING, IEGClassifier
from sk_ieg.bench.profiling import time_step_phases


@pytest.fixture(scope="module")
def small_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    trusted = np.concatenate([np.flatnonzero(y == c)[:5] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), trusted)[:400]
    return X[rest], rng.integers(0, 10, len(rest)), X[trusted], y[trusted]


@pytest.mark.parametrize("params, has_reference", [({}, True), (SPEED_SETTING, False)])
def test_time_step_phases_times_every_phase(small_digits, params, has_reference):
    X, y, Xt, yt = small_digits
    net = IEGClassifier(batch_size=64, random_state=0, module__hidden_units=(16,), **params)
    out = time_step_phases(net, X, y, Xt, yt, repeats=2, warmup=1)
    phases = ["vanilla_step", "views", "meta_step", "ieg_step"]
    assert all(out[k] > 0 for k in phases)
    assert ("reference_step" in out) == has_reference
    assert out["ieg_over_vanilla"] == pytest.approx(out["ieg_step"] / out["vanilla_step"])
    assert out["batch_size"] == 64 and out["meta_scope"] == params.get("meta_scope", "all")
    # The timings ran on copies: the network equals a plain fit on the same two batches.
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    refit = IEGClassifier(batch_size=64, random_state=0, module__hidden_units=(16,),
                          max_epochs=1, verbose=0, **params)
    refit.fit(X[:128], y[:128], X_trusted=Xt, y_trusted=yt)
    for k, v in refit.module_.state_dict().items():
        torch.testing.assert_close(before[k], v)
