"""Round 7 tables, on the seeds both ran, per configuration, with the per-seed figures and
the mean over the configurations: ``light_cos1`` (one cosine cycle) against the committed
defaults of 4697c9f (round 6's records named ``light``, ``--params '{"policy": null,
"cutout_size": 0}'``); every other name against round 7's ``light_cos1`` (the defaults
from 22ff5ed on).
python benchmarks/results/defaults_search/round7/summary.py"""
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
REF = [HERE.parent / "round6" / f for f in ("f10k_views.jsonl", "c10n_views.jsonl")]


def key(r):
    return (r.get("dataset", "cifar10n:worst"), r.get("model"), r.get("noise", "human"),
            r.get("rate", ""), r.get("n_train") or "", r["max_epochs"])


def load(files, keep):
    out = defaultdict(dict)
    for f in files:
        for line in open(f):
            r = json.loads(line)
            if keep(r["name"]):
                out[(r["name"], key(r))][r["seed"]] = r
    return out


runs = defaultdict(dict)
for (name, k), v in load(sorted(HERE.glob("*.jsonl")), lambda n: True).items():
    runs[name][k] = v
for name, per in runs.items():
    if name == "light_cos1":
        ref = {k: v for (_, k), v in load(REF, lambda n: n == "light").items()}
        against = "4697c9f's defaults (round 6's light)"
    else:
        ref, against = runs["light_cos1"], "light_cos1 (today's defaults)"
    print(f"\n{name} against {against} (test accuracy; corrected-label accuracy "
          "in brackets; per seed new / reference)\n")
    print("| config | seeds | new | reference | difference | per seed |")
    print("|---|---|---|---|---|---|")
    diffs = []
    for k, d in sorted(per.items(), key=lambda kv: str(kv[0])):
        seeds = [s for s in sorted(d) if s in ref.get(k, {})]
        if not seeds:
            continue

        def mean(rs, field):
            values = [r.get(field) for r in rs]
            return None if None in values else sum(values) / len(values)

        def fmt(x):
            return "-" if x is None else f"{x:.3f}"

        new = [d[s] for s in seeds]
        old = [ref[k][s] for s in seeds]
        a, b = mean(new, "test_accuracy"), mean(old, "test_accuracy")
        diffs.append(a - b)
        ca, cb = mean(new, "corrected_accuracy"), mean(old, "corrected_accuracy")
        each = ", ".join(f"{d[s]['test_accuracy']:.3f} / {ref[k][s]['test_accuracy']:.3f}"
                         for s in seeds)
        print(f"| {' '.join(map(str, k))} | {','.join(map(str, seeds))} | {a:.3f} ({fmt(ca)}) "
              f"| {b:.3f} ({fmt(cb)}) | {a - b:+.3f} | {each} |")
    if diffs:
        print(f"\nmean difference over {len(diffs)} configurations: "
              f"{sum(diffs) / len(diffs):+.4f}; worst {min(diffs):+.3f}")
