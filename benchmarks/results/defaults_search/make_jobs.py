import json, sys, shlex
# usage: mkjobs.py OUT 'configs-json' [sets]
out = sys.argv[1]; configs = json.loads(sys.argv[2]); sets = sys.argv[3].split(",") if len(sys.argv) > 3 else ["d", "l"]
seeds = [int(s) for s in (sys.argv[4].split(",") if len(sys.argv) > 4 else ["0"])]
targets = []
for s in seeds:
    if "d" in sets:
        for model in ("default", "plain_mlp"):
            for rate in (0.4, 0.8):
                targets.append(f"--dataset digits --model {model} --rate {rate} --max-epochs 60 --seed {s}")
    if "l" in sets:
        targets.append(f"--dataset pmlb:letter --noise pairflip --rate 0.45 --max-epochs 40 --seed {s}")
# letter first (longest)
targets.sort(key=lambda t: "letter" not in t)
for t in targets:
    for name, params in configs.items():
        method = params.pop("_method", "ieg") if isinstance(params, dict) else "ieg"
        print(f".venv/bin/python benchmarks/defaults_search.py {t} --method {method} --params {shlex.quote(json.dumps(params))} --name {name} --out {out}")
        if method != "ieg": params["_method"] = method
