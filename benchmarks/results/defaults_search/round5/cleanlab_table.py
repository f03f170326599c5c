"""cleanlab's CleanLearning around a logistic regression on dump_fit.py's two-class table
splits (6,000 rows, 10 trusted rows per class, a share FLIP of the other labels flipped):
accuracy of its corrected labels (flagged rows get its prediction) on the noisy rows.
python .../cleanlab_table.py NAME FLIP SEED"""
import sys

import numpy as np
from cleanlab.classification import CleanLearning
from sklearn.linear_model import LogisticRegression

from sk_ieg import datasets
from sk_ieg.noise import split_trusted

name, flip, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
X, y = datasets.load_pmlb(name)
rng = np.random.default_rng(seed)
idx = rng.choice(len(y), size=min(6000, len(y)), replace=False)
X, y = X[idx].astype("float32"), y[idx]
trusted = np.zeros(len(y), bool)
trusted[split_trusted(y, 10, random_state=seed)] = True
classes = np.unique(y)
noisy = y.copy()
flipped = ~trusted & (rng.random(len(y)) < flip)
noisy[flipped] = np.where(y[flipped] == classes[0], classes[1], classes[0])
X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
enc = np.searchsorted(classes, noisy)
cl = CleanLearning(LogisticRegression(max_iter=2000), seed=seed).fit(X, enc)
issues = cl.get_label_issues()
corrected = np.where(issues["is_label_issue"], issues["predicted_label"], enc)
u = ~trusted
print(name, flip, seed, "given", round(float(np.mean(enc[u] == np.searchsorted(classes, y[u]))), 4),
      "cleanlab_lr", round(float(np.mean(corrected[u] == np.searchsorted(classes, y[u]))), 4))
