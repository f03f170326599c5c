"""Command-line options that several ``sk-ieg`` subcommands share."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_ieg_params_argument", "add_threads_argument", "json_object"]


def json_object(text: str) -> dict:
    """A JSON object (dict) from a command-line value; an argparse error otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def add_ieg_params_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """``--ieg-params JSON``: extra IEGClassifier parameters (default: none).

    ``example`` ends the help text, e.g. ``'\\'{"mixup": false}\\''``.
    """
    parser.add_argument("--ieg-params", type=json_object, default={},
                        help="extra IEGClassifier parameters as JSON, e.g. " + example)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: torch intra-op threads (default 1)."""
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: small models on shared cores "
                        "slow down badly with more)")
