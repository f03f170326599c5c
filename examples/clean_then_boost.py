"""Clean the labels with IEG, then train gradient boosting on them: one Pipeline.

Digits with 60% of the labels corrupted and 10 verified rows per class. The
trusted rows are marked by a mask that the Pipeline passes to the cleaning step
(``cleanlabelsclassifier__trusted``), so the scaler sees all rows. About half a
minute on one CPU core:

    python examples/clean_then_boost.py
"""

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_ieg import CleanLabelsClassifier, IEGClassifier
from sk_ieg.datasets import load_digits
from sk_ieg.noise import make_noisy_labels, split_trusted

torch.set_num_threads(1)  # small models on shared cores: one thread is fastest
threadpool_limits(1)

X, y = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
trusted = np.zeros(len(y_train), bool)
trusted[split_trusted(y_train, 10, random_state=0)] = True
y_given = y_train.copy()
y_given[~trusted] = make_noisy_labels(y_train[~trusted], "uniform", 0.6, random_state=0)

boost = HistGradientBoostingClassifier(random_state=0)
noisy = make_pipeline(StandardScaler(), boost).fit(X_train, y_given)
cleaned = make_pipeline(StandardScaler(), CleanLabelsClassifier(
    boost, cleaner=IEGClassifier(max_epochs=40, random_state=0, verbose=0)))
cleaned.fit(X_train, y_given, cleanlabelsclassifier__trusted=trusted)

print(f"{np.mean(y_given[~trusted] != y_train[~trusted]):.0%} of the unverified labels are wrong")
print(f"test accuracy, boosting on the given labels:  {noisy.score(X_test, y_test):.3f}")
print(f"test accuracy, boosting on IEG's cleaned ones: {cleaned.score(X_test, y_test):.3f}")
meta = cleaned[-1]
print(f"labels boosting was trained on that are right: {np.mean(meta.labels_ == y_train):.3f}")
