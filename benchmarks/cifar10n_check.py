"""One method on the CIFAR-10 subset with real human noisy labels (CIFAR-10N): one JSON line.

The 4000 images of ``sk_ieg.datasets.load_cifar10_subset`` are split 75/25
(stratified, ``--seed``) into training and test rows; 10 training rows per class
keep their clean label as the trusted rows, every other training row gets the
CIFAR-10N label ``--labels`` (``worst``: about 40% wrong, human confusions such as
cat/dog; ``random1``: one annotator, about 17% wrong). The test rows are scored on
their clean labels. Methods and networks are those of ``sk-ieg bench``
(``sk_ieg.bench.run_method``); ``--params`` are IEG parameters::

    python benchmarks/cifar10n_check.py --method ieg --params '{}' --name defaults \\
        --out benchmarks/results/cifar10n_check/runs.jsonl

The CIFAR-10N labels are CC BY-NC 4.0 (non-commercial evaluation only); this script
reads them from the data directory and commits only accuracies.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from defaults_search import run_and_record  # benchmarks/, the script's own folder
from sklearn.model_selection import train_test_split

from sk_ieg import datasets
from sk_ieg.bench import BenchData
from sk_ieg.noise import split_trusted


def load_split(labels: str, seed: int) -> BenchData:
    X, y_clean, noisy = datasets.load_cifar10_subset()
    index = np.arange(len(y_clean))
    train, test = train_test_split(index, test_size=0.25, stratify=y_clean, random_state=seed)
    trusted = np.zeros(len(train), bool)
    trusted[split_trusted(y_clean[train], 10, random_state=seed)] = True
    rows, probe = train[~trusted], train[trusted]
    return BenchData(name=f"cifar10n_subset:{labels}", X=X[rows], y=noisy[labels][rows],
                     y_true=y_clean[rows], X_trusted=X[probe], y_trusted=y_clean[probe],
                     X_test=X[test], y_test=y_clean[test], n_classes=10,
                     info={"labels": labels, "noise_rate": float(
                         (noisy[labels][rows] != y_clean[rows]).mean())})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", default="worst", choices=datasets.CIFAR10N_LABEL_KEYS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="small_cnn")
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--method", default="ieg")
    p.add_argument("--params", default="{}", help="IEG parameters as JSON")
    p.add_argument("--name", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = load_split(a.labels, a.seed)
    row = run_and_record(a, data, labels=a.labels,
                         noise_rate=round(data.info["noise_rate"], 4))
    print(f"{row['name']:>14} cifar10n {a.labels} ({row['noise_rate']:.0%}) {a.model} "
          f"s{a.seed}: {row['test_accuracy']:.4f} corrected={row['corrected_accuracy']} "
          f"({row['seconds']}s)")


if __name__ == "__main__":
    main()
