"""Early-learning regularisation in the estimator: the per-row targets live in the fit's
state, move on at every visit of a row, survive ``partial_fit`` on the same rows and
are absent when the term is off. (The loss itself: tests/test_losses.py, hand values;
the step on both routes: tests/test_step.py.)"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sk_ieg import IEGClassifier
from sk_ieg._validation import validate_params
from sk_ieg.losses import early_learning_targets

N, BATCH = 150, 50


@pytest.fixture
def data(digits_small):
    X, y = digits_small
    mask = np.zeros(N, bool)
    mask[np.random.default_rng(0).permutation(N)[:30]] = True
    return X[:N], y[:N], mask


def _fit(data, epochs=2, **kw):
    X, y, mask = data
    clf = IEGClassifier(max_epochs=epochs, batch_size=BATCH, verbose=0, random_state=0,
                        module__hidden_units=(16,), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, trusted=mask)


def test_default_is_on_and_the_targets_are_a_running_average_of_predictions(data):
    assert IEGClassifier().early_learning_weight == 1.0
    assert IEGClassifier().step_config().early_learning_decay == 0.7
    clf = _fit(data, epochs=3)
    targets = clf.ieg_state_.early_targets
    n_noisy = int((~data[2]).sum())
    assert targets.shape == (n_noisy, 10)
    # every row was visited once an epoch: its target's mass is 1 - 0.7 ** 3, spread
    # over the classes as the (clamped, normalised) predictions were
    torch.testing.assert_close(targets.sum(1), torch.full((n_noisy,), 1 - 0.7 ** 3),
                               rtol=1e-5, atol=1e-6)
    assert (targets > 0).all()


def test_a_step_moves_the_visited_rows_targets_on_from_their_logits(data):
    clf = _fit(data, epochs=1)
    state = clf.ieg_state_
    before = state.early_targets.clone()
    X, y, mask = data
    x = torch.as_tensor(X[~mask][:BATCH])
    rows = torch.arange(BATCH)
    labels = torch.as_tensor(np.searchsorted(clf.classes_, y[~mask][:BATCH]))
    batch = (x, torch.stack([labels, rows], dim=1))
    out = clf.train_step_single(batch)
    expected = early_learning_targets(before[rows], out["y_pred"], 0.7)
    torch.testing.assert_close(state.early_targets[rows], expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(state.early_targets[BATCH:], before[BATCH:], rtol=0, atol=0)


def test_off_keeps_no_targets_and_changes_the_fit(data):
    off = _fit(data, early_learning_weight=0.0)
    on = _fit(data)
    assert off.ieg_state_.early_targets is None
    assert not np.allclose(off.predict_proba(data[0]), on.predict_proba(data[0]))


def test_partial_fit_on_the_same_rows_continues_the_targets(data):
    X, y, mask = data
    clf = _fit(data, epochs=1)
    first = clf.ieg_state_.early_targets.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X, y, trusted=mask)
    after = clf.ieg_state_.early_targets
    # a second visit of every row: mass 1 - 0.7 ** 2, not a fresh start's 0.3
    torch.testing.assert_close(after.sum(1), torch.full((len(first),), 1 - 0.7 ** 2),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, value, words", [
    ("early_learning_weight", -1.0, "range [0.0, inf)"),
    ("early_learning_decay", 1.0, "range [0.0, 1.0)"),
])
def test_bad_values_raise_errors_naming_them(name, value, words):
    with pytest.raises(ValueError) as info:
        validate_params(IEGClassifier(**{name: value}))
    assert f"'{name}' parameter of IEGClassifier" in str(info.value) and words in str(info.value)


def test_partial_fit_on_other_rows_starts_from_zeros(data):
    X, y, mask = data
    clf = _fit(data, epochs=1)
    other = y.copy()  # other given labels for the same noisy rows, the same trusted rows
    other[~mask] = np.roll(y[~mask], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X, other, trusted=mask)
    torch.testing.assert_close(clf.ieg_state_.early_targets.sum(1),
                               torch.full((int((~mask).sum()),), 0.3), rtol=1e-5, atol=1e-6)
