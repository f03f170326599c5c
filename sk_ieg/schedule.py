"""Schedules (pure functions): the learning rate's cosine decay with warm restarts, and
the ramp-up of the unsupervised loss terms."""

from __future__ import annotations

import math

__all__ = ["cosine_restart_boundaries", "cosine_restarts", "first_cycle_length", "sigmoid_ramp_up"]


def cosine_restart_boundaries(
    total_steps: int, first_cycle: float, *, cycle_mult: float = 1.5, min_last_fraction: float = 0.5
) -> list[int]:
    """Step indices where cycles start, plus ``total_steps`` as the last entry.

    Cycle ``j`` lasts ``first_cycle * cycle_mult**j`` steps (TF's
    ``cosine_decay_restarts(t_mul=1.5)``). The cycle that would run past the budget
    is cut to end exactly at ``total_steps``; if less than ``min_last_fraction`` of
    it would remain, it is merged into the cycle before. So the schedule always
    ends at its lowest learning rate: the paper reports the model at the lowest
    learning rate before the end of the budget.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if first_cycle <= 0:
        raise ValueError(f"first_cycle must be > 0, got {first_cycle}")
    starts = [0.0]
    length = float(first_cycle)
    while starts[-1] + length < total_steps:
        starts.append(starts[-1] + length)
        length *= cycle_mult
    # starts[-1] is the start of the cycle that reaches the end of the budget.
    if len(starts) > 1 and (total_steps - starts[-1]) < min_last_fraction * length:
        starts.pop()
    # Rounding can push a start of a sub-step cycle onto the end: drop it.
    bounds = sorted({int(round(s)) for s in starts} - {int(total_steps)} | {0})
    return bounds + [int(total_steps)]


def cosine_restarts(
    step: int,
    total_steps: int,
    first_cycle: float,
    *,
    cycle_mult: float = 1.5,
    peak_decay: float = 0.9,
    alpha: float = 0.0,
) -> float:
    """Learning-rate factor in ``[alpha, 1]`` at ``step`` (0-based).

    Cosine decay within each cycle, restarting at a peak ``peak_decay**j`` for
    cycle ``j`` (TF ``m_mul=0.9``). Steps past ``total_steps`` continue with
    further cycles of the same geometric schedule (``partial_fit``).
    """
    bounds = cosine_restart_boundaries(total_steps, first_cycle, cycle_mult=cycle_mult)
    if step >= total_steps:  # keep cycling after the planned budget
        j = len(bounds) - 1
        start = total_steps
        length = first_cycle * cycle_mult ** j
        while step >= start + length:
            start += length
            length *= cycle_mult
            j += 1
    else:
        j = max(i for i in range(len(bounds) - 1) if bounds[i] <= step)
        start, length = bounds[j], bounds[j + 1] - bounds[j]
    frac = (step - start) / max(length, 1)
    cos = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
    return (peak_decay ** j) * ((1 - alpha) * cos + alpha)


def first_cycle_length(first_cycle_epochs, max_epochs: int, *, images: bool) -> float:
    """Epochs of the first learning-rate cycle for ``first_cycle_epochs``.

    A number is used as it is. ``"auto"``: ``max_epochs`` for images (a single cosine
    decay over the budget, as plain image training runs it) and 1 otherwise (warm
    restarts: cycles of 1, 1.5, 2.25, ... epochs). The rule is the input kind only;
    why each kind gets its schedule is measured in
    ``benchmarks/results/defaults_search/README.md`` (rounds 6 and 7).
    """
    if first_cycle_epochs == "auto":
        return float(max_epochs) if images else 1.0
    return float(first_cycle_epochs)


def sigmoid_ramp_up(step: float, length: float) -> float:
    """Weight in ``(0, 1]`` at ``step`` of a ramp over ``length`` steps:
    ``exp(-5 (1 - step / length)**2)``, then 1 (Laine & Aila 2017, Mean Teacher,
    MixMatch). ``length <= 0`` means no ramp (always 1).
    """
    if length <= 0 or step >= length:
        return 1.0
    t = max(step, 0.0) / length
    return math.exp(-5.0 * (1.0 - t) ** 2)
