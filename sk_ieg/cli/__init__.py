"""Command line: ``sk-ieg bench ...`` and ``sk-ieg clean ...`` (also ``python -m sk_ieg ...``).

The ``bench`` subcommand is parsed here and runs :mod:`sk_ieg.bench`; the ``clean``
subcommand lives in :mod:`sk_ieg.cli.clean`.
"""

from __future__ import annotations

import argparse
import sys

from sk_ieg.cli.clean import add_clean_parser, run_clean
from sk_ieg.cli.options import add_ieg_params_argument, add_threads_argument, json_object

__all__ = ["main"]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _variant(text: str) -> tuple[str, dict]:
    name, sep, params = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    try:
        return name.strip(), json_object(params)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from exc


def _bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="IEG against baselines on data with injected label noise",
                       description="Train IEG and baselines with the same network and budget "
                       "on a noisy split; print a table and write results.json and results.md. "
                       "With no arguments: digits, uniform noise 40%% and 80%%, seeds 0 and 1. "
                       "With --speed: per-epoch time and peak memory of IEG variants against "
                       "skorch's NeuralNetClassifier instead (speed.json, speed.md).")
    p.add_argument("--dataset", default=None,
                   help="digits, mnist, fashion_mnist or pmlb:<name> (default: digits; with "
                   "--speed: the dataset of each --config, or a single config of its own "
                   "when --config is not given)")
    p.add_argument("--noise", default="uniform",
                   help="uniform, symmetric, pairflip or asymmetric (default: uniform)")
    p.add_argument("--rate", type=_floats, default=[0.4, 0.8],
                   help="noise rate(s), comma separated (default: 0.4,0.8)")
    p.add_argument("--trusted-per-class", type=int, default=10)
    p.add_argument("--methods", default=None,
                   help="comma separated from: ieg, ieg_fast (IEG with sk_ieg.SPEED_SETTING), "
                   "l2r, vanilla, vanilla_es (early stopping on the trusted rows), "
                   "trusted_only, clean, cleanlab (needs the optional cleanlab package). "
                   "Default: ieg,vanilla,vanilla_es,cleanlab,trusted_only,clean, without "
                   "cleanlab when it is not installed")
    p.add_argument("--seeds", type=_ints, default=[0, 1])
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--model", default=None,
                   help="network shared by all methods: default (MLP for tables, ResNetSmall "
                   "for images), mlp, small_cnn, small_cnn_fc (SmallCNN with a 128-unit fully "
                   "connected head) or resnet (default: default; with --speed: "
                   "the model of each --config)")
    p.add_argument("--n-train", type=int, default=None,
                   help="sub-sample the training part to this many rows")
    add_ieg_params_argument(p, '\'{"mixup": false}\'')
    p.add_argument("--tag", default=None,
                   help="rename the IEG runs (ieg, ieg_fast, l2r) to <method>_<tag>, e.g. "
                   "ieg_cv for --ieg-params chosen by trusted CV, so that --merge can put "
                   "them in one table with runs of other IEG parameters")
    add_threads_argument(p)
    p.add_argument("--device", default="auto",
                   help="torch device of every network: cpu, cuda, cuda:1, ... or auto "
                   "(cuda when available, else cpu; default)")
    p.add_argument("--out", default=None,
                   help="output folder (default: bench-out; with --speed: bench-out/speed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--merge", default=None, metavar="DIR[,DIR...]",
                   help="train nothing: merge the results.json of these folders (runs split "
                   "across processes or machines) into --out, with its table and plots")
    _speed_arguments(p)


def _speed_arguments(p) -> None:
    """The options of ``sk-ieg bench --speed`` (an argument group of the bench parser)."""
    g = p.add_argument_group(
        "speed mode", "sk-ieg bench --speed: median epoch time and peak memory of IEG variants "
        "(ieg, ieg_fast, ieg_reference) and skorch's NeuralNetClassifier (vanilla) with the "
        "same network, batch size, data and device, fitted alternately. Reuses --dataset, "
        "--n-train, --model, --device, --threads, --out, --ieg-params (every IEG variant) "
        "and --seeds (the first seed)."
    )
    g.add_argument("--speed", action="store_true", help="run the speed benchmark")
    g.add_argument("--config", default=None,
                   help="comma separated from: cnn (Fashion-MNIST, SmallCNN, 10,000 rows), "
                   "mlp (PMLB letter, MLP) (default: cnn,mlp; only a config from --dataset "
                   "when --dataset is given)")
    g.add_argument("--repeats", type=int, default=5,
                   help="timed rounds, each fitting every variant once (default: 5)")
    g.add_argument("--epochs-per-repeat", type=int, default=1,
                   help="epochs of each timed fit (default: 1)")
    g.add_argument("--batch-size", type=int, default=None,
                   help="batch size of every network (default: each config's, 128)")
    g.add_argument("--variants", default=",".join(("vanilla", "ieg", "ieg_fast",
                                                   "ieg_reference")),
                   help="built-in variants to run; vanilla always runs "
                   "(default: vanilla,ieg,ieg_fast,ieg_reference)")
    g.add_argument("--variant", type=_variant, action="append", default=[],
                   metavar="NAME=JSON",
                   help='extra variant: IEGClassifier parameters as JSON, e.g. '
                   '\'nomix={"mixup": false}\'; repeatable ("_route": "reference" selects the '
                   "reference objective)")
    g.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed warm-up fit of each variant")
    g.add_argument("--no-step-phases", action="store_true",
                   help="skip the single-step timings (sk_ieg.bench.profiling)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sk-ieg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _bench_parser(sub)
    add_clean_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "clean":
        return run_clean(args)
    if args.speed:
        return _run_speed(args)
    return _run_bench(parser, args)


def _run_bench(parser, args) -> int:
    """``sk-ieg bench`` (accuracy benchmark or ``--merge``)."""
    from sk_ieg.bench import METHODS, default_methods, merge_results, run_benchmark

    methods = (list(default_methods()) if args.methods is None
               else [m.strip() for m in args.methods.split(",") if m.strip()])
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    device = _torch_setup(args)
    out = args.out or "bench-out"
    try:
        if args.merge:
            res = merge_results([d for d in args.merge.split(",") if d], out)
        else:
            res = run_benchmark(dataset=args.dataset or "digits", noise=args.noise,
                                rates=args.rate, trusted_per_class=args.trusted_per_class,
                                methods=methods, seeds=args.seeds,
                                max_epochs=args.max_epochs, n_train=args.n_train, out=out,
                                progress=not args.no_progress, ieg_params=args.ieg_params,
                                model=args.model or "default", device=device,
                                tag=args.tag)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        return _error("sk-ieg bench", str(exc))
    return _report(res["table"], f"results.json, results.md and plots to {out}/")


def _run_speed(args) -> int:
    """``sk-ieg bench --speed``."""
    from sk_ieg.bench.speed import CONFIGS, run_speed

    def fail(msg: str) -> int:
        return _error("sk-ieg bench --speed", msg)

    if args.config is not None:
        configs = [c.strip() for c in args.config.split(",") if c.strip()]
    else:
        configs = [] if args.dataset is not None else list(CONFIGS)
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or (args.config is not None and not configs):
        return fail(f"unknown config(s) {unknown or [args.config]}; choose from {list(CONFIGS)}")
    if args.repeats < 1 or args.epochs_per_repeat < 1:
        return fail("--repeats and --epochs-per-repeat must be >= 1")
    device = _torch_setup(args)
    out = args.out or "bench-out/speed"
    extra = dict(args.variant)
    if len(extra) != len(args.variant):
        return fail("--variant names must be distinct")
    try:
        res = run_speed(configs, dataset=args.dataset, model=args.model, n_train=args.n_train,
                        batch_size=args.batch_size, device=device, repeats=args.repeats,
                        epochs_per_repeat=args.epochs_per_repeat, warmup=not args.no_warmup,
                        variants=[v.strip() for v in args.variants.split(",") if v.strip()],
                        extra_variants=extra, ieg_params=args.ieg_params,
                        seed=args.seeds[0] if args.seeds else 0,
                        step_phases=not args.no_step_phases, out=out,
                        log=None if args.no_progress else _progress)
    except (ValueError, FileNotFoundError, ImportError, TypeError) as exc:
        return fail(str(exc))
    return _report(res["table"], f"speed.json and speed.md to {out}/")


def _error(command: str, msg: str) -> int:
    """``<command>: error: <msg>`` on stderr; exit status 2."""
    print(f"{command}: error: {msg}", file=sys.stderr)
    return 2


def _report(table: str, wrote: str) -> int:
    """The result table and what was written where, on stdout; exit status 0."""
    print()
    print(table)
    print(f"\nwrote {wrote}")
    return 0


def _torch_setup(args) -> str:
    """Set torch's threads from ``--threads``; the device of ``--device`` ("auto" resolved)."""
    import torch

    torch.set_num_threads(args.threads)
    if args.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return args.device


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
