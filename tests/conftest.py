"""Shared test settings.

The suite runs on 2 shared CPU cores: one intra-op thread avoids the
oversubscription that makes small models crawl (see README, "Threads").
"""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def digits_small():
    """Digits scaled to [0, 1]: (X, y) numpy arrays."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype("float32"), y
