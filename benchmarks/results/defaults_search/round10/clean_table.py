"""Round 10: the corrected labels of one default fit on round 5's two-class table splits
(``round5/dump_fit.py table``: 6,000 rows, 10 trusted rows per class, a share FLIP of the
other labels flipped, 100 epochs as ``sk-ieg clean`` runs), as accuracy on the noisy
rows, with today's defaults and with ``early_learning_weight=0`` (the step before round
10). cleanlab's figures on the same splits: ``round5/cleanlab_table.txt``.
python benchmarks/results/defaults_search/round10/clean_table.py NAME FLIP SEED"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round5"))
import dump_fit  # noqa: E402

import sk_ieg  # noqa: E402


def corrected_accuracy(name, flip, seed, **params):
    committed = sk_ieg.IEGClassifier
    dump_fit.IEGClassifier = lambda **kw: committed(**kw, **params)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fit.npz"
        dump_fit.table(name, flip, seed, out)
        d = np.load(out)
        return float(np.mean(d["corrected"] == d["true"])), float(np.mean(d["given"] == d["true"]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    name, flip, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    for label, params in (("early_learning_weight=0", {"early_learning_weight": 0.0}),
                          ("defaults", {})):
        acc, given = corrected_accuracy(name, flip, seed, **params)
        print(name, flip, seed, label, "given", round(given, 4), "corrected", round(acc, 4),
              flush=True)
