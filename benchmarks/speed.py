"""Speed of IEG against skorch's NeuralNetClassifier: epoch time and peak memory.

    python benchmarks/speed.py                      # cnn and mlp configs, CPU or CUDA
    python benchmarks/speed.py --config cnn --repeats 5 --out bench-out/speed

The same as ``sk-ieg bench --speed ...`` (every option of that command works
here); the logic is in :mod:`sk_ieg.bench.speed`. Writes ``speed.json`` and
``speed.md`` under ``--out`` (default ``bench-out/speed``) and prints the table.
"""

from __future__ import annotations

import sys

from sk_ieg.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--speed", *sys.argv[1:]]))
