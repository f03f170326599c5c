"""Round 6 scratch runner: a benchmark script with the step factor of the "auto"
scales (consistency weight, meta and relabel strengths) set to SK_IEG_FACTOR instead of
the committed 2 (``sk_ieg.callbacks._halve_or_double``).

    SK_IEG_FACTOR=1.4142 python ds_patch.py --dataset digits ... --name sqrt2 --out F
    SK_IEG_SCRIPT=cifar10n_check SK_IEG_FACTOR=1.4142 python ds_patch.py --seed 0 ...

With SK_IEG_FACTOR=2 (or unset) it is the committed code. SK_IEG_SCRIPT: the module in
benchmarks/ to run (defaults_search by default, or cifar10n_check)."""
import importlib
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
import sk_ieg.callbacks as cb  # noqa: E402

F = float(os.environ.get("SK_IEG_FACTOR", "2"))


def _halve_or_double(scale, values, min_scale):
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.inf
    helps = mean - 2 * se > 0
    return (min(1.0, F * scale) if helps else max(min_scale, scale / F)), mean


cb._halve_or_double = _halve_or_double
importlib.import_module(os.environ.get("SK_IEG_SCRIPT", "defaults_search")).main()
