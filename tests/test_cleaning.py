"""Label-issues table and CleanLabelsClassifier (sk_ieg/cleaning.py)."""

import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import has_fit_parameter

from sk_ieg import CleanLabelsClassifier, IEGClassifier, find_label_issues, label_issues_table
from sk_ieg.cleaning import LABEL_ISSUES_COLUMNS, label_quality_scores
from sk_ieg.noise import make_noisy_labels, split_trusted

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def noisy():
    """600 digits rows, 5 trusted per class, 40% uniform noise on the others."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:600] / 16).astype("float32"), y[:600]
    mask = np.zeros(len(y), bool)
    mask[split_trusted(y, 5, random_state=0)] = True
    given = y.copy()
    given[~mask] = make_noisy_labels(y[~mask], "uniform", 0.4, n_classes=10, random_state=0)
    return dict(X=X, y=y, given=given, mask=mask)


@pytest.fixture(scope="module")
def fitted(noisy):
    d = noisy
    return IEGClassifier(max_epochs=2, verbose=0, random_state=0).fit(
        d["X"][~d["mask"]], d["given"][~d["mask"]], X_trusted=d["X"][d["mask"]],
        y_trusted=d["y"][d["mask"]])


# ----------------------------------------------------------------- pure functions
def test_label_quality_is_the_clipped_relabel_score():
    np.testing.assert_array_equal(label_quality_scores([0.2, 1.0000001, -1e-9, 0.5]),
                                  [0.2, 1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        label_quality_scores([0.1, np.nan])
    with pytest.raises(ValueError, match="1-D"):
        label_quality_scores([[0.1]])


def test_find_label_issues_compares_given_and_corrected():
    np.testing.assert_array_equal(find_label_issues(["a", "b", "c"], ["a", "c", "c"]),
                                  [False, True, False])
    with pytest.raises(ValueError, match="3 rows but corrected_labels has 2"):
        find_label_issues([1, 2, 3], [1, 2])


def test_label_issues_table_has_fixed_columns_and_types():
    table = label_issues_table(["a", "b"], ["a", "a"], [1.5, 0.0], [0.9, 0.1],
                               index=[10, 11])
    assert tuple(table.columns) == LABEL_ISSUES_COLUMNS
    assert list(table.index) == [10, 11]
    assert table["is_label_issue"].dtype == bool
    assert table["is_label_issue"].tolist() == [False, True]
    assert table["label_quality"].tolist() == [0.9, 0.1]
    assert table["sample_weight"].tolist() == [1.5, 0.0]
    with pytest.raises(ValueError, match="sample_weights has 1"):
        label_issues_table([1, 2], [1, 2], [1.0], [1.0, 1.0])


def test_missing_pandas_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"needs pandas.*sk-ieg\[clean\]"):
        label_issues_table([1], [1], [1.0], [1.0])


# ------------------------------------------------------------ IEGClassifier
def test_label_issues_property_matches_fitted_arrays(noisy, fitted):
    d = noisy
    table = fitted.label_issues_
    n_noisy = int((~d["mask"]).sum())
    assert table.shape == (n_noisy, 5)
    np.testing.assert_array_equal(table["given_label"], d["given"][~d["mask"]])
    np.testing.assert_array_equal(table["corrected_label"], fitted.corrected_labels_)
    np.testing.assert_allclose(table["sample_weight"], fitted.sample_weights_)
    np.testing.assert_allclose(table["label_quality"], fitted.label_quality_)
    issues = table["is_label_issue"].to_numpy()
    np.testing.assert_array_equal(issues, fitted.corrected_labels_ != d["given"][~d["mask"]])
    # An issue is always a row whose label the meta step mostly replaced.
    assert (table["label_quality"][issues] < 0.5).all()
    assert table["label_quality"].between(0, 1).all()


def test_label_issues_property_with_a_trusted_mask_covers_every_row(noisy):
    d = noisy
    clf = IEGClassifier(max_epochs=1, verbose=0, random_state=0)
    if not has_fit_parameter(clf, "trusted"):
        pytest.skip("this IEGClassifier has no trusted mask")
    clf.fit(d["X"], d["given"], trusted=d["mask"])
    table = clf.label_issues_
    assert len(table) == len(d["X"])
    np.testing.assert_array_equal(table["given_label"], d["given"])
    trusted_rows = table[d["mask"]]
    assert not trusted_rows["is_label_issue"].any()
    assert (trusted_rows["label_quality"] == 1).all()
    assert (trusted_rows["sample_weight"] == 1).all()


def test_label_issues_needs_a_fitted_estimator():
    clf = IEGClassifier()
    assert not hasattr(clf, "label_issues_")


def test_label_issues_keeps_string_labels(noisy):
    d = noisy
    names = np.array(list("abcdefghij"))
    clf = IEGClassifier(max_epochs=1, verbose=0, random_state=0).fit(
        d["X"][~d["mask"]], names[d["given"][~d["mask"]]], X_trusted=d["X"][d["mask"]],
        y_trusted=names[d["y"][d["mask"]]])
    table = clf.label_issues_
    assert set(table["given_label"]) <= set(names)
    assert set(table["corrected_label"]) <= set(names)


# --------------------------------------------------------- CleanLabelsClassifier
class FixedCleaner(BaseEstimator):
    """Relabels every noisy row to ``label``; weight 0.5; noisy rows only."""

    def __init__(self, label=0):
        self.label = label

    def fit(self, X, y, X_trusted=None, y_trusted=None):
        self.seen_ = (len(X), len(X_trusted))
        self.corrected_labels_ = np.full(len(y), self.label)
        self.sample_weights_ = np.full(len(y), 0.5)
        return self


class MaskCleaner(FixedCleaner):
    """Like FixedCleaner, but takes the mask and returns arrays for every row."""

    def fit(self, X, y, X_trusted=None, y_trusted=None, trusted=None):
        self.got_mask_ = trusted is not None
        self.corrected_labels_ = np.where(trusted, y, self.label)
        self.sample_weights_ = np.where(trusted, 7.0, 0.5)  # trusted rows must become 1
        return self


class WeightRecorder(ClassifierMixin, BaseEstimator):
    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.y_, self.sample_weight_ = np.asarray(y), sample_weight
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize("cleaner_cls", [FixedCleaner, MaskCleaner])
def test_meta_estimator_fits_on_corrected_labels_with_weights(cleaner_cls):
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 9])
    mask = np.zeros(10, bool)
    mask[[2, 5]] = True
    est, cleaner = WeightRecorder(), cleaner_cls(label=0)
    clf = CleanLabelsClassifier(est, cleaner=cleaner).fit(X, y, trusted=mask)
    expected = np.where(mask, y, 0)
    np.testing.assert_array_equal(clf.labels_, expected)
    np.testing.assert_array_equal(clf.estimator_.y_, expected)
    np.testing.assert_array_equal(clf.sample_weight_, np.where(mask, 1.0, 0.5))
    np.testing.assert_array_equal(clf.estimator_.sample_weight_, clf.sample_weight_)
    np.testing.assert_array_equal(clf.trusted_mask_, mask)
    np.testing.assert_array_equal(clf.classes_, np.unique(expected))
    # The user's objects are cloned, not fitted.
    assert not hasattr(est, "y_") and not hasattr(cleaner, "corrected_labels_")
    if cleaner_cls is MaskCleaner:
        assert clf.cleaner_.got_mask_
    else:
        assert clf.cleaner_.seen_ == (8, 2)


def test_meta_estimator_with_separate_trusted_rows_and_no_sample_weight():
    X, y = np.zeros((6, 2)), np.array([1, 1, 2, 2, 3, 3])
    X_t, y_t = np.ones((2, 2)), np.array([4, 5])
    clf = CleanLabelsClassifier(KNeighborsClassifier(n_neighbors=1), cleaner=FixedCleaner(9))
    clf.fit(X, y, X_trusted=X_t, y_trusted=y_t)
    np.testing.assert_array_equal(clf.labels_, [9] * 6 + [4, 5])
    np.testing.assert_array_equal(clf.trusted_mask_, [False] * 6 + [True] * 2)
    assert clf.sample_weight_ is None  # KNN's fit takes no sample_weight
    np.testing.assert_array_equal(clf.predict(np.ones((1, 2))), [4])
    assert hasattr(clf, "predict_proba")
    assert not hasattr(CleanLabelsClassifier(LinearSVC()), "predict_proba")


def test_meta_estimator_multiplies_user_weights():
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    clf = CleanLabelsClassifier(WeightRecorder(), cleaner=FixedCleaner(1)).fit(
        X, y, trusted=np.array([True, False, False, False]), sample_weight=[1.0, 2.0, 2.0, 2.0])
    np.testing.assert_array_equal(clf.sample_weight_, [1.0, 1.0, 1.0, 1.0])


def test_meta_estimator_rejects_bad_trusted_arguments():
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    clf = CleanLabelsClassifier(WeightRecorder(), cleaner=FixedCleaner())
    with pytest.raises(ValueError, match="not both"):
        clf.fit(X, y, trusted=np.ones(4, bool), X_trusted=X)
    with pytest.raises(ValueError, match="together"):
        clf.fit(X, y, X_trusted=X)
    with pytest.raises(ValueError, match="one entry per row"):
        clf.fit(X, y, trusted=np.ones(3, bool))
    with pytest.raises(ValueError, match="boolean mask"):
        clf.fit(X, y, trusted=np.array([0, 2, 0, 1]))


def test_meta_estimator_default_cleaner_is_ieg():
    clf = CleanLabelsClassifier(KNeighborsClassifier())
    assert clf.get_params()["cleaner"] is None
    assert isinstance(clf._make_cleaner(), IEGClassifier)
    assert clone(clf).get_params()["estimator"].get_params() == \
        KNeighborsClassifier().get_params()


def test_meta_estimator_with_ieg_in_a_pipeline(noisy):
    d = noisy
    cleaner = IEGClassifier(max_epochs=2, verbose=0, random_state=0)
    pipe = make_pipeline(StandardScaler(), CleanLabelsClassifier(
        HistGradientBoostingClassifier(max_iter=10, random_state=0), cleaner=cleaner))
    pipe.fit(d["X"], d["given"], cleanlabelsclassifier__trusted=d["mask"])
    meta = pipe[-1]
    assert pipe.predict(d["X"][:5]).shape == (5,)
    assert pipe.predict_proba(d["X"][:5]).shape == (5, 10)
    np.testing.assert_array_equal(meta.classes_, np.arange(10))
    assert len(meta.labels_) == len(d["X"])
    np.testing.assert_array_equal(meta.labels_[d["mask"]], d["y"][d["mask"]])
    assert len(meta.label_issues_) in (len(d["X"]), int((~d["mask"]).sum()))
    assert not hasattr(cleaner, "module_")


def test_cross_validation_splits_the_trusted_mask():
    X = np.repeat(np.arange(3.0), 10)[:, None]
    y = np.repeat([0, 1, 2], 10)
    mask = np.tile([True, False, False, False, False], 6)
    res = cross_validate(CleanLabelsClassifier(KNeighborsClassifier(1), cleaner=MaskCleaner()),
                         X, y, params={"trusted": mask}, cv=3)
    assert len(res["test_score"]) == 3
