"""Round 8 tables: every record here (the pad-crop translation, ``--params
'{"crop_padding": P}'`` named ``cpP``; ``cp1`` with ``'{}'`` on MNIST, where the new
default gives 1) against round 7's ``light_cos1`` records (the defaults of 22ff5ed, whose
translation was 4 pixels on 28x28 and 32x32 images); every other name (``f10k_more.jsonl``, ``f10k_e60.jsonl``)
against round 8's ``cp1`` (today's defaults). On the seeds both ran, per configuration,
with the per-seed figures and the mean difference over the configurations.
python benchmarks/results/defaults_search/round8/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

ref = load(sorted((HERE.parent / "round7").glob("*.jsonl")), lambda n: n == "light_cos1")
runs = load(sorted(HERE.glob("*.jsonl")))
for name in sorted(runs):
    if name.startswith("cp") and name[2:].isdigit():
        print_table(name, "round 7's light_cos1 (4-pixel crops)", runs[name], ref["light_cos1"])
    else:
        print_table(name, "round 8's cp1 (today's defaults)", runs[name], runs["cp1"])
