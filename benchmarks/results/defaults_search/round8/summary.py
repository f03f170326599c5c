"""Round 8 tables: every record here (the pad-crop translation, ``--params
'{"crop_padding": P}'`` named ``cpP``; ``cp1`` with ``'{}'`` on MNIST, where the new
default gives 1) against round 7's ``light_cos1`` records (the defaults of 22ff5ed, whose
translation was 4 pixels on 28x28 and 32x32 images); every other name of
``f10k_more.jsonl`` against round 8's ``cp1`` (today's defaults). On the seeds both ran,
per configuration, with the per-seed figures and the mean difference over the
configurations. Last, the 60-epoch runs (``f10k_e60.jsonl``) beside the 30-epoch ones.
python benchmarks/results/defaults_search/round8/summary.py"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from compare import load, print_table  # noqa: E402

ref = load(sorted((HERE.parent / "round7").glob("*.jsonl")), lambda n: n == "light_cos1")
runs = load(sorted(HERE.glob("*.jsonl")), lambda n: not n.endswith("_e60"))
for name in sorted(runs):
    if name.startswith("cp") and name[2:].isdigit():
        print_table(name, "round 7's light_cos1 (4-pixel crops)", runs[name], ref["light_cos1"])
    else:
        print_table(name, "round 8's cp1 (today's defaults)", runs[name], runs["cp1"])

# 60 epochs beside 30, Fashion 10k small_cnn 40%: IEG (today's defaults, cp1), vanilla_es
# (../runs_fashion.jsonl), vanilla and cleanlab (../../fashion_uniform), on the E=60 seeds.
e60 = load([HERE / "f10k_e60.jsonl"])
cfg = ("fashion_mnist", "small_cnn", "uniform", 0.4, 10000, 30)
e30 = {"ieg": {s: r["test_accuracy"] for s, r in runs["cp1"][cfg].items()},
       "vanilla_es": {s: r["test_accuracy"] for s, r in load(
           [HERE.parent / "runs_fashion.jsonl"], lambda n: n == "vanilla_es")
           ["vanilla_es"][cfg].items()}}
bench = json.load(open(HERE.parents[1] / "fashion_uniform" / "results.json"))
for r in bench["runs"]:
    if r.get("rate") == 0.4 and r["method"] in ("vanilla", "cleanlab"):
        e30.setdefault(r["method"], {})[r["seed"]] = r["test_accuracy"]
print("\nFashion 10k small_cnn 40%: E=60 against E=30 (test accuracy, mean over the "
      "seeds; per seed in brackets)\n")
print("| method | seeds | E=30 | E=60 |")
print("|---|---|---|---|")
for name, per in sorted(e60.items()):
    method = name.removesuffix("_e60")
    recs = per[(*cfg[:5], 60)]
    seeds = sorted(recs)
    a30 = [e30[method][s] for s in seeds]
    a60 = [recs[s]["test_accuracy"] for s in seeds]
    print(f"| {method} | {','.join(map(str, seeds))} | {sum(a30) / len(a30):.3f} "
          f"({' / '.join(f'{a:.3f}' for a in a30)}) | {sum(a60) / len(a60):.3f} "
          f"({' / '.join(f'{a:.3f}' for a in a60)}) |")
