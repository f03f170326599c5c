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
ones, the phases taking turns; on CUDA the device is synchronised around every call. Copies of the
network and optimizer are used, so the estimator is left as it was.
"""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from sk_ieg.step import (
    _capture_head,
    _views,
    find_head,
    guess_labels,
    ieg_objective,
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
    device = next(net.module_.parameters()).device
    state = net.ieg_state_
    config = net.step_config()
    n_classes = len(net.classes_)
    make_view = net.view_function()
    enc = {c: i for i, c in enumerate(net.classes_)}
    xb = torch.as_tensor(X[:bs], device=device)
    yb = torch.as_tensor([enc[v] for v in y[:bs]], device=device, dtype=torch.long)
    probe_idx = torch.from_numpy(state.probe_sampler.sample()).to(device)
    xp, yp = state.X_probe[probe_idx], state.y_probe[probe_idx]
    module = copy.deepcopy(net.module_).train()
    opt_kw = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
    optimizer = torch.optim.SGD(module.parameters(), **opt_kw)
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    names = {id(p): k for k, p in params.items()}

    def momentum_state():
        bufs = {names[id(p)]: s["momentum_buffer"] for p, s in optimizer.state.items()
                if "momentum_buffer" in s}
        return opt_kw["momentum"], opt_kw["weight_decay"], bufs

    def vanilla():
        optimizer.zero_grad()
        F.cross_entropy(module(xb), yb).backward()
        optimizer.step()

    def full(objective):
        def step():
            optimizer.zero_grad()
            mom, wd, bufs = momentum_state()
            objective(module, xb, yb, xp, yp, n_classes=n_classes, make_view=make_view,
                      config=config, generator=state.generator, momentum=mom,
                      weight_decay=wd, momentum_buffers=bufs,
                      seed_generator=state.seed_generator, backward=True)
            optimizer.step()
        return step

    n_strong = config.n_views - 1
    out = dict(batch_size=bs, probe_batch_size=int(xp.shape[0]),
               device=str(device), meta_scope=config.meta_scope,
               mixup_size=config.mixup_size)
    # The meta step alone, on fixed views and weak logits (graph retained), on a
    # copy of the network that no optimizer step changes.
    meta_module = copy.deepcopy(module)
    meta_params = {k: p for k, p in meta_module.named_parameters() if p.requires_grad}
    x_weak, x_strong, x_probe_weak = _views(xb, xp, make_view, n_strong)
    buffers = dict(meta_module.named_buffers())
    head = find_head(meta_module) if config.meta_scope == "head" else None
    store: dict = {}
    with _capture_head(head and head[1], store):
        logits = meta_module(x_weak)
    guesses = guess_labels(logits.detach()[None], temperature=config.temperature)
    labels = F.one_hot(yb, n_classes).to(logits.dtype)
    meta_momentum = {k: 0.1 * torch.ones_like(p) for k, p in meta_params.items()}

    def fcall(p, inputs):
        return functional_call(meta_module, (p, {k: b.clone() for k, b in buffers.items()}),
                               (inputs,))

    def meta():
        meta_step(fcall, meta_params, logits, x_weak, x_probe_weak, yp, labels=labels,
                  guesses=guesses, config=config, seeds=(0, 1),
                  features=store.get("features"), head=head, momentum=opt_kw["momentum"],
                  weight_decay=opt_kw["weight_decay"], momentum_buffers=meta_momentum)

    phases = {"vanilla_step": vanilla,
              "views": lambda: _views(xb, xp, make_view, n_strong),
              "meta_step": meta, "ieg_step": full(ieg_objective)}
    if config.meta_scope == "all":
        phases["reference_step"] = full(reference_objective)
    out.update(_interleaved_medians(phases, device, repeats, warmup))
    if "reference_step" in out:
        out["reference_over_ieg"] = out["reference_step"] / out["ieg_step"]
    out["ieg_over_vanilla"] = out["ieg_step"] / out["vanilla_step"]
    out["meta_over_vanilla"] = out["meta_step"] / out["vanilla_step"]
    return out
