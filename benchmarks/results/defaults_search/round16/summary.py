"""Round 16 tables: each variant of this round against today's defaults (round 14's
``guard`` records, the package's fits since af7f53c) on the same splits.

python benchmarks/results/defaults_search/round15/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import print_round, references  # noqa: E402

print_round(HERE, references([HERE.parent / "round14" / "tab.jsonl",
                              HERE.parent / "round14" / "f10k.jsonl",
                              HERE.parent / "round14" / "c10n.jsonl"], ("guard",)),
            against="today's defaults")
