"""The IEG meta step: virtual SGD step and meta-gradients (pure torch functions).

Notation of the paper (Zhang et al., CVPR 2020, eq. 5-7): a batch of ``B`` noisy
rows with one-hot given labels ``y_i``, guessed labels ``g_i`` and logits
``z_i = f(x_i; theta)``; soft targets ``t_i(lambda) = lambda_i y_i + (1 - lambda_i) g_i``;
the virtual loss ``L_v = sum_i omega_i CE(t_i, z_i)``; the virtual step
``theta' = theta - a (mu v + grad L_v + wd theta)`` (one step of the SGD optimizer,
momentum buffer ``v`` included); the probe loss ``L_p(theta')``.

Because ``theta'`` is linear in ``omega`` and ``lambda``, the meta-gradients are
exact closed forms in the directional derivative ``zdot_i`` of the logits along
``g_p = grad L_p(theta')``::

    dL_p/domega_i  = -a (softmax(z_i) - t_i) . zdot_i
    dL_p/dlambda_i =  a omega_i (y_i - g_i) . zdot_i

so the default route needs one backward on the batch, one forward+backward on the
probe batch and one forward-mode JVP, instead of a double backward. The
double-backward route is kept as the reference (see ``tests/test_meta.py``).

The model enters only through callables of the parameters (``forward`` and
``probe_loss``), built with :func:`torch.func.functional_call`, so any module
works unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

from sk_ieg._typing import ParamFn, Tensor, TensorDict
from sk_ieg.losses import soft_cross_entropy, soft_targets

__all__ = [
    "META_GRADIENT_METHODS",
    "MetaGradients",
    "virtual_step",
    "jvp",
    "primal_and_jvp",
    "meta_gradients",
    "exemplar_weights",
    "relabel_coefficients",
]

META_GRADIENT_METHODS = ("jvp", "finite_difference", "double_backward")


@dataclass(frozen=True)
class MetaGradients:
    """Result of :func:`meta_gradients`.

    Attributes
    ----------
    omega : Tensor of shape (B,)
        ``dL_p / domega_i``.
    lam : Tensor of shape (B,)
        ``dL_p / dlambda_i``.
    probe_loss : Tensor
        ``L_p(theta')``, a detached scalar (for logging).
    """

    omega: Tensor
    lam: Tensor
    probe_loss: Tensor


def _per_param(value: float | Mapping[str, float], name: str) -> float:
    return value[name] if isinstance(value, Mapping) else value


def virtual_step(
    params: TensorDict,
    grads: TensorDict,
    *,
    lr: float,
    momentum: float | Mapping[str, float] = 0.0,
    weight_decay: float | Mapping[str, float] = 0.0,
    momentum_buffers: TensorDict | None = None,
) -> dict[str, Tensor]:
    """One SGD step, as :class:`torch.optim.SGD` (non-Nesterov) would take it.

    ``theta' = theta - lr * (mu * v + grad + wd * theta)``; a missing momentum
    buffer counts as zero (the optimizer's first step). ``momentum`` and
    ``weight_decay`` may be floats or per-parameter mappings (parameter groups).
    Differentiable in ``params`` and ``grads``; never modifies them.
    """
    out = {}
    for name, p in params.items():
        d = grads[name]
        wd = _per_param(weight_decay, name)
        if wd:
            d = d + wd * p
        mu = _per_param(momentum, name)
        buf = None if momentum_buffers is None else momentum_buffers.get(name)
        if mu and buf is not None:
            d = d + mu * buf
        out[name] = p - lr * d
    return out


def jvp(forward: ParamFn, params: TensorDict, tangents: TensorDict) -> Tensor:
    """Directional derivative of ``forward(params)`` along ``tangents`` (forward mode).

    Uses :mod:`torch.autograd.forward_ad` rather than :func:`torch.func.jvp`
    because the latter refuses in-place updates of captured buffers, which
    BatchNorm makes in training mode (pass it cloned buffers); forward AD is also
    the cheaper of the two on small networks.
    """
    return primal_and_jvp(forward, params, tangents)[1]


def primal_and_jvp(forward: ParamFn, params: TensorDict,
                   tangents: TensorDict) -> tuple[Tensor, Tensor]:
    """``(forward(params), jvp)`` from one forward-mode pass (see :func:`jvp`)."""
    with fwAD.dual_level(), warnings.catch_warnings():
        # torch's forward AD loads its decompositions through torch.jit.script on
        # first use and warns about that deprecation: torch-internal, not actionable.
        warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated",
                                category=FutureWarning)
        duals = {k: fwAD.make_dual(p.detach(), tangents[k]) for k, p in params.items()}
        primal, tangent = fwAD.unpack_dual(forward(duals))
    if tangent is None:  # output does not depend on the parameters
        tangent = torch.zeros_like(primal)
    return primal, tangent


def _sq_norm(tensors: TensorDict) -> Tensor:
    return sum(t.pow(2).sum() for t in tensors.values())


def _wd_penalty(params: TensorDict, weight_decay: float | Mapping[str, float]) -> Tensor:
    return sum(0.5 * _per_param(weight_decay, k) * p.pow(2).sum() for k, p in params.items())


def meta_gradients(
    logits: Tensor,
    params: TensorDict,
    *,
    forward: ParamFn,
    probe_loss: ParamFn,
    labels: Tensor,
    guesses: Tensor,
    omega: Tensor,
    lam: Tensor,
    lr: float = 0.1,
    momentum: float | Mapping[str, float] = 0.0,
    weight_decay: float | Mapping[str, float] = 0.0,
    momentum_buffers: TensorDict | None = None,
    method: str = "jvp",
    fd_eps: float = 1e-3,
) -> MetaGradients:
    """Exact meta-gradients of the probe loss w.r.t. ``omega`` and ``lambda``.

    Parameters
    ----------
    logits : Tensor of shape (B, n_classes)
        ``f(x; params)`` with its autograd graph to ``params`` (it is retained, so
        the caller can reuse these logits in the final loss).
    params : dict of str to Tensor
        The trainable parameters the logits were computed with.
    forward : callable
        ``forward(p)`` recomputes the same logits at parameters ``p`` (same batch,
        training mode, cloned buffers, same dropout masks). Used by the ``"jvp"``
        and ``"finite_difference"`` routes only.
    probe_loss : callable
        ``probe_loss(p)``: mean cross-entropy of the probe batch at parameters
        ``p`` (training mode, cloned buffers).
    labels : Tensor of shape (B, n_classes)
        One-hot given labels ``y``.
    guesses : Tensor of shape (B, n_classes)
        Guessed labels ``g`` (treated as targets: no gradient).
    omega, lam : Tensor of shape (B,)
        The point of differentiation, ``omega_0 = 1/B`` and ``lambda_0 = 0.9`` in
        the paper.
    lr : float, default=0.1
        ``a``, the virtual step size (fixed, not the scheduled learning rate).
    momentum, weight_decay : float or mapping, default=0.0
        Of the optimizer being imitated; the weight decay is also added to the
        probe loss as ``wd/2 ||theta'||^2``, as in the authors' code.
    momentum_buffers : dict of str to Tensor, optional
        The optimizer's momentum buffers ``v``.
    method : {"jvp", "finite_difference", "double_backward"}, default="jvp"
        ``"jvp"``: closed form with a forward-mode JVP (exact). ``"finite_difference"``:
        closed form with ``zdot ~ (f(theta + e g_p) - f(theta)) / e`` (one extra
        forward; approximate, for modules without forward-mode AD support).
        ``"double_backward"``: the reference, ``create_graph`` through the
        virtual step.
    fd_eps : float, default=1e-3
        Relative step of the finite difference: ``e = fd_eps * max(1, ||theta||) / ||g_p||``.

    Returns
    -------
    MetaGradients
    """
    if method not in META_GRADIENT_METHODS:
        raise ValueError(f"method must be one of {META_GRADIENT_METHODS}, got {method!r}")
    guesses = guesses.detach()
    step = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                momentum_buffers=momentum_buffers)
    if method == "double_backward":
        return _double_backward_meta_gradients(logits, params, probe_loss=probe_loss,
                                               labels=labels, guesses=guesses, omega=omega,
                                               lam=lam, step=step)
    targets = soft_targets(labels, guesses, lam)
    detached, g_p, loss_p = _probe_gradient(logits, params, probe_loss=probe_loss,
                                            targets=targets, omega=omega, step=step)
    with torch.no_grad():
        if method == "jvp":
            zdot = jvp(forward, detached, g_p)
        else:
            zdot = _finite_difference(forward, detached, g_p, logits, fd_eps=fd_eps)
        probs = F.softmax(logits.detach(), dim=-1)
        d_omega = -lr * ((probs - targets.detach()) * zdot).sum(dim=-1)
        d_lam = lr * omega.detach() * ((labels - guesses) * zdot).sum(dim=-1)
    return MetaGradients(d_omega, d_lam, loss_p.detach())


def _zeros_where_unused(grads, like: TensorDict) -> dict[str, Tensor]:
    """``torch.autograd.grad``'s results (order of ``like``), zeros for unused inputs."""
    return {k: torch.zeros_like(like[k]) if g is None else g for k, g in zip(like, grads)}


def _virtual_loss(logits: Tensor, targets: Tensor, omega: Tensor) -> Tensor:
    """``L_v = sum_i omega_i CE(t_i, z_i)``."""
    return (omega * soft_cross_entropy(logits, targets, reduction="none")).sum()


def _double_backward_meta_gradients(logits, params, *, probe_loss, labels, guesses, omega, lam,
                                    step) -> MetaGradients:
    """The reference route: ``create_graph`` through the virtual step, then
    ``dL_p / d(omega, lambda)`` by a second backward. ``step``: the keyword
    arguments of :func:`virtual_step`."""
    omega_ = omega.detach().clone().requires_grad_(True)
    lam_ = lam.detach().clone().requires_grad_(True)
    loss_v = _virtual_loss(logits, soft_targets(labels, guesses, lam_), omega_)
    grads = torch.autograd.grad(loss_v, list(params.values()), create_graph=True,
                                retain_graph=True, allow_unused=True)
    theta = virtual_step(params, _zeros_where_unused(grads, params), **step)
    loss_p = probe_loss(theta) + _wd_penalty(theta, step["weight_decay"])
    d_omega, d_lam = torch.autograd.grad(loss_p, [omega_, lam_], retain_graph=True,
                                         allow_unused=True)
    d_omega = torch.zeros_like(omega) if d_omega is None else d_omega
    d_lam = torch.zeros_like(lam) if d_lam is None else d_lam
    return MetaGradients(d_omega.detach(), d_lam.detach(), loss_p.detach())


def _probe_gradient(logits, params, *, probe_loss, targets, omega,
                    step) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
    """Virtual step without a graph, then ``g_p = grad L_p(theta')``.

    Returns ``(theta, g_p, L_p)``: the detached parameters, the probe gradient
    (zeros for parameters the probe loss does not use) and the probe loss.
    ``step``: the keyword arguments of :func:`virtual_step`.
    """
    loss_v = _virtual_loss(logits, targets, omega)
    grads = torch.autograd.grad(loss_v, list(params.values()), retain_graph=True,
                                allow_unused=True)
    with torch.no_grad():
        detached = {k: p.detach() for k, p in params.items()}
        theta = virtual_step(detached, _zeros_where_unused(grads, detached), **step)
    theta = {k: v.requires_grad_(True) for k, v in theta.items()}
    with torch.enable_grad():
        loss_p = probe_loss(theta) + _wd_penalty(theta, step["weight_decay"])
        g_p = torch.autograd.grad(loss_p, list(theta.values()), allow_unused=True)
    return detached, _zeros_where_unused(g_p, theta), loss_p


def _finite_difference(forward: ParamFn, params: TensorDict, tangents: TensorDict,
                       logits: Tensor, *, fd_eps: float) -> Tensor:
    """``zdot ~ (f(theta + e g_p) - f(theta)) / e``, ``e = fd_eps * max(1, ||theta||) / ||g_p||``.

    ``logits`` are ``f(theta)``; ``params`` are detached (call under ``no_grad``).
    """
    gnorm = _sq_norm(tangents).sqrt()
    eps = fd_eps * torch.clamp(_sq_norm(params).sqrt(), min=1.0) / gnorm.clamp_min(1e-30)
    shifted = {k: params[k] + eps * tangents[k] for k in params}
    return (forward(shifted) - logits.detach()) / eps


def exemplar_weights(d_omega: Tensor, *, eps: float = 1e-5) -> Tensor:
    """``omega* = max(0, -dL_p/domega)``, normalised to sum 1 over the batch.

    Divides by ``sum + eps`` as the authors' code does: when no row helps the
    probe loss, all weights are 0 and the weighted term vanishes for the batch.
    """
    w = torch.clamp(-d_omega, min=0)
    return w / (w.sum() + eps)


def relabel_coefficients(d_lam: Tensor) -> Tensor:
    """Binary ``lambda* = 1 if dL_p/dlambda < 0 else 0`` (paper eq. 6), as floats."""
    return (d_lam < 0).to(d_lam.dtype)
