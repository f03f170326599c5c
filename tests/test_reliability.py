"""What a careful user hits: each numbered case of the reliability issue, as a test.

A fit or partial_fit that raises leaves a fitted estimator exactly as it was; a
diverging fit stops loudly; the last batch may hold one row; bad input gets an
error naming the argument; labels keep their dtype.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from skorch.callbacks import LRScheduler
from torch import nn

from sk_ieg import IEGClassifier


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16.0).astype("float32"), y[:300]
    mask = np.zeros(len(y), bool)
    mask[np.random.default_rng(0).permutation(len(y))[:50]] = True
    return X, y, mask


def _clf(**kw):
    kw = {"max_epochs": 1, "verbose": 0, "random_state": 0, **kw}
    if kw.get("module") is None:
        kw.setdefault("module__hidden_units", (16,))
    return IEGClassifier(**kw)


def _quiet_fit(clf, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return clf.fit(*args, **kwargs)


@pytest.fixture
def fitted(digits):
    X, y, mask = digits
    return _quiet_fit(_clf(), X, y, trusted=mask)


def _assert_unchanged(clf, X, proba, classes):
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    np.testing.assert_array_equal(clf.classes_, classes)


class NaNLogits(nn.Module):
    def __init__(self, n_features=64, n_classes=10):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(x) * float("nan")


# 1. divergence stops loudly and leaves no NaN model -----------------------------
@pytest.mark.parametrize("kw", [dict(lr=1e6, max_epochs=2), dict(module=NaNLogits)])
def test_divergence_raises_and_leaves_the_estimator_unfitted(digits, kw):
    X, y, mask = digits
    clf = _clf(**kw)
    with pytest.raises(FloatingPointError, match=r"diverged.*epoch \d+, step \d+.*lr="):
        _quiet_fit(clf, X, y, trusted=mask)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_divergence_of_a_refit_keeps_the_fitted_model(digits, fitted):
    X, y, mask = digits
    proba, classes = fitted.predict_proba(X), fitted.classes_
    fitted.set_params(lr=1e6, max_epochs=2)
    for call in (fitted.fit, fitted.partial_fit):
        with pytest.raises(FloatingPointError):
            _quiet_fit_call(call, X, y, trusted=mask)
        _assert_unchanged(fitted, X, proba, classes)


def _quiet_fit_call(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call(*args, **kwargs)


def test_nan_lr_is_refused_naming_it(digits):
    X, y, mask = digits
    with pytest.raises(ValueError, match="'lr' parameter"):
        _clf(lr=float("nan")).fit(X, y, trusted=mask)


# 2. a user's LR scheduler drives the rate, even with lr_schedule="constant" ------
def test_users_batch_scheduler_is_followed_and_reported(digits):
    X, y, mask = digits
    sched = LRScheduler(policy="StepLR", step_size=1, gamma=0.5, step_every="batch")
    clf = _quiet_fit(_clf(lr_schedule="constant", batch_size=64, callbacks=[("lr", sched)]),
                     X, y, trusted=mask)
    rates = [b["lr"] for b in clf.history[-1, "batches"] if "lr" in b]
    np.testing.assert_allclose(rates, [0.1 * 0.5 ** i for i in range(len(rates))])
    assert clf.history[-1, "lr"] == rates[-1]


# 3. the last batch may hold a single row ---------------------------------------
@pytest.mark.parametrize("n, batch_size", [(65, 64), (129, 128), (129, 64), (257, 128),
                                           (257, 64)])
def test_a_last_batch_of_one_row_trains(n, batch_size):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0).astype("float32"), y
    noisy, trusted = X[:n], X[n:n + 40]
    clf = _quiet_fit(_clf(batch_size=batch_size, max_epochs=2), noisy, y[:n], X_trusted=trusted,
                     y_trusted=y[n:n + 40])
    assert np.all(clf.ieg_state_.stats.visits.numpy() == 2)  # every row, once an epoch
    assert len(clf.history[-1, "batches"]) == n // batch_size


# 4. and 5. a refit that fails validation changes nothing -----------------------
def test_refit_with_bad_data_keeps_the_fitted_model(digits, fitted):
    X, y, mask = digits
    proba, classes = fitted.predict_proba(X), fitted.classes_
    with pytest.raises(ValueError, match="labels but there are"):
        fitted.fit(X[:, :32], y[:-1])
    _assert_unchanged(fitted, X, proba, classes)
    assert fitted.n_features_in_ == 64


# (compile is left out: skorch's set_params itself re-initializes the module for it)
@pytest.mark.parametrize("bad", [dict(lr=-1), dict(lr="0.1"), dict(n_views=0),
                                 dict(augmentation="images")])
def test_refit_with_a_bad_parameter_keeps_the_fitted_model(digits, bad):
    X, y, mask = digits
    clf = _quiet_fit(_clf(ema_decay=None), X, y, trusted=mask)
    proba, classes = clf.predict_proba(X), clf.classes_
    name = next(iter(bad))
    clf.set_params(**bad)
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        clf.fit(X[:100], (y[:100] % 3), trusted=mask[:100])  # another class set too
    _assert_unchanged(clf, X, proba, classes)
    assert clf.predict(X).shape == y.shape


# 6. partial_fit follows set_params(lr=...) -------------------------------------
def test_partial_fit_uses_the_new_learning_rate(digits, fitted):
    X, y, mask = digits
    fitted.set_params(lr=0.01, lr_schedule="constant")
    _quiet_fit_call(fitted.partial_fit, X, y, trusted=mask)
    rates = {b["lr"] for b in fitted.history[-1, "batches"] if "lr" in b}
    assert rates == {0.01}


# 7. 3-D X with a user module: augmentation says what to do ----------------------
class Flatten3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_3d_rows_need_an_augmentation_that_fits_them(digits):
    X, y, mask = digits
    X3 = X.reshape(len(X), 8, 8)
    with pytest.raises(ValueError, match=r"augmentation='auto'.*augmentation='none'"):
        _clf(module=Flatten3d).fit(X3, y, trusted=mask)
    clf = _quiet_fit(_clf(module=Flatten3d, augmentation="none"), X3, y, trusted=mask)
    assert clf.predict(X3).shape == y.shape


# 8. clear messages ---------------------------------------------------------------
def test_flat_rows_for_an_image_model_name_the_row_shape():
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 8, 8), dtype=np.float32)
    clf = IEGClassifier(max_epochs=1, verbose=0, random_state=0, policy=None,
                        module__widths=(4, 4, 4))
    _quiet_fit(clf, images, np.arange(40) % 2, trusted=np.arange(40) % 4 == 0)
    with pytest.raises(ValueError, match=r"rows of shape \(64,\).*fitted with rows of shape "
                                         r"\(1, 8, 8\)"):
        clf.predict(images.reshape(40, 64))


def test_feature_name_warning_names_X_trusted(digits):
    pd = pytest.importorskip("pandas")
    X, y, mask = digits
    frame = pd.DataFrame(X[~mask], columns=[f"f{i}" for i in range(64)])
    with pytest.warns(UserWarning, match="^X_trusted does not have valid feature names"):
        _quiet_fit_call(_clf().fit, frame, y[~mask], X_trusted=X[mask], y_trusted=y[mask])


class SevenOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 7)

    def forward(self, x):
        return self.linear(x)


def test_a_module_with_the_wrong_output_size_is_named(digits):
    X, y, mask = digits
    with pytest.raises(ValueError, match=r"module: SevenOutputs returned \(2, 7\).*\(2, 10\)"):
        _clf(module=SevenOutputs).fit(X, y, trusted=mask)


def test_a_view_callable_of_the_wrong_shape_is_named(digits):
    X, y, mask = digits
    with pytest.raises(ValueError, match="augmentation: the callable returned"):
        _clf(augmentation=lambda x, strong, generator: x[:, :10]).fit(X, y, trusted=mask)


# 9. labels keep the user's dtype -------------------------------------------------
def test_string_labels_come_back_as_strings(digits):
    X, y, mask = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    labels = names[y]
    assert labels.dtype == np.dtype("<U5")
    clf = _quiet_fit(_clf(), X, labels, trusted=mask)
    for out in (clf.predict(X), clf.corrected_labels_, clf.given_labels_, clf.classes_):
        assert out.dtype == labels.dtype, out.dtype
    assert set(clf.predict(X)) <= set(names)
