"""Round 5 table: v8 (noise_transition="auto"; records named v8T from the env-flag
prototype, v8 from the parameter, same step; where a seed has both, the later
record, v8, is used) against v6 per configuration, from the record files.
python benchmarks/results/defaults_search/round5/summary.py"""
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
FILES = {"v6": [HERE.parent / "runs.jsonl", HERE.parent / "runs_fashion.jsonl",
                HERE.parents[1] / "probe_prior" / "runs.jsonl",
                HERE.parents[1] / "cifar10n_check" / "runs.jsonl"],
         "v8": [HERE / "runs.jsonl", HERE / "runs_fashion.jsonl", HERE / "runs_c10n.jsonl"]}


def key(r):
    data = r.get("dataset", "cifar10n:" + str(r.get("labels")))
    return (data, r["model"], r.get("noise", "human"), r.get("rate", r.get("noise_rate")),
            r["max_epochs"]) if "dataset" in r else (data, r["model"], "human", "", r["max_epochs"])


table = defaultdict(lambda: {"v6": {}, "v8": {}})
for version, files in FILES.items():
    for f in files:
        for line in open(f):
            r = json.loads(line)
            if r["name"] == version or (version == "v8" and r["name"] == "v8T"):
                row = (r["test_accuracy"], r.get("corrected_accuracy"))
                table[key(r)][version][r["seed"]] = row

print("| config | seeds | v6 test | v8 test | v6 corrected | v8 corrected |")
print("|---|---|---|---|---|---|")
for k, v in sorted(table.items(), key=lambda kv: str(kv[0])):
    if not v["v8"]:
        continue
    seeds = sorted(set(v["v6"]) & set(v["v8"]))
    if not seeds:
        continue

    def mean(ver, i, v=v, seeds=seeds):
        vals = [v[ver][s][i] for s in seeds if v[ver][s][i] is not None]
        return f"{sum(vals) / len(vals):.3f}" if vals else "-"
    name = " ".join(str(x) for x in k)
    print(f"| {name} | {','.join(map(str, seeds))} | {mean('v6', 0)} | {mean('v8', 0)} | "
          f"{mean('v6', 1)} | {mean('v8', 1)} |")
