"""Run-time state of an IEG fit, one dataclass per concern.

:class:`FitState` (the estimator's ``ieg_state_``) holds what the training step and
the meta-step callbacks share: the probe set, the random streams, the statistics
the views are scaled by, the noisy rows' labels and their alignment with ``X``,
the per-row running statistics and the weight average. It is kept after ``fit``
for ``partial_fit`` and pickled through skorch's device-aware path (the estimator
lists it in ``cuda_dependent_attributes_``): tensors are mapped to the loading
device by skorch's unpickler, generators are stored as plain records.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from sk_ieg.data import ProbeSampler

__all__ = ["TORCH_PROCESS_LOCK", "FitState", "NoisyRows", "ProbeSet", "RandomStreams",
           "RowStats", "ViewStats", "generator_record", "restore_generator"]

#: Forward-mode AD levels (the "jvp" meta-gradient) and the global RNG state that
#: ``torch.random.fork_rng`` swaps are per process, not per thread: fits running in
#: threads of one process (joblib's threading backend, Dask threads) take turns here,
#: and so do the callbacks that run module passes between steps (``auto_consistency``,
#: ``auto_meta``).
TORCH_PROCESS_LOCK = threading.RLock()


def generator_record(generator: torch.Generator) -> dict:
    """A torch.Generator as plain data: device, initial seed and state."""
    return {"device": str(generator.device), "seed": generator.initial_seed(),
            "state": generator.get_state()}


def restore_generator(record: dict) -> torch.Generator:
    """Rebuild a generator from :func:`generator_record`.

    A CUDA generator restored where CUDA is not available (a model fitted on a
    GPU, loaded on a CPU-only machine) becomes a CPU generator re-seeded from
    its initial seed: CUDA's Philox state has no CPU equivalent. Only further
    training (``partial_fit``) draws from it; predictions do not.
    """
    device = torch.device(record["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.Generator().manual_seed(int(record["seed"]))
    generator = torch.Generator(device=device)
    generator.set_state(record["state"])
    return generator


@dataclass
class RandomStreams:
    """Every random stream of a fit, seeded from ``random_state``."""

    #: on the device: views, mixup
    views: torch.Generator
    #: CPU: shuffling of the training loader
    loader: torch.Generator
    #: CPU generator for module-RNG seeds (dropout) when ``views`` is on a GPU (no host
    #: sync); None on the CPU
    seeds: torch.Generator | None
    #: seed of the module's initialisation
    module_seed: int

    @classmethod
    def from_seeds(cls, seeds, device: torch.device) -> RandomStreams:
        """Streams from ``seeds`` = (module, views, loader, ...) drawn from ``random_state``."""
        return cls(views=torch.Generator(device=device).manual_seed(int(seeds[1])),
                   loader=torch.Generator().manual_seed(int(seeds[2])),
                   seeds=None if device.type == "cpu" else
                   torch.Generator().manual_seed(int(seeds[1])),
                   module_seed=int(seeds[0]))

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("views", "loader", "seeds"):
            if state[name] is not None:
                state[name] = generator_record(state[name])
        return state

    def __setstate__(self, state):
        for name in ("views", "loader", "seeds"):
            if isinstance(state.get(name), dict):
                state[name] = restore_generator(state[name])
        self.__dict__.update(state)


@dataclass
class ProbeSet:
    """The trusted (probe) rows on the device and their sampler."""

    X: torch.Tensor
    y: torch.Tensor
    sampler: ProbeSampler

    @classmethod
    def from_arrays(cls, X: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                    device: torch.device, class_counts=None) -> ProbeSet:
        return cls(X=torch.from_numpy(X).to(device), y=torch.from_numpy(y).long().to(device),
                   sampler=ProbeSampler(y, batch_size, np.random.default_rng(seed),
                                        class_counts=class_counts))

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next probe batch: rows and labels."""
        idx = torch.from_numpy(self.sampler.sample()).to(self.X.device)
        return self.X[idx], self.y[idx]


@dataclass
class ViewStats:
    """What the views are scaled by: per-feature mean and std, the value range."""

    kind: str  #: "tabular", "image", "none" or "callable"
    mean: torch.Tensor
    std: torch.Tensor
    value_range: tuple[float, float]

    @classmethod
    def from_rows(cls, kind: str, rows: np.ndarray, device: torch.device) -> ViewStats:
        return cls(kind=kind, mean=torch.from_numpy(rows.mean(axis=0)).to(device),
                   std=torch.from_numpy(rows.std(axis=0)).to(device),
                   value_range=(float(rows.min()), float(rows.max())))


@dataclass
class NoisyRows:
    """The noisy rows' encoded labels, and where they sit among the rows of ``X``."""

    labels: np.ndarray  #: (n_noisy,) encoded given labels
    #: (n_samples,) bool, the rows of X marked trusted (``fit(..., trusted=mask)``); None
    #: when X holds only noisy rows
    trusted_mask: np.ndarray | None = None
    trusted_labels: np.ndarray | None = None  #: encoded labels of those rows

    def align(self, noisy: np.ndarray, trusted) -> np.ndarray:
        """Per-row values of the noisy rows, spread over the rows of ``X``: trusted
        rows get ``trusted`` (a scalar or one value per trusted row)."""
        mask = self.trusted_mask
        if mask is None:
            return noisy
        full = np.empty(len(mask), dtype=np.result_type(noisy, np.asarray(trusted)))
        full[~mask], full[mask] = noisy, trusted
        return full


@dataclass
class RowStats:
    """Per-row running averages of the meta step's results (decayed per visit)."""

    weight: torch.Tensor  #: capped normalised exemplar weight
    keep: torch.Tensor  #: lambda*: 1 = the given label was kept
    guess: torch.Tensor  #: (n, n_classes) guessed label
    visits: torch.Tensor  #: steps in which each row was seen

    @classmethod
    def zeros(cls, n: int, n_classes: int, device) -> RowStats:
        return cls(weight=torch.zeros(n, device=device), keep=torch.zeros(n, device=device),
                   guess=torch.zeros(n, n_classes, device=device),
                   visits=torch.zeros(n, dtype=torch.long, device=device))


@dataclass
class FitState:
    """Run-time state of one fit (kept after fit for ``partial_fit``)."""

    probe: ProbeSet
    rng: RandomStreams
    views: ViewStats
    rows: NoisyRows
    #: running statistics of this fit's noisy rows (the ``row_statistics`` callback)
    stats: RowStats | None = None
    #: weight average used for prediction (the ``weight_average`` callback)
    average: dict | None = None
    #: factor of the unsupervised terms this step, in (0, 1] (the ``ramp_up`` callback)
    ramp: float = 1.0
    #: strengths of ``meta_strength="auto"`` and ``relabel_strength="auto"`` (the
    #: ``auto_meta`` callback)
    meta_strength: float = 1.0
    relabel_strength: float = 1.0
    #: scale of ``consistency_weight="auto"`` (the ``auto_consistency`` callback)
    consistency_scale: float = 1.0
    #: estimated label-noise transition (the ``label_noise`` callback), or None
    transition: torch.Tensor | None = None
    #: (n_noisy, n_classes) running early-learning targets of the noisy rows (zeros
    #: before a row's first visit), or None when ``early_learning_weight`` is 0
    early_targets: torch.Tensor | None = None
