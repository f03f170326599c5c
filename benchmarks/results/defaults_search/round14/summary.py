"""Round 14 tables: each variant of this round against the defaults before it on the
same splits. References: round 10's ``elr1`` table records (``tab.jsonl``, ``tab2.jsonl``;
the package's own fits there, bit for bit) and round 12's ``mix4`` image records (the
package's defaults since 9108ca4; checked bit for bit on CIFAR-10N in
``round12/c10n_pkg.jsonl``).

python benchmarks/results/defaults_search/round14/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import print_round, references  # noqa: E402

print_round(HERE, references([HERE.parent / "round10" / "tab.jsonl",
                              HERE.parent / "round10" / "tab2.jsonl",
                              HERE.parent / "round12" / "f10k.jsonl",
                              HERE.parent / "round12" / "c10n.jsonl"], ("elr1", "mix4")),
            against="the defaults before this round")
