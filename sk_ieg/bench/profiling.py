"""Time the parts of one IEG training step against one ordinary training step.

:func:`time_step_phases` measures, on the same batch, device and network:

* ``vanilla_step``: forward, cross-entropy, backward and SGD step on ``B`` rows
  (what skorch's ``NeuralNetClassifier`` does per batch);
* ``views``: the weak and strong views of the batch and the probe views;
* ``meta_step``: the virtual step, probe pass and meta-gradients alone
  (:func:`sk_ieg.step.meta_step`, given the weak-view logits);
* ``ieg_step``: the whole IEG step (:func:`sk_ieg.step.ieg_objective`, backward,
  SGD step), views included;
* ``reference_step``: the same step by :func:`sk_ieg.step.reference_objective`
  (no shared passes, double-backward meta-gradient), when ``meta_scope="all"``.

Each figure is the median over ``repeats`` timed calls after ``warmup`` untimed
ones, the phases taking turns; on CUDA the device is synchronised around every call.
Copies of the network and optimizer are used, so the estimator's network is left as it
was (its probe sampler and view generator do move on); the IEG steps draw the rest of
their random numbers from a generator of the profiler's own.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from sk_ieg.step import (
    IEGConfig,
    capture_head,
    find_head,
    guess_labels,
    ieg_objective,
    make_views,
    meta_step,
    reference_objective,
)

__all__ = ["time_step_phases"]


def _interleaved_medians(phases: dict, device: torch.device, repeats: int,
                         warmup: int) -> dict:
    """Median seconds per phase; the phases take turns, so a slow spell of a
    shared machine hits them all alike."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for fn in phases.values():
        for _ in range(warmup):
            fn()
    times: dict = {name: [] for name in phases}
    for _ in range(repeats):
        for name, fn in phases.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def time_step_phases(net, X, y, X_trusted, y_trusted, *, repeats: int = 20,
                     warmup: int = 3) -> dict:
    """Median seconds of the step's phases on one batch (see the module docstring).

    Parameters
    ----------
    net : IEGClassifier
        Unfitted or fitted; it is fitted for one epoch on the first two batches of
        ``X`` to build its module, optimizer and views (its settings, e.g.
        ``meta_scope`` or ``mixup_size``, are the ones timed).
    X, y : array-like
        Noisy rows and labels; the first ``net.batch_size`` rows are the batch.
    X_trusted, y_trusted : array-like
        The probe set.
    repeats, warmup : int

    Returns
    -------
    dict
        ``{"vanilla_step", "views", "meta_step", "ieg_step", "reference_step"}``
        seconds (``reference_step`` only for ``meta_scope="all"``), plus
        ``"batch_size"``, ``"probe_batch_size"`` and the ratios
        ``"ieg_over_vanilla"``, ``"meta_over_vanilla"``,
        ``"reference_over_ieg"``.
    """
    bs = net.batch_size
    X, y = np.asarray(X), np.asarray(y)
    net.set_params(max_epochs=1, verbose=0)
    net.fit(X[: 2 * bs], y[: 2 * bs], X_trusted=X_trusted, y_trusted=y_trusted)
    b = _batch(net, X[:bs], y[:bs])
    config = b.config
    module = copy.deepcopy(net.module_).train()
    optimizer = torch.optim.SGD(module.parameters(), **_SGD)
    n_strong = config.n_views - 1
    phases = {"vanilla_step": _vanilla_step(module, optimizer, b),
              "views": lambda: make_views(b.x, b.x_probe, b.make_view, n_strong),
              # on a copy of the network that no optimizer step changes
              "meta_step": _meta_step(copy.deepcopy(module), b),
              "ieg_step": _full_step(ieg_objective, module, optimizer, b)}
    if config.meta_scope == "all":
        phases["reference_step"] = _full_step(reference_objective, module, optimizer, b)
    out = dict(batch_size=bs, probe_batch_size=int(b.x_probe.shape[0]),
               device=str(b.x.device), meta_scope=config.meta_scope,
               mixup_size=config.mixup_size)
    out.update(_interleaved_medians(phases, b.x.device, repeats, warmup))
    if "reference_step" in out:
        out["reference_over_ieg"] = out["reference_step"] / out["ieg_step"]
    out["ieg_over_vanilla"] = out["ieg_step"] / out["vanilla_step"]
    out["meta_over_vanilla"] = out["meta_step"] / out["vanilla_step"]
    return out


#: The optimizer of the timed steps (that of every benchmark network, at a smaller lr).
_SGD = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)


@dataclass
class _Batch:
    """One batch and the fitted settings every phase uses."""

    x: torch.Tensor
    y: torch.Tensor
    x_probe: torch.Tensor
    y_probe: torch.Tensor
    n_classes: int
    make_view: Callable
    config: IEGConfig
    generator: torch.Generator


def _batch(net, X, y) -> _Batch:
    """The rows ``X, y`` on the module's device, a probe batch and the fitted settings;
    the objective draws from a generator of its own (seeded 0) on that device."""
    device = next(net.module_.parameters()).device
    enc = {c: i for i, c in enumerate(net.classes_)}
    x_probe, y_probe = net.probe_batch()
    return _Batch(x=torch.as_tensor(X, device=device),
                  y=torch.as_tensor([enc[v] for v in y], device=device, dtype=torch.long),
                  x_probe=x_probe, y_probe=y_probe, n_classes=len(net.classes_),
                  make_view=net.view_function(), config=net.step_config(),
                  generator=torch.Generator(device=device).manual_seed(0))


def _vanilla_step(module, optimizer, b: _Batch) -> Callable[[], None]:
    """Forward, cross-entropy, backward and SGD step on the batch."""
    def step():
        optimizer.zero_grad()
        F.cross_entropy(module(b.x), b.y).backward()
        optimizer.step()
    return step


def _full_step(objective, module, optimizer, b: _Batch) -> Callable[[], None]:
    """One whole IEG step by ``objective`` (views included), backward and SGD step."""
    names = {id(p): k for k, p in module.named_parameters() if p.requires_grad}

    def step():
        optimizer.zero_grad()
        bufs = {names[id(p)]: s["momentum_buffer"] for p, s in optimizer.state.items()
                if "momentum_buffer" in s}
        objective(module, b.x, b.y, b.x_probe, b.y_probe, n_classes=b.n_classes,
                  make_view=b.make_view, config=b.config, generator=b.generator,
                  momentum=_SGD["momentum"], weight_decay=_SGD["weight_decay"],
                  momentum_buffers=bufs, seed_generator=None, backward=True)
        optimizer.step()
    return step


def _meta_step(module, b: _Batch) -> Callable[[], None]:
    """The meta step alone, on fixed views and weak-view logits (graph retained)."""
    config = b.config
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    x_weak, _, x_probe_weak = make_views(b.x, b.x_probe, b.make_view, config.n_views - 1)
    buffers = dict(module.named_buffers())
    head = find_head(module) if config.meta_scope == "head" else None
    store: dict = {}
    with capture_head(head and head[1], store):
        logits = module(x_weak)
    guesses = guess_labels(logits.detach()[None], temperature=config.temperature)
    labels = F.one_hot(b.y, b.n_classes).to(logits.dtype)
    momentum_buffers = {k: 0.1 * torch.ones_like(p) for k, p in params.items()}

    def fcall(p, inputs):
        return functional_call(module, (p, {k: v.clone() for k, v in buffers.items()}),
                               (inputs,))

    def step():
        meta_step(fcall, params, logits, x_weak, x_probe_weak, b.y_probe, labels=labels,
                  guesses=guesses, config=config, seeds=(0, 1),
                  features=store.get("features"), head=head, momentum=_SGD["momentum"],
                  weight_decay=_SGD["weight_decay"], momentum_buffers=momentum_buffers)
    return step
