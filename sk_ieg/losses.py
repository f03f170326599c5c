"""Losses and label guessing used by the IEG objective (pure torch functions).

Every function here is stateless: tensors in, tensors out. Randomness (mixup)
comes from an explicit :class:`torch.Generator`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sk_ieg._typing import Tensor

__all__ = [
    "soft_cross_entropy",
    "kl_consistency",
    "logit_norm",
    "sharpen",
    "guess_labels",
    "with_label_evidence",
    "soft_targets",
    "supervised_loss",
    "early_learning_targets",
    "early_learning_loss",
    "sample_mixup_coefficients",
    "mixup",
]


def soft_cross_entropy(logits: Tensor, targets: Tensor, *, reduction: str = "mean") -> Tensor:
    """Cross-entropy between soft targets and ``softmax(logits)``.

    ``CE(t, z) = -sum_c t_c log softmax(z)_c``, row by row.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
    targets : Tensor of shape (n, n_classes)
        Rows are probability vectors (one-hot labels are a special case).
    reduction : {"mean", "sum", "none"}, default="mean"
    """
    losses = -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def kl_consistency(logits_weak: Tensor, logits_strong: Tensor) -> Tensor:
    """Consistency loss of the paper's eq. 4.

    ``mean_i KL(stopgrad(softmax(z_weak_i)) || softmax(z_strong_i))``; no gradient
    flows into the weak view. With ``K - 1 > 1`` strong views, pass the weak logits
    repeated to the strong views' length.
    """
    log_p = F.log_softmax(logits_weak.detach(), dim=-1)
    log_q = F.log_softmax(logits_strong, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()


def logit_norm(logits: Tensor, *, eps: float = 1e-8) -> Tensor:
    """RMS-normalise each row of logits, ``v / sqrt(mean(v**2) + eps)``.

    The authors' code applies this before averaging the views' softmax when it
    guesses labels, so that the guess does not depend on the logits' scale.
    """
    return logits * torch.rsqrt(logits.pow(2).mean(dim=-1, keepdim=True) + eps)


def sharpen(probs: Tensor, temperature: float) -> Tensor:
    """Temperature sharpening ``p**(1/T) / sum(p**(1/T))`` (paper eq. 3, ``tau``)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    # In log space for stability: softmax(log p / T).
    return torch.softmax(torch.log(probs.clamp_min(1e-30)) / temperature, dim=-1)


@torch.no_grad()
def guess_labels(
    logits_views: Tensor, *, temperature: float = 0.5, normalize: bool = True
) -> Tensor:
    """Guessed labels ``g`` from ``K`` augmented views (paper eq. 3).

    Parameters
    ----------
    logits_views : Tensor of shape (K, n, n_classes)
        The model's logits on each view of the same ``n`` rows.
    temperature : float, default=0.5
        Sharpening temperature ``tau``.
    normalize : bool, default=True
        RMS-normalise each view's logits first (:func:`logit_norm`), as the
        authors' code does.

    Returns
    -------
    Tensor of shape (n, n_classes)
        Sharpened average of the views' softmax; carries no gradient (a target).
    """
    z = logit_norm(logits_views) if normalize else logits_views
    return sharpen(torch.softmax(z, dim=-1).mean(dim=0), temperature)


def with_label_evidence(guesses: Tensor, labels: Tensor, transition: Tensor | None) -> Tensor:
    """Guesses turned into posteriors given each row's label:
    ``g_i(y) T[y, y_i] / sum_c g_i(c) T[c, y_i]``, for a label-noise transition matrix
    ``T[true, given]`` (rows sum to 1) and one-hot given labels ``labels``; the guesses
    unchanged when ``transition`` is None (or when a row's sum is 0)."""
    if transition is None:
        return guesses
    joint = guesses * (labels @ transition.to(guesses.dtype).T)
    total = joint.sum(dim=1, keepdim=True)
    return torch.where(total > 0, joint / total.clamp_min(1e-30), guesses)


def soft_targets(labels: Tensor, guesses: Tensor, lam: Tensor) -> Tensor:
    """``t_i(lambda) = lambda_i * onehot(y_i) + (1 - lambda_i) * g_i`` (paper eq. 5).

    ``labels`` are one-hot rows, ``lam`` has shape (n,).
    """
    lam = lam.unsqueeze(-1)
    return lam * labels + (1 - lam) * guesses


def supervised_loss(
    logits: Tensor,
    labels: Tensor,
    guesses: Tensor,
    *,
    omega: Tensor,
    lam: Tensor,
    lam_init: float,
    relabel: bool,
    reweight: bool,
) -> Tensor:
    """The two cross-entropy terms of the IEG objective on the noisy batch.

    With both components on (the authors' code form of eq. 8)::

        0.5 * [ mean_i CE(t_i(lambda*), z_i) + sum_i omega*_i CE(t_i(lambda_0), z_i) ]

    With ``relabel=False`` the targets are the given labels and the loss is the
    L2R loss ``sum_i omega*_i CE(y_i, z_i)``; with ``reweight=False`` it is
    ``mean_i CE(t_i(lambda*), z_i)``; with both off, ``mean_i CE(y_i, z_i)``.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
    labels : Tensor of shape (n, n_classes)
        One-hot given (noisy) labels.
    guesses : Tensor of shape (n, n_classes)
        Guessed labels ``g`` (targets, no gradient).
    omega : Tensor of shape (n,)
        Exemplar weights ``omega*``, normalised to sum to 1 (or all 0).
    lam : Tensor of shape (n,)
        Binary re-labeling coefficients ``lambda*``.
    lam_init : float
        ``lambda_0``, the given label's share in the weighted term's target.
    relabel, reweight : bool
    """
    if relabel:
        relabeled = soft_cross_entropy(logits, soft_targets(labels, guesses, lam))
        if not reweight:
            return relabeled
        init = torch.full_like(lam, lam_init)
        weighted = (omega * soft_cross_entropy(
            logits, soft_targets(labels, guesses, init), reduction="none")).sum()
        return 0.5 * (relabeled + weighted)
    per_row = soft_cross_entropy(logits, labels, reduction="none")
    return (omega * per_row).sum() if reweight else per_row.mean()


#: ELR's clamp of the probabilities (the authors' code), so that ``log(1 - <p, t>)`` stays
#: finite when a prediction matches its target.
EARLY_LEARNING_CLAMP = 1e-4


def _clamped_softmax(logits: Tensor) -> Tensor:
    return torch.softmax(logits, dim=-1).clamp(EARLY_LEARNING_CLAMP, 1 - EARLY_LEARNING_CLAMP)


@torch.no_grad()
def early_learning_targets(targets: Tensor, logits: Tensor, decay: float) -> Tensor:
    """The rows' running targets of early-learning regularisation, one visit on.

    ``decay * t + (1 - decay) * p / sum(p)`` with ``p`` the clamped softmax of
    ``logits`` (:func:`early_learning_loss`), no gradient (Liu et al., "Early-Learning
    Regularization Prevents Memorization of Noisy Labels", NeurIPS 2020; the authors'
    code updates the targets before the loss is taken, and so does the step).

    Parameters
    ----------
    targets : Tensor of shape (n, n_classes)
        The rows' targets so far (zeros before the first visit).
    logits : Tensor of shape (n, n_classes)
    decay : float
        ``beta``, in [0, 1).
    """
    p = _clamped_softmax(logits.detach())
    return decay * targets + (1 - decay) * p / p.sum(dim=-1, keepdim=True)


def early_learning_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Early-learning regularisation: ``mean_i log(1 - <p_i, t_i>)``.

    ``p_i`` is the softmax of ``logits`` clamped to ``[1e-4, 1 - 1e-4]`` and ``t_i`` the
    row's running target (:func:`early_learning_targets`, no gradient). Minimising it
    raises ``<p_i, t_i>``: it pulls each row's prediction towards what the network
    predicted for that row earlier in training, which holds against the pull of a
    wrong label once the network has learnt the clean pattern (memorisation comes
    later than early learning).
    """
    p = _clamped_softmax(logits)
    return torch.log(1 - (targets.detach() * p).sum(dim=-1)).mean()


def sample_mixup_coefficients(n: int, *, generator: torch.Generator, device=None,
                              dtype: torch.dtype = torch.float32) -> Tensor:
    """``m = max(b, 1 - b)`` with ``b ~ Beta(0.5, 0.5)``, one per row.

    ``Beta(1/2, 1/2)`` is the arcsine law, sampled exactly as
    ``sin(pi * U / 2) ** 2`` with ``U ~ Uniform(0, 1)``, so the draw needs only
    ``torch.rand`` and the caller's generator.
    """
    u = torch.rand(n, generator=generator, device=device, dtype=dtype)
    b = torch.sin(0.5 * math.pi * u).pow(2)
    return torch.maximum(b, 1 - b)


def mixup(x: Tensor, targets: Tensor, *, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Mix every row with a random other row of the same pool (paper eq. 9).

    ``x_mix_i = m_i x_i + (1 - m_i) x_perm(i)``, targets alike, with
    ``m_i >= 0.5`` from :func:`sample_mixup_coefficients`, so row ``i`` stays
    dominated by its own input: that is what lets the probe rows anchor the mix.

    Parameters
    ----------
    x : Tensor of shape (n, ...)
    targets : Tensor of shape (n, n_classes)
    generator : torch.Generator
        On ``x.device``.

    Returns
    -------
    x_mix, targets_mix : Tensor
    """
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator, device=x.device)
    m = sample_mixup_coefficients(n, generator=generator, device=x.device, dtype=x.dtype)
    mx = m.view(-1, *([1] * (x.dim() - 1)))
    mt = m.to(targets.dtype).unsqueeze(-1)
    return mx * x + (1 - mx) * x[perm], mt * targets + (1 - mt) * targets[perm]
