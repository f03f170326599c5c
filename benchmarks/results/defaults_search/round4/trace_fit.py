"""Trace one default fit every 4 epochs: test accuracy, predicted class mix, the auto
strengths and gains, and an EM (Saerens et al. 2002) estimate of the class prior from the
network's outputs on the noisy rows. Round 4 of the defaults search.

    python trace_fit.py DATASET RATE SEED [PARAMS_JSON] [EPOCHS]

``NOISE=pairflip`` picks the noise (default uniform). ``NORM=1`` swaps in
``normalised_check.py``'s check (gains per unit step length).
"""

import json
import os
import sys
import time

import numpy as np
import torch
from skorch.callbacks import Callback

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data

if os.environ.get("NORM"):
    sys.path.insert(0, os.path.dirname(__file__))
    import normalised_check  # noqa: F401  (patches sk_ieg.callbacks.meta_generalization)

KEYS = ("meta_strength", "relabel_strength", "meta_gain", "relabel_gain",
        "consistency_weight", "probe_loss", "relabeled")


class Trace(Callback):
    def __init__(self, data):
        self.data = data

    def on_epoch_end(self, net, **kwargs):
        d, h = self.data, net.history[-1]
        if h["epoch"] % 4 and h["epoch"] != 1:
            return
        q = net.predict_proba(d.X)
        prior = net.ieg_state_.probe.sampler.class_shares()
        est = prior.copy()
        for _ in range(100):  # EM for the noisy rows' class prior
            a = q * (est / prior)
            est = (a / a.sum(1, keepdims=True)).mean(0)
        print("   EM", np.round(est, 3)[:4], "meanp", np.round(q.mean(0), 3)[:4],
              "train-prior", np.round(prior, 3)[:4])
        p = net.predict(d.X_test)
        mix = np.bincount(p, minlength=d.n_classes) / len(p)
        print(h["epoch"], f"acc {np.mean(p == d.y_test):.3f}", "mix", np.round(mix, 2)[:4],
              {k: round(h[k], 3) if isinstance(h[k], float) else h[k] for k in KEYS if k in h},
              flush=True)


def main(ds, rate, seed, params="{}", epochs="40"):
    torch.set_num_threads(1)
    rate, seed, epochs = float(rate), int(seed), int(epochs)
    d = load_bench_data(ds, noise=os.environ.get("NOISE", "uniform"), rate=rate, seed=seed,
                        n_train=6000 if ds.startswith("pmlb") else None)
    print("true prior", np.bincount(d.y_true) / len(d.y_true),
          "given", np.bincount(d.y) / len(d.y))
    start = time.time()
    clf = IEGClassifier(max_epochs=epochs, random_state=seed, verbose=0,
                        callbacks=[("trace", Trace(d))], **json.loads(params))
    clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    print("final", np.mean(clf.predict(d.X_test) == d.y_test),
          "corrected", np.mean(clf.corrected_labels_ == d.y_true), time.time() - start)


if __name__ == "__main__":
    main(*sys.argv[1:])
