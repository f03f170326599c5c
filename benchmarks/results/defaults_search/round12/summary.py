"""Round 12 tables: each variant of this round against today's defaults on the same
splits. References: round 10's ``elr1`` table records (the package's own fits there,
bit for bit) and round 11's package fits on Fashion 10k and CIFAR-10N (``pkg``; for
``small_cnn`` 40% the ``corrected_diag.py`` fits, which are the same default fit).

python benchmarks/results/defaults_search/round12/summary.py"""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import corrected_fits, print_round, references  # noqa: E402

base = references([HERE.parent / "round10" / "tab.jsonl", HERE.parent / "round11" / "f10k.jsonl",
                   HERE.parent / "round11" / "c10n.jsonl"], ("elr1", "pkg"))
for k, seeds in corrected_fits(HERE.parent / "round11" / "corrected.jsonl").items():
    base.setdefault(k, {}).update(seeds)
print_round(HERE, base)
