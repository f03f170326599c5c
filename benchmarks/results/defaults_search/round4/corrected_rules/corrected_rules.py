"""Candidate rules for ``corrected_labels_`` on one default fit (round 4, scratch).

From the repository root, with ``SK_IEG_DATA`` set:

    python .../corrected_rules.py table NAME FLIP SEED    # PMLB two-class table, CSV-like
    python .../corrected_rules.py bench DATASET NOISE RATE EPOCHS SEED
    python .../corrected_rules.py cifar10n SEED           # `worst` labels, small_cnn, E=30

``table``: 6,000 rows of PMLB ``NAME``, 10 trusted rows per class, a share ``FLIP`` of the
other labels flipped, features standardised, 100 epochs (what ``sk-ieg clean`` does).
Prints the accuracy on the noisy rows of: the given labels; ``current`` (the fitted
``corrected_labels_``); ``raw_lambda`` (the same rule on lambda* before
``relabel_strength`` shrinks it); ``guess_argmax`` (the argmax of the running average of
the guessed labels).
"""

import sys

import numpy as np
import torch

import sk_ieg.callbacks as cbs
from sk_ieg import IEGClassifier, datasets
from sk_ieg.bench import load_bench_data, run_method
from sk_ieg.noise import split_trusted


class RawKeep:
    """Running average of lambda* before the relabel strength shrinks it."""

    def begin(self, n):
        self.raw, self.visits = torch.zeros(n), torch.zeros(n)

    def batch(self, net, rows, lam):
        r = float(net.ieg_state_.relabel_strength)
        lam = lam.detach().cpu()
        raw = (1 - (1 - lam) / r).clamp(0, 1) if r > 0 else lam
        rows = torch.as_tensor(rows).cpu()
        d = net.statistics_decay
        self.raw[rows] = d * self.raw[rows] + (1 - d) * raw
        self.visits[rows] += 1


KEEP = RawKeep()
_begin, _batch = cbs.RowStatistics.on_train_begin, cbs.RowStatistics.on_batch_end


def _on_train_begin(self, net, X=None, **kw):
    _begin(self, net, X=X, **kw)
    KEEP.begin(len(X))


def _on_batch_end(self, net, training=False, **kw):
    _batch(self, net, training=training, **kw)
    if training:
        KEEP.batch(net, kw["rows"], kw["lam"])


cbs.RowStatistics.on_train_begin, cbs.RowStatistics.on_batch_end = _on_train_begin, _on_batch_end


def report(m, y_noisy, y_true, corrected):
    norm = 1 - m.statistics_decay ** KEEP.visits.clamp_min(1).double()
    keep = (KEEP.raw.double() / norm).numpy()
    guess = m.classes_[m.ieg_state_.stats.guess.argmax(1).cpu().numpy()]
    out = {"given": y_noisy, "current": corrected,
           "raw_lambda": np.where(keep >= 0.5, y_noisy, guess), "guess_argmax": guess}
    return {k: round(float(np.mean(v == y_true)), 4) for k, v in out.items()}


def table(name, flip, seed):
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
    return report(m, noisy[u], y[u], m.corrected_labels_[u])


def bench(dataset, noise, rate, epochs, seed):
    d = load_bench_data(dataset, noise=noise, rate=rate, seed=seed)
    m = IEGClassifier(max_epochs=epochs, random_state=seed, verbose=0)
    m.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    return report(m, d.y, d.y_true, m.corrected_labels_)


def cifar10n(seed):
    sys.path.insert(0, "benchmarks")
    from cifar10n_check import load_split

    fitted = []
    fit = IEGClassifier.fit

    def keep_fitted(self, *a, **k):
        fitted.append(self)
        return fit(self, *a, **k)

    IEGClassifier.fit = keep_fitted
    d = load_split("worst", seed)
    run_method("ieg", d, max_epochs=30, seed=seed, progress=False, model="small_cnn",
               track_rows=False)
    m = fitted[-1]
    return report(m, d.y, d.y_true, m.corrected_labels_)


if __name__ == "__main__":
    torch.set_num_threads(1)
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "table":
        print(args, table(args[0], float(args[1]), int(args[2])))
    elif kind == "bench":
        print(args, bench(args[0], args[1], float(args[2]), int(args[3]), int(args[4])))
    else:
        print(args, cifar10n(int(args[0])))
