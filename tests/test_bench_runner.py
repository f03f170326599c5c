"""The benchmark runner's helpers (sk_ieg/bench/runner.py); the runs themselves are in
test_cli.py."""

import numpy as np
import pytest

from sk_ieg.bench import MODELS, load_bench_data, module_for, run_method
from sk_ieg.models import SmallCNN


def test_bench_model_names():
    images = np.zeros((2, 1, 28, 28), np.float32)
    cls, kw = module_for(images, 10, "small_cnn_fc")
    assert cls is SmallCNN and kw["module__head_units"] == 128
    cls, kw = module_for(images, 10, "small_cnn")
    assert cls is SmallCNN and "module__head_units" not in kw
    assert set(MODELS) >= {"small_cnn", "small_cnn_fc"}
    with pytest.raises(ValueError, match="needs images"):
        module_for(np.zeros((2, 5), np.float32), 3, "small_cnn_fc")


def test_plain_mlp_has_no_batchnorm():
    cls, kw = module_for(np.zeros((2, 64), np.float32), 10, "plain_mlp")
    net = cls(**{k.removeprefix("module__"): v for k, v in kw.items()})
    kinds = [type(m).__name__ for m in net.net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert net.net[0].out_features == net.net[2].out_features == 256


def test_vanilla_es_validates_on_the_trusted_rows_and_restores_the_best_epoch():
    data = load_bench_data("digits", rate=0.8, seed=0)
    rec = run_method("vanilla_es", data, max_epochs=30, seed=0, progress=False)
    # It trains on the noisy rows only; the trusted rows are the validation set.
    assert rec["stopped_epoch"] <= rec["epochs"]
    assert 1 <= rec["best_epoch"] <= rec["stopped_epoch"]
    curve = dict(rec["test_accuracy_per_epoch"])
    # At 80% noise plain training memorises: the restored best epoch's weights score
    # their own epoch's test accuracy, not the last epoch's.
    assert rec["test_accuracy"] == pytest.approx(curve[rec["best_epoch"]], abs=1e-9)
