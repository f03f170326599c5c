"""Round 16: where a default fit loses against a perfect noise detector, on the two
configurations still under the issue's bars. Per seed, test accuracy of

- ``default``: today's defaults (round 14's ``guard`` records; round 15's ``pkg`` for
  digits seeds 3 and 4);
- ``oracle_drop``: plain training on the rows whose label is right plus the trusted rows
  (rounds 11 and 15, ``round11/oracle.py``);
- ``oracle_ieg``: IEG's defaults on those rows, the trusted rows as its trusted set, the
  same number of steps (``oracle_ieg.py``);
- ``orsup`` ... ``orlamonly``: the default fit on all rows, told which labels are wrong
  in one part of the step (``ds_oracle.py``).

python benchmarks/results/defaults_search/round16/decomposition.py"""
import json
from pathlib import Path

HERE = Path(__file__).parent
CONFIGS = (("digits", "plain_mlp", 0.8), ("fashion_mnist", "small_cnn", 0.4),
           ("fashion_mnist", "small_cnn", 0.8), ("pmlb:magic", "default", 0.6))
ROWS = ("default", "oracle_drop", "oracle_ieg", "orsup", "orsupall", "orboth", "orpost",
        "orlam", "orlamonly")


def records():
    files = {HERE.parent / "round14" / "tab.jsonl": "guard",
             HERE.parent / "round14" / "f10k.jsonl": "guard",
             HERE.parent / "round15" / "tab.jsonl": "pkg",
             HERE.parent / "round11" / "oracle.jsonl": None,
             HERE.parent / "round15" / "oracle.jsonl": None,
             HERE / "oracle_ieg.jsonl": None, HERE / "tab.jsonl": None,
             HERE / "f10k.jsonl": None}
    for path, default in files.items():
        for line in open(path):
            r = json.loads(line)
            name = r.get("name", r.get("method"))
            if default is not None:
                if name != default:
                    continue
                name = "default"
            yield name, (r["dataset"], r["model"], r["rate"]), r["seed"], r["test_accuracy"]


table = {}
for name, config, seed, acc in records():
    if config in CONFIGS and name in ROWS:
        table.setdefault((name, config), {})[seed] = acc
for config in CONFIGS:
    print(f"\n{' '.join(map(str, config))}\n\n| run | mean | per seed |\n|---|---|---|")
    for name in ROWS:
        seeds = table.get((name, config))
        if seeds:
            mean = sum(seeds.values()) / len(seeds)
            per = ", ".join(f"{s}: {a:.3f}" for s, a in sorted(seeds.items()))
            print(f"| {name} | {mean:.3f} ({len(seeds)} seeds) | {per} |")
