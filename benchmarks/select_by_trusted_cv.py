"""Choose IEG hyperparameters for a benchmark configuration by trusted-row cross-validation.

No test label is read: the noisy training rows and the trusted rows of the benchmark
split (``sk_ieg.bench.load_bench_data``) are stacked with a ``trusted`` mask, and
``GridSearchCV`` with ``TrustedStratifiedKFold`` scores each candidate by accuracy on
the held-out trusted rows (``trusted_accuracy_scorer``), as in
``examples/grid_search_trusted.py``. The chosen parameters can then be passed to
``sk-ieg bench --ieg-params``.

    python benchmarks/select_by_trusted_cv.py --dataset pmlb:letter --noise pairflip \\
        --rate 0.45 --grid '{"consistency_weight": [1, 5, 20]}' \\
        --out benchmarks/results/letter_pairflip45/selection_seed0.json

``--grid`` may also be a list of grids, to compare whole settings:
``'[{"consistency_weight": [20]}, {"consistency_weight": [5], "crop_padding": [1]}]'``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.model_selection import GridSearchCV

from sk_ieg import IEGClassifier, TrustedStratifiedKFold, trusted_accuracy_scorer
from sk_ieg.bench import MODELS, load_bench_data, module_for


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--noise", default="uniform")
    parser.add_argument("--rate", type=float, default=0.4)
    parser.add_argument("--trusted-per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=json.loads, required=True,
                        help='IEGClassifier parameter grid as JSON, e.g. '
                        '\'{"consistency_weight": [1, 5, 20]}\'')
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=None,
                        help="sub-sample the training part, as sk-ieg bench --n-train")
    parser.add_argument("--model", default="default", choices=MODELS,
                        help="network, as sk-ieg bench --model")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON file for the CV table and choice")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sklearn.set_config(enable_metadata_routing=True)

    data = load_bench_data(args.dataset, noise=args.noise, rate=args.rate,
                           trusted_per_class=args.trusted_per_class, seed=args.seed,
                           n_train=args.n_train)
    X = np.concatenate([data.X, data.X_trusted])
    y = np.concatenate([data.y, data.y_trusted])
    trusted = np.r_[np.zeros(len(data.X), bool), np.ones(len(data.X_trusted), bool)]
    # The network as sk-ieg bench builds it for the same arguments.
    module, module_kw = (None, {}) if args.model == "default" else module_for(
        data.X, data.n_classes, args.model)
    ieg = IEGClassifier(module, max_epochs=args.max_epochs, verbose=0, random_state=args.seed,
                        **module_kw)
    search = GridSearchCV(
        ieg.set_fit_request(trusted=True), args.grid,
        cv=TrustedStratifiedKFold(args.folds, shuffle=True, random_state=args.seed),
        scoring=trusted_accuracy_scorer, refit=False, n_jobs=args.n_jobs)
    start = time.perf_counter()
    search.fit(X, y, trusted=trusted)
    res = search.cv_results_
    rows = [dict(params=p, trusted_cv_mean=float(m), trusted_cv_std=float(s))
            for p, m, s in zip(res["params"], res["mean_test_score"], res["std_test_score"])]
    for r in rows:
        print(f"{r['params']!s:40} trusted accuracy (CV) {r['trusted_cv_mean']:.3f} "
              f"+- {r['trusted_cv_std']:.3f}")
    print(f"chosen: {search.best_params_} ({time.perf_counter() - start:.0f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(config=vars(args), cv=rows,
                                                  chosen=search.best_params_), indent=1))
    return search.best_params_


if __name__ == "__main__":
    main()
