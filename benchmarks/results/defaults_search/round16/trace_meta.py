"""Round 16: a default fit's per-epoch ``"auto"`` decisions and its fitted row weights on
digits, plain 2x256 MLP, 80% uniform noise, E=60 (the split of ``defaults_search.py``).

    python benchmarks/results/defaults_search/round16/trace_meta.py SEED
"""
import sys

import numpy as np
import torch

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

torch.set_num_threads(1)
seed = int(sys.argv[1])
d = load_bench_data("digits", noise="uniform", rate=0.8, seed=seed)
module, kw = module_for(d.X, d.n_classes, "plain_mlp")
clf = IEGClassifier(module=module, **kw, max_epochs=60, random_state=seed, verbose=0)
clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
h = clf.history
for e in range(0, len(h), 5):
    print(e + 1, {k: (round(float(v), 3) if isinstance(v, float) else v)
                  for k, v in h[e].items() if k != "batches"})
for key in ("meta_strength", "relabel_strength", "consistency_weight"):
    print(key, [h[e][key] for e in range(len(h))])
wrong = d.y != d.y_true
w = clf.sample_weights_
print("test accuracy", np.mean(clf.predict(d.X_test) == d.y_test),
      "mean sample_weights_: right rows", w[~wrong].mean(), "wrong rows", w[wrong].mean())
