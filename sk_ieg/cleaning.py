"""Label cleaning: a clean-then-fit meta-estimator, and the label-issues table.

:class:`CleanLabelsClassifier` fits a cleaner (by default
:class:`~sk_ieg.IEGClassifier`) and then any scikit-learn classifier on the cleaned
labels. The table functions (:func:`label_issues_table`, :func:`find_label_issues`,
:func:`label_quality_scores`) live in :mod:`sk_ieg.issues` and are re-exported here.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from sk_ieg._validation import check_trusted_mask
from sk_ieg.estimator import IEGClassifier
from sk_ieg.issues import (
    LABEL_ISSUES_COLUMNS,
    find_label_issues,
    label_issues_table,
    label_quality_scores,
    require_pandas,
)

__all__ = [
    "LABEL_ISSUES_COLUMNS",
    "CleanLabelsClassifier",
    "find_label_issues",
    "label_issues_table",
    "label_quality_scores",
    "require_pandas",
]


# ---------------------------------------------------------------------------- #
# meta-estimator
# ---------------------------------------------------------------------------- #
def _estimator_has(attr):
    def check(self):
        est = getattr(self, "estimator_", self.estimator)
        return hasattr(est, attr)
    return check


def _take_rows(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def _concat_rows(a, b):
    if hasattr(a, "iloc") and hasattr(b, "iloc"):
        pd = require_pandas("concatenating DataFrames")
        return pd.concat([a, b], axis=0, ignore_index=True)
    return np.concatenate([np.asarray(a), np.asarray(b)])


class CleanLabelsClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Clean the labels with IEG, then fit any classifier on the cleaned labels.

    ``fit`` fits a clone of ``cleaner`` on the noisy rows and the trusted rows,
    then a clone of ``estimator`` on all rows with the cleaner's
    ``corrected_labels_`` (trusted rows keep their verified labels), passing the
    cleaner's ``sample_weights_`` as ``sample_weight`` when the estimator's
    ``fit`` accepts one (trusted rows get weight 1). Prediction uses the fitted
    estimator only, so cleaning plus, say, gradient boosting is one Pipeline
    step.

    Parameters
    ----------
    estimator : scikit-learn classifier
        The downstream model; cloned at fit, the object passed is not touched.
    cleaner : estimator, default=None
        Cleans the labels; ``None`` means ``IEGClassifier()``. Cloned at fit. It
        must accept ``fit(X, y, X_trusted=..., y_trusted=...)`` (and, if it can,
        ``fit(X, y, trusted=mask)``) and expose ``corrected_labels_`` (and,
        optionally, ``sample_weights_``) for the noisy rows or for all rows of
        ``X``.

    Attributes
    ----------
    cleaner_ : estimator
        The fitted clone of ``cleaner``.
    estimator_ : estimator
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        Class labels, as seen by ``estimator_``.
    n_features_in_ : int
        Number of features of ``X``; only when ``estimator_`` defines it.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names; only when ``estimator_`` defines them.
    labels_ : ndarray of shape (n_samples,)
        The labels ``estimator_`` was fitted on: corrected labels for the noisy
        rows, the verified labels for trusted rows; rows in the order of ``X``
        (then ``X_trusted`` when given separately).
    sample_weight_ : ndarray of shape (n_samples,)
        The weights ``estimator_`` was fitted with (aligned like ``labels_``);
        None when its ``fit`` takes no ``sample_weight``.
    trusted_mask_ : ndarray of shape (n_samples,), dtype bool
        Which rows of ``labels_`` are trusted.

    See Also
    --------
    IEGClassifier : the default cleaner.
    label_issues_table : per-row diagnostics, as in ``label_issues_``.

    Notes
    -----
    The trusted rows can be given in two ways: a boolean mask ``trusted`` over
    the rows of ``X`` (what a Pipeline or cross-validation needs: the mask is
    sample-aligned, so ``cross_validate(..., params={"trusted": mask})`` splits
    it with the data and a Pipeline passes ``step__trusted=mask`` through its
    preprocessing), or ``X_trusted`` / ``y_trusted`` as separate arrays.

    Examples
    --------
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sk_ieg import CleanLabelsClassifier, IEGClassifier
    >>> clf = CleanLabelsClassifier(HistGradientBoostingClassifier(),
    ...                             cleaner=IEGClassifier(max_epochs=50, verbose=0))
    >>> clf.fit(X, y_noisy, trusted=verified)  # doctest: +SKIP
    >>> clf.label_issues_.query("is_label_issue")  # doctest: +SKIP
    """

    def __init__(self, estimator, cleaner=None):
        self.estimator = estimator
        self.cleaner = cleaner

    def _make_cleaner(self):
        if self.cleaner is None:
            return IEGClassifier()
        return clone(self.cleaner)

    def fit(self, X, y, *, trusted=None, X_trusted=None, y_trusted=None, **fit_params):
        """Clean the labels, then fit the estimator on the cleaned data.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            Training rows (with ``trusted``: all rows; with ``X_trusted``: the
            noisy rows).
        y : array-like of shape (n_samples,)
            Their labels: given (possibly wrong), or verified where ``trusted``.
        trusted : array-like of bool of shape (n_samples,), optional
            True for the rows of ``X`` whose label is verified. Passed to the
            cleaner as ``trusted=`` when its ``fit`` takes it, otherwise split
            off as ``X_trusted`` / ``y_trusted``.
        X_trusted, y_trusted : array-like, optional
            Verified rows given separately instead of ``trusted``. Without
            either, the cleaner is called as ``fit(X, y)`` (IEG then chooses an
            unverified probe set itself, with a warning).
        **fit_params
            Passed to the estimator's ``fit``. A ``sample_weight`` here is
            multiplied into the cleaner's weights (rows in the order of
            ``labels_``).

        Returns
        -------
        self : CleanLabelsClassifier
        """
        if trusted is not None and (X_trusted is not None or y_trusted is not None):
            raise ValueError("pass the trusted rows either as a mask (trusted=) or as "
                             "X_trusted/y_trusted, not both")
        if (X_trusted is None) != (y_trusted is None):
            raise ValueError("X_trusted and y_trusted must be given together")
        if self.estimator is None:
            raise ValueError("estimator must be a scikit-learn classifier, got None")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be 1-D with one label per row of X ({len(X)}), got "
                             f"shape {y.shape}")
        self.cleaner_ = cleaner = self._make_cleaner()
        if X_trusted is not None:
            y_trusted = np.asarray(y_trusted)
            cleaner.fit(X, y, X_trusted=X_trusted, y_trusted=y_trusted)
            X_fit, y_all = _concat_rows(X, X_trusted), np.concatenate([y, y_trusted])
            mask = np.r_[np.zeros(len(y), bool), np.ones(len(y_trusted), bool)]
        elif trusted is not None:
            X_fit, y_all, mask = X, y, check_trusted_mask(trusted, len(y))
            if has_fit_parameter(cleaner, "trusted"):
                cleaner.fit(X, y, trusted=mask)
            else:
                noisy_idx, trusted_idx = np.flatnonzero(~mask), np.flatnonzero(mask)
                cleaner.fit(_take_rows(X, noisy_idx), y[noisy_idx],
                            X_trusted=_take_rows(X, trusted_idx), y_trusted=y[trusted_idx])
        else:
            cleaner.fit(X, y)
            X_fit, y_all, mask = X, y, np.zeros(len(y), bool)
        labels, w = self._cleaned_targets(y_all, mask)

        if "sample_weight" in fit_params:
            user_w = np.asarray(fit_params.pop("sample_weight"), dtype=float)
            if user_w.shape != w.shape:
                raise ValueError(f"sample_weight must have shape {w.shape}, got {user_w.shape}")
            w = w * user_w
        self.estimator_ = clone(self.estimator)
        if has_fit_parameter(self.estimator_, "sample_weight"):
            self.estimator_.fit(X_fit, labels, sample_weight=w, **fit_params)
            self.sample_weight_ = w
        else:
            self.estimator_.fit(X_fit, labels, **fit_params)
            self.sample_weight_ = None
        self.labels_ = labels
        self.trusted_mask_ = mask
        self.classes_ = self.estimator_.classes_
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def _cleaned_targets(self, y_all, mask):
        """Labels and weights for every row: the cleaner's where noisy, verified where trusted.

        The cleaner's arrays may cover all rows (IEG with ``trusted=``) or only the
        noisy ones (``X_trusted``, or a cleaner without a mask parameter).
        """
        corrected = np.asarray(self.cleaner_.corrected_labels_)
        weights = getattr(self.cleaner_, "sample_weights_", None)
        weights = np.ones(len(corrected)) if weights is None else np.asarray(weights, float)
        n, n_noisy = len(y_all), int((~mask).sum())
        if len(corrected) not in (n, n_noisy) or len(weights) != len(corrected):
            raise ValueError(f"the cleaner returned {len(corrected)} corrected labels and "
                             f"{len(weights)} weights for {n} rows ({n_noisy} noisy)")
        try:
            dtype = np.result_type(y_all.dtype, corrected.dtype)
        except TypeError:
            dtype = object
        labels = y_all.astype(dtype)  # a copy; trusted rows keep their verified label
        w = np.ones(n)
        if len(corrected) == n:
            labels[~mask], w[~mask] = corrected[~mask], weights[~mask]
        else:
            labels[~mask], w[~mask] = corrected, weights
        return labels, w

    @property
    def label_issues_(self):
        """The cleaner's label-issues table (``cleaner_.label_issues_``)."""
        check_is_fitted(self, "cleaner_")
        return self.cleaner_.label_issues_

    def predict(self, X):
        """Predict with the downstream estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the downstream estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the downstream estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the downstream estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)
