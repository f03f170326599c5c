"""Batched RandAugment: torchvision's ``v2.RandAugment``, one op chain per image.

:func:`batched_randaugment` reproduces torchvision's RandAugment op space,
magnitude table and op semantics on uint8 grey levels (float tensors holding
integer levels), op by op, with a random op chain per image but no Python loop
over images: per op slot the geometric ops run as one batched ``grid_sample``
(a cached grid per op and sign) and each colour op once on the images that drew
it. :func:`sk_ieg.augment.policy_augment` routes ``policy="randaugment"`` here.

The input checks shared with :mod:`sk_ieg.augment` (:func:`check_float_tensor`,
:func:`check_images`, :func:`check_policy_channels`, :func:`check_nonneg_int`,
:func:`check_value_range`) live here, in the lower of the two modules.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

import torch
import torch.nn.functional as F

from sk_ieg._typing import Tensor

__all__ = [
    "batched_randaugment",
    "check_float_tensor",
    "check_images",
    "check_policy_channels",
    "check_nonneg_int",
    "check_value_range",
]


# --------------------------------------------------------------------------- checks


def check_float_tensor(x: Tensor, *, ndim: int, expected: str, floating: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating-point tensor with ``ndim`` dimensions.

    The messages read ``expected {expected}, got shape ...`` and ``expected
    {floating}, got dtype ...``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != ndim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected {expected}, got shape {shape}")
    if not x.is_floating_point():
        raise ValueError(f"expected {floating}, got dtype {x.dtype}")


def check_images(x: Tensor) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating-point (N, C, H, W) tensor."""
    check_float_tensor(x, ndim=4, expected="images of shape (N, C, H, W)",
                       floating="a floating-point image tensor")


def check_policy_channels(x: Tensor, what: str) -> None:
    """Images with 1 or 3 channels (torchvision's colour ops accept only these)."""
    check_images(x)
    c = x.shape[1]
    if c not in (1, 3):
        raise ValueError(f"{what} supports images with 1 or 3 channels, got {c} channels "
                         f"(shape {tuple(x.shape)})")


def check_nonneg_int(value: int, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is an int (not a bool) >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def check_value_range(value_range: tuple[float, float]) -> tuple[float, float]:
    """``(lo, hi)`` as floats; ``ValueError`` unless both are finite and ``lo < hi``."""
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi), got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be finite with lo < hi, got {value_range!r}")
    return lo, hi


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
    check_policy_channels(x, "RandAugment")
    lo, hi = check_value_range(value_range)
    check_nonneg_int(num_ops, "num_ops")
    check_nonneg_int(num_magnitude_bins, "num_magnitude_bins")
    if num_magnitude_bins < 2:
        raise ValueError(f"num_magnitude_bins must be >= 2, got {num_magnitude_bins}")
    check_nonneg_int(magnitude, "magnitude")
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

