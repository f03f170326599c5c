"""Tests for sk_ieg.schedule: cosine decay with warm restarts, checked by hand."""

from __future__ import annotations

import math

import pytest

from sk_ieg.schedule import cosine_restart_boundaries, cosine_restarts, first_cycle_length

# cosine_restart_boundaries(1000, 10), cycle_mult = 1.5. Cycle starts (unrounded):
#   0, 10, 25, 47.5, 81.25, 131.875, 207.8125, 321.71875, 492.578125, 748.8671875
# (cycle lengths 10, 15, 22.5, 33.75, 50.625, 75.9375, 113.90625, 170.859375,
#  256.2890625, then 384.43359375 for cycle 9). Cycle 9 would end at 1133.3 > 1000;
# 1000 - 748.867 = 251.13 remains, >= 0.5 * 384.43 = 192.2, so it is cut at 1000.
# Rounded (Python rounds half to even: round(47.5) = 48):
B1000 = [0, 10, 25, 48, 81, 132, 208, 322, 493, 749, 1000]
# With a budget of 800, cycle 9 keeps only 800 - 748.867 = 51.13 < 192.2 steps: it is
# merged into cycle 8, which then runs from 493 to 800.
B800 = [0, 10, 25, 48, 81, 132, 208, 322, 493, 800]


def test_boundaries_last_cycle_cut():
    assert cosine_restart_boundaries(1000, 10) == B1000


def test_boundaries_last_cycle_merged():
    assert cosine_restart_boundaries(800, 10) == B800


@pytest.mark.parametrize(
    ("total", "first", "kwargs", "expected"),
    [
        # starts 0, 10, 25 (next length 22.5): 30 - 25 = 5 < 11.25 -> merged
        (30, 10, {}, [0, 10, 30]),
        # 40 - 25 = 15 >= 11.25 -> cut
        (40, 10, {}, [0, 10, 25, 40]),
        # same as (30, 10) but only 20% must remain: 5 >= 4.5 -> cut
        (30, 10, {"min_last_fraction": 0.2}, [0, 10, 25, 30]),
        # cycles fit the budget exactly: 10 + 15 = 25
        (25, 10, {}, [0, 10, 25]),
        # first cycle longer than (or equal to) the budget: one cycle
        (5, 10, {}, [0, 5]),
        (10, 10, {}, [0, 10]),
        (1, 10, {}, [0, 1]),
        # cycle_mult = 1: starts 0, 10, 20, 30; 35 - 30 = 5 is not < 0.5 * 10 -> cut
        (35, 10, {"cycle_mult": 1.0}, [0, 10, 20, 30, 35]),
        # 34 - 30 = 4 < 5 -> merged
        (34, 10, {"cycle_mult": 1.0}, [0, 10, 20, 34]),
        # cycle_mult = 2: starts 0, 10, 30, 70 (next length 80); 100 - 70 = 30 < 40 -> merged
        (100, 10, {"cycle_mult": 2.0}, [0, 10, 30, 100]),
        (120, 10, {"cycle_mult": 2.0}, [0, 10, 30, 70, 120]),
    ],
)
def test_boundaries_small_hand_cases(total, first, kwargs, expected):
    assert cosine_restart_boundaries(total, first, **kwargs) == expected


@pytest.mark.parametrize("total", [1, 2, 7, 10, 11, 99, 100, 257, 1000, 4321, 100_000])
@pytest.mark.parametrize("first", [1, 3, 10, 37.5])
def test_boundaries_invariants(total, first):
    b = cosine_restart_boundaries(total, first)
    assert b[0] == 0 and b[-1] == total
    assert all(isinstance(v, int) for v in b)
    assert all(x < y for x, y in zip(b, b[1:]))  # strictly increasing: no empty cycle


@pytest.mark.parametrize(
    ("total", "first"),
    [(0, 10), (-5, 10), (100, 0), (100, -1.0)],
)
def test_boundaries_bad_arguments_raise(total, first):
    with pytest.raises(ValueError):
        cosine_restart_boundaries(total, first)


# --------------------------------------------------------------------------- #
# cosine_restarts
# --------------------------------------------------------------------------- #


def _cos(frac: float) -> float:
    return 0.5 * (1 + math.cos(math.pi * frac))


def test_factor_one_at_step_zero():
    assert cosine_restarts(0, 1000, 10) == 1.0
    assert cosine_restarts(0, 1000, 10, alpha=0.3) == 1.0


@pytest.mark.parametrize("j", range(len(B1000) - 1))
def test_peak_at_cycle_starts(j):
    assert cosine_restarts(B1000[j], 1000, 10) == pytest.approx(0.9**j, abs=1e-12)


def test_peak_decay_and_cycle_mult_are_used():
    # bounds for (100, 10, cycle_mult=2) are [0, 10, 30, 100]
    kw = dict(cycle_mult=2.0, peak_decay=0.5)
    assert cosine_restarts(10, 100, 10, **kw) == pytest.approx(0.5, abs=1e-12)
    assert cosine_restarts(30, 100, 10, **kw) == pytest.approx(0.25, abs=1e-12)
    # middle of cycle 1 (10 .. 30): 0.5 * 0.5
    assert cosine_restarts(20, 100, 10, **kw) == pytest.approx(0.25, abs=1e-12)


def test_cosine_midpoint():
    # cycle 0 is [0, 10): step 5 is half way
    assert cosine_restarts(5, 1000, 10) == pytest.approx(0.5, abs=1e-12)
    # cycle 5 is [132, 208), length 76: step 170 is half way
    assert cosine_restarts(170, 1000, 10) == pytest.approx(0.5 * 0.9**5, abs=1e-12)
    # cycle 6 is [208, 322), length 114: step 265
    assert cosine_restarts(265, 1000, 10) == pytest.approx(0.5 * 0.9**6, abs=1e-12)


def test_cosine_quarter_point():
    # cycle 5, a quarter in: 132 + 19 = 151 -> 0.9^5 * (1 + cos(pi/4)) / 2
    expected = 0.9**5 * 0.5 * (1 + math.cos(math.pi / 4))
    assert cosine_restarts(151, 1000, 10) == pytest.approx(expected, abs=1e-12)


def test_alpha_floor():
    # (1 - alpha) * cos + alpha, scaled by the peak
    assert cosine_restarts(170, 1000, 10, alpha=0.1) == pytest.approx(
        0.9**5 * (0.9 * 0.5 + 0.1), abs=1e-12
    )
    assert cosine_restarts(132, 1000, 10, alpha=0.1) == pytest.approx(0.9**5, abs=1e-12)


def test_near_zero_at_last_step_cut_case():
    # last cycle [749, 1000), length 251; step 999 is 250/251 of the way
    value = cosine_restarts(999, 1000, 10)
    assert value == pytest.approx(0.9**9 * _cos(250 / 251), abs=1e-15)
    assert 0 < value < 1e-4


def test_near_zero_at_last_step_merged_case():
    # last (merged) cycle [493, 800), length 307, peak 0.9^8
    value = cosine_restarts(799, 800, 10)
    assert value == pytest.approx(0.9**8 * _cos(306 / 307), abs=1e-15)
    assert 0 < value < 1e-4


@pytest.mark.parametrize(("total", "first"), [(1000, 10), (800, 10), (50, 3), (7, 10)])
def test_values_in_unit_interval_and_decreasing_within_cycles(total, first):
    bounds = cosine_restart_boundaries(total, first)
    values = [cosine_restarts(s, total, first) for s in range(total)]
    assert all(0.0 <= v <= 1.0 for v in values)
    for j, (a, b) in enumerate(zip(bounds, bounds[1:])):
        cycle = values[a:b]
        assert cycle[0] == pytest.approx(0.9**j, abs=1e-12)
        assert all(x > y for x, y in zip(cycle, cycle[1:]))


def test_keeps_cycling_past_total_steps():
    total, first = 1000, 10
    # 10 cycles fit the budget; step 1000 opens cycle 10 of length 10 * 1.5^10
    assert cosine_restarts(total, total, first) == pytest.approx(0.9**10, abs=1e-12)
    end10 = total + first * 1.5**10  # 1576.650390625
    assert end10 == 1576.650390625
    # step 1576 is the end of cycle 10, step 1577 restarts with peak 0.9^11
    assert cosine_restarts(1576, total, first) == pytest.approx(
        0.9**10 * _cos(576 / (first * 1.5**10)), abs=1e-12
    )
    assert cosine_restarts(1577, total, first) == pytest.approx(
        0.9**11 * _cos((1577 - end10) / (first * 1.5**11)), abs=1e-12
    )
    values = [cosine_restarts(s, total, first) for s in range(total, 20 * total, 7)]
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
    # it really restarts more than once (not stuck at 0 or at one value)
    ups = sum(1 for x, y in zip(values, values[1:]) if y > x)
    assert ups >= 2


@pytest.mark.parametrize(("total", "first"), [(1, 0.55), (1, 0.25)])
def test_boundaries_no_empty_cycle_with_sub_step_first_cycle(total, first):
    # (1, 0.55): starts 0, 0.55; 1 - 0.55 = 0.45 >= 0.5 * 0.825, so cycle 1 is kept,
    # but round(0.55) = 1 = total_steps: a start rounded onto the end is dropped.
    b = cosine_restart_boundaries(total, first)
    assert b == [0, total]


def test_sigmoid_ramp_up_hand_computed():
    from sk_ieg.schedule import sigmoid_ramp_up

    assert sigmoid_ramp_up(0, 10) == pytest.approx(math.exp(-5.0))
    assert sigmoid_ramp_up(5, 10) == pytest.approx(math.exp(-5.0 * 0.25))
    assert sigmoid_ramp_up(10, 10) == 1.0 and sigmoid_ramp_up(11, 10) == 1.0
    assert sigmoid_ramp_up(0, 0) == 1.0  # no ramp


def test_first_cycle_length_rule():
    assert first_cycle_length("auto", 30, images=True) == 30.0
    assert first_cycle_length("auto", 30, images=False) == 1.0
    assert first_cycle_length(2.5, 30, images=True) == 2.5
    assert first_cycle_length(1, 7, images=False) == 1.0
