"""Results are unchanged by refactoring: a 30-epoch digits fit (40% uniform noise,
10 trusted rows per class, ``random_state=0``) reproduces the values saved from main
before the redesign (``tests/data/make_golden.py``)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def golden_module():
    spec = importlib.util.spec_from_file_location("make_golden", DATA / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_fit_reproduces_saved_results(golden_module):
    saved = np.load(DATA / "golden_digits.npz")
    now = golden_module.golden_fit()
    np.testing.assert_array_equal(now["predict"], saved["predict"])
    np.testing.assert_allclose(now["predict_proba"], saved["predict_proba"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(now["sample_weights"], saved["sample_weights"])
    np.testing.assert_array_equal(now["corrected_labels"], saved["corrected_labels"])
    np.testing.assert_array_equal(now["relabel_scores"], saved["relabel_scores"])
