"""Shared by ``oracle.py`` and ``corrected_diag.py``: their command line (one bench split,
a network, a budget, an output file) and the split it names."""

import argparse

import torch

from sk_ieg.bench import load_bench_data


def parse_and_load(model: str, max_epochs: int):
    """``(args, data)``: the parsed arguments (defaults ``model`` and ``max_epochs``) and
    the bench split they name; torch at one thread."""
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--noise", default="uniform")
    p.add_argument("--rate", type=float, default=0.4)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--model", default=model)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-epochs", type=int, default=max_epochs)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    return a, load_bench_data(a.dataset, noise=a.noise, rate=a.rate, seed=a.seed,
                              n_train=a.n_train)
