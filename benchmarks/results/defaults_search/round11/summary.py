"""Round 11 tables.

1. Horizontal flips (``hflip``: flips on, the estimator's default until this round)
   against today's package with flips off (``pkg``; for Fashion ``small_cnn`` 40% the
   two ``corrected_diag.py`` fits, which are the same default fit).
2. Today's package (``pkg``) against round 10's ``elr1`` image records, which came from
   the ``round10/ds_elr.py`` prototype patch: bit-identical to the package on the
   tables, not on images.
3. The oracle that drops every wrong label.
python benchmarks/results/defaults_search/round11/summary.py"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import corrected_fits, load, print_table  # noqa: E402

runs = load([HERE / "f10k.jsonl", HERE / "c10n.jsonl"])
pkg = runs["pkg"]
for k, seeds in corrected_fits(HERE / "corrected.jsonl").items():  # the same default fits
    pkg[k].update(seeds)
print_table("hflip", "today's package with flips off (pkg)", runs["hflip"], pkg)
elr1 = load([HERE.parent / "round10" / "f10k.jsonl", HERE.parent / "round10" / "c10n.jsonl"],
            lambda n: n == "elr1")["elr1"]
print_table("pkg", "round 10's elr1 image records (the ds_elr.py prototype)", pkg, elr1)

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

print("\nWhere corrected labels could come from (corrected_diag.py; corrected-label accuracy "
      "on the noisy rows: now = the fitted attribute, final = the fitted model's prediction "
      "on the rows, mean = both averaged, each as the posterior given the row's label)\n")
for line in open(HERE / "corrected.jsonl"):
    r = json.loads(line)
    print(f"{r['dataset']} {r['model']} {r['rate']} s{r['seed']}: given {r['given']:.3f}, "
          f"now {r['now']:.3f}, final {r['final']:.3f}, mean {r['mean']:.3f}")
