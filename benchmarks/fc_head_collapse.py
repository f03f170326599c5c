"""IEG on a CNN whose fully connected head has no BatchNorm: a collapse, and what avoids it.

With the authors' defaults (lr 0.1, ``consistency_weight=20``), IEG on this network can
collapse to near-constant predictions, which ``fit`` reports with a
``ConvergenceWarning``; plain training of the same network learns. This script fits,
on one Fashion-MNIST benchmark split (``sk_ieg.bench.load_bench_data``), plain skorch
training (as the ``vanilla`` baseline of ``sk-ieg bench``) and IEG with each setting of
``--settings``, and prints and saves the test accuracy, the last epoch's trusted (probe)
loss and whether the warning was raised::

    python benchmarks/fc_head_collapse.py --out benchmarks/results/fc_head_collapse/results.json

A diagnostic for one split and one seed, not a benchmark: it shows that the collapse
happens and that the remedies the warning names avoid it there.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data, matched_epochs, plain_net

DEFAULT_SETTINGS = {"defaults": {}, "consistency_weight=5": {"consistency_weight": 5},
                    "lr=0.03": {"lr": 0.03}}


class FCHeadCNN(nn.Module):
    """Two strided conv blocks with BatchNorm, then Linear(64*7*7, 128), ReLU, Linear."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, head_units: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, 2, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, head_units), nn.ReLU(),
            nn.Linear(head_units, n_classes))

    def forward(self, x):
        return self.net(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.4, help="uniform noise rate")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", type=json.loads, default=DEFAULT_SETTINGS,
                        help="JSON object: name -> IEGClassifier parameters "
                        f"(default {json.dumps(DEFAULT_SETTINGS)})")
    parser.add_argument("--no-vanilla", action="store_true", help="skip plain training")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    data = load_bench_data("fashion_mnist", noise="uniform", rate=args.rate,
                           trusted_per_class=10, seed=args.seed, n_train=args.n_train)
    module_kw = dict(module__in_channels=data.X.shape[1], module__n_classes=data.n_classes)
    runs = []

    def record(name, clf, start, probe_loss, warned):
        acc = float(np.mean(clf.predict(data.X_test) == data.y_test))
        runs.append(dict(name=name, test_accuracy=acc, last_probe_loss=probe_loss,
                         convergence_warning=warned,
                         fit_seconds=time.perf_counter() - start))
        loss = "" if probe_loss is None else f", last probe loss {probe_loss:.3f}"
        print(f"{name:24} test acc {acc:.4f}{loss}, ConvergenceWarning: {warned} "
              f"({runs[-1]['fit_seconds']:.0f} s)", flush=True)

    if not args.no_vanilla:
        X = np.concatenate([data.X, data.X_trusted])
        y = np.concatenate([data.y, data.y_trusted])
        # The vanilla baseline of sk-ieg bench: as many gradient steps as IEG's epochs.
        epochs = matched_epochs(args.max_epochs, len(data.X), len(X), 128)
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            net = plain_net(FCHeadCNN, module_kw, epochs=epochs, batch_size=128,
                            seed=args.seed, callbacks=[], device="cpu")
            net.fit(X, y)
        record("vanilla", net, start, None, False)

    for name, params in args.settings.items():
        clf = IEGClassifier(FCHeadCNN, max_epochs=args.max_epochs,
                            random_state=args.seed, verbose=0, **module_kw, **params)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(data.X, data.y, X_trusted=data.X_trusted, y_trusted=data.y_trusted)
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        record(f"ieg {name}", clf, start, float(clf.history[-1, "probe_loss"]), warned)

    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(dict(config=dict(vars(args), dataset="fashion_mnist",
                                                   noise="uniform", trusted_per_class=10,
                                                   torch=torch.__version__),
                                       runs=runs), indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
