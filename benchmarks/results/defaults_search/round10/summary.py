"""Round 10 tables: SGD weight decay (``wd*``: ``optimizer__weight_decay``; the default is
5e-4), the learning rate (``lr*``), gradient-norm clipping (``clip*``, ``ds_clip.py``) and
early-learning regularisation (``elr*``: weight 1 or 3, ``ds_elr.py`` / the committed
``early_learning_weight``), each against the step before this round run on the same host
(records named ``v8``; for images without a ``v8`` record of a configuration, round 8's
``cp1`` records, which ran on another host), then the baselines of the long-budget
adult configuration.
python benchmarks/results/defaults_search/round10/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

BASELINES = ("vanilla", "vanilla_es", "cleanlab", "clean")
ref = dict(load([HERE.parent / "round8" / "f10k.jsonl", HERE.parent / "round8" / "c10n.jsonl"],
                lambda n: n == "cp1")["cp1"])
runs = load(sorted(HERE.glob("*.jsonl")))
for k, seeds in runs.get("v8", {}).items():
    ref[k] = {**ref.get(k, {}), **seeds}
for name in sorted(runs):
    if name != "v8" and name not in BASELINES and not name.endswith("_rate0"):
        print_table(name, "the step before this round (v8 here; cp1 of round 8 for images "
                    "without a v8 record)", runs[name], ref)

print("\nBaselines (test accuracy per seed; mean)\n")
for name in BASELINES:
    for k, seeds in sorted(runs.get(name, {}).items(), key=lambda kv: str(kv[0])):
        accs = [seeds[s]["test_accuracy"] for s in sorted(seeds)]
        print(f"{name:10s} {' '.join(map(str, k))}: "
              f"{' / '.join(f'{a:.3f}' for a in accs)} (mean {sum(accs) / len(accs):.3f})")
for k, seeds in runs.get("v8_rate0", {}).items():
    accs = " / ".join(f"{seeds[s]['test_accuracy']:.3f}" for s in sorted(seeds))
    print(f"IEG (v8) on clean labels, {' '.join(map(str, k))}: {accs}")
