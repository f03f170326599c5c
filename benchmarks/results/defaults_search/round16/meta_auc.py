"""Round 16: how well the meta step's own weights, before the check shrinks them, tell
right labels from wrong ones when averaged over a row's visits (digits, plain 2x256 MLP,
80% uniform noise, a default fit). Each step's unshrunk weights ``omega*`` (times the
batch size) and relabel decisions ``lambda*`` are averaged per row; printed: ROC AUC for
the right labels, per epoch range of the averaging, and ``label_quality_``'s at the end.

    python benchmarks/results/defaults_search/round16/meta_auc.py SEED
"""
import dataclasses
import sys

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import sk_ieg.estimator as estimator
import sk_ieg.step as step
from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

torch.set_num_threads(1)
seed = int(sys.argv[1])
d = load_bench_data("digits", noise="uniform", rate=0.8, seed=seed)
right = d.y == d.y_true
n = len(d.y)
sums = {k: np.zeros((3, n)) for k in ("omega", "lam")}
counts = np.zeros((3, n))
current = {"rows": None, "third": 0}
meta_step, train_step_single = step.meta_step, estimator.IEGClassifier.train_step_single


def unshrunk(*args, config, **kwargs):
    omega, lam, loss = meta_step(*args, config=dataclasses.replace(
        config, meta_strength=1.0, relabel_strength=1.0), **kwargs)
    rows, t = current["rows"], current["third"]
    sums["omega"][t, rows] += omega.detach().numpy() * len(rows)
    sums["lam"][t, rows] += lam.detach().numpy()
    counts[t, rows] += 1
    # the fit itself goes on with the committed (shrunk) values
    return meta_step(*args, config=config, **kwargs)


def told(self, batch, **fit_params):
    current["rows"] = torch.as_tensor(batch[1])[:, 1].numpy()
    current["third"] = min(2, 3 * len(self.history[:-1]) // self.max_epochs)
    return train_step_single(self, batch, **fit_params)


step.meta_step = unshrunk
estimator.IEGClassifier.train_step_single = told
module, kw = module_for(d.X, d.n_classes, "plain_mlp")
clf = IEGClassifier(module=module, **kw, max_epochs=60, random_state=seed, verbose=0)
clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
for k in sums:
    for t, part in enumerate(("epochs 1-20", "21-40", "41-60")):
        mean = sums[k][t] / np.maximum(counts[t], 1)
        print(k, part, "AUC", round(roc_auc_score(right, mean), 3))
    print(k, "all epochs AUC", round(roc_auc_score(right, sums[k].sum(0) / counts.sum(0)), 3))
print("label_quality_ AUC", round(roc_auc_score(right, clf.label_quality_), 3),
      "test accuracy", np.mean(clf.predict(d.X_test) == d.y_test))
