"""Round 8 tables: every record here (the pad-crop translation, ``--params
'{"crop_padding": P}'`` named ``cpP``; ``cp1`` with ``'{}'`` on MNIST, where the new
default gives 1) against round 7's ``light_cos1`` records (the defaults of 22ff5ed, whose
translation was 4 pixels on 28x28 and 32x32 images); every other name (``f10k_more.jsonl``)
against round 8's ``cp1`` (today's defaults). On the seeds both ran, per configuration,
with the per-seed figures and the mean difference over the configurations.
python benchmarks/results/defaults_search/round8/summary.py"""
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
REF = sorted((HERE.parent / "round7").glob("*.jsonl"))


def key(r):
    return (r.get("dataset", "cifar10n:worst"), r.get("model"), r.get("noise", "human"),
            r.get("rate", ""), r.get("n_train") or "", r["max_epochs"])


def load(files, keep):
    out = defaultdict(lambda: defaultdict(dict))
    for f in files:
        for line in open(f):
            r = json.loads(line)
            if keep(r["name"]):
                out[r["name"]][key(r)][r["seed"]] = r
    return out


def mean(rs, field):
    values = [r.get(field) for r in rs]
    return None if None in values else sum(values) / len(values)


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


ref = load(REF, lambda n: n == "light_cos1")["light_cos1"]
runs = load(sorted(HERE.glob("*.jsonl")), lambda n: True)
for name in sorted(runs):
    if name.startswith("cp"):
        base, against = ref, "round 7's light_cos1 (4-pixel crops)"
    else:
        base, against = runs["cp1"], "round 8's cp1 (today's defaults)"
    print(f"\n{name} against {against} (test accuracy; "
          "corrected-label accuracy in brackets; per seed new / reference)\n")
    print("| config | seeds | new | reference | difference | per seed |")
    print("|---|---|---|---|---|---|")
    diffs = []
    for k, d in sorted(runs[name].items(), key=lambda kv: str(kv[0])):
        seeds = [s for s in sorted(d) if s in base.get(k, {})]
        if not seeds:
            continue
        new, old = [d[s] for s in seeds], [base[k][s] for s in seeds]
        a, b = mean(new, "test_accuracy"), mean(old, "test_accuracy")
        diffs.append(a - b)
        each = ", ".join(f"{d[s]['test_accuracy']:.3f} / {base[k][s]['test_accuracy']:.3f}"
                         for s in seeds)
        print(f"| {' '.join(map(str, k))} | {','.join(map(str, seeds))} | {a:.3f} "
              f"({fmt(mean(new, 'corrected_accuracy'))}) | {b:.3f} "
              f"({fmt(mean(old, 'corrected_accuracy'))}) | {a - b:+.3f} | {each} |")
    if diffs:
        print(f"\nmean difference over {len(diffs)} configurations: "
              f"{sum(diffs) / len(diffs):+.4f}; worst {min(diffs):+.3f}")
