"""Print the defaults-search commands: every configuration on every target.

    python make_jobs.py OUT CONFIGS [SETS] [SEEDS]

CONFIGS is JSON ``{name: ieg_params}`` (``"_method"`` inside picks another method,
e.g. ``l2r``); SETS is ``d`` (digits, both networks, 40% and 80%, E=60) and/or ``l``
(letter, pair-flip 45%, E=40), default ``d,l``; SEEDS default ``0``.
"""

import json
import shlex
import sys

DIGITS = "--dataset digits --model {model} --rate {rate} --max-epochs 60 --seed {seed}"
LETTER = "--dataset pmlb:letter --noise pairflip --rate 0.45 --max-epochs 40 --seed {seed}"


def main(out, configs, sets="d,l", seeds="0"):
    targets = []
    for seed in seeds.split(","):
        if "l" in sets:  # the longest runs first
            targets.append(LETTER.format(seed=seed))
        if "d" in sets:
            targets += [DIGITS.format(model=m, rate=r, seed=seed)
                        for m in ("default", "plain_mlp") for r in (0.4, 0.8)]
    for target in targets:
        for name, params in json.loads(configs).items():
            params = dict(params)
            method = params.pop("_method", "ieg")
            print(f".venv/bin/python benchmarks/defaults_search.py {target} --method {method} "
                  f"--params {shlex.quote(json.dumps(params))} --name {name} --out {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
