"""Datasets and samplers that pair noisy rows with trusted (probe) rows."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["IndexedDataset", "MergeLastBatchSampler", "ProbeSampler", "n_batches"]


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


class ProbeSampler:
    """Class-balanced batches of trusted-row indices, cycling through the set.

    As in the authors' code: classes take turns (class 0, 1, ..., K-1, 0, ...),
    and within each class the rows are visited in a shuffled order that is
    reshuffled once exhausted. When the trusted set is smaller than the batch,
    rows repeat (sampling with replacement); over many batches every trusted row
    is used about equally often.

    Parameters
    ----------
    y : ndarray of shape (n_trusted,)
        Labels of the trusted rows.
    batch_size : int
    rng : numpy.random.Generator
    """

    def __init__(self, y: np.ndarray, batch_size: int, rng: np.random.Generator):
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

    def sample(self) -> np.ndarray:
        """Indices (into the trusted set) of the next probe batch."""
        n_cls = len(self.classes)
        order = (self._next_class + np.arange(self.batch_size)) % n_cls
        self._next_class = int((self._next_class + self.batch_size) % n_cls)
        counts = np.bincount(order, minlength=n_cls)
        idx = np.concatenate([self._take(k, int(c)) for k, c in enumerate(counts) if c])
        return self.rng.permutation(idx)
