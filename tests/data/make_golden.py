"""Regenerate ``golden_digits.npz``: a 30-epoch IEG fit on digits (40% uniform noise,
10 trusted rows per class, random_state=0), as saved from main before the redesign
(commit cab89fc). ``tests/test_golden.py`` checks that the current code reproduces it.

    python tests/data/make_golden.py   # only when a change of results is intended
"""

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_ieg import IEGClassifier
from sk_ieg.noise import make_noisy_labels, split_trusted

OUT = Path(__file__).with_name("golden_digits.npz")


def golden_data():
    """The fixed split: (X, y_given, trusted mask, X_test)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    X_tr, X_te, y_tr, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    trusted = np.zeros(len(y_tr), bool)
    trusted[split_trusted(y_tr, 10, random_state=0)] = True
    y_given = y_tr.copy()
    y_given[~trusted] = make_noisy_labels(y_tr[~trusted], "uniform", 0.4, n_classes=10,
                                          random_state=0)
    return X_tr, y_given, trusted, X_te


def golden_fit():
    X, y, trusted, X_test = golden_data()
    # The paper's constant weights, full meta step and class-balanced probe batches, the
    # defaults of cab89fc (today's defaults ramp up, choose the consistency weight and the
    # meta step's strength by the trusted rows, and draw probe classes in proportion to
    # the given labels; noise_transition, added later, turns the guesses into posteriors
    # given each row's label: None is cab89fc's step, but cab89fc itself rejects it).
    clf = IEGClassifier(max_epochs=30, random_state=0, verbose=0, ramp_up=0.0,
                        consistency_weight=20.0, probe_prior="balanced",
                        meta_strength=1.0, relabel_strength=1.0, noise_transition=None,
                        early_learning_weight=0.0)
    clf.fit(X, y, trusted=trusted)
    return {"predict": clf.predict(X_test), "predict_proba": clf.predict_proba(X_test),
            "sample_weights": clf.sample_weights_, "corrected_labels": clf.corrected_labels_,
            "relabel_scores": clf.relabel_scores_}


if __name__ == "__main__":
    torch.set_num_threads(1)
    np.savez_compressed(OUT, **golden_fit())
    print(f"wrote {OUT}")
