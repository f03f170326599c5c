"""One run of the defaults search: a method with given IEG parameters on one split.

Appends a JSON line (test accuracy, per-epoch test accuracy, corrected-label
accuracy, fit time) to ``--out``. The search itself is a list of these commands
(see benchmarks/results/defaults_search/README.md); every configuration uses the
bench's split, network and budget, and only the parameters in ``--params`` differ.

    python benchmarks/defaults_search.py --dataset digits --model plain_mlp --rate 0.4 \
        --seed 0 --max-epochs 60 --method ieg --params '{"consistency_weight": 5}' \
        --name k5 --out benchmarks/results/defaults_search/runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from sk_ieg.bench import load_bench_data, run_method


def run_and_record(a, data, **fields) -> dict:
    """Fit ``a.method`` (``a.params``, ``a.model``, ``a.max_epochs``, ``a.seed``) on
    ``data``, append one JSON line to ``a.out`` and return it: the run's name, method
    and parameters, ``fields``, then test accuracy, corrected-label accuracy, the
    per-epoch test accuracy (``curve``) and the fit time."""
    params = json.loads(a.params)
    start = time.perf_counter()
    rec = run_method(a.method, data, max_epochs=a.max_epochs, seed=a.seed, progress=False,
                     ieg_params=params, model=a.model, track_rows=False)
    row = dict(name=a.name or a.method, method=a.method, params=params, **fields,
               seed=a.seed, model=a.model, max_epochs=a.max_epochs,
               test_accuracy=rec["test_accuracy"],
               corrected_accuracy=rec.get("corrected_accuracy"),
               curve=[round(acc, 4) for _, acc in rec["test_accuracy_per_epoch"]],
               seconds=round(time.perf_counter() - start, 1))
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--noise", default="uniform")
    p.add_argument("--rate", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--trusted-per-class", type=int, default=10)
    p.add_argument("--model", default="default")
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--method", default="ieg")
    p.add_argument("--params", default="{}", help="IEG parameters as JSON")
    p.add_argument("--name", default=None, help="the configuration's name in the record")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = load_bench_data(a.dataset, noise=a.noise, rate=a.rate, seed=a.seed, n_train=a.n_train,
                           trusted_per_class=a.trusted_per_class)
    fields = dict(dataset=a.dataset, noise=a.noise, rate=a.rate, n_train=a.n_train)
    if a.trusted_per_class != 10:  # the bench's default; older records have no field
        fields["trusted_per_class"] = a.trusted_per_class
    row = run_and_record(a, data, **fields)
    print(f"{row['name']:>14} {a.dataset} {a.model} {a.noise} {a.rate:.0%} s{a.seed}: "
          f"{row['test_accuracy']:.4f} corrected={row['corrected_accuracy']} ({row['seconds']}s)")


if __name__ == "__main__":
    main()
