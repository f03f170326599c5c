"""Round 6 table: each variant against the committed step (name ``v8``: the scales'
factor 2, run here through ``ds_patch.py`` with ``SK_IEG_FACTOR=2``; for letter the
round-5 ``v8`` records, the same code) on the seeds both ran; Fashion-MNIST 10k
configurations without a round-6 ``v8`` run use round 5's ``v8``/``v8T`` record (the
prototype's random stream, marked ``*``).
python benchmarks/results/defaults_search/round6/summary.py"""
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
ROUND5 = [HERE.parent / "round5" / f for f in ("runs.jsonl", "runs_fashion.jsonl",
                                               "runs_c10n.jsonl")]


def key(r):
    return (r.get("dataset", "cifar10n:worst"), r.get("model"), r.get("noise", "human"),
            r.get("rate", ""), r.get("n_train") or "", r["max_epochs"])


ref, ref_src, runs = defaultdict(dict), defaultdict(dict), defaultdict(lambda: defaultdict(dict))
for f in ROUND5:
    for line in open(f):
        r = json.loads(line)
        k = key(r)
        if r["name"] == "v8" or (r["name"] == "v8T" and r["seed"] not in ref[k]):
            ref[k][r["seed"]] = r["test_accuracy"]
            ref_src[k][r["seed"]] = "" if r["name"] == "v8" else "*"
for f in sorted(HERE.glob("*.jsonl")):
    for line in open(f):
        r = json.loads(line)
        k = key(r)
        if r["name"] == "v8":
            ref[k][r["seed"]] = r["test_accuracy"]
            ref_src[k][r["seed"]] = ""
        else:
            runs[r["name"]][k][r["seed"]] = r["test_accuracy"]

for name, per in runs.items():
    print(f"\n{name} against v8 (test accuracy, per seed new / v8; mean difference)\n")
    print("| config | seeds | new | v8 | difference |")
    print("|---|---|---|---|---|")
    for k, d in sorted(per.items(), key=lambda kv: str(kv[0])):
        seeds = [s for s in sorted(d) if s in ref[k]]
        if not seeds:
            print(f"| {' '.join(map(str, k))} | {','.join(map(str, sorted(d)))} | "
                  f"{sum(d.values()) / len(d):.3f} | - | - |")
            continue
        new = sum(d[s] for s in seeds) / len(seeds)
        old = sum(ref[k][s] for s in seeds) / len(seeds)
        mark = "".join(ref_src[k][s] for s in seeds)
        print(f"| {' '.join(map(str, k))} | {','.join(map(str, seeds))} | {new:.3f} | "
              f"{old:.3f}{mark[:1]} | {new - old:+.3f} |")
