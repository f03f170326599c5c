"""Round 16: how well a default fit's per-row attributes tell right labels from wrong
ones on digits, plain 2x256 MLP, 80% uniform noise: ROC AUC, and precision and recall of
``attribute >= 0.5`` for the right labels.

    python benchmarks/results/defaults_search/round16/auc.py SEED MAX_EPOCHS
"""
import sys

import torch
from sklearn.metrics import roc_auc_score

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

torch.set_num_threads(1)
seed, epochs = int(sys.argv[1]), int(sys.argv[2])
d = load_bench_data("digits", noise="uniform", rate=0.8, seed=seed)
module, kw = module_for(d.X, d.n_classes, "plain_mlp")
clf = IEGClassifier(module=module, **kw, max_epochs=epochs, random_state=seed, verbose=0)
clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
right = d.y == d.y_true
for name in ("relabel_scores_", "label_quality_", "sample_weights_"):
    v = getattr(clf, name)
    print(epochs, name, "AUC", round(roc_auc_score(right, v), 3),
          "precision", round(right[v >= 0.5].mean(), 3),
          "recall", round((v[right] >= 0.5).mean(), 3))
