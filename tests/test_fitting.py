"""The fit prelude: validation and the noisy / probe split, before the estimator changes."""

import numpy as np
import pytest

from sk_ieg import IEGClassifier
from sk_ieg.fitting import prepare_fit


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    X = rng.random((30, 4), dtype=np.float32)
    y = np.array(["a", "b", "c"])[np.arange(30) % 3]
    mask = np.arange(30) % 5 == 0
    return X, y, mask


def test_prepare_fit_splits_by_the_mask_and_sets_nothing(rows):
    X, y, mask = rows
    est = IEGClassifier(random_state=0)
    before = dict(vars(est))
    data = prepare_fit(est, X, y, trusted=mask, partial=False)
    assert vars(est) == before  # not even n_features_in_
    assert data.features.n_features_in_ == 4
    np.testing.assert_array_equal(data.X, X[~mask])
    np.testing.assert_array_equal(data.X_probe, X[mask])
    np.testing.assert_array_equal(data.classes[data.y], y[~mask])
    np.testing.assert_array_equal(data.classes[data.y_probe], y[mask])
    np.testing.assert_array_equal(data.probe_indices, np.flatnonzero(mask))
    # given labels spread back over X: the noisy rows' and the trusted rows' own
    np.testing.assert_array_equal(data.classes[data.rows.align(data.y, data.rows.trusted_labels)],
                                  y)
    assert not data.needs_probe


def test_prepare_fit_without_trusted_rows_asks_for_a_probe_set(rows):
    X, y, _ = rows
    data = prepare_fit(IEGClassifier(), X, y, partial=False)
    assert data.needs_probe and data.X_probe is None and len(data.X) == 30


def test_seeds_follow_random_state(rows):
    X, y, mask = rows
    a = prepare_fit(IEGClassifier(random_state=3), X, y, trusted=mask, partial=False)
    b = prepare_fit(IEGClassifier(random_state=3), X, y, trusted=mask, partial=False)
    c = prepare_fit(IEGClassifier(random_state=4), X, y, trusted=mask, partial=False)
    np.testing.assert_array_equal(a.seeds, b.seeds)
    assert not np.array_equal(a.seeds, c.seeds)


@pytest.mark.parametrize("kwargs, message", [
    (dict(trusted=np.ones(30, bool)), "every row"),
    (dict(X_trusted=np.zeros((3, 4), np.float32)), "without y_trusted"),
    (dict(X_trusted=np.zeros((3, 5), np.float32), y_trusted=["a"] * 3), "X_trusted"),
])
def test_prepare_fit_errors_name_the_argument(rows, kwargs, message):
    X, y, _ = rows
    with pytest.raises(ValueError, match=message):
        prepare_fit(IEGClassifier(), X, y, partial=False, **kwargs)


def test_fewer_than_two_noisy_rows_are_refused(rows):
    X, y, _ = rows
    mask = np.ones(30, bool)
    mask[0] = False
    with pytest.raises(ValueError, match="1 noisy row"):
        prepare_fit(IEGClassifier(), X, y, trusted=mask, partial=False)
