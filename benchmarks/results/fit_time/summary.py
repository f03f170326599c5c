"""Table of fit_time.jsonl: each pair of runs (same split, model, budget and seed, the
two checkouts fitted at the same time, so consecutive lines of the file), the total fit
seconds of a checkout against 2488a29's (the code issue 17 started from), and the test
accuracy of both.

    python benchmarks/results/fit_time/summary.py
"""

import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(HERE / "fit_time.jsonl")]
ratios = defaultdict(list)
print("| checkout | split | model | E | seed | seconds | 2488a29 seconds | ratio | test | "
      "test 2488a29 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for first, second in zip(rows[::2], rows[1::2]):
    base, new = (first, second) if first["label"] == "2488a29" else (second, first)
    assert base["label"] == "2488a29" and base["data"] == new["data"], (first, second)
    assert (base["model"], base["seed"]) == (new["model"], new["seed"])
    split = Path(new["data"]).stem
    ratio = new["seconds"] / base["seconds"]
    ratios[(new["label"], split.rsplit("_s", 1)[0], new["model"])].append(ratio)
    print(f"| {new['label']} | {split} | {new['model']} | {new['max_epochs']} | {new['seed']} | "
          f"{new['seconds']} | {base['seconds']} | {ratio:.2f}x | {new['test_accuracy']:.3f} | "
          f"{base['test_accuracy']:.3f} |")
print()
for (label, split, model), values in ratios.items():
    print(f"{label} {split} {model}: mean ratio {sum(values) / len(values):.2f}x "
          f"over {len(values)} pair(s)")
