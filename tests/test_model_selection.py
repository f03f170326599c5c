"""Trusted-aware splitter and scorer; the mask through Pipeline, GridSearchCV, cross_validate."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_ieg import IEGClassifier, TrustedStratifiedKFold, make_trusted_scorer
from sk_ieg import trusted_accuracy_scorer as scorer
from sk_ieg.model_selection import select_probe_rows
from sk_ieg.noise import make_noisy_labels, split_trusted


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] * 16 + 5, y[:400]  # far from unit scale: the scaler matters
    mask = np.zeros(len(y), dtype=bool)
    mask[split_trusted(y, 6, random_state=0)] = True
    y_given = y.copy()
    y_given[~mask] = make_noisy_labels(y[~mask], "uniform", 0.4, n_classes=10, random_state=0)
    return X, y, y_given, mask


def _pipe(routed=False, **kw):
    kw = {"max_epochs": 1, "verbose": 0, "random_state": 0, **kw}
    ieg = IEGClassifier(**kw)
    if routed:
        ieg.set_fit_request(trusted=True)
    return Pipeline([("scale", StandardScaler()), ("ieg", ieg)])


# ---------------------------------------------------------------- splitter
def test_every_training_fold_keeps_trusted_rows_of_every_class():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, size=200)
    trusted = np.zeros(200, bool)
    trusted[rng.choice(200, 30, replace=False)] = True
    y[np.flatnonzero(trusted)[:2]] = 5  # class 5: two trusted rows only
    y[np.flatnonzero(trusted)[2]] = 6  # class 6: a single trusted row
    cv = TrustedStratifiedKFold(5, shuffle=True, random_state=0)
    tests = []
    for train, test in cv.split(np.zeros((200, 1)), y, trusted=trusted):
        assert set(y[train][trusted[train]]) == set(y[trusted])
        assert trusted[test].sum() >= 4  # 29 held-out-able trusted rows over 5 folds
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 200
        tests.append(test)
    held = np.concatenate(tests)
    single = np.flatnonzero(trusted & (y == 6))
    assert len(held) == 199 and single[0] not in held  # the lone trusted row is never held out
    sizes = [len(t) for t in tests]
    assert max(sizes) - min(sizes) <= 1
    again = list(cv.split(np.zeros((200, 1)), y, trusted=trusted))
    assert all(np.array_equal(a, b) for a, b in zip(tests, [t for _, t in again]))
    assert cv.get_n_splits() == 5
    assert TrustedStratifiedKFold()._get_metadata_request().split.requests["trusted"] is True


@pytest.mark.parametrize("cv, kwargs, message", [
    (TrustedStratifiedKFold(), {}, "metadata routing"),
    (TrustedStratifiedKFold(), {"trusted": np.ones(5, bool)}, "shape"),
    (TrustedStratifiedKFold(1), {"trusted": np.ones(20, bool)}, "n_splits"),
    (TrustedStratifiedKFold(random_state=0), {"trusted": np.ones(20, bool)}, "shuffle"),
    (TrustedStratifiedKFold(), {"trusted": np.arange(20)}, "boolean"),
])
def test_splitter_errors(cv, kwargs, message):
    with pytest.raises(ValueError, match=message):
        next(cv.split(np.zeros((20, 2)), np.arange(20) % 2, **kwargs))


def test_splitter_warns_when_test_folds_cannot_hold_a_trusted_row():
    trusted = np.zeros(20, bool)
    trusted[:2] = True
    with pytest.warns(UserWarning, match="only 2 trusted rows for 3 folds"):
        list(TrustedStratifiedKFold(3).split(np.zeros((20, 2)), np.arange(20) % 2,
                                             trusted=trusted))


# ------------------------------------------------------------------ scorer
class _Constant(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X):
        return np.tile([0.75, 0.25], (len(X), 1))


def test_scorer_scores_trusted_rows_only():
    X, y = np.zeros((6, 1)), np.array([0, 0, 1, 1, 1, 1])
    trusted = np.array([1, 1, 1, 0, 0, 0], bool)
    est = _Constant().fit(X, y)
    assert scorer(est, X, y, trusted=trusted) == pytest.approx(2 / 3)
    loss = make_trusted_scorer(log_loss, response_method="predict_proba",
                               greater_is_better=False, labels=[0, 1])
    assert loss(est, X, y, trusted=trusted) == pytest.approx(
        -log_loss(y[:3], est.predict_proba(X[:3]), labels=[0, 1]))
    assert repr(loss) == ("make_trusted_scorer(log_loss, response_method='predict_proba', "
                          "greater_is_better=False, labels=[0, 1])")
    assert scorer.get_metadata_routing().score.requests["trusted"] is True
    with pytest.raises(ValueError, match="metadata routing"):
        scorer(est, X, y)
    with pytest.warns(UserWarning, match="no trusted row"):
        assert np.isnan(scorer(est, X, y, trusted=np.zeros(6, bool)))


def test_select_probe_rows():
    y = np.array([0, 0, 0, 1, 1, 2])
    proba = np.array([[.9, .1, 0], [.2, .8, 0], [.6, .4, 0], [.3, .7, 0], [.5, .5, 0],
                      [.5, .5, 0]])
    assert select_probe_rows(y, proba, 2).tolist() == [0, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="n_per_class"):
        select_probe_rows(y, proba, 0)
    with pytest.raises(ValueError, match="class indices"):
        select_probe_rows(y + 1, proba, 1)


# ------------------------------------------------- the mask through sklearn
def test_pipeline_without_routing_passes_the_mask_by_step_name(digits):
    X, y, y_given, mask = digits
    pipe = _pipe().fit(X, y_given, ieg__trusted=mask)
    Xs = StandardScaler().fit_transform(X)  # trusted rows were scaled with the others
    ref = IEGClassifier(max_epochs=1, verbose=0, random_state=0).fit(Xs, y_given, trusted=mask)
    assert np.array_equal(pipe.predict_proba(X), ref.predict_proba(Xs))
    assert pipe[-1].sample_weights_.shape == (len(X),)


def test_pipeline_with_routing(routing, digits):
    X, y, y_given, mask = digits
    pipe = _pipe(routed=True).fit(X, y_given, trusted=mask)
    with sklearn.config_context(enable_metadata_routing=False):
        ref = _pipe().fit(X, y_given, ieg__trusted=mask)
    assert np.array_equal(pipe.predict_proba(X), ref.predict_proba(X))


def test_cross_validate_scores_held_out_trusted_rows(routing, digits):
    X, y, y_given, mask = digits
    cv = TrustedStratifiedKFold(3, shuffle=True, random_state=0)
    res = cross_validate(_pipe(routed=True), X, y_given, cv=cv, params={"trusted": mask},
                         scoring={"trusted": scorer, "noisy": "accuracy"})
    # The same by hand: fit on each training fold with its part of the mask.
    for k, (train, test) in enumerate(cv.split(X, y_given, trusted=mask)):
        est = clone(_pipe(routed=True)).fit(X[train], y_given[train], trusted=mask[train])
        held = test[mask[test]]
        assert res["test_trusted"][k] == accuracy_score(y_given[held], est.predict(X[held]))
        assert res["test_noisy"][k] == accuracy_score(y_given[test], est.predict(X[test]))


def test_grid_search_picks_by_trusted_accuracy(routing, digits):
    X, y, y_given, mask = digits
    search = GridSearchCV(
        _pipe(routed=True), {"ieg__max_epochs": [1, 3]},
        cv=TrustedStratifiedKFold(3, shuffle=True, random_state=0),
        scoring={"trusted": scorer, "noisy": "accuracy"}, refit="trusted", error_score="raise")
    search.fit(X, y_given, trusted=mask)
    trusted_scores = search.cv_results_["mean_test_trusted"]
    assert search.best_index_ == np.argmax(trusted_scores)
    assert np.all((trusted_scores > 0) & (trusted_scores <= 1))
    refit = search.best_estimator_[-1]
    assert refit.sample_weights_.shape == (len(X),)  # refit on all rows, mask included
    assert np.array_equal(refit.probe_indices_, np.flatnonzero(mask))


def test_same_length_X_trusted_in_a_search_is_detected(digits):
    X, y, y_given, mask = digits
    search = GridSearchCV(IEGClassifier(verbose=0, random_state=0), {"max_epochs": [1]}, cv=2)
    with pytest.warns(UserWarning, match="as many rows as X"):
        search.fit(X, y_given, X_trusted=X, y_trusted=y)
