"""Find the wrong labels of a data set: IEG's label-issues table.

40% of the digits labels are corrupted; 10 rows per class are verified. After
fitting, ``label_issues_`` has one row per training row with the given label,
the corrected label, the exemplar weight, ``is_label_issue`` and
``label_quality`` (the share of meta steps that kept the given label).
Needs pandas. About half a minute on one CPU core:

    python examples/clean_labels_table.py
"""

import numpy as np
import torch

from sk_ieg import IEGClassifier
from sk_ieg.datasets import load_digits
from sk_ieg.noise import make_noisy_labels, split_trusted

torch.set_num_threads(1)  # small model on shared cores: one thread is fastest

X, y_true = load_digits()
trusted = np.zeros(len(y_true), bool)
trusted[split_trusted(y_true, 10, random_state=0)] = True  # 10 verified rows per class
y = y_true.copy()
y[~trusted] = make_noisy_labels(y_true[~trusted], "uniform", 0.4, random_state=0)

clf = IEGClassifier(max_epochs=40, random_state=0, verbose=0)
clf.fit(X, y, trusted=trusted)  # statistics for every row; trusted rows are never issues
issues = clf.label_issues_

print(issues.sort_values("label_quality").head(8).to_string())
print()
wrong = y != y_true
flagged = issues["is_label_issue"].to_numpy()
print(f"{wrong.sum()} labels are wrong; {flagged.sum()} flagged as label issues")
print(f"precision {np.mean(wrong[flagged]):.3f}, recall {np.mean(flagged[wrong]):.3f}")
print(f"corrected labels right: {np.mean(issues['corrected_label'] == y_true):.3f} "
      f"(given labels: {np.mean(~wrong):.3f})")
