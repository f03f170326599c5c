"""Weak and strong views of a batch, for images and tabular rows (pure torch functions).

IEG's consistency loss (the paper's eq. 4) compares the model's prediction on a
*weak* view of a row with its prediction on a *strong* view of the same row.
This module builds both views for a whole batch at once.

Images, shape ``(N, C, H, W)``, as in the authors' code (CIFAR):

* weak view: random translation (pad by ``padding`` pixels, crop back at a random
  offset) then a random left-right flip (:func:`weak_image_view`);
* strong view: a RandAugment or AutoAugment (CIFAR-10 policy) op chain, then the
  weak view's pad-crop and flip, then Cutout (:func:`strong_image_view`).
  RandAugment is :func:`batched_randaugment`: torchvision's ``v2.RandAugment``
  ops and magnitudes, reproduced op by op on uint8 grey levels, with a random
  op chain per image but no loop over images.

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
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sk_ieg._typing import Tensor

if TYPE_CHECKING:
    from torchvision.transforms.v2 import Transform

__all__ = [
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
_POLICIES = ("autoaugment", "randaugment")


# --------------------------------------------------------------------------- checks


def _check_images(x: Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected images of shape (N, C, H, W), got shape {shape}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point image tensor, got dtype {x.dtype}")


def _check_rows(x: Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected tabular rows of shape (N, d), got shape {shape}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor, got dtype {x.dtype}")


def _check_policy_channels(x: Tensor, what: str) -> None:
    """Images with 1 or 3 channels (torchvision's colour ops accept only these)."""
    _check_images(x)
    c = x.shape[1]
    if c not in (1, 3):
        raise ValueError(f"{what} supports images with 1 or 3 channels, got {c} channels "
                         f"(shape {tuple(x.shape)})")


def _check_nonneg_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


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


def _check_value_range(value_range: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi), got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be finite with lo < hi, got {value_range!r}")
    return lo, hi


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
    _check_images(x)
    _check_nonneg_int(padding, "padding")
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
    _check_images(x)
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
    _check_images(x)
    _check_nonneg_int(size, "size")
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


# ------------------------------------------------------- batched RandAugment

#: RandAugment's operations, in the order of torchvision's ``v2.RandAugment``
#: (``_AUGMENTATION_SPACE``); an op is drawn as an index into this tuple.
_RA_OPS = (
    "Identity",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
)
_RA_INDEX = {name: k for k, name in enumerate(_RA_OPS)}
#: Geometric ops (one batched grid_sample per op slot): ShearX .. Rotate.
_RA_GEOMETRIC = range(1, 6)
#: Ops whose magnitude flips sign with probability 1/2 (torchvision's "signed").
_RA_SIGNED = frozenset(range(1, 10))


@cache
def _randaugment_magnitudes(
    num_bins: int, magnitude: int, height: int, width: int
) -> tuple[float, ...]:
    """Unsigned magnitude of each op of :data:`_RA_OPS` at bin ``magnitude``.

    Computed exactly as torchvision's ``RandAugment._AUGMENTATION_SPACE`` (float32
    tables, then ``float(table[magnitude])``); 0.0 for ops without a magnitude.
    """

    def lin(start: float, end: float) -> float:
        return float(torch.linspace(start, end, num_bins)[magnitude])

    bits = (8 - (torch.arange(num_bins) / ((num_bins - 1) / 4))).round().int()
    return (
        0.0,  # Identity
        lin(0.0, 0.3),  # ShearX
        lin(0.0, 0.3),  # ShearY
        lin(0.0, 150.0 / 331.0 * width),  # TranslateX
        lin(0.0, 150.0 / 331.0 * height),  # TranslateY
        lin(0.0, 30.0),  # Rotate (degrees)
        lin(0.0, 0.9),  # Brightness
        lin(0.0, 0.9),  # Color
        lin(0.0, 0.9),  # Contrast
        lin(0.0, 0.9),  # Sharpness
        float(bits[magnitude]),  # Posterize (bits kept)
        lin(1.0, 0.0),  # Solarize (threshold / 255)
        0.0,  # AutoContrast
        0.0,  # Equalize
    )


def _inverse_affine_matrix(
    center: tuple[float, float],
    angle: float,
    translate: tuple[float, float],
    shear: tuple[float, float],
) -> list[float]:
    """torchvision's ``_get_inverse_affine_matrix`` with ``scale=1`` (output -> input).

    Pixel coordinates measured from the image centre; ``center`` likewise.
    """
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    cos_sy = math.cos(sy)
    tan_sx = math.tan(sx)
    a = math.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + math.sin(rot))
    c = math.sin(rot - sy) / cos_sy
    d = math.cos(rot) - c * tan_sx
    m = [d, -b, 0.0, -c, a, 0.0]
    m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty)
    m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty)
    return m


def _geometric_matrix(op: int, magnitude: float, height: int, width: int) -> list[float]:
    """Inverse affine matrix of geometric op ``op`` at signed ``magnitude``.

    The arguments are those torchvision's RandAugment passes to ``F.affine`` /
    ``F.rotate``: shears about the top-left corner (``center=[0, 0]``) by
    ``atan(magnitude)``; translations by ``int(magnitude)`` pixels (truncated
    towards zero; positive moves the content right / down); rotations by
    ``magnitude`` degrees counter-clockwise about the image centre.
    """
    name = _RA_OPS[op]
    corner = (-0.5 * width, -0.5 * height)
    if name == "ShearX":
        return _inverse_affine_matrix(
            corner, 0.0, (0.0, 0.0), (math.degrees(math.atan(magnitude)), 0.0)
        )
    if name == "ShearY":
        return _inverse_affine_matrix(
            corner, 0.0, (0.0, 0.0), (0.0, math.degrees(math.atan(magnitude)))
        )
    if name == "TranslateX":
        return _inverse_affine_matrix((0.0, 0.0), 0.0, (float(int(magnitude)), 0.0), (0.0, 0.0))
    if name == "TranslateY":
        return _inverse_affine_matrix((0.0, 0.0), 0.0, (0.0, float(int(magnitude))), (0.0, 0.0))
    if name == "Rotate":
        # F.rotate: angle % 360, and the matrix of -angle (torchvision's convention)
        return _inverse_affine_matrix((0.0, 0.0), -(magnitude % 360), (0.0, 0.0), (0.0, 0.0))
    return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _affine_grids(theta: Tensor, height: int, width: int) -> Tensor:
    """Sampling grids (M, H, W, 2) of inverse affine matrices ``theta`` (M, 2, 3).

    ``theta[m]`` maps output to input pixel coordinates measured from the image
    centre (torchvision's inverse matrix). Built exactly as torchvision's
    ``_affine_grid`` (pixel-centre base grid times the matrix, by ``bmm``,
    divided by half the size, for ``grid_sample`` with ``align_corners=False``),
    so that the sampled pixels are torchvision's even where a coordinate falls
    exactly half-way between two pixels (shears at some magnitudes).
    """
    m = theta.shape[0]
    dev, dt = theta.device, theta.dtype
    h, w = height, width
    base = torch.empty(1, h, w, 3, dtype=dt, device=dev)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=dev))
    ys = torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, device=dev)
    base[..., 1].copy_(ys.unsqueeze(-1))
    base[..., 2].fill_(1.0)
    # divide by a tensor, as torchvision: on CUDA, dividing by a Python scalar
    # multiplies by its reciprocal, which moves tied coordinates to the other pixel
    half = torch.tensor([0.5 * w, 0.5 * h], dtype=dt, device=dev)
    rescaled = theta.transpose(1, 2) / half  # (M, 3, 2)
    return base.view(1, h * w, 3).expand(m, h * w, 3).bmm(rescaled).view(m, h, w, 2)


@lru_cache(maxsize=16)
def _geometric_grids(
    magnitudes: tuple[float, ...], height: int, width: int, device: torch.device
) -> Tensor:
    """float32 grids (10, H, W, 2) of the 5 geometric ops x 2 signs: ``2 * (op - 1) + negated``.

    ``magnitudes`` is :func:`_randaugment_magnitudes`' tuple. Cached per
    configuration and device: the small host-to-device copies of the matrices
    (which wait for the device) happen once, not on every call.
    """
    table = [
        _geometric_matrix(k, s * magnitudes[k], height, width)
        for k in _RA_GEOMETRIC
        for s in (1.0, -1.0)
    ]
    theta = torch.tensor(table, dtype=torch.float32, device=device).view(-1, 2, 3)
    return _affine_grids(theta, height, width)


def _warp(v: Tensor, grid: Tensor) -> Tensor:
    """Nearest-neighbour resampling of image ``n`` at ``grid[n]``, zero fill (level 0)."""
    return F.grid_sample(v, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _signed_pair(values: tuple[float, float], negate: Tensor | None) -> Tensor | float:
    """``values[1]`` where ``negate`` else ``values[0]``: float32 (N, 1, 1, 1), or a float."""
    if negate is None:
        return values[0]
    # Python scalars, not a tensor built from a list: no host-to-device copy
    return torch.where(negate, values[1], values[0]).float().view(-1, 1, 1, 1)


def _grey(v: Tensor) -> Tensor:
    """Luma of RGB levels, floored, as torchvision's uint8 ``rgb_to_grayscale``: (N, 1, H, W)."""
    r, g, b = v.unbind(dim=1)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).floor_().unsqueeze(1)


def _fused_add(base: Tensor, other: Tensor, alpha: Tensor | float) -> Tensor:
    """float32 ``base + alpha * other`` rounded once, like ``base.add_(other, alpha=alpha)``.

    torchvision blends with ``add_(..., alpha=)``, which PyTorch evaluates as a
    fused multiply-add (one rounding); a separate product and sum differs in
    the last bit now and then, enough to move a floored level by one. The
    product of two float32 numbers is exact in float64, and so, in practice, is
    the sum, so one rounding to float32 gives the fused result.
    """
    alpha = alpha.double() if isinstance(alpha, Tensor) else float(torch.tensor(alpha).float())
    return (other.double() * alpha + base.double()).float()


def _blend_levels(v: Tensor, other: Tensor, ratio: Tensor | float, rest: Tensor | float) -> Tensor:
    """torchvision's uint8 ``_blend``: ``v * ratio + other * (1 - ratio)``, clamped, floored."""
    return _fused_add(v * ratio, other, rest).clamp_(0.0, 255.0).floor_()


def _equalize_levels(v: Tensor) -> Tensor:
    """torchvision's (PIL's) ``equalize`` per image and channel, batched."""
    n, c, h, w = v.shape
    flat = v.reshape(n * c, h * w).long()
    hist = torch.zeros(n * c, 256, dtype=torch.int64, device=v.device)
    hist.scatter_add_(1, flat, torch.ones_like(flat))
    cum = hist.cumsum(dim=1)
    top = flat.amax(dim=1, keepdim=True)  # brightest level present
    step = (h * w - hist.gather(1, top)).div(255, rounding_mode="floor")  # (NC, 1)
    lut = (cum[:, :-1] + step // 2).div(step.clamp(min=1), rounding_mode="floor").clamp_(0, 255)
    lut = torch.cat([torch.zeros_like(lut[:, :1]), lut], dim=1)
    out = torch.where(step != 0, lut.gather(1, flat), flat)
    return out.to(v.dtype).view(n, c, h, w)


def _apply_op(v: Tensor, op: int | str, magnitude: float, negate: Tensor | None = None) -> Tensor:
    """Apply one RandAugment op to every image of a batch of grey levels.

    Parameters
    ----------
    v : Tensor of shape (N, C, H, W)
        float32 images with integer values in [0, 255] (uint8 levels), C in {1, 3}.
    op : int or str
        Index into, or name from, :data:`_RA_OPS`.
    magnitude : float
        The magnitude torchvision's RandAugment passes to the op (already signed):
        shear factor, translation in pixels (truncated to an int), angle in
        degrees, ``factor - 1`` for Brightness/Color/Contrast/Sharpness, number of
        bits for Posterize, ``threshold / 255`` for Solarize; ignored by Identity,
        AutoContrast and Equalize.
    negate : bool Tensor of shape (N,), optional
        Images where the magnitude's sign is flipped (the signed ops only).

    Returns
    -------
    Tensor of shape (N, C, H, W)
        New float32 tensor of integer levels in [0, 255]: torchvision's uint8
        result of the op (same quantisation: floor after blends, round in Sharpness'
        blur; nearest-neighbour sampling with fill 0 for geometric ops).
    """
    k = _RA_INDEX[op] if isinstance(op, str) else int(op)
    name = _RA_OPS[k]
    n, c, h, w = v.shape
    if k in _RA_GEOMETRIC:
        pair = [_geometric_matrix(k, s, h, w) for s in (magnitude, -magnitude)]
        thetas = torch.tensor(pair, dtype=v.dtype, device=v.device).view(2, 2, 3)
        grids = _affine_grids(thetas, h, w)
        if negate is None:
            return _warp(v, grids[:1].expand(n, h, w, 2))
        return _warp(v, grids[negate.long()])
    if name in ("Brightness", "Color", "Contrast", "Sharpness"):
        ratios = (1.0 + magnitude, 1.0 - magnitude)
        ratio = _signed_pair(ratios, negate)
        rest = _signed_pair((1.0 - ratios[0], 1.0 - ratios[1]), negate)
        if name == "Brightness":
            return (v * ratio).clamp_(0.0, 255.0).floor_()
        if name == "Color":
            return v.clone() if c == 1 else _blend_levels(v, _grey(v), ratio, rest)
        if name == "Contrast":
            grey = _grey(v) if c == 3 else v
            return _blend_levels(v, grey.mean(dim=(1, 2, 3), keepdim=True), ratio, rest)
        # Sharpness: blend with a 3x3 smoothing of the interior; the border is kept
        if h <= 2 or w <= 2:
            return v.clone()
        # torchvision: conv2d with the kernel [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13,
        # rounded. On integer levels the exact blur is an integer / 13, at least
        # 0.5 / 13 away from a rounding tie, so the exact integer sum / 13, rounded,
        # is the same (and cheaper than a convolution on small batches).
        rows = v[..., :-2] + v[..., 1:-1] + v[..., 2:]
        box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
        blurred = box.add_(v[..., 1:-1, 1:-1], alpha=4.0).div_(13.0).round_()
        out = v.clone()
        inner = out[..., 1:-1, 1:-1]
        inner.copy_(_fused_add(inner, blurred - inner, rest))
        return out.clamp_(0.0, 255.0).floor_()
    if name == "Posterize":
        bits = int(magnitude)
        if bits >= 8:
            return v.clone()
        step = float(2 ** (8 - bits))
        return v.div(step).floor_().mul_(step)
    if name == "Solarize":
        return torch.where(v >= 255.0 * magnitude, 255.0 - v, v)
    if name == "AutoContrast":
        lo = v.amin(dim=(2, 3), keepdim=True)
        hi = v.amax(dim=(2, 3), keepdim=True)
        flat = hi == lo
        inv_scale = torch.where(flat, 1.0, (hi - lo).mul_(1.0 / 255.0))
        lo = torch.where(flat, 0.0, lo)
        return (v - lo).div_(inv_scale).clamp_(0.0, 255.0).floor_()
    if name == "Equalize":
        return _equalize_levels(v)
    return v.clone()  # Identity


def _apply_to_selected(v: Tensor, mask: Tensor, fn, *per_image: Tensor, subset: bool) -> Tensor:
    """``fn`` applied to the images where ``mask`` holds; the others unchanged.

    ``subset=True`` gathers the selected images (``index_select``), transforms only
    them and writes them back (``index_copy_``, into ``v``): the least work, but
    ``nonzero`` makes a CUDA device wait, so it is used on CPU only.
    ``subset=False`` transforms the whole batch and keeps the selected images with
    ``torch.where``: no host-device synchronisation. Both give the same result.
    ``per_image`` tensors (first dimension N) are passed to ``fn`` with the images.
    """
    if subset:
        idx = mask.nonzero().squeeze(1)
        if idx.numel() == 0:
            return v
        sub = [t.index_select(0, idx) for t in per_image]
        return v.index_copy_(0, idx, fn(v.index_select(0, idx), *sub))
    return torch.where(mask.view(-1, 1, 1, 1), fn(v, *per_image), v)


def _randaugment_levels(
    v: Tensor, ops: Tensor, negate: Tensor, magnitudes: tuple[float, ...], *, subset: bool
) -> Tensor:
    """Apply op ``ops[s, n]`` (sign flipped where ``negate[s, n]``) to image ``n``, slot by slot.

    ``v`` holds float32 grey levels (modified in place when ``subset``). Per slot:
    one batched warp for the images that drew a geometric op (one matrix per
    image), then each colour op on the images that drew it.
    """
    _, c, h, w = v.shape
    grids = _geometric_grids(magnitudes, h, w, v.device)  # grid 2 * (op - 1) + negated
    first = _RA_GEOMETRIC.start
    for op, neg in zip(ops, negate):
        geometric = (op >= first) & (op < _RA_GEOMETRIC.stop)
        which = (op - first).clamp_(0, len(_RA_GEOMETRIC) - 1) * 2 + neg.long()

        def warp(z: Tensor, i: Tensor) -> Tensor:
            return _warp(z, grids[i])

        v = _apply_to_selected(v, geometric, warp, which, subset=subset)
        for k in range(_RA_GEOMETRIC.stop, len(_RA_OPS)):
            if _RA_OPS[k] == "Color" and c == 1:
                continue  # saturation of a grey image is the identity

            def colour(z: Tensor, ng: Tensor, k: int = k) -> Tensor:
                return _apply_op(z, k, magnitudes[k], ng if k in _RA_SIGNED else None)

            v = _apply_to_selected(v, op == k, colour, neg, subset=subset)
    return v


def batched_randaugment(
    x: Tensor,
    *,
    generator: torch.Generator,
    value_range: tuple[float, float],
    num_ops: int = 2,
    magnitude: int = 9,
    num_magnitude_bins: int = 31,
) -> Tensor:
    """RandAugment with one random op chain per image, vectorised over the batch.

    The op space, magnitude table and op semantics are those of torchvision's
    ``v2.RandAugment(num_ops, magnitude, num_magnitude_bins)`` on uint8 images
    (interpolation nearest, fill 0): Identity, ShearX, ShearY, TranslateX,
    TranslateY, Rotate, Brightness, Color, Contrast, Sharpness, Posterize,
    Solarize, AutoContrast, Equalize. Each image draws its ``num_ops`` ops
    uniformly and independently, and the signed ops (shear, translate, rotate,
    brightness, colour, contrast, sharpness) flip the sign of their magnitude
    with probability 1/2 per image and op slot, as torchvision does.

    The images are mapped linearly from ``value_range`` to grey levels ``[0, 255]``
    (clamped, rounded), transformed with torchvision's uint8 arithmetic (float
    tensors holding integer levels: blends are floored as torchvision's cast to
    uint8 truncates), and mapped back. There is no Python loop over images: per
    op slot, the geometric ops run as one batched ``grid_sample`` with a matrix
    per image, and each colour op runs once on the images that drew it
    (``index_select``/``index_copy_`` on CPU; on other devices the op runs on the
    whole batch and ``torch.where`` keeps the right images, so no host-device
    synchronisation happens).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        Floating-point images with ``C`` in {1, 3}.
    generator : torch.Generator
        Source of randomness, on the device of ``x``. Two draws, in this order:
        ``ops = torch.randint(0, 14, (num_ops, N))`` (indices into the op list
        above) then ``u = torch.rand(num_ops, N)``; image ``n`` flips the sign
        of its slot-``s`` magnitude iff ``u[s, n] <= 0.5``. The global RNG is
        not used.
    value_range : tuple of float (lo, hi)
        Range of the pixel values of ``x``; ``lo < hi``.
    num_ops : int, default=2
        Number of ops applied in sequence to each image.
    magnitude : int, default=9
        Magnitude bin, in ``[0, num_magnitude_bins)``.
    num_magnitude_bins : int, default=31
        Number of magnitude bins (>= 2).

    Returns
    -------
    Tensor of shape (N, C, H, W)
        New tensor, dtype and device of ``x``, values on the 256-level grid of
        ``value_range`` (quantised even where an image drew only Identity).
    """
    _check_policy_channels(x, "RandAugment")
    lo, hi = _check_value_range(value_range)
    _check_nonneg_int(num_ops, "num_ops")
    _check_nonneg_int(num_magnitude_bins, "num_magnitude_bins")
    if num_magnitude_bins < 2:
        raise ValueError(f"num_magnitude_bins must be >= 2, got {num_magnitude_bins}")
    _check_nonneg_int(magnitude, "magnitude")
    if magnitude >= num_magnitude_bins:
        raise ValueError(
            f"magnitude must be < num_magnitude_bins = {num_magnitude_bins}, got {magnitude}"
        )
    n, _, h, w = x.shape
    ops = torch.randint(0, len(_RA_OPS), (num_ops, n), generator=generator, device=x.device)
    negate = torch.rand((num_ops, n), generator=generator, device=x.device) <= 0.5
    if n == 0:
        return x.clone()
    work = torch.promote_types(x.dtype, torch.float32)
    v = ((x.to(work) - lo) * (255.0 / (hi - lo))).clamp_(0.0, 255.0).round_().float()
    magnitudes = _randaugment_magnitudes(num_magnitude_bins, magnitude, h, w)
    v = _randaugment_levels(v, ops, negate, magnitudes, subset=x.device.type == "cpu")
    return (v.to(work) * ((hi - lo) / 255.0) + lo).clamp_(lo, hi).to(x.dtype)


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
    if policy not in _POLICIES:
        raise ValueError(f"policy must be one of {_POLICIES}, got {policy!r}")
    _check_policy_channels(x, "policy augmentation")
    lo, hi = _check_value_range(value_range)
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
    _check_images(x)
    if policy not in _POLICIES:
        raise ValueError(f"policy must be one of {_POLICIES}, got {policy!r}")
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
    _check_images(x)
    if policy is not None and policy not in _POLICIES:
        raise ValueError(f"policy must be None or one of {_POLICIES}, got {policy!r}")
    out = x
    if policy is not None:
        out = policy_augment(out, policy=policy, generator=generator, value_range=value_range)
    out = weak_image_view(out, generator=generator, padding=padding, flip=flip)
    return cutout(out, size=cutout_size, generator=generator, fill=cutout_fill)


def default_image_padding(height: int, width: int) -> int:
    """Translation for pad-crop: ``max(1, round(min(height, width) / 8))``.

    The paper uses 4 pixels for 32 x 32 CIFAR images; 28 x 28 gives 4, 8 x 8 gives 1.
    """
    return max(1, round(min(height, width) / 8))


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
