"""Total time of one default fit, comparable across commits of sk_ieg.

Issue 17's cost rule allows a built-in selection (the ``"auto"`` parameters) when a
default fit's total time stays within 1.5x of the starting code's. ``sk-ieg bench
--speed`` times epochs and single steps; this script times the whole
``IEGClassifier(module=..., max_epochs=E, random_state=seed).fit(...)`` call, nothing
else set, so that the same file can be run against another checkout of the package:

    # 1. the split, written once by this checkout's bench loader
    python benchmarks/fit_time.py prepare --dataset fashion_mnist --rate 0.4 \
        --n-train 10000 --seed 0 --data /tmp/f10k_s0.npz
    # 2. the fit, here and at another commit (PYTHONPATH to its worktree), at the
    #    same time on two cores so that both see the same load
    python benchmarks/fit_time.py time --data /tmp/f10k_s0.npz --model small_cnn \
        --max-epochs 30 --seed 0 --label head --out fit_time.jsonl
    PYTHONPATH=/tmp/wt2488 python benchmarks/fit_time.py time ... --label 2488a29

Only names both commits have are used: ``IEGClassifier``, ``MLP`` (default
hidden layers, with BatchNorm) and ``SmallCNN`` (pooled head); ``plain_mlp`` is the
bench's plain network (2 x 256, ReLU, no BatchNorm), defined here. The record holds the
fit's seconds, the test accuracy (a check that the fit is the ordinary one) and
where ``sk_ieg`` was imported from.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


class PlainMLP(torch.nn.Sequential):
    """``Linear(256) -> ReLU -> Linear(256) -> ReLU -> Linear``: the bench's ``plain_mlp``."""

    def __init__(self, n_features: int, n_classes: int):
        super().__init__(torch.nn.Linear(n_features, 256), torch.nn.ReLU(),
                         torch.nn.Linear(256, 256), torch.nn.ReLU(),
                         torch.nn.Linear(256, n_classes))


def prepare(a) -> None:
    from sk_ieg.bench import load_bench_data

    d = load_bench_data(a.dataset, noise=a.noise, rate=a.rate, seed=a.seed,
                        n_train=a.n_train)
    np.savez(a.data, X=d.X, y=d.y, y_true=d.y_true, X_trusted=d.X_trusted,
             y_trusted=d.y_trusted, X_test=d.X_test, y_test=d.y_test,
             n_classes=d.n_classes)
    print(f"{a.data}: {len(d.y)} noisy rows, {len(d.y_trusted)} trusted, {len(d.y_test)} test")


def time_fit(a) -> None:
    import sk_ieg
    from sk_ieg import IEGClassifier
    from sk_ieg.models import MLP, SmallCNN

    torch.set_num_threads(a.threads)
    d = np.load(a.data)
    k = int(d["n_classes"])
    X = d["X"]
    if a.model == "small_cnn":
        module, kw = SmallCNN, dict(module__in_channels=X.shape[1], module__n_classes=k)
    else:
        module = PlainMLP if a.model == "plain_mlp" else MLP
        kw = dict(module__n_features=int(np.prod(X.shape[1:])), module__n_classes=k)
    clf = IEGClassifier(module=module, max_epochs=a.max_epochs, random_state=a.seed,
                        verbose=0, **kw)
    start = time.perf_counter()
    clf.fit(X, d["y"], d["X_trusted"], d["y_trusted"])
    seconds = time.perf_counter() - start
    row = dict(label=a.label, sk_ieg=sk_ieg.__file__, data=a.data, model=a.model,
               max_epochs=a.max_epochs, seed=a.seed, threads=a.threads,
               seconds=round(seconds, 1),
               test_accuracy=float(np.mean(clf.predict(d["X_test"]) == d["y_test"])))
    print(json.dumps(row))
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pp = sub.add_parser("prepare", help="write one bench split to an .npz file")
    pp.add_argument("--dataset", default="digits")
    pp.add_argument("--noise", default="uniform")
    pp.add_argument("--rate", type=float, default=0.4)
    pp.add_argument("--n-train", type=int, default=None)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--data", required=True)
    pt = sub.add_parser("time", help="time one default fit on a prepared split")
    pt.add_argument("--data", required=True)
    pt.add_argument("--model", choices=("mlp", "plain_mlp", "small_cnn"), default="mlp")
    pt.add_argument("--max-epochs", type=int, default=60)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--threads", type=int, default=1)
    pt.add_argument("--label", required=True, help="name of the code under test")
    pt.add_argument("--out", required=True)
    a = p.parse_args(argv)
    (prepare if a.command == "prepare" else time_fit)(a)


if __name__ == "__main__":
    main()
