"""Dump one default fit's end-of-training row statistics for offline corrected-label rules
(round 5, scratch).  From the repository root, with ``SK_IEG_DATA`` set:

    python .../dump_fit.py table NAME FLIP SEED OUT.npz
    python .../dump_fit.py bench DATASET NOISE RATE EPOCHS SEED OUT.npz
    python .../dump_fit.py cifar10n SEED OUT.npz
"""

import sys

import numpy as np
import torch

from sk_ieg import IEGClassifier, datasets
from sk_ieg.bench import load_bench_data, run_method
from sk_ieg.noise import split_trusted


def dump(m, X_noisy, y_noisy, y_true, X_tr, y_tr, out, u=slice(None)):
    enc = {c: i for i, c in enumerate(m.classes_)}
    st = m.ieg_state_.stats
    np.savez(
        out,
        given=np.array([enc[v] for v in y_noisy]),
        true=np.array([enc[v] for v in y_true]),
        guess=st.guess.cpu().numpy(),
        keep=m.relabel_scores_[u],
        weight=m.sample_weights_[u],
        proba=m.predict_proba(X_noisy),
        proba_tr=m.predict_proba(X_tr),
        y_tr=np.array([enc[v] for v in y_tr]),
        corrected=np.array([enc[v] for v in m.corrected_labels_[u]]),
        transition=getattr(m, "noise_transition_", None)
        if getattr(m, "noise_transition_", None) is not None
        else np.zeros(0),
        relabel_strength=np.array([h.get("relabel_strength", np.nan) for h in m.history]),
        meta_strength=np.array([h.get("meta_strength", np.nan) for h in m.history]),
    )


def table(name, flip, seed, out):
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
    m = IEGClassifier(max_epochs=100, random_state=0, verbose=0).fit(X, noisy, trusted=trusted)
    u = ~trusted
    dump(m, X[u], noisy[u], y[u], X[trusted], y[trusted], out, u)


def bench(dataset, noise, rate, epochs, seed, out):
    d = load_bench_data(dataset, noise=noise, rate=rate, seed=seed)
    m = IEGClassifier(max_epochs=epochs, random_state=seed, verbose=0)
    m.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    dump(m, d.X, d.y, d.y_true, d.X_trusted, d.y_trusted, out)


def cifar10n(seed, out):
    sys.path.insert(0, "benchmarks")
    from cifar10n_check import load_split

    fitted = []
    fit = IEGClassifier.fit

    def keep_fitted(self, *a, **k):
        fitted.append(self)
        return fit(self, *a, **k)

    IEGClassifier.fit = keep_fitted
    d = load_split("worst", seed)
    run_method(
        "ieg", d, max_epochs=30, seed=seed, progress=False, model="small_cnn", track_rows=False
    )
    dump(fitted[-1], d.X, d.y, d.y_true, d.X_trusted, d.y_trusted, out)


if __name__ == "__main__":
    torch.set_num_threads(1)
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "table":
        table(args[0], float(args[1]), int(args[2]), args[3])
    elif kind == "bench":
        bench(args[0], args[1], float(args[2]), int(args[3]), int(args[4]), args[5])
    else:
        cifar10n(int(args[0]), args[1])
    print("done", args)
