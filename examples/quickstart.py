"""IEG on digits with 60% of the labels corrupted, against the same MLP trained on them.

Runs in well under a minute on one CPU core:

    python examples/quickstart.py
"""

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sk_ieg import IEGClassifier
from sk_ieg.datasets import load_digits
from sk_ieg.noise import make_noisy_labels, split_trusted

torch.set_num_threads(1)  # small model on shared cores: one thread is fastest

X, y = load_digits()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
trusted = split_trusted(y_train, 10, random_state=0)  # 10 verified labels per class
noisy = np.setdiff1d(np.arange(len(y_train)), trusted)
y_noisy = make_noisy_labels(y_train[noisy], "uniform", 0.6, random_state=0)
print(f"{np.mean(y_noisy != y_train[noisy]):.0%} of the {len(noisy)} noisy labels are wrong")

common = dict(max_epochs=30, random_state=0, verbose=0)
ieg = IEGClassifier(**common).fit(X_train[noisy], y_noisy, X_trusted=X_train[trusted],
                                  y_trusted=y_train[trusted])
# The same network trained on the noisy labels alone: every IEG component off.
plain = IEGClassifier(relabel=False, reweight=False, mixup=False, consistency_weight=0.0,
                      **common).fit(X_train[noisy], y_noisy, X_trusted=X_train[trusted],
                                    y_trusted=y_train[trusted])

print(f"test accuracy, IEG:              {np.mean(ieg.predict(X_test) == y_test):.3f}")
print(f"test accuracy, noisy labels only: {np.mean(plain.predict(X_test) == y_test):.3f}")
clean = y_noisy == y_train[noisy]
print(f"corrected labels right: {np.mean(ieg.corrected_labels_ == y_train[noisy]):.3f} "
      f"(given labels: {clean.mean():.3f})")
w = ieg.sample_weights_
print(f"mean sample weight, correctly labelled rows {w[clean].mean():.2f}, "
      f"mislabeled rows {w[~clean].mean():.2f}")
