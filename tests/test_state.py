"""The run-time state's pieces: generator records, probe batches, row alignment."""

import numpy as np
import torch

from sk_ieg.state import NoisyRows, ProbeSet, RandomStreams, generator_record, restore_generator


def test_restore_generator_falls_back_to_cpu_without_cuda(monkeypatch):
    g = torch.Generator().manual_seed(7)
    assert torch.equal(restore_generator(generator_record(g)).get_state(), g.get_state())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = restore_generator({"device": "cuda:0", "seed": 7, "state": None})
    assert restored.device.type == "cpu" and restored.initial_seed() == 7


def test_random_streams_pickle_as_records_and_continue():
    import pickle

    streams = RandomStreams.from_seeds([1, 2, 3], torch.device("cpu"))
    assert streams.seeds is None and streams.module_seed == 1
    assert streams.views.initial_seed() == 2 and streams.loader.initial_seed() == 3
    torch.rand(3, generator=streams.views)
    twin = pickle.loads(pickle.dumps(streams))
    assert torch.equal(torch.rand(4, generator=twin.views), torch.rand(4, generator=streams.views))


def test_probe_batches_are_class_balanced_rows_with_their_labels():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 0, 0, 1, 1, 2])
    probe = ProbeSet.from_arrays(X, y, batch_size=6, seed=0, device=torch.device("cpu"))
    xb, yb = probe.batch()
    assert sorted(yb.tolist()) == [0, 0, 1, 1, 2, 2]
    # Each row comes with its own label.
    for row, label in zip(xb, yb):
        assert y[int(row[0]) // 2] == label


def test_noisy_rows_align_with_the_rows_of_X():
    mask = np.array([False, True, False, True])
    rows = NoisyRows(labels=np.array([5, 6]), trusted_mask=mask, trusted_labels=np.array([1, 2]))
    np.testing.assert_array_equal(rows.align(np.array([5, 6]), rows.trusted_labels), [5, 1, 6, 2])
    np.testing.assert_array_equal(rows.align(np.array([0.5, 0.25]), 1.0), [0.5, 1, 0.25, 1])
    plain = NoisyRows(labels=np.array([5, 6]))
    np.testing.assert_array_equal(plain.align(np.array([3, 4]), 1.0), [3, 4])
