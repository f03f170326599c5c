"""Round 14 diagnostic (``diag.txt``): one default fit, then its estimated noise
transition against the split's true one (mean diagonal and mean ``c -> c+1`` entry), the
corrected-label and test accuracy, and the ``"auto"`` strengths every 4th epoch.

    python diag_transition.py pmlb:letter pairflip 0.45 SEED 40"""
import sys

import numpy as np
import torch

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data


def main(ds, noise, rate, seed, epochs):
    seed = int(seed)
    d = load_bench_data(ds, noise=noise, rate=float(rate), seed=seed)
    clf = IEGClassifier(max_epochs=int(epochs), batch_size=128, random_state=seed, verbose=0)
    clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    k = d.n_classes
    true = np.zeros((k, k))
    np.add.at(true, (d.y_true, d.y), 1)
    true /= true.sum(1, keepdims=True)
    est = clf.noise_transition_

    def following(t):
        return np.mean([t[c, (c + 1) % k] for c in range(k)])

    print(f"{ds} s{seed}: test {clf.score(d.X_test, d.y_test):.4f} corrected "
          f"{np.mean(clf.corrected_labels_ == d.y_true):.4f}")
    print(f"true diag {np.diag(true).mean():.3f} next {following(true):.3f} | "
          f"est diag {np.diag(est).mean():.3f} next {following(est):.3f}")
    for key in ("meta_strength", "relabel_strength", "consistency_weight"):
        print(key, [round(v, 3) for v in clf.history[:, key]][::4])


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
