"""Benchmark figures (needs the optional matplotlib: ``pip install 'sk-ieg[plot]'``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_accuracy", "plot_meta_statistics"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'sk-ieg[plot]'") from exc
    return plt


_COLORS = {"ieg": "C0", "l2r": "C1", "vanilla": "C2", "trusted_only": "C3", "clean": "C4",
           "cleanlab": "C5", "ieg_fast": "C6"}


def _finish(ax, **labels) -> None:
    ax.set(**labels)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _groups(runs: Sequence[dict]):
    out: dict = {}
    for r in runs:
        out.setdefault((r["dataset"], r["noise"], r["rate"]), []).append(r)
    return out


def plot_accuracy(runs: Sequence[dict], path: str | Path) -> Path:
    """Test accuracy per epoch per method (mean over seeds), one panel per noise rate."""
    plt = _pyplot()
    groups = _groups(runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, ((ds, noise, rate), rs) in zip(axes[0], groups.items()):
        for method in dict.fromkeys(r["method"] for r in rs):
            curves = [np.array(r["test_accuracy_per_epoch"], dtype=float) for r in rs
                      if r["method"] == method and len(r["test_accuracy_per_epoch"]) > 1]
            if curves:
                n = min(len(c) for c in curves)
                mean = np.mean([c[:n, 1] for c in curves], axis=0)
                # Baselines may run more epochs (same gradient steps): plot on IEG's scale.
                x = np.linspace(0, 1, n) * 100
                ax.plot(x, mean, label=method, color=_COLORS.get(method))
            else:
                final = np.mean([r["test_accuracy"] for r in rs if r["method"] == method])
                ax.axhline(final, ls="--", lw=1, label=f"{method} (final)",
                           color=_COLORS.get(method))
        _finish(ax, title=f"{ds}, {noise} {rate:.0%}", xlabel="training progress (%)",
                ylabel="test accuracy", ylim=(0, 1))
    return _save(fig, path)


def plot_meta_statistics(runs: Sequence[dict], path: str | Path) -> Path:
    """The paper's Figure 4: mean ``lambda*`` and capped weight per epoch, for truly
    clean vs truly mislabeled rows (IEG runs, mean over seeds)."""
    plt = _pyplot()
    groups = {k: [r for r in v if r["method"] == "ieg" and "keep_clean_per_epoch" in r]
              for k, v in _groups(runs).items()}
    groups = {k: v for k, v in groups.items() if v}
    fig, axes = plt.subplots(2, max(len(groups), 1), figsize=(5.5 * max(len(groups), 1), 7),
                             squeeze=False)
    for col, ((ds, noise, rate), rs) in enumerate(groups.items()):
        for row, (stat, label) in enumerate((("keep", "mean relabeling coefficient lambda*"),
                                             ("weight", "mean exemplar weight min(B omega*, 1)"))):
            ax = axes[row, col]
            for kind, style in (("clean", "-"), ("mislabeled", "--")):
                curves = [np.array(r[f"{stat}_{kind}_per_epoch"], dtype=float) for r in rs]
                n = min(len(c) for c in curves)
                ax.plot(np.arange(1, n + 1), np.mean([c[:n] for c in curves], axis=0), style,
                        label=f"truly {kind} rows")
            _finish(ax, title=f"{ds}, {noise} {rate:.0%}", xlabel="epoch", ylabel=label,
                    ylim=(0, 1.05))
    return _save(fig, path)
