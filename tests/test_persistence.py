"""pickle / joblib round trips, and loading a GPU-fitted model on a CPU-only machine."""

import io
import os
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from skorch.exceptions import DeviceWarning

from sk_ieg import IEGClassifier, state


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16.0).astype("float32"), y[:300]
    mask = np.zeros(len(y), dtype=bool)
    mask[::10] = True
    return X, y, mask


@pytest.fixture(scope="module")
def fitted(data):
    X, y, mask = data
    return IEGClassifier(max_epochs=2, verbose=0, random_state=0, module__dropout=0.1).fit(
        X, y, trusted=mask)


def _joblib_round_trip(obj):
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    buf.seek(0)
    return joblib.load(buf)


@pytest.mark.parametrize("round_trip", [lambda o: pickle.loads(pickle.dumps(o)),
                                        _joblib_round_trip], ids=["pickle", "joblib"])
def test_round_trip_gives_identical_predictions_and_training(data, fitted, round_trip):
    X, y, mask = data
    loaded = round_trip(fitted)
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(loaded.predict(X), fitted.predict(X))
    for name in ("sample_weights_", "corrected_labels_", "relabel_scores_", "probe_indices_"):
        assert np.array_equal(getattr(loaded, name), getattr(fitted, name))
    # The run-time state (generators included) survives: training goes on identically.
    streams, twin = loaded.ieg_state_.rng, round_trip(fitted)
    assert isinstance(streams.views, torch.Generator)
    assert torch.equal(streams.views.get_state(), fitted.ieg_state_.rng.views.get_state())
    loaded.partial_fit(X, y, trusted=mask)
    twin.partial_fit(X, y, trusted=mask)
    assert np.array_equal(loaded.predict_proba(X), twin.predict_proba(X))


def test_fitted_on_cuda_loads_on_cpu(data, fitted, monkeypatch):
    """The mechanism, without a GPU: a pickle whose device and generators say
    "cuda" loads where CUDA is unavailable, on the CPU, with a DeviceWarning.
    (skorch maps the tensors with map_location="cpu"; generators are restored
    from their records.)"""
    X, y, mask = data
    expected = fitted.predict_proba(X)
    record = state.generator_record
    monkeypatch.setattr(state, "generator_record",
                        lambda g: {**record(g), "device": "cuda"})
    fitted.device = "cuda"
    try:
        blob = pickle.dumps(fitted)
    finally:
        fitted.device = "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls, real_load = [], torch.load

    def spy_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        loaded = pickle.loads(blob)
    # Every tensor went through torch.load onto the CPU, with weights_only=True.
    assert calls and all(c["map_location"] == torch.device("cpu") for c in calls)
    assert all(c.get("weights_only") is True for c in calls)
    assert torch.device(loaded.device).type == "cpu"
    assert loaded.ieg_state_.rng.views.device.type == "cpu"
    assert loaded.ieg_state_.rng.views.initial_seed() == \
        fitted.ieg_state_.rng.views.initial_seed()
    assert np.array_equal(loaded.predict_proba(X), expected)
    loaded.partial_fit(X[:50], y[:50])  # training goes on, on the CPU


_CUDA_SCRIPT = """
import pickle, sys
import numpy as np
blob, X, expected = pickle.load(open(sys.argv[1], "rb"))
import torch
assert not torch.cuda.is_available()
loaded = pickle.loads(blob)
assert torch.device(loaded.device).type == "cpu", loaded.device
assert np.allclose(loaded.predict_proba(X), expected, atol=1e-5)
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_real_cuda_model_loads_in_a_cpu_only_process(data, tmp_path):
    X, y, mask = data
    clf = IEGClassifier(max_epochs=2, verbose=0, random_state=0, device="cuda").fit(
        X, y, trusted=mask)
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump((pickle.dumps(clf), X, clf.predict_proba(X)), f)
    script = tmp_path / "load.py"
    script.write_text(_CUDA_SCRIPT)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, str(script), str(path)], check=True, env=env)
