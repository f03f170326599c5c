"""Tests for sk_ieg.data: IndexedDataset and the class-balanced ProbeSampler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from sk_ieg.data import IndexedDataset, ProbeSampler, weighted_turns

# --------------------------------------------------------------------------- #
# IndexedDataset
# --------------------------------------------------------------------------- #


def test_indexed_dataset_items():
    X = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    y = torch.tensor([2, 0, 1, 1, 0], dtype=torch.int32)
    ds = IndexedDataset(X, y)
    assert len(ds) == 5
    for i in range(5):
        xi, yi = ds[i]
        assert torch.equal(xi, X[i])
        assert yi.dtype == torch.int64
        assert torch.equal(yi, torch.tensor([int(y[i]), i]))
    assert torch.equal(ds[3][1], torch.tensor([1, 3]))


def test_indexed_dataset_index_survives_shuffling():
    X = torch.randn(12, 2, 2, generator=torch.Generator().manual_seed(0))
    y = torch.arange(12) % 3
    loader = DataLoader(IndexedDataset(X, y), batch_size=5, shuffle=True,
                        generator=torch.Generator().manual_seed(1))
    seen = []
    for xb, yb in loader:
        assert yb.shape == (len(xb), 2) and yb.dtype == torch.int64
        assert torch.equal(X[yb[:, 1]], xb)
        assert torch.equal(y[yb[:, 1]], yb[:, 0])
        seen.extend(yb[:, 1].tolist())
    assert sorted(seen) == list(range(12))
    assert seen != list(range(12))  # it did shuffle


def test_indexed_dataset_length_mismatch_raises():
    with pytest.raises(ValueError, match="different lengths"):
        IndexedDataset(torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64))


# --------------------------------------------------------------------------- #
# ProbeSampler
# --------------------------------------------------------------------------- #


def _class_counts(y: np.ndarray, idx: np.ndarray, classes) -> np.ndarray:
    return np.array([(y[idx] == c).sum() for c in classes])


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 5, 6, 7, 9, 12, 20])
def test_probe_batches_are_class_balanced(batch_size):
    # unequal class sizes: 5, 2 and 7 rows
    y = np.array([0] * 5 + [1] * 2 + [2] * 7)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(len(y))]
    sampler = ProbeSampler(y, batch_size, np.random.default_rng(1))
    for _ in range(40):
        idx = sampler.sample()
        assert idx.shape == (batch_size,)
        assert np.issubdtype(idx.dtype, np.integer)
        assert idx.min() >= 0 and idx.max() < len(y)
        counts = _class_counts(y, idx, [0, 1, 2])
        assert counts.sum() == batch_size
        assert counts.max() - counts.min() <= 1
        if batch_size % 3 == 0:
            assert (counts == batch_size // 3).all()


def test_probe_classes_take_turns():
    # 3 classes, batch 4: class order 0,1,2,0 | 1,2,0,1 | 2,0,1,2 | 0,1,2,0 ...
    y = np.repeat([0, 1, 2], 4)
    sampler = ProbeSampler(y, 4, np.random.default_rng(2))
    got = [_class_counts(y, sampler.sample(), [0, 1, 2]).tolist() for _ in range(4)]
    assert got == [[2, 1, 1], [1, 2, 1], [1, 1, 2], [2, 1, 1]]


def test_probe_fewer_rows_in_batch_than_classes():
    # 5 classes, batch 2: classes {0,1}, {2,3}, {4,0}, {1,2}, {3,4}; 5 batches = 2 per class
    y = np.repeat(np.arange(5), 2)
    sampler = ProbeSampler(y, 2, np.random.default_rng(3))
    batches = [sampler.sample() for _ in range(5)]
    assert [sorted(y[b].tolist()) for b in batches] == [[0, 1], [2, 3], [0, 4], [1, 2], [3, 4]]


def test_probe_rows_used_equally_cycling():
    # 3 classes x 3 rows, batch 6: each batch draws 2 rows of every class. After B batches
    # a class has had 2B draws over its 3 rows; visiting the rows in reshuffled cycles,
    # each row is used floor(2B/3) or ceil(2B/3) times, and exactly 2B/3 times when B is a
    # multiple of 3 (every 3 batches = 2 full passes over each class). i.i.d. draws
    # would drift away from these bounds.
    y = np.repeat([0, 1, 2], 3)
    sampler = ProbeSampler(y, 6, np.random.default_rng(4))
    uses = np.zeros(9, dtype=int)
    for b in range(1, 301):
        np.add.at(uses, sampler.sample(), 1)
        draws = 2 * b
        assert uses.min() >= draws // 3 and uses.max() <= -(-draws // 3)
        if b % 3 == 0:
            assert (uses == draws // 3).all()
    assert (uses == 200).all()


def test_probe_two_classes_three_rows_batch_six_uses_each_row_once():
    # 2 classes x 3 rows, batch 6: each batch takes exactly one full pass of each class
    y = np.array([0, 1, 0, 1, 0, 1])
    sampler = ProbeSampler(y, 6, np.random.default_rng(5))
    for _ in range(20):
        assert sorted(sampler.sample().tolist()) == list(range(6))


def test_probe_rows_repeat_when_trusted_set_smaller_than_batch():
    # 2 classes x 2 rows, batch 10: 5 draws per class per batch, so rows repeat in a
    # batch; over 2 batches each class has 10 draws = 5 full passes -> 5 uses per row.
    y = np.array([0, 0, 1, 1])
    sampler = ProbeSampler(y, 10, np.random.default_rng(6))
    uses = np.zeros(4, dtype=int)
    for b in range(1, 21):
        idx = sampler.sample()
        assert len(idx) == 10 and len(np.unique(idx)) < 10
        assert (_class_counts(y, idx, [0, 1]) == 5).all()
        np.add.at(uses, idx, 1)
        if b % 2 == 0:
            assert (uses == 5 * b // 2).all()


def test_probe_single_row_per_class():
    y = np.array([0, 1, 2])
    sampler = ProbeSampler(y, 7, np.random.default_rng(7))
    uses = np.zeros(3, dtype=int)
    for _ in range(3):
        np.add.at(uses, sampler.sample(), 1)
    assert (uses == 7).all()  # 21 draws over 3 classes, one row each


def test_probe_deterministic_given_seed():
    y = np.repeat(np.arange(4), 5)

    def run(seed: int) -> list[list[int]]:
        s = ProbeSampler(y, 6, np.random.default_rng(seed))
        return [s.sample().tolist() for _ in range(10)]

    assert run(8) == run(8)
    assert run(8) != run(9)


def test_probe_string_labels():
    y = np.array(["cat", "dog", "cat", "dog", "bird", "bird", "cat"])
    sampler = ProbeSampler(y, 6, np.random.default_rng(10))
    for _ in range(10):
        idx = sampler.sample()
        assert (_class_counts(y, idx, ["bird", "cat", "dog"]) == 2).all()
    # a plain list works too
    idx = ProbeSampler(list(y), 3, np.random.default_rng(0)).sample()
    assert sorted(y[idx].tolist()) == ["bird", "cat", "dog"]


@pytest.mark.parametrize("y", [np.array([], dtype=int), []])
def test_probe_empty_trusted_set_raises(y):
    with pytest.raises(ValueError, match="empty"):
        ProbeSampler(y, 4, np.random.default_rng(0))


@pytest.mark.parametrize("batch_size", [0, -1])
def test_probe_bad_batch_size_raises(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        ProbeSampler(np.array([0, 1]), batch_size, np.random.default_rng(0))


@pytest.mark.parametrize("batch_size", [1, 3, 7, 16])
def test_probe_class_counts_set_each_class_share_of_the_slots(batch_size):
    # weights 1:3:6 over classes with 2, 5 and 3 rows: after B batches, class k has had
    # share_k * B * batch_size slots to within one (each slot goes to the class furthest
    # behind its share), whatever its number of rows.
    y = np.array([0] * 2 + [1] * 5 + [2] * 3)
    weights = np.array([1, 3, 6])
    sampler = ProbeSampler(y, batch_size, np.random.default_rng(5), class_counts=weights)
    drawn = np.zeros(3, dtype=int)
    for b in range(1, 61):
        idx = sampler.sample()
        assert idx.shape == (batch_size,)
        drawn += _class_counts(y, idx, [0, 1, 2])
        expected = weights / weights.sum() * b * batch_size
        assert np.abs(drawn - expected).max() < 1 + 1e-9


def test_probe_class_counts_hand_computed_order():
    # weights 1:2 and batch 3: slots go 1, 0, 1 in every batch (credits +1/+2, minus 3 for
    # the class taken; ties to the lower class).
    y = np.array([0, 0, 1, 1])
    sampler = ProbeSampler(y, 3, np.random.default_rng(6), class_counts=[1, 2])
    for _ in range(4):
        assert sorted(y[sampler.sample()].tolist()) == [0, 1, 1]
    # a zero weight leaves its class out
    sampler = ProbeSampler(y, 3, np.random.default_rng(6), class_counts=[0, 5])
    assert (y[sampler.sample()] == 1).all()


def _turns_slot_by_slot(counts, n):
    # the weighted turns as the sampler drew them before round 15, one slot at a time
    counts = np.asarray(counts, dtype=np.int64)
    credit, total, out = np.zeros(len(counts), dtype=np.int64), int(counts.sum()), []
    for _ in range(n):
        credit += counts
        k = int(np.argmax(credit))
        credit[k] -= total
        out.append(k)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=2, max_size=7).filter(lambda c: sum(c) > 0))
def test_weighted_turns_cycle_repeats_the_slot_by_slot_turns(counts):
    cycle = weighted_turns(counts)
    per_cycle = np.bincount(cycle, minlength=len(counts)) * (sum(counts) // len(cycle))
    np.testing.assert_array_equal(per_cycle, counts)
    n = 3 * sum(counts) + 5
    np.testing.assert_array_equal(np.resize(cycle, n), _turns_slot_by_slot(counts, n))


def test_weighted_sampler_pickles_without_its_cycle_and_goes_on_the_same():
    y = np.repeat([0, 1, 2], [3, 5, 4])
    sampler = ProbeSampler(y, 4, np.random.default_rng(8), class_counts=[3, 7, 5])
    sampler.sample()
    copy = pickle.loads(pickle.dumps(sampler))
    assert sampler._cycle is not None and copy._cycle is None
    for _ in range(9):
        np.testing.assert_array_equal(copy.sample(), sampler.sample())


def test_probe_equal_class_counts_are_the_plain_turns():
    y = np.repeat([0, 1, 2], 4)
    plain = ProbeSampler(y, 4, np.random.default_rng(2))
    equal = ProbeSampler(y, 4, np.random.default_rng(2), class_counts=[7, 7, 7])
    for _ in range(6):
        np.testing.assert_array_equal(plain.sample(), equal.sample())


@pytest.mark.parametrize("counts", [[1, 2], [1, -1, 2], [0, 0, 0], [1.5, 1, 1]])
def test_probe_class_counts_invalid(counts):
    with pytest.raises(ValueError, match="class_counts"):
        ProbeSampler(np.array([0, 1, 2]), 2, np.random.default_rng(0), class_counts=counts)
