"""The benchmark runner's helpers (sk_ieg/bench/runner.py); the runs themselves are in
test_cli.py."""

import numpy as np
import pytest

from sk_ieg.bench import MODELS, module_for
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
