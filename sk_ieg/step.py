"""One IEG training objective, composed from the pure pieces (no device logic).

:func:`ieg_objective` takes a module, a batch of noisy rows and a batch of probe
rows on the same device and returns the loss to back-propagate plus the meta
step's per-row results. The estimator owns devices, the optimizer and the
bookkeeping; this module owns the order of operations:

1. views: a weak view and ``K - 1`` strong views of every noisy row, the weak
   view of every probe row;
2. guessed labels from the views (eq. 3);
3. the meta step: exemplar weights ``omega*`` and re-labeling coefficients
   ``lambda*`` from the exact meta-gradient (eq. 5-7, :mod:`sk_ieg.meta`);
4. the final loss: the two cross-entropy terms, probe-anchored mixup (eq. 9) and
   KL consistency (eq. 4).

Forward passes are shared: the weak-view logits serve the guesses, the meta
step's virtual loss and the final loss; the strong-view logits serve the guesses
and the consistency term. Only the weak-view forward updates BatchNorm running
statistics; all other passes run with cloned buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sk_ieg._typing import Tensor, TensorDict
from sk_ieg.losses import guess_labels, kl_consistency, mixup, soft_cross_entropy, supervised_loss
from sk_ieg.meta import exemplar_weights, meta_gradients, relabel_coefficients

__all__ = ["IEGConfig", "StepOutput", "ieg_objective"]

#: ``make_view(x, strong) -> x_view``; randomness bound in by the caller.
ViewFn = Callable[[Tensor, bool], Tensor]


@dataclass(frozen=True)
class IEGConfig:
    """Hyper-parameters of one IEG step (see :class:`sk_ieg.IEGClassifier`)."""

    n_views: int = 2
    temperature: float = 0.5
    given_label_weight: float = 0.9
    meta_lr: float = 0.1
    meta_gradient: str = "jvp"
    relabel: bool = True
    reweight: bool = True
    mixup: bool = True
    probe_mixup_weight: float = 1.0
    mixup_weight: float = 1.0
    consistency_weight: float = 20.0


@dataclass
class StepOutput:
    """What one step returns: the loss and the per-row meta-step results."""

    loss: Tensor
    logits: Tensor  #: weak-view logits, detached, (B, n_classes)
    omega: Tensor  #: exemplar weights omega*, sum 1 (or 0), (B,)
    lam: Tensor  #: binary re-labeling coefficients lambda*, (B,)
    guesses: Tensor  #: guessed labels g, (B, n_classes)
    probe_loss: Tensor | None  #: L_p(theta'), detached scalar; None without meta step
    parts: dict[str, Tensor]  #: detached loss components, for logging


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


@contextmanager
def _module_rng(device: torch.device, seed: int):
    """Run the module's own randomness (dropout) from ``seed`` without touching
    the caller's global RNG state."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
        torch.manual_seed(seed)
        yield


def ieg_objective(
    module: nn.Module,
    x: Tensor,
    y: Tensor,
    x_probe: Tensor,
    y_probe: Tensor,
    *,
    n_classes: int,
    make_view: ViewFn,
    config: IEGConfig,
    generator: torch.Generator,
    momentum: float | Mapping[str, float] = 0.0,
    weight_decay: float | Mapping[str, float] = 0.0,
    momentum_buffers: TensorDict | None = None,
) -> StepOutput:
    """The IEG loss on one batch (paper Algorithm 1, authors' code form).

    Parameters
    ----------
    module : torch.nn.Module
        In training mode; any module mapping inputs to logits.
    x : Tensor of shape (B, ...)
        Noisy rows (un-augmented).
    y : Tensor of shape (B,)
        Their given (noisy) labels, int64 class indices.
    x_probe : Tensor of shape (B_p, ...)
        Trusted rows (un-augmented).
    y_probe : Tensor of shape (B_p,)
        Their verified labels.
    n_classes : int
    make_view : callable
        ``make_view(x, strong)``: a weak (``strong=False``) or strong view.
    config : IEGConfig
    generator : torch.Generator
        On the data's device; drives views, mixup and the module's dropout.
    momentum, weight_decay, momentum_buffers
        Of the optimizer, for the virtual step.

    Returns
    -------
    StepOutput
    """
    device = x.device
    batch = x.shape[0]
    n_strong = config.n_views - 1
    labels = F.one_hot(y, n_classes).to(x.dtype)
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    buffers = dict(module.named_buffers())

    def fcall(p, inputs):
        return functional_call(module, (p, {k: b.clone() for k, b in buffers.items()}), (inputs,))

    x_weak = make_view(x, False)
    x_strong = torch.cat([make_view(x, True) for _ in range(n_strong)]) if n_strong else None
    x_probe_weak = make_view(x_probe, False)

    forward_seed = _seed_from(generator)
    with _module_rng(device, _seed_from(generator)):
        with _module_rng(device, forward_seed):
            logits = module(x_weak)  # the only pass that updates BatchNorm running stats
        logits_strong = fcall(params, x_strong) if n_strong else None
        views = [logits] + (list(logits_strong.detach().split(batch)) if n_strong else [])
        guesses = guess_labels(torch.stack([v.detach() for v in views]),
                               temperature=config.temperature)

        probe_loss = None
        omega = torch.full((batch,), 1.0 / batch, device=device, dtype=x.dtype)
        lam = torch.ones(batch, device=device, dtype=x.dtype)
        if config.relabel or config.reweight:
            def forward(p):
                with _module_rng(device, forward_seed):
                    return fcall(p, x_weak)

            def probe_loss_fn(p):
                return F.cross_entropy(fcall(p, x_probe_weak), y_probe)

            lam0 = config.given_label_weight if config.relabel else 1.0
            grads = meta_gradients(
                logits, params, forward=forward, probe_loss=probe_loss_fn, labels=labels,
                guesses=guesses, omega=omega, lam=torch.full_like(omega, lam0),
                lr=config.meta_lr, momentum=momentum, weight_decay=weight_decay,
                momentum_buffers=momentum_buffers, method=config.meta_gradient)
            probe_loss = grads.probe_loss
            if config.reweight:
                omega = exemplar_weights(grads.omega)
            if config.relabel:
                lam = relabel_coefficients(grads.lam)

        sup = supervised_loss(logits, labels, guesses, omega=omega, lam=lam,
                              lam_init=config.given_label_weight, relabel=config.relabel,
                              reweight=config.reweight)
        loss = sup
        parts = {"supervised": sup.detach()}
        if config.mixup:
            pool_x = torch.cat([x_probe_weak, x_weak] + ([x_strong] if n_strong else []))
            pool_t = torch.cat([F.one_hot(y_probe, n_classes).to(x.dtype), guesses]
                               + [guesses] * n_strong)
            mixed_x, mixed_t = mixup(pool_x, pool_t, generator=generator)
            mixed_logits = fcall(params, mixed_x)
            n_p = x_probe_weak.shape[0]
            mix_p = soft_cross_entropy(mixed_logits[:n_p], mixed_t[:n_p])
            mix_u = soft_cross_entropy(mixed_logits[n_p:], mixed_t[n_p:])
            loss = loss + config.probe_mixup_weight * mix_p + config.mixup_weight * mix_u
            parts.update(mixup_probe=mix_p.detach(), mixup_noisy=mix_u.detach())
        if config.consistency_weight and n_strong:
            kl = kl_consistency(logits.repeat(n_strong, 1), logits_strong)
            loss = loss + config.consistency_weight * kl
            parts["consistency"] = kl.detach()

    return StepOutput(loss=loss, logits=logits.detach(), omega=omega.detach(), lam=lam.detach(),
                      guesses=guesses, probe_loss=probe_loss, parts=parts)
