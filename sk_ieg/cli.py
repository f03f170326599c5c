"""Command line: ``sk-ieg bench ...`` and ``sk-ieg clean ...`` (also ``python -m sk_ieg ...``)."""

from __future__ import annotations

import argparse
import json
import sys

from sk_ieg.clean_cli import add_clean_parser, run_clean

__all__ = ["main"]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="IEG against baselines on data with injected label noise",
                       description="Train IEG and baselines with the same network and budget "
                       "on a noisy split; print a table and write results.json and results.md. "
                       "With no arguments: digits, uniform noise 40%% and 80%%, seeds 0 and 1.")
    p.add_argument("--dataset", default="digits",
                   help="digits, mnist, fashion_mnist or pmlb:<name> (default: digits)")
    p.add_argument("--noise", default="uniform",
                   help="uniform, symmetric, pairflip or asymmetric (default: uniform)")
    p.add_argument("--rate", type=_floats, default=[0.4, 0.8],
                   help="noise rate(s), comma separated (default: 0.4,0.8)")
    p.add_argument("--trusted-per-class", type=int, default=10)
    p.add_argument("--methods", default="ieg,vanilla,trusted_only,clean",
                   help="comma separated from: ieg, l2r, vanilla, trusted_only, clean, cleanlab "
                   "(cleanlab needs the optional cleanlab package)")
    p.add_argument("--seeds", type=_ints, default=[0, 1])
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--model", default="default",
                   help="network shared by all methods: default (MLP for tables, ResNetSmall "
                   "for images), mlp, small_cnn or resnet")
    p.add_argument("--n-train", type=int, default=None,
                   help="sub-sample the training part to this many rows")
    p.add_argument("--ieg-params", type=json.loads, default=None,
                   help='extra IEGClassifier parameters as JSON, e.g. \'{"mixup": false}\'')
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: small models on shared cores "
                   "slow down badly with more)")
    p.add_argument("--device", default="auto",
                   help="torch device of every network: cpu, cuda, cuda:1, ... or auto "
                   "(cuda when available, else cpu; default)")
    p.add_argument("--out", default="bench-out", help="output folder (default: bench-out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sk-ieg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _bench_parser(sub)
    add_clean_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "clean":
        return run_clean(args)
    if args.command == "bench":
        import torch

        from sk_ieg.bench import METHODS, run_benchmark

        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            parser.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
        torch.set_num_threads(args.threads)
        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            res = run_benchmark(dataset=args.dataset, noise=args.noise, rates=args.rate,
                                trusted_per_class=args.trusted_per_class, methods=methods,
                                seeds=args.seeds, max_epochs=args.max_epochs,
                                n_train=args.n_train, out=args.out,
                                progress=not args.no_progress, ieg_params=args.ieg_params,
                                model=args.model, device=device)
        except (ValueError, FileNotFoundError, ImportError) as exc:
            print(f"sk-ieg bench: error: {exc}", file=sys.stderr)
            return 2
        print()
        print(res["table"])
        print(f"\nwrote results.json, results.md and plots to {args.out}/")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
