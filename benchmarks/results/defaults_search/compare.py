"""Shared by the rounds' ``summary.py`` scripts (rounds 7 and 8): load the records of a
round and print one variant against a reference, per configuration, on the seeds both ran.

    python benchmarks/results/defaults_search/compare.py ROUND

prints every variant of folder ``ROUND`` (e.g. ``round16``) against today's defaults,
round 14's ``guard`` records (the package's fits since af7f53c), on the same splits."""
import json
import sys
from collections import defaultdict
from pathlib import Path


def key(r):
    """A record's configuration: data, network, noise, rate, subset size, budget."""
    return (r.get("dataset", "cifar10n:worst"), r.get("model"), r.get("noise", "human"),
            r.get("rate", ""), r.get("n_train") or "", r["max_epochs"])


def load(files, keep=lambda name: True):
    """``{name: {configuration: {seed: record}}}`` of the records in ``files`` whose
    name passes ``keep``."""
    out = defaultdict(lambda: defaultdict(dict))
    for f in files:
        for line in open(f):
            r = json.loads(line)
            if keep(r["name"]):
                out[r["name"]][key(r)][r["seed"]] = r
    return out


def corrected_fits(path):
    """``{configuration: {seed: record}}`` of the Fashion fits recorded by round 11's
    ``corrected_diag.py`` (default fits; their ``corrected_accuracy`` is the fitted
    attribute's, ``now``)."""
    out = defaultdict(dict)
    for line in open(path):
        r = json.loads(line)
        if r["dataset"] == "fashion_mnist":
            out[key(r)][r["seed"]] = dict(r, name="pkg", corrected_accuracy=r["now"])
    return out


def _mean(rs, field):
    values = [r.get(field) for r in rs]
    return None if None in values else sum(values) / len(values)


def _fmt(x):
    return "-" if x is None else f"{x:.3f}"


def print_table(name, against, per, base):
    """Print ``name``'s configurations ``per`` against ``base`` (both ``{configuration:
    {seed: record}}``): means over the common seeds, the difference, each seed, and the
    mean and worst difference over the configurations."""
    print(f"\n{name} against {against} (test accuracy; corrected-label accuracy "
          "in brackets; per seed new / reference)\n")
    print("| config | seeds | new | reference | difference | per seed |")
    print("|---|---|---|---|---|---|")
    diffs = []
    for k, d in sorted(per.items(), key=lambda kv: str(kv[0])):
        seeds = [s for s in sorted(d) if s in base.get(k, {})]
        if not seeds:
            continue
        new, old = [d[s] for s in seeds], [base[k][s] for s in seeds]
        a, b = _mean(new, "test_accuracy"), _mean(old, "test_accuracy")
        diffs.append(a - b)
        each = ", ".join(f"{d[s]['test_accuracy']:.3f} / {base[k][s]['test_accuracy']:.3f}"
                         for s in seeds)
        print(f"| {' '.join(map(str, k))} | {','.join(map(str, seeds))} | {a:.3f} "
              f"({_fmt(_mean(new, 'corrected_accuracy'))}) | {b:.3f} "
              f"({_fmt(_mean(old, 'corrected_accuracy'))}) | {a - b:+.3f} | {each} |")
    if diffs:
        print(f"\nmean difference over {len(diffs)} configurations: "
              f"{sum(diffs) / len(diffs):+.4f}; worst {min(diffs):+.3f}")


def print_round(here, base, against="today's defaults"):
    """Print every variant recorded in round folder ``here`` (its ``tab.jsonl``,
    ``f10k.jsonl`` and ``c10n.jsonl``, those that exist) against ``base``."""
    runs = load([f for f in (here / "tab.jsonl", here / "f10k.jsonl", here / "c10n.jsonl")
                 if f.exists()])
    for name in runs:
        print_table(name, against, runs[name], base)


def references(files, names):
    """``{configuration: {seed: record}}`` of the records in ``files`` named one of
    ``names``, merged in that order (a later name's seed replaces an earlier one's)."""
    runs = load(files, lambda n: n in names)
    merged = {}
    for name in names:
        for k, seeds in runs.get(name, {}).items():
            merged.setdefault(k, {}).update(seeds)
    return merged


if __name__ == "__main__":
    HERE = Path(__file__).parent
    print_round(HERE / sys.argv[1],
                references([HERE / "round14" / f for f in ("tab.jsonl", "f10k.jsonl",
                                                           "c10n.jsonl")], ("guard",)))
