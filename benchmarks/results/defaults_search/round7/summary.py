"""Round 7 tables, on the seeds both ran, per configuration, with the per-seed figures and
the mean over the configurations: ``light_cos1`` (one cosine cycle) against the committed
defaults of 4697c9f (round 6's records named ``light``, ``--params '{"policy": null,
"cutout_size": 0}'``); every other name against round 7's ``light_cos1`` (the defaults
from 22ff5ed on).
python benchmarks/results/defaults_search/round7/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

REF = [HERE.parent / "round6" / f for f in ("f10k_views.jsonl", "c10n_views.jsonl")]

runs = load(sorted(HERE.glob("*.jsonl")))
for name, per in runs.items():
    if name == "light_cos1":
        print_table(name, "4697c9f's defaults (round 6's light)", per,
                    load(REF, lambda n: n == "light")["light"])
    else:
        print_table(name, "light_cos1 (today's defaults)", per, runs["light_cos1"])
