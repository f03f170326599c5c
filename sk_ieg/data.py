"""Datasets and samplers that pair noisy rows with trusted (probe) rows."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["IndexedDataset", "MergeLastBatchSampler", "ProbeSampler", "is_image_shape",
           "n_batches", "weighted_turns"]


def is_image_shape(shape) -> bool:
    """Whether rows of ``shape`` (one row's, without the batch axis) are images
    ``(C, H, W)``: the input kind that the default network and the ``"auto"`` rules
    (``first_cycle_epochs``, ``mixup_weight``) go by."""
    return len(shape) == 3


def n_batches(n: int, batch_size: int) -> int:
    """Batches of :class:`MergeLastBatchSampler` over ``n`` rows: ``ceil(n / batch_size)``,
    one fewer when the last batch would hold a single row."""
    full, rest = divmod(n, batch_size)
    return full + (rest > 1) + (rest == 1 and full == 0)


class MergeLastBatchSampler(Sampler):
    """Batches of ``batch_size`` indices from ``sampler``, with a last batch of a single
    row merged into the one before (``batch_size + 1`` rows).

    Training in batches of one row fails with BatchNorm ("Expected more than 1 value per
    channel"), and one data-set size in every ``batch_size`` would end on such a batch.
    The indices and their order are those of ``torch.utils.data.BatchSampler``.
    """

    def __init__(self, sampler: Sampler | Sized, batch_size: int):
        self.sampler = sampler
        self.batch_size = int(batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        previous: list[int] | None = None
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(int(idx))
            if len(batch) == self.batch_size:
                if previous is not None:
                    yield previous
                previous, batch = batch, []
        if len(batch) == 1 and previous is not None:
            previous, batch = previous + batch, []
        if previous is not None:
            yield previous
        if batch:
            yield batch

    def __len__(self) -> int:
        return n_batches(len(self.sampler), self.batch_size)


class IndexedDataset(Dataset):
    """Rows ``(x_i, [y_i, i])``: the label travels with the row's index.

    The index lets per-row statistics (exemplar weights, re-labeling votes) be
    accumulated for the right row however the loader shuffles. skorch unpacks a
    batch as ``(X, y)``, so ``y`` is a ``(batch, 2)`` int64 tensor: column 0 the
    encoded label, column 1 the row index.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        if len(X) != len(y):
            raise ValueError(f"X and y have different lengths: {len(X)} != {len(y)}")
        self.X = X
        self.y = torch.stack([y.long(), torch.arange(len(y))], dim=1)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def weighted_turns(counts) -> np.ndarray:
    """One full cycle of weighted turns: ``sum(counts)`` slots, each given to the class
    furthest behind its share (smooth weighted round-robin in exact integer
    arithmetic: every class's credit grows by its count, the slot goes to the first
    class with the most credit, which then pays ``sum(counts)``). Class ``k`` gets
    exactly ``counts[k]`` slots and every credit is back at 0 after the cycle, so the
    turns repeat it. Counts with a common divisor give the same turns as the counts
    divided by it, so the cycle is built for those."""
    counts = np.asarray(counts, dtype=np.int64)
    counts = counts // np.gcd.reduce(counts)
    total = int(counts.sum())
    credit = np.zeros(len(counts), dtype=np.int64)
    cycle = np.empty(total, dtype=np.int64)
    for i in range(total):
        credit += counts
        k = int(np.argmax(credit))
        credit[k] -= total
        cycle[i] = k
    return cycle


class ProbeSampler:
    """Batches of trusted-row indices with a set class mix, cycling through the set.

    As in the authors' code, classes take turns (class 0, 1, ..., K-1, 0, ...) by
    default, so every batch is class-balanced. With ``class_counts`` the turns are
    weighted: class ``k`` fills a share ``class_counts[k] / sum(class_counts)`` of the
    slots, spread evenly over the stream (each slot goes to the class furthest behind
    its share, in exact integer arithmetic; equal counts give the plain turns). Within
    each class the rows are visited in a shuffled order that is reshuffled once
    exhausted. When a class has fewer rows than it has slots, its rows repeat; over
    many batches every row of a class is used about equally often.

    Parameters
    ----------
    y : ndarray of shape (n_trusted,)
        Labels of the trusted rows.
    batch_size : int
    rng : numpy.random.Generator
    class_counts : array-like of int, optional
        One non-negative weight per class of ``y`` (sorted class order, as
        ``np.unique(y)``), not all zero; ``None``: class-balanced.
    """

    def __init__(self, y: np.ndarray, batch_size: int, rng: np.random.Generator,
                 class_counts=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        y = np.asarray(y)
        if len(y) == 0:
            raise ValueError("the trusted set is empty")
        self.batch_size = int(batch_size)
        self.rng = rng
        self.classes = np.unique(y)
        self._rows = [np.flatnonzero(y == c) for c in self.classes]
        self._queues = [self.rng.permutation(r) for r in self._rows]
        self._next_class = 0
        self._counts = self._cycle = None
        self._slot = 0  # position in the weighted turns' cycle
        if class_counts is not None:
            counts = np.asarray(class_counts)
            if (counts.shape != (len(self.classes),) or not np.issubdtype(counts.dtype, np.integer)
                    or (counts < 0).any() or counts.sum() == 0):
                raise ValueError(f"class_counts must be {len(self.classes)} non-negative "
                                 f"integers, not all 0; got {class_counts!r}")
            if len(np.unique(counts)) > 1:  # equal counts: the plain turns
                self._counts = counts.astype(np.int64)

    def __getstate__(self):
        # the cycle is a cache (as long as the noisy rows, for probe_prior="given"):
        # rebuilt on the next batch rather than pickled with every fitted model
        return {**self.__dict__, "_cycle": None}

    def _take(self, k: int, n: int) -> np.ndarray:
        out = []
        while n > 0:
            if len(self._queues[k]) == 0:
                self._queues[k] = self.rng.permutation(self._rows[k])
            took = self._queues[k][:n]
            self._queues[k] = self._queues[k][n:]
            out.append(took)
            n -= len(took)
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    def class_shares(self) -> np.ndarray:
        """Each class's share of the slots (order of ``classes``), summing to 1."""
        if self._counts is None:
            return np.full(len(self.classes), 1.0 / len(self.classes))
        return self._counts / self._counts.sum()

    def _order(self) -> np.ndarray:
        """The class of each slot of the next batch."""
        n_cls = len(self.classes)
        if self._counts is None:
            order = (self._next_class + np.arange(self.batch_size)) % n_cls
            self._next_class = int((self._next_class + self.batch_size) % n_cls)
            return order
        if self._cycle is None:
            self._cycle = weighted_turns(self._counts)
        slots = (self._slot + np.arange(self.batch_size)) % len(self._cycle)
        self._slot = int((self._slot + self.batch_size) % len(self._cycle))
        return self._cycle[slots]

    def sample(self) -> np.ndarray:
        """Indices (into the trusted set) of the next probe batch."""
        counts = np.bincount(self._order(), minlength=len(self.classes))
        idx = np.concatenate([self._take(k, int(c)) for k, c in enumerate(counts) if c])
        return self.rng.permutation(idx)
