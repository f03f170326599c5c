"""Datasets and samplers that pair noisy rows with trusted (probe) rows."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["IndexedDataset", "ProbeSampler"]


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
