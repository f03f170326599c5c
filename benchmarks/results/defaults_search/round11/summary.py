"""Round 11 tables: horizontal flips in the views (``hflip=True``, the estimator's default
until this round) against the same step with flips off (round 10's ``elr1`` image
records: the bench and ``cifar10n_check.py`` passed ``hflip=False`` to IEG on images
until this round), then the oracle that drops every wrong label.
python benchmarks/results/defaults_search/round11/summary.py"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

ref = load([HERE.parent / "round10" / "f10k.jsonl", HERE.parent / "round10" / "c10n.jsonl"],
           lambda n: n == "elr1")["elr1"]
runs = load([HERE / "f10k.jsonl", HERE / "c10n.jsonl"])
print_table("hflip", "flips off (round 10's elr1, the same step otherwise)", runs["hflip"], ref)

print("\nOracle: plain training on the rows whose given label is right, plus the trusted "
      "rows, as many gradient steps as the bench's baselines (test accuracy per seed; mean)\n")
oracle = {}
for line in open(HERE / "oracle.jsonl"):
    r = json.loads(line)
    oracle.setdefault((r["dataset"], r["model"], r["rate"], r["max_epochs"]), {})[r["seed"]] = r
for k, seeds in sorted(oracle.items()):
    accs = [seeds[s]["test_accuracy"] for s in sorted(seeds)]
    rows = [seeds[s]["rows"] for s in sorted(seeds)]
    print(f"oracle_drop {' '.join(map(str, k))}: {' / '.join(f'{a:.3f}' for a in accs)} "
          f"(mean {sum(accs) / len(accs):.3f}; {rows} rows)")
