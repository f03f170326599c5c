"""scikit-learn conventions: estimator checks, trusted mask, fallback probe set, labels."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_ieg import IEGClassifier
from sk_ieg.noise import make_noisy_labels, split_trusted

#: Checks that fail for every skorch estimator, for reasons a subclass cannot fix.
EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__, which a subclass must call, sets history_, "
        "initialized_ and virtual_params_ and stores **kwargs such as "
        "optimizer__momentum as attributes"),
}


# Small, fast and still accurate enough for check_classifiers_train (> 0.83 on blobs).
@parametrize_with_checks(
    [IEGClassifier(max_epochs=15, batch_size=64, verbose=0, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
@pytest.mark.filterwarnings("ignore:no trusted rows were given:UserWarning")
# check_set_params: skorch's set_params rejects callbacks=inf (it builds the callbacks).
@pytest.mark.filterwarnings("ignore:TypeError occurred during set_params:UserWarning")
@pytest.mark.filterwarnings("ignore:Estimator's parameters changed after set_params")
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] / 16.0).astype("float32"), y[:500]
    mask = np.zeros(len(y), dtype=bool)
    mask[split_trusted(y, 5, random_state=0)] = True
    y_given = y.copy()
    y_given[~mask] = make_noisy_labels(y[~mask], "uniform", 0.4, n_classes=10, random_state=0)
    return X, y, y_given, mask


def _clf(**kw):
    kw.setdefault("max_epochs", 2)
    kw.setdefault("verbose", 0)
    kw.setdefault("random_state", 0)
    return IEGClassifier(**kw)


def test_tags_params_and_clone():
    clf = _clf(lr=0.05, auto_probe_per_class=3)
    tags = get_tags(clf)
    assert tags.estimator_type == "classifier"
    assert tags.target_tags.required and not tags.input_tags.allow_nan
    assert not tags.non_deterministic
    params = clf.get_params()
    assert params["lr"] == 0.05 and params["auto_probe_per_class"] == 3
    assert not any(k.startswith("_") for k in params)
    twin = clone(clf)
    assert twin is not clf and twin.get_params()["auto_probe_per_class"] == 3
    assert twin.set_params(meta_lr=0.5).meta_lr == 0.5 and clf.meta_lr == 0.1


def test_mask_equals_separate_arrays_and_aligns_outputs_with_X(digits):
    X, y, y_given, mask = digits
    a = _clf().fit(X, y_given, trusted=mask)
    b = _clf().fit(X[~mask], y_given[~mask], X_trusted=X[mask], y_trusted=y_given[mask])
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    # Outputs follow X as passed; trusted rows: weight 1, score 1, their own label.
    for name in ("sample_weights_", "relabel_scores_", "corrected_labels_"):
        assert getattr(a, name).shape == (len(X),)
        assert np.array_equal(getattr(a, name)[~mask], getattr(b, name))
    assert np.all(a.sample_weights_[mask] == 1) and np.all(a.relabel_scores_[mask] == 1)
    assert np.array_equal(a.corrected_labels_[mask], y_given[mask])
    assert a.sample_weights_.mean() == pytest.approx(1.0)
    assert np.array_equal(a.probe_indices_, np.flatnonzero(mask))
    assert not hasattr(b, "probe_indices_")


def test_string_labels_with_the_mask(digits):
    X, y, y_given, mask = digits
    names = np.array([f"digit_{k}" for k in range(10)], dtype=object)
    clf = _clf().fit(X, names[y_given], trusted=mask)
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(X[:30])) <= set(names)
    assert clf.corrected_labels_.dtype == object
    assert set(clf.corrected_labels_) <= set(names)
    assert np.array_equal(clf.corrected_labels_[mask], names[y_given[mask]])


def test_integer_labels_keep_their_values(digits):
    X, y, y_given, mask = digits
    clf = _clf().fit(X, y_given * 10 + 3, trusted=mask)
    assert list(clf.classes_) == list(range(3, 100, 10))
    assert set(clf.predict(X[:30])) <= set(clf.classes_)
    assert set(clf.corrected_labels_) <= set(clf.classes_)


def test_dataframe_gives_feature_names_and_checks_them(digits):
    pd = pytest.importorskip("pandas")
    X, y, y_given, mask = digits
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    clf = _clf().fit(df, pd.Series(y_given), trusted=pd.Series(mask))
    assert clf.n_features_in_ == 64
    assert list(clf.feature_names_in_) == list(df.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        assert np.array_equal(clf.predict_proba(df.iloc[:5]), clf.predict_proba(X[:5]))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.iloc[:5].rename(columns={"px0": "other"}))


@pytest.mark.parametrize("case, message", [
    ("mask_and_arrays", "not both"),
    ("short", "shape"),
    ("ints", "boolean mask"),
    ("all", "every row"),
])
def test_bad_masks_raise(digits, case, message):
    X, y, y_given, mask = digits
    kw = {
        "mask_and_arrays": dict(trusted=mask, X_trusted=X[:10], y_trusted=y[:10]),
        "short": dict(trusted=mask[:7]),
        "ints": dict(trusted=mask.astype(int)),
        "all": dict(trusted=np.ones(len(X), bool)),
    }[case]
    with pytest.raises(ValueError, match=message):
        _clf(max_epochs=1).fit(X, y_given, **kw)


def test_same_length_X_trusted_warns(digits):
    X, y, y_given, mask = digits
    with pytest.warns(UserWarning, match="as many rows as X"):
        _clf(max_epochs=1).fit(X, y_given, X_trusted=X, y_trusted=y)


def test_no_trusted_rows_selects_a_probe_set_and_warns_once(digits):
    X, y, y_given, mask = digits
    torch_before, np_before = torch.get_rng_state(), np.random.get_state()[1].copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = _clf(auto_probe_per_class=5, auto_probe_epochs=3).fit(X, y_given)
    mine = [w for w in caught if "no trusted rows" in str(w.message)]
    assert len(mine) == 1 and issubclass(mine[0].category, UserWarning)
    assert torch.equal(torch_before, torch.get_rng_state())
    assert np.array_equal(np_before, np.random.get_state()[1])
    rows = a.probe_indices_
    assert len(rows) == 50 and np.all(np.bincount(y_given[rows], minlength=10) == 5)
    # The warm-up picks rows whose given label is mostly right (60% are overall).
    assert np.mean(y_given[rows] == y[rows]) >= 0.9
    assert a.sample_weights_.shape == (len(X),)
    with pytest.warns(UserWarning, match="no trusted rows"):
        b = _clf(auto_probe_per_class=5, auto_probe_epochs=3).fit(X, y_given)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    # A mask without a True entry means the same.
    with pytest.warns(UserWarning, match="no trusted rows"):
        c = _clf(auto_probe_per_class=5, auto_probe_epochs=3).fit(
            X, y_given, trusted=np.zeros(len(X), bool))
    assert np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_partial_fit_continues_and_checks_labels(digits):
    X, y, y_given, mask = digits
    clf = _clf(max_epochs=1).partial_fit(X, y_given, trusted=mask)  # first call: a fit
    epochs, before = len(clf.history), clf.predict_proba(X)
    clf.partial_fit(X[:200], y_given[:200])  # previous probe set, new noisy rows
    assert len(clf.history) == epochs + 1
    assert clf.sample_weights_.shape == (200,) and not hasattr(clf, "probe_indices_")
    assert not np.allclose(before, clf.predict_proba(X))
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:20], np.full(20, 11))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:20, :10], y_given[:20])
    with pytest.warns(UserWarning, match=r"no rows of classes \[10, 11\]"):
        first = _clf(max_epochs=1).partial_fit(X[:100], y_given[:100], classes=np.arange(12),
                                               trusted=mask[:100])
    assert list(first.classes_) == list(range(12))
