"""Round 9 tables: lighter tabular strong views (``tvhalf``: ``strong_jitter=0.1,
strong_mask_prob=0.1``; ``tvquarter``: 0.05 and 0.05; the defaults are 0.2 and 0.2)
against the committed tabular step, the records named ``v8`` (round 6's ``tab.jsonl``
for digits, adult and magic; round 5's ``runs.jsonl`` for letter; the tabular code path
has not changed since, ``test_golden`` matches bit for bit).
python benchmarks/results/defaults_search/round9/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

ref = load([HERE.parent / "round5" / "runs.jsonl"], lambda n: n == "v8")["v8"]
ref = {k: v for k, v in ref.items() if k[0] == "pmlb:letter"}
ref.update(load([HERE.parent / "round6" / "tab.jsonl"], lambda n: n == "v8")["v8"])
runs = load(sorted(HERE.glob("*.jsonl")))
for name in sorted(runs):
    print_table(name, "the committed tabular step (v8)", runs[name], ref)
