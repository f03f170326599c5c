"""GridSearchCV over a local Dask cluster through joblib's "dask" backend."""

import numpy as np
import pytest
import sklearn
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_ieg import IEGClassifier, TrustedStratifiedKFold, trusted_accuracy_scorer
from sk_ieg.noise import make_noisy_labels, split_trusted

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # Worker threads in this process (fast to start): two IEG fits run side by side in
    # threads, which needs the estimator's process lock (forward-mode AD, fork_rng).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_grid_search_on_a_dask_cluster(client):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    mask = np.zeros(len(y), dtype=bool)
    mask[split_trusted(y, 6, random_state=0)] = True
    y_given = y.copy()
    y_given[~mask] = make_noisy_labels(y[~mask], "uniform", 0.4, n_classes=10, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("scale", StandardScaler()), (
            "ieg", IEGClassifier(max_epochs=1, verbose=0, random_state=0, module__dropout=0.2)
            .set_fit_request(trusted=True))])
        kwargs = dict(cv=TrustedStratifiedKFold(2, shuffle=True, random_state=0),
                      scoring=trusted_accuracy_scorer, error_score="raise")
        grid = {"ieg__max_epochs": [1, 2]}
        with parallel_backend("dask"):
            on_dask = GridSearchCV(pipe, grid, n_jobs=2, **kwargs).fit(X, y_given, trusted=mask)
        local = GridSearchCV(pipe, grid, n_jobs=1, **kwargs).fit(X, y_given, trusted=mask)
    # Every fit ran on the cluster, with the mask routed, and gave the local result.
    assert np.array_equal(on_dask.cv_results_["mean_test_score"],
                          local.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == local.best_params_
    assert np.array_equal(on_dask.predict_proba(X), local.predict_proba(X))
