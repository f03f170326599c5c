"""Weak and strong views of a batch, for images and tabular rows (pure torch functions).

IEG's consistency loss (the paper's eq. 4) compares the model's prediction on a
*weak* view of a row with its prediction on a *strong* view of the same row.
This module builds both views for a whole batch at once.

Images, shape ``(N, C, H, W)``, as in the authors' code (CIFAR):

* weak view: random translation (pad by ``padding`` pixels, crop back at a random
  offset) then a random left-right flip (:func:`weak_image_view`);
* strong view: a RandAugment or AutoAugment (CIFAR-10 policy) op chain, then the
  weak view's pad-crop and flip, then Cutout (:func:`strong_image_view`).
  RandAugment is :func:`batched_randaugment` (in
  :mod:`sk_ieg.augment.randaugment`): torchvision's ``v2.RandAugment`` ops and
  magnitudes, reproduced op by op on uint8 grey levels, with a random op chain
  per image but no loop over images.

Tabular rows, shape ``(N, d)``. There is no tabular counterpart in the paper, so
the views follow the corruption schemes of self-supervised tabular learning
(VIME, Yoon et al. 2020; SCARF, Bahri et al. 2022):

* weak view: small Gaussian jitter, ``x + eps * jitter * scale`` with
  ``eps ~ N(0, 1)`` per entry and ``scale`` the per-feature standard deviation
  (:func:`tabular_weak_view`). Like a few pixels of translation it perturbs every
  coordinate slightly while keeping the row recognisably itself.
* strong view: larger jitter, then each entry independently replaced by a
  per-feature fill value (the feature mean) with probability ``mask_prob``
  (:func:`tabular_strong_view`). Masking removes part of the evidence, as Cutout
  removes a patch of an image; filling with the mean (rather than 0) keeps the
  corrupted entry inside the feature's typical range, so the model cannot detect
  the corruption from out-of-range values. Scaling the noise by each feature's
  std makes the views invariant to the features' units.

Randomness comes only from the explicit keyword-only ``generator`` (a
:class:`torch.Generator` on the same device as ``x``); the global RNG is never
read or advanced (torchvision's AutoAugment, which draws from the global RNG,
runs inside :func:`torch.random.fork_rng`). Every function returns a new tensor
with the dtype and device of ``x``; inputs are never modified in place.
Everything is vectorised over the batch (loops run over operations, never over
images) except ``policy="autoaugment"``, which calls torchvision's
``v2.AutoAugment`` once per image in a Python loop (and reads a seed from the
generator on the host).
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sk_ieg._typing import Tensor
from sk_ieg.augment.randaugment import (
    batched_randaugment,
    check_float_tensor,
    check_images,
    check_nonneg_int,
    check_policy_channels,
    check_value_range,
)

if TYPE_CHECKING:
    from torchvision.transforms.v2 import Transform

__all__ = [
    "POLICIES",
    "random_pad_crop",
    "random_hflip",
    "cutout",
    "policy_augment",
    "batched_randaugment",
    "weak_image_view",
    "strong_image_view",
    "default_image_padding",
    "default_cutout_size",
    "tabular_weak_view",
    "tabular_strong_view",
]

_PAD_MODES = ("reflect", "replicate", "constant")
#: The ``policy`` values of :func:`policy_augment` and :func:`strong_image_view`
#: (the latter also takes ``None``).
POLICIES = ("autoaugment", "randaugment")


# --------------------------------------------------------------------------- checks


def _check_rows(x: Tensor) -> None:
    check_float_tensor(x, ndim=2, expected="tabular rows of shape (N, d)",
                       floating="a floating-point tensor")


def _check_probability(value: float, name: str) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _check_feature_vector(v: Tensor, name: str, x: Tensor) -> Tensor:
    """``v`` as a (d,) tensor with the dtype and device of ``x``."""
    v = torch.as_tensor(v)
    d = x.shape[1]
    if v.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},), got shape {tuple(v.shape)}")
    return v.to(dtype=x.dtype, device=x.device)


# ------------------------------------------------------------------- image views


def _pad_crop_at(
    x: Tensor, offset_y: Tensor, offset_x: Tensor, *, padding: int, mode: str = "reflect"
) -> Tensor:
    """Pad ``x`` by ``padding`` and crop each image back to H x W at given offsets.

    Image ``n`` of the result is ``padded[n, :, oy:oy + H, ox:ox + W]`` with
    ``oy = offset_y[n]``, ``ox = offset_x[n]`` in ``[0, 2 * padding]``; offset
    ``padding`` is the identity. ``mode="reflect"`` falls back to ``"replicate"``
    when ``padding >= min(H, W)`` (reflection needs ``padding < size``).
    """
    n, c, h, w = x.shape
    if mode == "reflect" and padding >= min(h, w):
        mode = "replicate"
    pad = (padding, padding, padding, padding)
    padded = F.pad(x, pad, mode=mode) if mode != "constant" else F.pad(x, pad, value=0.0)
    dev = x.device
    wp = w + 2 * padding
    rows = offset_y.to(dev).long()[:, None] + torch.arange(h, device=dev)  # (N, H)
    cols = offset_x.to(dev).long()[:, None] + torch.arange(w, device=dev)  # (N, W)
    # One gather over the flattened padded images (3x faster than 4-D indexing).
    flat = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return padded.reshape(n, c, -1).gather(2, flat).reshape(n, c, h, w)


def random_pad_crop(
    x: Tensor, *, padding: int, generator: torch.Generator, mode: str = "reflect"
) -> Tensor:
    """Random translation of each image: pad, then crop back at a random offset.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        Floating-point images.
    padding : int
        Pixels added on each side; the translation is at most ``padding`` pixels in
        each direction. ``0`` returns a copy of ``x``.
    generator : torch.Generator
        Source of randomness, on the device of ``x``. Two draws, in this order:
        ``offset_y = torch.randint(0, 2 * padding + 1, (N,))`` then ``offset_x``
        likewise (none when ``padding == 0``).
    mode : {"reflect", "replicate", "constant"}, default="reflect"
        Padding mode (``"constant"`` pads with zeros). ``"reflect"`` requires
        ``padding < min(H, W)``; for larger padding ``"replicate"`` is used instead.

    Returns
    -------
    Tensor of shape (N, C, H, W)
        Image ``n`` is ``padded[n, :, oy:oy + H, ox:ox + W]``.
    """
    check_images(x)
    check_nonneg_int(padding, "padding")
    if mode not in _PAD_MODES:
        raise ValueError(f"mode must be one of {_PAD_MODES}, got {mode!r}")
    if padding == 0 or x.shape[0] == 0:
        return x.clone()
    n = x.shape[0]
    offset_y = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    offset_x = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    return _pad_crop_at(x, offset_y, offset_x, padding=padding, mode=mode)


def random_hflip(x: Tensor, *, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """Flip each image left-right independently with probability ``p``.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    generator : torch.Generator
        One draw: ``u = torch.rand(N)``; image ``n`` is flipped iff ``u[n] < p``.
    p : float, default=0.5
        Flip probability, in [0, 1]. ``p=0`` never flips, ``p=1`` always flips.

    Returns
    -------
    Tensor of shape (N, C, H, W)
    """
    check_images(x)
    _check_probability(p, "p")
    u = torch.rand(x.shape[0], generator=generator, device=x.device)
    flip = (u < p)[:, None, None, None]
    return torch.where(flip, x.flip(-1), x)


def _cutout_mask(height: int, width: int, centre_y: Tensor, centre_x: Tensor, size: int) -> Tensor:
    """Boolean (N, 1, H, W) mask of the ``size`` x ``size`` squares at the centres.

    The square covers rows ``[cy - size // 2, cy - size // 2 + size)`` and the same
    for columns, clipped to the image. For even ``size`` this is the authors'
    ``[c - size // 2, c + size // 2)``.
    """
    dev = centre_y.device
    y0 = centre_y[:, None] - size // 2
    x0 = centre_x[:, None] - size // 2
    ys = torch.arange(height, device=dev)
    xs = torch.arange(width, device=dev)
    in_y = (ys >= y0) & (ys < y0 + size)  # (N, H)
    in_x = (xs >= x0) & (xs < x0 + size)  # (N, W)
    return in_y[:, None, :, None] & in_x[:, None, None, :]


def cutout(
    x: Tensor, *, size: int, generator: torch.Generator, fill: float | Tensor = 0.0
) -> Tensor:
    """Cutout (DeVries & Taylor, 2017) as in the IEG / FixMatch code.

    For each image a ``size`` x ``size`` square whose centre is uniform over all
    pixel positions is set to ``fill``; squares that stick out of the image are
    clipped at the borders (so the erased area is smaller near the edges).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    size : int
        Side of the square. ``0`` returns a copy of ``x``.
    generator : torch.Generator
        Two draws, in this order: ``centre_y = torch.randint(0, H, (N,))`` then
        ``centre_x = torch.randint(0, W, (N,))`` (none when ``size == 0``).
    fill : float or Tensor of shape (C,), default=0.0
        Value written into the square: a scalar, or one value per channel (e.g. the
        channel means, so that the square is "average" in normalised space).

    Returns
    -------
    Tensor of shape (N, C, H, W)
        The square covers rows ``[cy - size // 2, cy - size // 2 + size)`` and
        likewise for columns; for even ``size`` that is ``[cy - size // 2,
        cy + size // 2)``, exactly the authors' ``cutout_numpy``.
    """
    check_images(x)
    check_nonneg_int(size, "size")
    n, c, h, w = x.shape
    fill_t = torch.as_tensor(fill)
    if fill_t.ndim == 0:
        fill_t = fill_t.reshape(1)
    elif fill_t.shape != (c,):
        raise ValueError(
            f"fill must be a scalar or a tensor of shape ({c},), got shape {tuple(fill_t.shape)}"
        )
    if size == 0 or n == 0:
        return x.clone()
    fill_t = fill_t.to(dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
    centre_y = torch.randint(0, h, (n,), generator=generator, device=x.device)
    centre_x = torch.randint(0, w, (n,), generator=generator, device=x.device)
    mask = _cutout_mask(h, w, centre_y, centre_x, size)
    return torch.where(mask, fill_t, x)


# ------------------------------------------------------------------------ policies


@cache
def _policy_transform(policy: str) -> Transform:
    """The (stateless) torchvision transform for ``policy``, built once."""
    from torchvision.transforms import v2

    if policy == "autoaugment":
        return v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    return v2.RandAugment()


def _torchvision_policy_augment(
    x: Tensor, *, policy: str, generator: torch.Generator, value_range: tuple[float, float]
) -> Tensor:
    """torchvision's AutoAugment (CIFAR-10 policy) or RandAugment, one call per image.

    The images are mapped linearly from ``value_range`` to uint8 ``[0, 255]``
    (clamped, rounded), each image is passed separately, in a Python loop,
    through ``torchvision.transforms.v2.AutoAugment(AutoAugmentPolicy.CIFAR10)``
    or ``v2.RandAugment()`` (a batched call would apply the same operation to
    every image), and the result is mapped back to ``value_range`` in the dtype
    of ``x``. Geometric ops fill uncovered pixels with 0 (uint8), i.e. with ``lo``.

    ``generator``: one draw, a seed ``torch.randint(0, 2**62, (1,))`` read on the
    host (a device synchronisation for a CUDA generator) for torchvision's
    sampling, which runs on the global RNG inside :func:`torch.random.fork_rng`;
    the caller's global RNG state is unchanged on return.

    :func:`policy_augment` uses this route for ``"autoaugment"``;
    ``"randaugment"`` goes through :func:`batched_randaugment` instead (same op
    space, no loop). Kept callable for both policies as the reference.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    check_policy_channels(x, "policy augmentation")
    lo, hi = check_value_range(value_range)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    if x.shape[0] == 0:
        return x.clone()
    transform = _policy_transform(policy)
    u8 = ((x - lo) * (255.0 / (hi - lo))).clamp_(0.0, 255.0).round_().to(torch.uint8)
    devices = [x.device] if x.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        # torchvision samples ops and magnitudes with torch.randint / torch.rand on
        # the default CPU generator; seed it (and x's CUDA generator, in case).
        torch.default_generator.manual_seed(seed)
        if x.is_cuda:
            with torch.cuda.device(x.device):
                torch.cuda.manual_seed(seed)
        out = torch.stack([transform(img) for img in u8])
    return out.to(x.dtype) * ((hi - lo) / 255.0) + lo


def policy_augment(
    x: Tensor, *, policy: str, generator: torch.Generator, value_range: tuple[float, float]
) -> Tensor:
    """RandAugment (batched) or AutoAugment (CIFAR-10 policy), one random op chain per image.

    * ``policy="randaugment"``: :func:`batched_randaugment` with torchvision's
      defaults (2 ops, magnitude 9 of 31): the op space and op semantics of
      ``torchvision.transforms.v2.RandAugment()``, vectorised over the batch
      (no Python loop over images, no host-device synchronisation).
    * ``policy="autoaugment"``: torchvision's
      ``v2.AutoAugment(AutoAugmentPolicy.CIFAR10)``, called once per image in a
      Python loop (a batched call would apply the same sub-policy to every
      image); torchvision samples from the global RNG, which is seeded from
      ``generator`` inside :func:`torch.random.fork_rng`.

    Either way the images go through uint8 grey levels: the output is quantised
    to the 256 levels of ``value_range`` and clamped to it, and geometric ops
    fill uncovered pixels with ``lo`` (torchvision's fill 0 on uint8).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        Floating-point images with ``C`` in {1, 3} (the colour ops accept only
        grey or RGB images).
    policy : {"autoaugment", "randaugment"}
    generator : torch.Generator
        On the device of ``x``. ``"randaugment"``: the draws of
        :func:`batched_randaugment`. ``"autoaugment"``: one draw, a seed
        ``torch.randint(0, 2**62, (1,))`` for torchvision's sampling. The
        caller's global RNG state is unchanged on return.
    value_range : tuple of float (lo, hi)
        Range of the pixel values of ``x`` (e.g. ``(0.0, 1.0)``); ``lo < hi``.

    Returns
    -------
    Tensor of shape (N, C, H, W)
        Values in ``[lo, hi]``, dtype and device of ``x``.
    """
    check_images(x)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if policy == "randaugment":
        return batched_randaugment(x, generator=generator, value_range=value_range)
    return _torchvision_policy_augment(
        x, policy=policy, generator=generator, value_range=value_range
    )


def weak_image_view(x: Tensor, *, generator: torch.Generator, padding: int, flip: bool) -> Tensor:
    """Weak view: :func:`random_pad_crop` then, if ``flip``, :func:`random_hflip`.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    generator : torch.Generator
    padding : int
        Maximal translation in pixels (see :func:`default_image_padding`).
    flip : bool
        Whether to flip left-right with probability 1/2 (off for digits, text...).

    Returns
    -------
    Tensor of shape (N, C, H, W)
    """
    out = random_pad_crop(x, padding=padding, generator=generator)
    if flip:
        out = random_hflip(out, generator=generator)
    return out


def strong_image_view(
    x: Tensor,
    *,
    generator: torch.Generator,
    padding: int,
    flip: bool,
    policy: str | None,
    cutout_size: int,
    value_range: tuple[float, float],
    cutout_fill: float | Tensor = 0.0,
) -> Tensor:
    """Strong view, in the authors' order: policy, pad-crop, flip, Cutout.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    generator : torch.Generator
    padding : int
        Maximal translation in pixels.
    flip : bool
        Whether to flip left-right with probability 1/2.
    policy : {"autoaugment", "randaugment"} or None
        The :func:`policy_augment` policy: ``"randaugment"`` is
        :func:`batched_randaugment` (vectorised), ``"autoaugment"`` torchvision's
        per-image loop; ``None`` skips it (then any number of channels is
        accepted).
    cutout_size : int
        Side of the Cutout square (see :func:`default_cutout_size`); 0 disables it.
    value_range : tuple of float (lo, hi)
        Pixel range of ``x``, used by the policy's uint8 grey levels.
    cutout_fill : float or Tensor of shape (C,), default=0.0
        Value of the Cutout square.

    Returns
    -------
    Tensor of shape (N, C, H, W)
    """
    check_images(x)
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"policy must be None or one of {POLICIES}, got {policy!r}")
    out = x
    if policy is not None:
        out = policy_augment(out, policy=policy, generator=generator, value_range=value_range)
    out = weak_image_view(out, generator=generator, padding=padding, flip=flip)
    return cutout(out, size=cutout_size, generator=generator, fill=cutout_fill)


def default_image_padding(height: int, width: int) -> int:
    """Translation for pad-crop: ``max(1, round(min(height, width) / 32))``.

    1 pixel for 28 x 28 and 32 x 32 images, 2 for 64 x 64, 7 for 224 x 224. The
    paper uses 4 pixels on CIFAR's 32 x 32 images over hundreds of epochs; at
    budgets of tens of epochs one pixel measured better on Fashion-MNIST and
    CIFAR-10N (benchmarks/results/defaults_search/, round 8).
    """
    return max(1, round(min(height, width) / 32))


def default_cutout_size(height: int, width: int) -> int:
    """Cutout side: ``max(1, round(min(height, width) / 2))``.

    The paper uses 16 for 32 x 32 CIFAR images; 28 x 28 gives 14, 8 x 8 gives 4.
    """
    return max(1, round(min(height, width) / 2))


# ----------------------------------------------------------------- tabular views


def tabular_weak_view(
    x: Tensor, *, generator: torch.Generator, scale: Tensor, jitter: float
) -> Tensor:
    """Weak tabular view: ``x + eps * jitter * scale``, ``eps ~ N(0, 1)`` per entry.

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Floating-point rows.
    generator : torch.Generator
        One draw, ``torch.randn(N, d)``; none when ``jitter == 0``.
    scale : Tensor of shape (d,)
        Per-feature noise scale, typically the features' standard deviation.
    jitter : float
        Noise level relative to ``scale``, >= 0; ``0`` returns a copy of ``x``.

    Returns
    -------
    Tensor of shape (N, d)
    """
    _check_rows(x)
    scale = _check_feature_vector(scale, "scale", x)
    if not (math.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter must be finite and >= 0, got {jitter}")
    if jitter == 0:
        return x.clone()
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + eps * (jitter * scale)


def tabular_strong_view(
    x: Tensor,
    *,
    generator: torch.Generator,
    scale: Tensor,
    fill: Tensor,
    jitter: float,
    mask_prob: float,
) -> Tensor:
    """Strong tabular view: Gaussian jitter, then random masking to ``fill``.

    The tabular analogue of the image strong view (see the module docstring): the
    jitter of :func:`tabular_weak_view` (with the larger ``jitter`` the caller
    passes) plays the part of the photometric/geometric ops, and masking each
    entry to its feature's mean with probability ``mask_prob`` plays the part of
    Cutout (VIME / SCARF-style corruption).

    Parameters
    ----------
    x : Tensor of shape (N, d)
    generator : torch.Generator
        Draws, in this order: ``torch.randn(N, d)`` (skipped when ``jitter == 0``)
        then ``u = torch.rand(N, d)`` (skipped when ``mask_prob == 0``); entry
        ``(i, j)`` is masked iff ``u[i, j] < mask_prob``.
    scale : Tensor of shape (d,)
        Per-feature noise scale (standard deviation).
    fill : Tensor of shape (d,)
        Per-feature value of masked entries (the feature mean).
    jitter : float
        Noise level relative to ``scale``, >= 0.
    mask_prob : float
        Probability, in [0, 1], that an entry is replaced by ``fill``; ``1``
        returns ``fill`` in every row.

    Returns
    -------
    Tensor of shape (N, d)
    """
    _check_rows(x)
    fill = _check_feature_vector(fill, "fill", x)
    _check_probability(mask_prob, "mask_prob")
    out = tabular_weak_view(x, generator=generator, scale=scale, jitter=jitter)
    if mask_prob == 0:
        return out
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return torch.where(u < mask_prob, fill, out)
