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

import inspect
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sk_ieg._typing import Tensor, TensorDict
from sk_ieg.losses import (
    early_learning_loss,
    early_learning_targets,
    guess_labels,
    kl_consistency,
    mixup,
    soft_cross_entropy,
    supervised_loss,
    with_label_evidence,
)
from sk_ieg.meta import (
    MetaGradients,
    exemplar_weights,
    meta_gradients,
    primal_and_jvp,
    relabel_coefficients,
)

__all__ = ["META_SCOPES", "IEGConfig", "StepOutput", "auto_mixup_weight", "capture_head",
           "consistency_alignment", "find_head", "functional_forward", "ieg_objective",
           "make_views", "meta_generalization", "meta_step", "reference_objective"]

META_SCOPES = ("all", "head")

#: ``make_view(x, strong) -> x_view``; randomness bound in by the caller.
ViewFn = Callable[[Tensor, bool], Tensor]


def auto_mixup_weight(*, images: bool) -> float:
    """``mixup_weight="auto"``: 4 for images (4-D ``X``; the paper's ``p`` on WebVision,
    5 on CIFAR), 1 otherwise. The rule is the input kind only; the measurements behind
    it are in ``benchmarks/results/defaults_search/README.md`` (round 12)."""
    return 4.0 if images else 1.0


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
    meta_scope: str = "all"
    mixup_size: int | None = None
    #: share ``s`` of the meta step in the exemplar weights, ``s omega* + (1 - s) / B``
    meta_strength: float = 1.0
    #: share ``r`` of the meta step in the relabeling coefficients, ``r lambda* + 1 - r``
    relabel_strength: float = 1.0
    #: label-noise transition ``T[true, given]`` (n_classes, n_classes), or None; when set,
    #: the guesses become posteriors ``g_i(c) T[c, y_i] / sum`` (the given label's evidence)
    noise_transition: Tensor | None = None
    #: weight of early-learning regularisation on the noisy rows (0: off)
    early_learning_weight: float = 0.0
    #: decay per visit of its per-row running targets
    early_learning_decay: float = 0.7


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
    #: the guesses before the transition's evidence (equal to ``guesses`` without one)
    raw_guesses: Tensor | None = None
    #: the batch's early-learning targets after this visit, (B, n_classes); None when
    #: the step took no such term
    early_targets: Tensor | None = None


def functional_forward(module: nn.Module, params: TensorDict, buffers: TensorDict,
                       inputs: Tensor) -> Tensor:
    """``module(inputs)`` at ``params`` and ``buffers`` (:func:`torch.func.functional_call`).

    The step runs every pass but the first through this function (or a
    ``torch.compile`` of it, passed as ``call``).
    """
    return functional_call(module, (params, buffers), (inputs,))


def _seed_from(generator: torch.Generator) -> int:
    # A CUDA generator makes this a host-device sync: pass a CPU ``seed_generator``.
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


def find_head(module: nn.Module) -> tuple[str, nn.Linear]:
    """The last :class:`torch.nn.Linear` of ``module`` (registration order), by name.

    ``meta_scope="head"`` takes the meta-gradient through this layer only; the
    step checks that its output is the module's output.
    """
    found = None
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear):
            found = (name, sub)
    if found is None:
        raise ValueError("meta_scope='head' needs a module whose logits come from a final "
                         f"torch.nn.Linear layer; {type(module).__name__} has none")
    return found


@contextmanager
def capture_head(head: nn.Module | None, store: dict):
    """Record the input features and output of ``head`` while the context is open.

    Each forward pass through ``head`` sets ``store["features"]`` (its input) and
    ``store["output"]``; ``head=None`` records nothing.
    """
    if head is None:
        yield
        return

    def hook(_module, args, output):
        store["features"], store["output"] = args[0], output

    handle = head.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _default_generators(device: torch.device) -> list[torch.Generator]:
    gens = [torch.default_generator]
    if device.type == "cuda":
        torch.cuda.init()
        index = torch.cuda.current_device() if device.index is None else device.index
        gens.append(torch.cuda.default_generators[index])
    return gens


@contextmanager
def _module_rng(device: torch.device, seed: int):
    """Run the module's own randomness (dropout) from ``seed`` without touching
    the caller's global RNG state: the CPU generator and, on CUDA, the device's
    generator are seeded and restored on exit. (Like ``torch.random.fork_rng``
    with ``torch.manual_seed``, without their per-call cost, which was 8% of a
    small network's step.)"""
    gens = _default_generators(device)
    states = [g.get_state() for g in gens]
    for g in gens:
        g.manual_seed(seed)
    try:
        yield
    finally:
        for g, state in zip(gens, states):
            g.set_state(state)


def make_views(x: Tensor, x_probe: Tensor, make_view: ViewFn,
               n_strong: int) -> tuple[Tensor, Tensor | None, Tensor]:
    """``(x_weak, x_strong, x_probe_weak)``: the step's views, in the order drawn.

    The weak view of ``x``, then ``n_strong`` strong views of ``x`` concatenated
    along the rows (``None`` when ``n_strong == 0``), then the weak view of
    ``x_probe``.
    """
    x_weak = make_view(x, False)
    x_strong = torch.cat([make_view(x, True) for _ in range(n_strong)]) if n_strong else None
    return x_weak, x_strong, make_view(x_probe, False)


def consistency_alignment(module: nn.Module, x: Tensor, x_probe: Tensor, y_probe: Tensor, *,
                          make_view: ViewFn, n_strong: int = 1,
                          seed_generator: torch.Generator | None = None) -> Tensor:
    """Cosine between the gradients of the probe loss and of the consistency loss.

    Both at the module's current parameters, on views of one batch of noisy rows
    ``x`` and probe rows ``(x_probe, y_probe)``: ``cos(grad L_p, grad L_c)`` with
    ``L_p`` the probe rows' cross-entropy (weak views) and ``L_c`` the KL
    consistency (eq. 4) of ``x``. A gradient step on ``w L_c`` changes the probe
    loss by ``-lr w grad L_p . grad L_c`` to first order, so a positive cosine
    says the consistency term is helping the trusted rows. Buffers are cloned
    (BatchNorm running statistics stay as they are); dropout's seed is drawn from
    ``seed_generator`` (a CPU generator avoids a host-device sync; default: seed 0).
    Returns a 0-d tensor (0 when either gradient is zero).
    """
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    buffers = {k: b.clone() for k, b in module.named_buffers()}
    x_weak, x_strong, x_probe_weak = make_views(x, x_probe, make_view, n_strong)

    def forward(inputs):
        return functional_call(module, (params, buffers), (inputs,))

    seed = 0 if seed_generator is None else _seed_from(seed_generator)
    with _module_rng(x.device, seed):
        probe = F.cross_entropy(forward(x_probe_weak), y_probe)
        kl = kl_consistency(forward(x_weak).repeat(n_strong, 1), forward(x_strong))
    grads = [torch.autograd.grad(loss, list(params.values()), allow_unused=True)
             for loss in (probe, kl)]
    pairs = [(a, b) for a, b in zip(*grads) if a is not None and b is not None]
    dot = sum((a * b).sum() for a, b in pairs)
    norms = [torch.sqrt(sum((a * a).sum() for a, _ in pairs)),
             torch.sqrt(sum((b * b).sum() for _, b in pairs))]
    denom = norms[0] * norms[1]
    return torch.where(denom > 0, dot / denom.clamp_min(1e-30), torch.zeros_like(denom))


def _probe_logit_changes(module, params, buffers, x_weak, probes, seed):
    """Per probe set: ``J grad L_p``, the change of the noisy rows' logits along the
    gradient of the probe set's (row-weighted) cross-entropy, shape (B, n_classes).

    One backward pass per probe set, then one forward-mode pass of the noisy rows'
    logits (:func:`~sk_ieg.meta.primal_and_jvp`, as the meta step's JVP). A
    gradient step on noisy row ``i``'s cross-entropy with target ``t`` lowers ``L_p``
    by ``lr (J_i grad L_p) . (softmax(z_i) - t)`` to first order. Also returns the
    logits.
    """
    def forward(p, inputs):
        return functional_forward(module, p, {k: b.clone() for k, b in buffers.items()}, inputs)

    device, changes = x_weak.device, []
    for xp, yp, wp in probes:
        with _module_rng(device, seed):
            per_row = F.cross_entropy(forward(params, xp), yp, reduction="none")
        loss = (per_row * wp).sum() / wp.sum()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        tangents = {k: torch.zeros_like(p) if g is None else g
                    for (k, p), g in zip(params.items(), grads)}
        with _module_rng(device, seed + 1):
            logits, change = primal_and_jvp(lambda p: forward(p, x_weak), params, tangents)
        changes.append(change.detach())
    return logits.detach(), changes


def meta_generalization(module: nn.Module, x: Tensor, y: Tensor,
                        probe_a: tuple[Tensor, Tensor, Tensor],
                        probe_b: tuple[Tensor, Tensor, Tensor], *, make_view: ViewFn,
                        n_strong: int = 1, temperature: float = 0.5,
                        seed_generator: torch.Generator | None = None,
                        held_out: tuple[tuple[Tensor, Tensor, Tensor],
                                        tuple[Tensor, Tensor, Tensor]] | None = None) -> Tensor:
    """Whether the meta step's choices carry over to trusted rows it did not see.

    Two disjoint probe sets ``A = probe_a`` and ``B = probe_b``, each
    ``(X, y, row_weight)``, and a batch of noisy rows ``(x, y)``. For a probe set
    ``P``, ``s_i(P, t) = (J_i grad L_P) . (softmax(z_i) - t)`` is the first-order
    decrease of ``L_P`` per unit step on row ``i``'s cross-entropy with target ``t``
    (weak view, current parameters); ``t`` is the given label ``y_i`` or the guessed
    label ``g_i`` (eq. 3, from the weak and ``n_strong`` strong views). Choices made
    on ``A`` (first-order forms of the meta step's):

    * weights ``omega_i(A) = max(s_i(A, y_i), 0) / sum`` (uniform when all are 0);
    * relabeling ``lambda_i(A) = 1`` when ``s_i(A, y_i) >= s_i(A, g_i)``, else 0.

    Returns a (2, 2) tensor: row 0 is ``A -> B``, row 1 ``B -> A``. Column 0, how much
    more the weighted step lowers the held-out loss than the plain step:
    ``sum_i omega_i(A) s_i(B, y_i) - mean_i s_i(B, y_i)``. Column 1, how much more the
    relabeled targets lower it than the given labels:
    ``mean_i (1 - lambda_i(A)) (s_i(B, g_i) - s_i(B, y_i))``. Positive values say the
    choices generalise beyond the trusted rows that made them.

    ``held_out = (A', B')``, each ``(X, y, row_weight)`` (e.g. subsets of ``A`` and
    ``B``): the choices are still made on ``A`` and ``B``, but scored on ``B'``
    (row 0) and ``A'`` (row 1) instead of on the whole other set.

    Buffers are cloned (BatchNorm running statistics stay as they are); dropout's
    seed is drawn from ``seed_generator`` (default: seed 0).
    """
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    buffers = {k: b.clone() for k, b in module.named_buffers()}
    x_weak = make_view(x, False)
    x_strong = torch.cat([make_view(x, True) for _ in range(n_strong)]) if n_strong else None
    sets = (probe_a, probe_b) + (tuple(held_out) if held_out is not None else ())
    probes = [(make_view(xp, False), yp, wp) for xp, yp, wp in sets]
    seed = (0 if seed_generator is None else _seed_from(seed_generator)) % 2**61
    logits, changes = _probe_logit_changes(module, params, buffers, x_weak, probes, seed)
    views = [logits]
    if n_strong:
        with torch.no_grad(), _module_rng(x.device, seed + 2):
            strong = functional_forward(module, params, buffers, x_strong)
        views += list(strong.split(len(x)))
    guesses = guess_labels(torch.stack(views), temperature=temperature)
    p, labels = torch.softmax(logits, dim=1), F.one_hot(y, logits.shape[1]).to(logits.dtype)

    def signals(change):  # (s(P, y), s(P, g))
        return (change * (p - labels)).sum(1), (change * (p - guesses)).sum(1)

    chose_a, chose_b, *scored = [signals(change) for change in changes]
    score_a, score_b = scored or (chose_a, chose_b)
    rows = []
    for (y_chosen, g_chosen), (y_held, g_held) in ((chose_a, score_b), (chose_b, score_a)):
        w = y_chosen.clamp_min(0)
        total = w.sum()
        w = w / total if total > 0 else torch.full_like(w, 1.0 / len(w))
        relabeled = (y_chosen < g_chosen).to(w.dtype)
        rows.append(torch.stack([(w * y_held).sum() - y_held.mean(),
                                 (relabeled * (g_held - y_held)).mean()]))
    return torch.stack(rows)


def _mixup_pool(x_probe_weak, x_weak, x_strong, t_probe, guesses, n_strong, size, generator):
    """The mixup pool (probe rows first), optionally a random subset of ``size`` rows
    that keeps the probe share of the pool."""
    pool_x = [x_weak] + ([x_strong] if n_strong else [])
    pool_t = [guesses] * (1 + n_strong)
    xp, tp, xu, tu = x_probe_weak, t_probe, torch.cat(pool_x), torch.cat(pool_t)
    n_p, n_u = xp.shape[0], xu.shape[0]
    if size is not None and size < n_p + n_u:
        k_p = min(n_p, max(1, round(size * n_p / (n_p + n_u))))
        k_u = max(0, size - k_p)
        ip = torch.randperm(n_p, generator=generator, device=generator.device)[:k_p]
        iu = torch.randperm(n_u, generator=generator, device=generator.device)[:k_u]
        ip, iu = ip.to(xp.device), iu.to(xu.device)
        xp, tp, xu, tu = xp[ip], tp[ip], xu[iu], tu[iu]
    return torch.cat([xp, xu]), torch.cat([tp, tu]), xp.shape[0]


def meta_step(
    fcall: Callable,
    params: TensorDict,
    logits: Tensor,
    x_weak: Tensor,
    x_probe_weak: Tensor,
    y_probe: Tensor,
    *,
    labels: Tensor,
    guesses: Tensor,
    config: IEGConfig,
    seeds: tuple[int, int],
    features: Tensor | None = None,
    head: tuple[str, nn.Linear] | None = None,
    jvp_fcall: Callable | None = None,
    momentum: float | Mapping[str, float] = 0.0,
    weight_decay: float | Mapping[str, float] = 0.0,
    momentum_buffers: TensorDict | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Virtual step, probe pass and meta-gradients: ``(omega*, lambda*, L_p)``.

    With ``config.meta_strength = s < 1`` the weights are shrunk towards plain
    training, ``s omega* + (1 - s) / B``; with ``config.relabel_strength = r < 1`` the
    coefficients towards the given labels, ``r lambda* + 1 - r``.

    ``fcall(p, inputs)`` is the module at parameters ``p`` (cloned buffers);
    ``logits`` are the weak-view logits with their graph to ``params``; ``seeds``
    are the module-RNG seeds of the weak pass and of the probe pass (dropout).

    With ``config.meta_scope == "head"`` the meta-gradient is taken through the
    last linear layer only: ``features`` (its input on the weak pass) are held
    fixed and the probe rows' features come from one forward pass without a
    graph, so the virtual step, probe loss and JVP are on ``F.linear`` alone.
    ``jvp_fcall`` (default ``fcall``) recomputes the weak logits for the JVP or
    finite difference: an eager one when ``fcall`` is compiled, since compiled
    kernels do not support forward-mode AD.
    """
    device, batch = logits.device, logits.shape[0]
    omega = torch.full((batch,), 1.0 / batch, device=device, dtype=logits.dtype)
    lam = torch.ones(batch, device=device, dtype=logits.dtype)
    if not (config.relabel or config.reweight):
        return omega, lam, None
    lam0 = config.given_label_weight if config.relabel else 1.0
    point = dict(labels=labels, guesses=guesses, omega=omega, lam=torch.full_like(omega, lam0),
                 lr=config.meta_lr, method=config.meta_gradient)
    optimizer = dict(momentum=momentum, weight_decay=weight_decay,
                     momentum_buffers=momentum_buffers)
    if config.meta_scope == "head":
        grads = _head_meta_gradients(fcall, params, x_probe_weak, y_probe, features=features,
                                     head=head, device=device, probe_seed=seeds[1],
                                     optimizer=optimizer, **point)
    else:
        grads = _all_meta_gradients(fcall, params, logits, x_weak, x_probe_weak, y_probe,
                                    seeds=seeds, jvp_fcall=jvp_fcall, optimizer=optimizer,
                                    **point)
    s = config.meta_strength
    if config.reweight:
        omega = exemplar_weights(grads.omega)
        if s < 1.0:
            omega = s * omega + (1.0 - s) / batch
    if config.relabel:
        lam = relabel_coefficients(grads.lam)
        r = config.relabel_strength
        if r < 1.0:
            lam = r * lam + (1.0 - r)
    return omega, lam, grads.probe_loss


def _all_meta_gradients(fcall, params, logits, x_weak, x_probe_weak, y_probe, *, seeds,
                        jvp_fcall, optimizer, **point) -> MetaGradients:
    """``meta_scope="all"``: the meta-gradient through every parameter in ``params``.

    ``optimizer`` (momentum, weight decay, buffers) and ``point`` (labels,
    guesses, the point of differentiation, step size and method) are passed on
    to :func:`sk_ieg.meta.meta_gradients`.
    """
    device = logits.device
    forward_seed, probe_seed = seeds

    def forward(p):
        with _module_rng(device, forward_seed):
            return (fcall if jvp_fcall is None else jvp_fcall)(p, x_weak)

    def probe_loss_fn(p):
        with _module_rng(device, probe_seed):
            return F.cross_entropy(fcall(p, x_probe_weak), y_probe)

    return meta_gradients(logits, params, forward=forward, probe_loss=probe_loss_fn,
                          **optimizer, **point)


def _head_meta_gradients(fcall, params, x_probe_weak, y_probe, *, features, head, device,
                         probe_seed, optimizer, **point) -> MetaGradients:
    """``meta_scope="head"``: the meta-gradient through the last linear layer only.

    ``head`` is ``(name, layer)`` (:func:`find_head`); ``features`` its input on
    the weak pass, held fixed. The probe rows' features come from one forward
    pass without a graph. ``optimizer`` (momentum, weight decay, buffers, keyed
    by the full parameter names) is restricted to the head's parameters.
    """
    name, layer = head
    prefix = f"{name}." if name else ""
    hparams = {k: params[prefix + k] for k in ("weight", "bias")
               if prefix + k in params}
    h = features.detach()
    store: dict = {}
    with torch.no_grad(), capture_head(layer, store), _module_rng(device, probe_seed):
        fcall(params, x_probe_weak)
    h_probe = store["features"].detach()

    def linear(p, inputs):
        return F.linear(inputs, p["weight"], p.get("bias", layer.bias))

    def rename(value):
        if isinstance(value, Mapping):
            return {k: value[prefix + k] for k in hparams if prefix + k in value}
        return value

    return meta_gradients(
        linear(hparams, h), hparams, forward=lambda p: linear(p, h),
        probe_loss=lambda p: F.cross_entropy(linear(p, h_probe), y_probe),
        **{k: rename(v) for k, v in optimizer.items()}, **point)


def _check_config(config: IEGConfig) -> None:
    for name in ("meta_strength", "relabel_strength"):
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(config, name)}")
    if config.meta_scope not in META_SCOPES:
        raise ValueError(f"meta_scope must be one of {META_SCOPES}, got {config.meta_scope!r}")
    if config.early_learning_weight < 0:
        raise ValueError(f"early_learning_weight must be >= 0, got {config.early_learning_weight}")
    if not 0.0 <= config.early_learning_decay < 1.0:
        raise ValueError("early_learning_decay must be in [0, 1), got "
                         f"{config.early_learning_decay}")
    if config.mixup_size is not None and config.mixup_size < 2:
        raise ValueError(f"mixup_size must be None or >= 2, got {config.mixup_size}")


@dataclass
class _Setup:
    """What both routes of a step start from: views, labels, parameters, the
    functional call and the module-RNG seeds of each pass."""

    device: torch.device
    batch: int
    n_strong: int
    labels: Tensor
    params: dict
    buffers: dict
    fcall: Callable
    eager_fcall: Callable  #: fcall without ``call`` (forward-mode AD needs eager kernels)
    x_weak: Tensor
    x_strong: Tensor | None
    x_probe_weak: Tensor
    forward_seed: int
    seeds: list  #: strong, probe and mixup passes


def _setup(module, x, y, x_probe, *, n_classes, make_view, config, generator, seed_generator,
           call) -> _Setup:
    _check_config(config)
    seed_generator = generator if seed_generator is None else seed_generator
    n_strong = config.n_views - 1
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    buffers = dict(module.named_buffers())
    def bind(fn):
        return lambda p, inputs: fn(module, p, {k: b.clone() for k, b in buffers.items()}, inputs)

    x_weak, x_strong, x_probe_weak = make_views(x, x_probe, make_view, n_strong)
    forward_seed = _seed_from(seed_generator)
    module_seed = _seed_from(seed_generator)
    return _Setup(device=x.device, batch=x.shape[0], n_strong=n_strong,
                  labels=F.one_hot(y, n_classes).to(x.dtype), params=params, buffers=buffers,
                  fcall=bind(functional_forward if call is None else call),
                  eager_fcall=bind(functional_forward), x_weak=x_weak, x_strong=x_strong,
                  x_probe_weak=x_probe_weak, forward_seed=forward_seed,
                  seeds=[(module_seed + i) % 2**62 for i in range(3)])


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
    seed_generator: torch.Generator | None = None,
    call: Callable | None = None,
    backward: bool = False,
    early_targets: Tensor | None = None,
) -> StepOutput:
    """The IEG loss on one batch (paper Algorithm 1, authors' code form).

    Cost of one step, in passes over the network (``B`` noisy rows, ``B_p`` probe
    rows, ``K`` views; a backward pass costs about two forwards)::

        weak view        forward  B        (graph kept: guesses, virtual loss, final loss)
        strong views     forward  (K-1)B   (graph kept: guesses, consistency loss)
        virtual step     backward B        (through the weak graph, retained)
        probe at theta'  forward + backward B_p
        meta-gradient    forward-mode JVP  B   (about 1.5-2 forwards; "jvp" route)
        mixup            forward  B_p + K B  (or ``mixup_size`` rows)
        final loss       backward over the weak, strong and mixup graphs

    A vanilla step is one forward and one backward over ``B`` rows (3 units);
    with ``K = 2`` and ``B_p = B`` the above is about 1 + 1 + 2 + 3 + 2 + 3 + 2 (1 + 1 + 3)
    = 22 units, about 7x. ``meta_scope="head"`` replaces the virtual-step
    backward, probe backward and JVP by closed forms on the last layer (one
    forward of the probe rows, no graph); ``mixup_size`` shrinks the mixup pass.

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
        On the data's device; drives views and mixup.
    momentum, weight_decay, momentum_buffers
        Of the optimizer, for the virtual step.
    seed_generator : torch.Generator, optional
        A CPU generator for the module-RNG seeds (dropout), so that a CUDA
        ``generator`` needs no host-device sync; default: ``generator``.
    call : callable, optional
        ``call(module, params, buffers, inputs)`` for the passes at explicit
        parameters, e.g. ``torch.compile(functional_forward)``; default
        :func:`functional_forward`.
    backward : bool, default=False
        Back-propagate the loss into the parameters' ``.grad`` here, in two
        stages: the supervised and consistency terms as soon as the meta step is
        done (freeing the weak and strong graphs), then the mixup term after its
        pass. Same gradients as ``loss.backward()``; the returned loss is detached.
        Peak memory falls from the weak + strong + mixup graphs to the larger of
        weak + strong and mixup.
    early_targets : Tensor of shape (B, n_classes), optional
        The noisy rows' running early-learning targets before this step (zeros for
        rows not seen yet). With ``config.early_learning_weight > 0`` they are moved
        on by this visit (:func:`~sk_ieg.losses.early_learning_targets`) and the loss
        adds ``early_learning_weight * early_learning_loss`` on the weak view; the
        new targets are returned in ``StepOutput.early_targets``. None: no such term.

    Returns
    -------
    StepOutput
    """
    st = _setup(module, x, y, x_probe, n_classes=n_classes, make_view=make_view, config=config,
                generator=generator, seed_generator=seed_generator, call=call)
    device, batch, n_strong, labels = st.device, st.batch, st.n_strong, st.labels
    params, buffers, fcall, seeds = st.params, st.buffers, st.fcall, st.seeds
    x_weak, x_strong, x_probe_weak, forward_seed = st.x_weak, st.x_strong, st.x_probe_weak, \
        st.forward_seed
    head = find_head(module) if config.meta_scope == "head" else None

    store: dict = {}
    with _module_rng(device, forward_seed), capture_head(head and head[1], store):
        if call is None or call is functional_forward or head is not None:
            logits = module(x_weak)  # the only pass that updates BatchNorm running stats
        else:  # a compiled call, given the module's own buffers to update
            logits = call(module, params, buffers, x_weak)
    if head is not None and store.get("output") is not logits:
        raise ValueError("meta_scope='head' needs a module whose output is the output of its "
                         f"last torch.nn.Linear layer ({head[0]!r}); use meta_scope='all'")
    logits_strong = None
    if n_strong:
        with _module_rng(device, seeds[0]):
            logits_strong = fcall(params, x_strong)
    views = [logits] + (list(logits_strong.detach().split(batch)) if n_strong else [])
    raw_guesses = guess_labels(torch.stack([v.detach() for v in views]),
                               temperature=config.temperature)
    guesses = with_label_evidence(raw_guesses, labels, config.noise_transition)

    omega, lam, probe_loss = meta_step(
        fcall, params, logits, x_weak, x_probe_weak, y_probe, labels=labels, guesses=guesses,
        config=config, seeds=(forward_seed, seeds[1]), features=store.get("features"),
        head=head, jvp_fcall=st.eager_fcall, momentum=momentum, weight_decay=weight_decay,
        momentum_buffers=momentum_buffers)

    loss, parts, early_targets = _final_loss(
        logits, logits_strong, labels, guesses, omega, lam, x_weak, x_strong, x_probe_weak,
        y_probe, n_classes=n_classes, config=config, generator=generator,
        mixed_forward=lambda inputs: _call_seeded(fcall, params, inputs, device, seeds[2]),
        backward=backward, early_targets=early_targets)
    return StepOutput(loss=loss, logits=logits.detach(), omega=omega.detach(), lam=lam.detach(),
                      guesses=guesses, probe_loss=probe_loss, parts=parts,
                      raw_guesses=raw_guesses, early_targets=early_targets)


#: :func:`ieg_objective`'s parameters, shared with :func:`reference_objective`.
_OBJECTIVE_SIGNATURE = inspect.signature(ieg_objective)


def _call_seeded(fcall, params, inputs, device, seed):
    with _module_rng(device, seed):
        return fcall(params, inputs)


def _final_loss(logits, logits_strong, labels, guesses, omega, lam, x_weak, x_strong,
                x_probe_weak, y_probe, *, n_classes, config, generator, mixed_forward,
                weak_for_kl=None, backward=False, early_targets=None):
    """Supervised, early-learning and consistency terms, then the mixup term. With
    ``backward`` each group is back-propagated as soon as it exists, so the weak and
    strong graphs are freed before the mixup pass builds its own (same gradients, lower
    peak memory); the returned loss is then detached. Returns ``(loss, parts,
    new_targets)``: ``new_targets`` are the batch's early-learning targets after this
    visit when the term was taken, else None."""
    n_strong = config.n_views - 1
    sup = supervised_loss(logits, labels, guesses, omega=omega, lam=lam,
                          lam_init=config.given_label_weight, relabel=config.relabel,
                          reweight=config.reweight)
    loss = sup
    parts = {"supervised": sup.detach()}
    new_targets = None
    if config.early_learning_weight and early_targets is not None:
        new_targets = early_learning_targets(early_targets, logits, config.early_learning_decay)
        elr = early_learning_loss(logits, new_targets)
        loss = loss + config.early_learning_weight * elr
        parts["early_learning"] = elr.detach()
    if config.consistency_weight and n_strong:
        weak = logits if weak_for_kl is None else weak_for_kl
        kl = kl_consistency(weak.repeat(n_strong, 1), logits_strong)
        loss = loss + config.consistency_weight * kl
        parts["consistency"] = kl.detach()
    if backward:
        loss.backward()
        loss = loss.detach()
    if config.mixup:
        t_probe = F.one_hot(y_probe, n_classes).to(logits.dtype)
        pool_x, pool_t, n_p = _mixup_pool(x_probe_weak, x_weak, x_strong, t_probe, guesses,
                                          n_strong, config.mixup_size, generator)
        mixed_x, mixed_t = mixup(pool_x, pool_t, generator=generator)
        mixed_logits = mixed_forward(mixed_x)
        mix_p = soft_cross_entropy(mixed_logits[:n_p], mixed_t[:n_p])
        mix_u = soft_cross_entropy(mixed_logits[n_p:], mixed_t[n_p:])
        mix = config.probe_mixup_weight * mix_p + config.mixup_weight * mix_u
        if backward:
            mix.backward()
            mix = mix.detach()
        loss = loss + mix
        parts.update(mixup_probe=mix_p.detach(), mixup_noisy=mix_u.detach())
    return loss, parts, new_targets


def reference_objective(module: nn.Module, x: Tensor, y: Tensor, x_probe: Tensor,
                        y_probe: Tensor, **kwargs) -> StepOutput:
    """The same step as :func:`ieg_objective`, computed the textbook way.

    Takes the arguments of :func:`ieg_objective`: the same positional arguments
    and the same keyword-only arguments, with the same defaults (they are bound
    against its signature, so a missing or unknown one raises ``TypeError``).

    Every use of the network gets its own forward pass (guesses, virtual loss,
    supervised loss, consistency target and prediction, mixup) and the
    meta-gradient is a ``create_graph`` double backward through the virtual step,
    whatever ``config.meta_gradient`` says (``meta_scope`` must be ``"all"``). Same
    random draws, same losses to float tolerance: the baseline that
    ``sk-ieg bench --speed`` (``sk_ieg/bench/speed.py``) and ``tests/test_step.py``
    compare against. With ``backward``, one ``loss.backward()`` at the end and a
    detached loss.
    """
    bound = _OBJECTIVE_SIGNATURE.bind(module, x, y, x_probe, y_probe, **kwargs)
    bound.apply_defaults()
    kw = bound.kwargs  # the keyword-only arguments, defaults filled in
    config = IEGConfig(**{**kw["config"].__dict__, "meta_gradient": "double_backward"})
    st = _setup(module, x, y, x_probe, n_classes=kw["n_classes"], make_view=kw["make_view"],
                config=config, generator=kw["generator"], seed_generator=kw["seed_generator"],
                call=kw["call"])  # validates
    if config.meta_scope != "all":
        raise ValueError("the reference route takes the meta-gradient through all parameters")
    device, batch, n_strong, labels = st.device, st.batch, st.n_strong, st.labels
    params, fcall, seeds, forward_seed = st.params, st.fcall, st.seeds, st.forward_seed
    x_weak, x_strong, x_probe_weak = st.x_weak, st.x_strong, st.x_probe_weak

    with torch.no_grad():  # guesses: their own passes, no graph
        with _module_rng(device, forward_seed):
            weak_guess = module(x_weak)  # updates BatchNorm running stats, as the fast route
        views = [weak_guess]
        if n_strong:
            with _module_rng(device, seeds[0]):
                views += list(fcall(params, x_strong).split(batch))
        raw_guesses = guess_labels(torch.stack(views), temperature=config.temperature)
        guesses = with_label_evidence(raw_guesses, labels, config.noise_transition)

    with _module_rng(device, forward_seed):
        logits_meta = fcall(params, x_weak)  # the virtual loss's own pass
    omega, lam, probe_loss = meta_step(
        fcall, params, logits_meta, x_weak, x_probe_weak, y_probe, labels=labels,
        guesses=guesses, config=config, seeds=(forward_seed, seeds[1]),
        momentum=kw["momentum"], weight_decay=kw["weight_decay"],
        momentum_buffers=kw["momentum_buffers"])

    with _module_rng(device, forward_seed):
        logits = fcall(params, x_weak)  # supervised loss
    logits_strong = weak_kl = None
    if n_strong:
        with _module_rng(device, seeds[0]):
            logits_strong = fcall(params, x_strong)  # consistency prediction
        with _module_rng(device, forward_seed):
            weak_kl = fcall(params, x_weak).detach()  # consistency target
    loss, parts, early_targets = _final_loss(
        logits, logits_strong, labels, guesses, omega, lam, x_weak, x_strong, x_probe_weak,
        y_probe, n_classes=kw["n_classes"], config=config, generator=kw["generator"],
        mixed_forward=lambda inputs: _call_seeded(fcall, params, inputs, device, seeds[2]),
        weak_for_kl=weak_kl, early_targets=kw["early_targets"])
    if kw["backward"]:
        loss.backward()
        loss = loss.detach()
    return StepOutput(loss=loss, logits=logits.detach(), omega=omega.detach(), lam=lam.detach(),
                      guesses=guesses, probe_loss=probe_loss, parts=parts,
                      raw_guesses=raw_guesses, early_targets=early_targets)


#: What :func:`inspect.signature` and ``help`` show for :func:`reference_objective`.
reference_objective.__signature__ = _OBJECTIVE_SIGNATURE  # type: ignore[attr-defined]
