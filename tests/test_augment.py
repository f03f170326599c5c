"""Tests for sk_ieg.augment: hand-computed values and naive per-sample references."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from sk_ieg import augment as A
from sk_ieg.augment import (
    cutout,
    default_cutout_size,
    default_image_padding,
    policy_augment,
    random_hflip,
    random_pad_crop,
    strong_image_view,
    tabular_strong_view,
    tabular_weak_view,
    weak_image_view,
)

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 4, c: int = 3, h: int = 6, w: int = 5, *, dtype=torch.float32, seed=0):
    return torch.rand(n, c, h, w, generator=gen(seed + 1000), dtype=dtype)


# ------------------------------------------------------------------ pad-crop


def naive_pad_crop(x, oy, ox, padding, mode):
    """Per-sample loop reference: pad one image, slice at the given offsets."""
    _, _, h, w = x.shape
    out = []
    for i in range(x.shape[0]):
        p = torch.nn.functional.pad(x[i : i + 1], (padding,) * 4, mode=mode)
        out.append(p[0, :, int(oy[i]) : int(oy[i]) + h, int(ox[i]) : int(ox[i]) + w])
    return torch.stack(out)


def test_pad_crop_at_hand_values():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    # reflect padding of [[0,1,2],[3,4,5],[6,7,8]] by 1:
    # [[4,3,4,5,4],[1,0,1,2,1],[4,3,4,5,4],[7,6,7,8,7],[4,3,4,5,4]]
    out = A._pad_crop_at(x, torch.tensor([0]), torch.tensor([0]), padding=1)
    assert torch.equal(out[0, 0], torch.tensor([[4.0, 3, 4], [1, 0, 1], [4, 3, 4]]))
    out = A._pad_crop_at(x, torch.tensor([2]), torch.tensor([1]), padding=1)
    assert torch.equal(out[0, 0], torch.tensor([[3.0, 4, 5], [6, 7, 8], [3, 4, 5]]))
    # offset == padding is the identity
    out = A._pad_crop_at(x, torch.tensor([1]), torch.tensor([1]), padding=1)
    assert torch.equal(out, x)
    # zero padding
    out = A._pad_crop_at(x, torch.tensor([0]), torch.tensor([2]), padding=1, mode="constant")
    assert torch.equal(out[0, 0], torch.tensor([[0.0, 0, 0], [1, 2, 0], [4, 5, 0]]))


def test_pad_crop_at_replicate_fallback():
    # padding 3 >= size 3: reflect is impossible, replicate is used instead
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    out = A._pad_crop_at(x, torch.tensor([0]), torch.tensor([6]), padding=3)
    assert torch.equal(out[0, 0], torch.tensor([[2.0, 2, 2], [2, 2, 2], [2, 2, 2]]))


@pytest.mark.parametrize(
    "padding, mode", [(1, "reflect"), (2, "reflect"), (2, "constant"), (7, "replicate")]
)
def test_random_pad_crop_matches_naive_loop(padding, mode):
    x = images(n=16, c=2, h=6, w=5)
    out = random_pad_crop(x, padding=padding, generator=gen(3), mode=mode)
    g = gen(3)  # re-draw the same offsets, in the documented order
    oy = torch.randint(0, 2 * padding + 1, (16,), generator=g)
    ox = torch.randint(0, 2 * padding + 1, (16,), generator=g)
    assert len(set(oy.tolist())) > 1  # offsets really vary per sample
    assert torch.equal(out, naive_pad_crop(x, oy, ox, padding, mode))


def test_random_pad_crop_large_padding_falls_back_to_replicate():
    x = images(n=8, c=1, h=3, w=4)
    out = random_pad_crop(x, padding=3, generator=gen(5))
    g = gen(5)
    oy = torch.randint(0, 7, (8,), generator=g)
    ox = torch.randint(0, 7, (8,), generator=g)
    assert torch.equal(out, naive_pad_crop(x, oy, ox, 3, "replicate"))


def test_random_pad_crop_padding_zero_is_identity_copy():
    x = images()
    out = random_pad_crop(x, padding=0, generator=gen())
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


# ---------------------------------------------------------------------- flip


def test_hflip_p1_p0_exact():
    x = images()
    assert torch.equal(random_hflip(x, generator=gen(), p=1.0), x.flip(-1))
    assert torch.equal(random_hflip(x, generator=gen(), p=0.0), x)
    x = torch.arange(3.0).reshape(1, 1, 1, 3)
    assert torch.equal(random_hflip(x, generator=gen(), p=1.0), torch.tensor([[[[2.0, 1, 0]]]]))


def test_hflip_per_sample_matches_draws():
    x = images(n=64)
    out = random_hflip(x, generator=gen(7), p=0.5)
    u = torch.rand(64, generator=gen(7))
    flipped = u < 0.5
    assert 0 < int(flipped.sum()) < 64
    for i in range(64):
        assert torch.equal(out[i], x[i].flip(-1) if flipped[i] else x[i])


# -------------------------------------------------------------------- cutout


def naive_cutout(x, cy, cx, size, fill):
    """Authors' cutout_numpy, per image (for even size); ``fill`` per channel."""
    out = x.clone()
    _, c, h, w = x.shape
    for i in range(x.shape[0]):
        y0, y1 = max(0, int(cy[i]) - size // 2), min(h, int(cy[i]) - size // 2 + size)
        x0, x1 = max(0, int(cx[i]) - size // 2), min(w, int(cx[i]) - size // 2 + size)
        for ch in range(c):
            out[i, ch, y0:y1, x0:x1] = fill[ch]
    return out


def test_cutout_mask_hand_values():
    # 5x5 image, size 2 at centre (0, 4): rows [-1, 1) -> 0, cols [3, 5) -> 3, 4
    m = A._cutout_mask(5, 5, torch.tensor([0]), torch.tensor([4]), 2)
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[0, 3:5] = True
    assert torch.equal(m[0, 0], expected)
    # odd size 3 at centre (2, 2): rows/cols [1, 4)
    m = A._cutout_mask(5, 5, torch.tensor([2]), torch.tensor([2]), 3)
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[1:4, 1:4] = True
    assert torch.equal(m[0, 0], expected)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 10])
def test_cutout_matches_naive_loop(size):
    x = images(n=32, c=3, h=6, w=5) + 1.0  # no zeros in the input
    out = cutout(x, size=size, generator=gen(11))
    g = gen(11)
    cy = torch.randint(0, 6, (32,), generator=g)
    cx = torch.randint(0, 5, (32,), generator=g)
    assert torch.equal(out, naive_cutout(x, cy, cx, size, [0.0, 0.0, 0.0]))
    zeros_per_image = (out[:, 0] == 0).sum(dim=(1, 2))
    assert int(zeros_per_image.max()) <= size * size and int(zeros_per_image.min()) >= 1


def test_cutout_per_channel_fill_and_size_zero():
    x = images(n=8, c=3) + 1.0
    fill = torch.tensor([-1.0, -2.0, -3.0])
    out = cutout(x, size=2, generator=gen(2), fill=fill)
    g = gen(2)
    cy = torch.randint(0, 6, (8,), generator=g)
    cx = torch.randint(0, 5, (8,), generator=g)
    assert torch.equal(out, naive_cutout(x, cy, cx, 2, fill.tolist()))
    assert torch.equal(cutout(x, size=0, generator=gen()), x)
    with pytest.raises(ValueError, match="fill"):
        cutout(x, size=2, generator=gen(), fill=torch.zeros(2))


def test_cutout_full_image_when_size_covers_it():
    x = images(n=2, c=1, h=3, w=3) + 1.0
    # size 6 centred anywhere in a 3x3 image covers it all
    assert torch.equal(cutout(x, size=6, generator=gen(), fill=0.5), torch.full_like(x, 0.5))


# -------------------------------------------------------------------- policy


@pytest.mark.parametrize("policy", ["autoaugment", "randaugment"])
@pytest.mark.parametrize("c", [1, 3])
def test_policy_round_trip_range_and_dtype(policy, c):
    lo, hi = -1.0, 2.0
    x = images(n=8, c=c, h=12, w=12) * (hi - lo) + lo
    out = policy_augment(x, policy=policy, generator=gen(4), value_range=(lo, hi))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= lo - 1e-6 and float(out.max()) <= hi + 1e-6
    # values lie on the 256-level grid of the uint8 round trip
    levels = (out - lo) * (255.0 / (hi - lo))
    assert torch.allclose(levels, levels.round(), atol=1e-3)
    assert not torch.equal(out, x)


def test_policy_float64_and_per_image_ops():
    x = images(n=16, c=3, h=10, w=10, dtype=torch.float64)
    out = policy_augment(x, policy="randaugment", generator=gen(1), value_range=(0.0, 1.0))
    assert out.dtype == torch.float64
    # quantisation alone changes each value by < 1/255; most images should change more,
    # and differently from each other (one random op chain per image)
    q = (x * 255).round() / 255
    changed = (out - q).abs().amax(dim=(1, 2, 3)) > 1e-9
    assert int(changed.sum()) >= 4


def test_policy_deterministic_and_global_rng_untouched():
    x = images(n=6, c=3, h=8, w=8)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = policy_augment(x, policy="autoaugment", generator=gen(9), value_range=(0.0, 1.0))
    assert torch.equal(torch.get_rng_state(), state)
    b = policy_augment(x, policy="autoaugment", generator=gen(9), value_range=(0.0, 1.0))
    assert torch.equal(a, b)
    outs = [
        policy_augment(x, policy="autoaugment", generator=gen(s), value_range=(0.0, 1.0))
        for s in range(10, 14)
    ]
    assert any(not torch.equal(a, o) for o in outs)


def test_policy_validation():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        policy_augment(images(c=2), policy="randaugment", generator=gen(), value_range=(0, 1))
    with pytest.raises(ValueError, match="policy"):
        policy_augment(images(), policy="trivial", generator=gen(), value_range=(0, 1))
    with pytest.raises(ValueError, match="value_range"):
        policy_augment(images(), policy="randaugment", generator=gen(), value_range=(1, 1))


# ------------------------------------------------------- batched RandAugment

NEAREST = TF.InterpolationMode.NEAREST


def tv_op(img, name, m):
    """torchvision's functional op on one uint8 image, with the arguments that
    ``v2.RandAugment`` passes for op ``name`` at signed magnitude ``m``
    (``RandAugment._apply_image_or_video_transform`` with its defaults)."""
    if name == "Identity":
        return img
    if name in ("ShearX", "ShearY"):
        deg = math.degrees(math.atan(m))
        shear = [deg, 0.0] if name == "ShearX" else [0.0, deg]
        return TF.affine(
            img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear,
            interpolation=NEAREST, fill=None, center=[0, 0],
        )  # fmt: skip
    if name in ("TranslateX", "TranslateY"):
        t = [int(m), 0] if name == "TranslateX" else [0, int(m)]
        return TF.affine(
            img, angle=0.0, translate=t, scale=1.0, shear=[0.0, 0.0],
            interpolation=NEAREST, fill=None,
        )  # fmt: skip
    if name == "Rotate":
        return TF.rotate(img, angle=m, interpolation=NEAREST, fill=None)
    if name == "Brightness":
        return TF.adjust_brightness(img, brightness_factor=1.0 + m)
    if name == "Color":
        return TF.adjust_saturation(img, saturation_factor=1.0 + m)
    if name == "Contrast":
        return TF.adjust_contrast(img, contrast_factor=1.0 + m)
    if name == "Sharpness":
        return TF.adjust_sharpness(img, sharpness_factor=1.0 + m)
    if name == "Posterize":
        return TF.posterize(img, bits=int(m))
    if name == "Solarize":
        return TF.solarize(img, threshold=255.0 * m)
    if name == "AutoContrast":
        return TF.autocontrast(img)
    if name == "Equalize":
        return TF.equalize(img)
    raise AssertionError(name)


def u8_images(n, c, h, w, seed=0):
    """Random uint8 images; a quarter of them low-contrast (AutoContrast and
    Equalize then have work to do) and one constant (their degenerate case)."""
    u8 = torch.randint(0, 256, (n, c, h, w), generator=gen(seed), dtype=torch.uint8)
    u8[: n // 4] = u8[: n // 4] // 5 + 90
    u8[-1] = 77
    return u8


#: ops whose result goes through a float blend (floored): exact here, but a
#: blend's last float bit depends on PyTorch fusing a multiply-add, so those are
#: allowed one grey level on a rare pixel
BLEND_OPS = {"Color", "Contrast", "Sharpness"}


@pytest.mark.parametrize("bin_", [9, 20, 30])
@pytest.mark.parametrize("c, size", [(1, 28), (3, 32)])
@pytest.mark.parametrize("op", A._RA_OPS)
def test_randaugment_op_matches_torchvision(op, c, size, bin_):
    # bin 9 is the default; 30 the strongest; at bin 20 (shear 0.2) some sheared
    # coordinates fall exactly half-way between two pixels
    u8 = u8_images(16, c, size, size, seed=bin_)
    k = A._RA_INDEX[op]
    m = A._randaugment_magnitudes(31, bin_, size, size)[k]
    negate = torch.arange(16) % 3 == 0  # per-image sign flips (signed ops only)
    signed = k in A._RA_SIGNED
    out = A._apply_op(u8.float(), k, m, negate if signed else None)
    ref = torch.stack(
        [tv_op(img, op, -m if (signed and neg) else m) for img, neg in zip(u8, negate)]
    ).float()
    assert out.dtype == torch.float32 and out.shape == u8.shape
    assert torch.equal(out, out.round()) and out.min() >= 0 and out.max() <= 255
    diff = (out - ref).abs()
    if op in BLEND_OPS:
        assert float(diff.max()) <= 1.0
        assert float((diff > 0).float().mean()) <= 1e-3
    else:
        assert torch.equal(out, ref)


@pytest.mark.parametrize("op", ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"])
def test_randaugment_geometric_every_bin_and_odd_sizes(op):
    # geometric ops sample the very pixels torchvision samples, at every
    # magnitude (incl. exact half-pixel ties) and for non-square, odd sizes
    k = A._RA_INDEX[op]
    for c, h, w in [(1, 13, 20), (3, 9, 9)]:
        u8 = u8_images(4, c, h, w, seed=h)
        for bin_ in range(31):
            m = A._randaugment_magnitudes(31, bin_, h, w)[k]
            for sm in (m, -m):
                ref = torch.stack([tv_op(img, op, sm) for img in u8]).float()
                assert torch.equal(A._apply_op(u8.float(), k, sm), ref), (c, h, w, bin_, sm)


def test_randaugment_op_table_is_torchvisions():
    space = v2.RandAugment._AUGMENTATION_SPACE
    assert A._RA_OPS == tuple(space)
    assert A._RA_SIGNED == {k for k, name in enumerate(A._RA_OPS) if space[name][1]}
    assert set(A._RA_GEOMETRIC) == {A._RA_INDEX[n] for n in ("ShearX", "ShearY", "Rotate")} | {
        A._RA_INDEX["TranslateX"],
        A._RA_INDEX["TranslateY"],
    }
    for bins, h, w in [(31, 28, 28), (31, 32, 20), (10, 8, 8)]:
        for bin_ in (0, 3, bins - 1):
            ours = A._randaugment_magnitudes(bins, bin_, h, w)
            for k, name in enumerate(A._RA_OPS):
                table = space[name][0](bins, h, w)
                expected = 0.0 if table is None else float(table[bin_])
                assert ours[k] == expected, (name, bins, bin_)
    # the default bin: shear 0.27, 30 * 9/30 = 9 degrees, posterize to 7 bits, ...
    mags = A._randaugment_magnitudes(31, 9, 28, 28)
    assert mags[A._RA_INDEX["Rotate"]] == pytest.approx(9.0)
    assert mags[A._RA_INDEX["Posterize"]] == 7.0
    assert mags[A._RA_INDEX["Solarize"]] == pytest.approx(0.7)
    assert int(mags[A._RA_INDEX["TranslateX"]]) == 3  # 150/331 * 28 * 0.3 = 3.8 -> 3 px


def _levels(values, c=1):
    v = torch.tensor(values, dtype=torch.float32)
    return v.reshape(1, 1, 1, -1).expand(1, c, 1, -1).clone()


def test_randaugment_hand_values_point_ops():
    op = A._apply_op
    # Solarize at 0.7: levels >= 255 * 0.7 = 178.5 are inverted
    x = _levels([0, 100, 178, 179, 255])
    assert op(x, "Solarize", 0.7).flatten().tolist() == [0, 100, 178, 76, 0]
    # Posterize keeps the top bits: 7 bits clears bit 0, 4 bits the low nibble
    x = _levels([0, 1, 2, 3, 254, 255])
    assert op(x, "Posterize", 7.0).flatten().tolist() == [0, 0, 2, 2, 254, 254]
    x = _levels([15, 16, 31, 200, 255])
    assert op(x, "Posterize", 4.0).flatten().tolist() == [0, 16, 16, 192, 240]
    assert torch.equal(op(x, "Posterize", 8.0), x)
    # Brightness: level * (1 + m), clamped to 255 and truncated like a uint8 cast
    x = _levels([0, 10, 100, 171, 255])
    assert op(x, "Brightness", 0.5).flatten().tolist() == [0, 15, 150, 255, 255]
    assert op(x, "Brightness", -0.5).flatten().tolist() == [0, 5, 50, 85, 127]
    neg = torch.tensor([True, False])
    both = op(torch.cat([x, x]), "Brightness", 0.5, neg)
    assert both[0].flatten().tolist() == [0, 5, 50, 85, 127]
    assert both[1].flatten().tolist() == [0, 15, 150, 255, 255]
    # AutoContrast stretches [50, 150] to [0, 255]: 100 -> 127.5 -> 127. As in
    # torchvision, (v - min) is divided by the float32 (max - min) * (1 / 255),
    # 100 * 0.003921569 = 0.39215687 > 100 / 255, so 150 -> 254.99998 -> 254
    x = _levels([50, 100, 150])
    assert op(x, "AutoContrast", 0.0).flatten().tolist() == [0, 127, 254]
    assert TF.autocontrast(x.to(torch.uint8)).flatten().tolist() == [0, 127, 254]
    assert op(_levels([0, 100, 255]), "AutoContrast", 0.0).flatten().tolist() == [0, 100, 255]
    assert torch.equal(op(_levels([7, 7]), "AutoContrast", 0.0), _levels([7, 7]))
    # Contrast of a grey image blends with its mean (here 100): 100 + 1.5 * (v - 100)
    x = _levels([50, 100, 150])
    assert op(x, "Contrast", 0.5).flatten().tolist() == [25, 100, 175]
    # Color (saturation) of a grey image is the identity
    assert torch.equal(op(x, "Color", 0.5), x)


def test_randaugment_hand_values_equalize():
    # PIL's equalize: step = (#pixels - #pixels at the top level) // 255,
    # lut[k] = (cumhist[k - 1] + step // 2) // step
    x = torch.full((1, 1, 16, 16), 10.0)
    x.view(-1)[128:255] = 20.0
    x.view(-1)[255] = 30.0  # hist 128 / 127 / 1 -> step 1
    out = A._apply_op(x, "Equalize", 0.0)
    expected = torch.full_like(x, 0.0)
    expected.view(-1)[128:255] = 128.0
    expected.view(-1)[255] = 255.0
    assert torch.equal(out, expected)
    # step 2: 300 x 50, 210 x 60, 2 x 200 -> 0, (300 + 1) // 2 = 150, 255
    x = torch.full((1, 1, 16, 32), 50.0)
    x.view(-1)[300:510] = 60.0
    x.view(-1)[510:] = 200.0
    out = A._apply_op(x, "Equalize", 0.0).view(-1)
    assert out[:300].eq(0).all() and out[300:510].eq(150).all() and out[510:].eq(255).all()
    # fewer than 255 pixels below the top level: step 0, image unchanged
    x = torch.tensor([[[[0.0, 0.0], [1.0, 2.0]]]])
    assert torch.equal(A._apply_op(x, "Equalize", 0.0), x)
    # channels and images are equalised separately
    y = torch.stack([torch.full((16, 16), 10.0), torch.full((16, 16), 10.0)])[None]
    y[0, 1].view(-1)[128:255] = 20.0
    y[0, 1].view(-1)[255] = 30.0
    out = A._apply_op(torch.cat([y, y.flip(1)]), "Equalize", 0.0)
    assert torch.equal(out[0, 0], y[0, 0]) and torch.equal(out[0, 1], expected[0, 0])
    assert torch.equal(out[1, 1], y[0, 0]) and torch.equal(out[1, 0], expected[0, 0])


def test_randaugment_hand_values_geometry():
    # fill 0; positive translations move the content right / down (torchvision's)
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    out = A._apply_op(x, "TranslateX", 1.0)
    assert out[0, 0].tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    out = A._apply_op(x, "TranslateY", -1.9)  # int(-1.9) = -1 pixel: up
    assert out[0, 0].tolist() == [[4, 5, 6], [7, 8, 9], [0, 0, 0]]
    # rotation about the centre, positive = counter-clockwise
    out = A._apply_op(x, "Rotate", 90.0)
    assert out[0, 0].tolist() == [[3, 6, 9], [2, 5, 8], [1, 4, 7]]
    # shears about the top-left corner: ShearX(m) samples row y at x + m * (y + 1/2)
    # (positive m moves the content left), ShearY(m) column x at y + m * (x + 1/2)
    x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    out = A._apply_op(x, "ShearX", 2.0)
    assert out[0, 0].tolist() == [[2, 3, 4, 0], [8, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    out = A._apply_op(x, "ShearY", -2.0)
    assert out[0, 0].tolist() == [[0, 0, 0, 0], [1, 0, 0, 0], [5, 0, 0, 0], [9, 2, 0, 0]]


def _redraw(seed, num_ops, n):
    """The draws of batched_randaugment, in its documented order."""
    g = gen(seed)
    ops = torch.randint(0, 14, (num_ops, n), generator=g)
    negate = torch.rand(num_ops, n, generator=g) <= 0.5
    return ops, negate


@pytest.mark.parametrize("c, size, num_ops, bin_", [(1, 28, 2, 9), (3, 32, 3, 30), (3, 11, 1, 5)])
def test_batched_randaugment_matches_per_image_torchvision_loop(c, size, num_ops, bin_):
    # end to end: redraw the ops and signs, then run torchvision's functional ops
    # image by image (the per-sample reference)
    lo, hi = -1.0, 2.0
    u8 = u8_images(48, c, size, size, seed=size)
    x = u8.float() / 255.0 * (hi - lo) + lo
    kw = dict(value_range=(lo, hi), num_ops=num_ops, magnitude=bin_)
    out = A.batched_randaugment(x, generator=gen(5), **kw)
    ops, negate = _redraw(5, num_ops, 48)
    mags = A._randaugment_magnitudes(31, bin_, size, size)
    ref = []
    for i, img in enumerate(u8):
        for s in range(num_ops):
            k = int(ops[s, i])
            m = -mags[k] if (k in A._RA_SIGNED and negate[s, i]) else mags[k]
            img = tv_op(img, A._RA_OPS[k], m)
        ref.append(img)
    ref = torch.stack(ref).float()
    levels = (out - lo) * (255.0 / (hi - lo))
    assert torch.allclose(levels, levels.round(), atol=1e-3)
    diff = (levels.round() - ref).abs()
    assert float(diff.max()) <= 1.0
    assert float((diff > 0).float().mean()) <= 1e-3
    assert len(set(ops.flatten().tolist())) >= 10  # many ops exercised


def test_batched_randaugment_subset_and_where_paths_agree():
    # index_select/index_copy_ (CPU) and whole-batch torch.where (other devices)
    u8 = u8_images(64, 3, 16, 16)
    ops, negate = _redraw(3, 3, 64)
    mags = A._randaugment_magnitudes(31, 12, 16, 16)
    a = A._randaugment_levels(u8.float(), ops, negate, mags, subset=True)
    b = A._randaugment_levels(u8.float(), ops, negate, mags, subset=False)
    assert torch.equal(a, b)


def test_batched_randaugment_per_image_independence():
    # identical images get different op chains
    img = torch.rand(1, 3, 12, 12, generator=gen(8))
    out = A.batched_randaugment(img.expand(64, -1, -1, -1), generator=gen(9), value_range=(0, 1))
    distinct = {tuple(o.flatten().tolist()) for o in out}
    assert len(distinct) >= 40


def test_batched_randaugment_op_and_sign_frequencies():
    # one op per image: recognise each output among the op's 23 possible results
    # (14 ops, 9 of them with 2 signs) and check that ops are uniform, signs fair
    # 20 x 20: enough pixels (>= 256) for Equalize to change the image
    u8 = torch.randint(20, 231, (1, 3, 20, 20), generator=gen(4), dtype=torch.uint8)
    u8[0, :, 0, 0] = torch.tensor([200, 190, 181])  # levels Solarize inverts
    x = u8.float() / 255.0
    candidates, labels = [], []
    for k in range(14):
        m = A._randaugment_magnitudes(31, 9, 20, 20)[k]
        for sign in (1, -1) if k in A._RA_SIGNED else (1,):
            candidates.append(A._apply_op(u8.float(), k, sign * m)[0].flatten())
            labels.append((k, sign))
    candidates = torch.stack(candidates)
    assert len({tuple(cand.tolist()) for cand in candidates}) == len(candidates)
    n = 7000
    out = A.batched_randaugment(
        x.expand(n, -1, -1, -1), generator=gen(10), value_range=(0.0, 1.0), num_ops=1
    )
    levels = (out * 255.0).round().flatten(1)
    match = (levels[:, None, :] == candidates[None]).all(dim=2)  # (n, 23)
    assert torch.equal(match.sum(dim=1), torch.ones(n, dtype=torch.long))
    which = match.float().argmax(dim=1)
    counts = torch.zeros(14)
    negatives = torch.zeros(14)
    for j, (k, sign) in enumerate(labels):
        hits = int((which == j).sum())
        counts[k] += hits
        negatives[k] += hits if sign < 0 else 0
    expected = n / 14  # 500, standard deviation 21.5
    assert float((counts - expected).abs().max()) < 100, counts
    signed = sorted(A._RA_SIGNED)
    frac_negative = negatives[signed] / counts[signed]
    assert float((frac_negative - 0.5).abs().max()) < 0.12, frac_negative


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_batched_randaugment_range_dtype_no_inplace(dtype):
    lo, hi = -0.5, 3.0
    x = (images(n=32, c=3, h=10, w=10) * (hi - lo) + lo).to(dtype)
    x[0] = lo - 1.0  # out of range: clamped
    x[1] = hi + 1.0
    before = x.clone()
    out = A.batched_randaugment(x, generator=gen(2), value_range=(lo, hi))
    assert out.dtype == dtype and out.shape == x.shape and out.device == x.device
    assert float(out.min()) >= lo and float(out.max()) <= hi
    assert torch.equal(x, before)
    levels = (out.double() - lo) * (255.0 / (hi - lo))
    assert torch.allclose(levels, levels.round(), atol=0.2 if dtype == torch.float16 else 1e-3)


def test_batched_randaugment_determinism_and_global_rng():
    x = images(n=16, c=3, h=8, w=8)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = A.batched_randaugment(x, generator=gen(1), value_range=(0, 1))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, A.batched_randaugment(x, generator=gen(1), value_range=(0, 1)))
    assert not torch.equal(a, A.batched_randaugment(x, generator=gen(2), value_range=(0, 1)))
    g = gen(1)
    A.batched_randaugment(x, generator=g, value_range=(0, 1))
    after = torch.rand(1, generator=g)  # the generator advanced by exactly the two draws
    g2 = gen(1)
    torch.randint(0, 14, (2, 16), generator=g2)
    torch.rand(2, 16, generator=g2)
    assert torch.equal(after, torch.rand(1, generator=g2))


def test_batched_randaugment_edge_cases():
    g = gen()
    empty = torch.zeros(0, 1, 5, 5)
    out = A.batched_randaugment(empty, generator=g, value_range=(0, 1))
    assert out.shape == empty.shape and out.dtype == empty.dtype
    # no ops: only the 256-level quantisation
    x = images(n=4, c=1, h=5, w=5)
    out = A.batched_randaugment(x, generator=gen(), value_range=(0, 1), num_ops=0)
    assert torch.allclose(out, (x * 255).round() / 255)
    # magnitude 0: the geometric and colour ops are the identity (Posterize keeps
    # 8 bits; Solarize at 1.0 inverts only 255)
    u8 = u8_images(8, 3, 6, 6)
    for k in range(6, 10):
        assert torch.equal(A._apply_op(u8.float(), k, 0.0), u8.float())
    for k in A._RA_GEOMETRIC:
        assert torch.equal(A._apply_op(u8.float(), k, 0.0), u8.float())
    # images too small for Sharpness' 3x3 blur are returned as they are
    tiny = u8_images(3, 3, 2, 5).float()
    assert torch.equal(A._apply_op(tiny, "Sharpness", 0.5), tiny)


def test_batched_randaugment_validation():
    x = images(c=3)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        A.batched_randaugment(images(c=2), generator=gen(), value_range=(0, 1))
    with pytest.raises(ValueError, match="value_range"):
        A.batched_randaugment(x, generator=gen(), value_range=(1, 0))
    with pytest.raises(ValueError, match="num_ops"):
        A.batched_randaugment(x, generator=gen(), value_range=(0, 1), num_ops=-1)
    with pytest.raises(ValueError, match="magnitude"):
        A.batched_randaugment(x, generator=gen(), value_range=(0, 1), magnitude=31)
    with pytest.raises(ValueError, match="num_magnitude_bins"):
        A.batched_randaugment(x, generator=gen(), value_range=(0, 1), num_magnitude_bins=1)
    with pytest.raises(ValueError, match="floating-point"):
        A.batched_randaugment(x.to(torch.uint8), generator=gen(), value_range=(0, 1))


def test_policy_augment_routes():
    x = images(n=8, c=3, h=8, w=8)
    kw = dict(value_range=(0.0, 1.0))
    ra = policy_augment(x, policy="randaugment", generator=gen(3), **kw)
    assert torch.equal(ra, A.batched_randaugment(x, generator=gen(3), **kw))
    aa = policy_augment(x, policy="autoaugment", generator=gen(3), **kw)
    ref = A._torchvision_policy_augment(x, policy="autoaugment", generator=gen(3), **kw)
    assert torch.equal(aa, ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batched_randaugment_cuda_matches_cpu_without_syncs():
    u8 = u8_images(64, 3, 32, 32)
    ops, negate = _redraw(4, 2, 64)
    mags = A._randaugment_magnitudes(31, 9, 32, 32)
    cpu = A._randaugment_levels(u8.float(), ops, negate, mags, subset=True)
    dev = torch.device("cuda")
    v, ops, negate = u8.float().to(dev), ops.to(dev), negate.to(dev)
    x = v / 255.0
    g = torch.Generator(device=dev).manual_seed(0)
    A.batched_randaugment(x, generator=g, value_range=(0.0, 1.0))  # fills the grid cache
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # raises on a synchronising operation
    try:
        gpu = A._randaugment_levels(v.clone(), ops, negate, mags, subset=False)
        out = A.batched_randaugment(x, generator=g, value_range=(0.0, 1.0))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    diff = (gpu.cpu() - cpu).abs()
    assert float(diff.max()) <= 1.0 and float((diff > 0).float().mean()) <= 1e-3
    assert out.device.type == "cuda" and out.shape == x.shape


# --------------------------------------------------------------------- views


def test_weak_view_is_pad_crop_then_flip():
    x = images(n=8)
    out = weak_image_view(x, generator=gen(21), padding=2, flip=True)
    g = gen(21)
    ref = random_hflip(random_pad_crop(x, padding=2, generator=g), generator=g)
    assert torch.equal(out, ref)
    no_flip = weak_image_view(x, generator=gen(21), padding=2, flip=False)
    assert torch.equal(no_flip, random_pad_crop(x, padding=2, generator=gen(21)))


def test_strong_view_order():
    x = images(n=8, c=3, h=8, w=8)
    kw = dict(padding=1, flip=True, cutout_size=4, value_range=(0.0, 1.0))
    out = strong_image_view(x, generator=gen(8), policy="randaugment", **kw)
    g = gen(8)
    ref = policy_augment(x, policy="randaugment", generator=g, value_range=(0.0, 1.0))
    ref = random_hflip(random_pad_crop(ref, padding=1, generator=g), generator=g)
    ref = cutout(ref, size=4, generator=g)
    assert torch.equal(out, ref)
    # without a policy any channel count works
    x2 = images(n=4, c=2)
    out2 = strong_image_view(x2, generator=gen(), policy=None, **kw)
    assert out2.shape == x2.shape


def test_default_sizes():
    assert default_image_padding(32, 32) == 4 and default_cutout_size(32, 32) == 16
    assert default_image_padding(28, 28) == 4 and default_cutout_size(28, 28) == 14
    assert default_image_padding(8, 8) == 1 and default_cutout_size(8, 8) == 4
    assert default_image_padding(2, 100) == 1 and default_cutout_size(1, 1) == 1


# ------------------------------------------------------------------- tabular


def test_tabular_zero_noise_and_full_mask_exact():
    x = torch.randn(5, 3, generator=gen(1))
    scale = torch.tensor([1.0, 2.0, 3.0])
    fill = torch.tensor([10.0, 20.0, 30.0])
    assert torch.equal(tabular_weak_view(x, generator=gen(), scale=scale, jitter=0.0), x)
    out = tabular_strong_view(x, generator=gen(), scale=scale, fill=fill, jitter=0.0, mask_prob=0.0)
    assert torch.equal(out, x)
    out = tabular_strong_view(x, generator=gen(), scale=scale, fill=fill, jitter=0.5, mask_prob=1.0)
    assert torch.equal(out, fill.expand(5, 3))


def test_tabular_jitter_std_per_feature():
    n = 20000
    x = torch.zeros(n, 3) + torch.tensor([1.0, -5.0, 0.0])
    scale = torch.tensor([0.5, 2.0, 10.0])
    out = tabular_weak_view(x, generator=gen(3), scale=scale, jitter=0.3)
    std = (out - x).std(dim=0)
    assert torch.allclose(std, 0.3 * scale, rtol=0.05)
    eps = torch.randn(n, 3, generator=gen(3))
    assert torch.allclose(out, x + eps * 0.3 * scale)


def test_tabular_strong_matches_draws():
    x = torch.randn(200, 4, generator=gen(1))
    scale = torch.tensor([1.0, 0.5, 2.0, 0.0])
    fill = torch.tensor([9.0, 8.0, 7.0, 6.0])
    out = tabular_strong_view(
        x, generator=gen(6), scale=scale, fill=fill, jitter=0.2, mask_prob=0.3
    )
    g = gen(6)
    jittered = x + torch.randn(200, 4, generator=g) * 0.2 * scale
    mask = torch.rand(200, 4, generator=g) < 0.3
    assert torch.allclose(out, torch.where(mask, fill, jittered))
    frac = mask.float().mean().item()
    assert 0.25 < frac < 0.35


def test_tabular_validation():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"expected tabular rows of shape \(N, d\)"):
        tabular_weak_view(torch.zeros(3), generator=gen(), scale=torch.ones(1), jitter=0.1)
    with pytest.raises(ValueError, match="scale"):
        tabular_weak_view(x, generator=gen(), scale=torch.ones(3), jitter=0.1)
    with pytest.raises(ValueError, match="jitter"):
        tabular_weak_view(x, generator=gen(), scale=torch.ones(2), jitter=-1.0)
    with pytest.raises(ValueError, match="mask_prob"):
        tabular_strong_view(
            x, generator=gen(), scale=torch.ones(2), fill=torch.zeros(2), jitter=0.1, mask_prob=1.5
        )
    with pytest.raises(ValueError, match="fill"):
        tabular_strong_view(
            x, generator=gen(), scale=torch.ones(2), fill=torch.zeros(3), jitter=0.1, mask_prob=0.5
        )


# ------------------------------------------------- shared properties, all functions

SCALE = torch.tensor([1.0, 2.0, 0.5])
FILL = torch.tensor([0.1, 0.2, 0.3])

IMAGE_FNS = {
    "pad_crop": lambda x, g: random_pad_crop(x, padding=2, generator=g),
    "hflip": lambda x, g: random_hflip(x, generator=g),
    "cutout": lambda x, g: cutout(x, size=3, generator=g),
    "autoaugment": lambda x, g: policy_augment(
        x, policy="autoaugment", generator=g, value_range=(0.0, 1.0)
    ),
    "randaugment": lambda x, g: policy_augment(
        x, policy="randaugment", generator=g, value_range=(0.0, 1.0)
    ),
    "batched_randaugment": lambda x, g: A.batched_randaugment(
        x, generator=g, value_range=(0.0, 1.0), num_ops=3, magnitude=20
    ),
    "weak": lambda x, g: weak_image_view(x, generator=g, padding=2, flip=True),
    "strong": lambda x, g: strong_image_view(
        x,
        generator=g,
        padding=2,
        flip=True,
        policy="randaugment",
        cutout_size=3,
        value_range=(0.0, 1.0),
    ),
}
TAB_FNS = {
    "tab_weak": lambda x, g: tabular_weak_view(x, generator=g, scale=SCALE, jitter=0.1),
    "tab_strong": lambda x, g: tabular_strong_view(
        x, generator=g, scale=SCALE, fill=FILL, jitter=0.3, mask_prob=0.3
    ),
}
ALL_FNS = [(name, fn, "image") for name, fn in IMAGE_FNS.items()] + [
    (name, fn, "tab") for name, fn in TAB_FNS.items()
]


def _input(kind, dtype=torch.float32):
    if kind == "image":
        return images(n=16, c=3, h=8, w=8, dtype=dtype)
    return torch.randn(64, 3, generator=gen(77), dtype=dtype)


@pytest.mark.parametrize("name, fn, kind", ALL_FNS, ids=[a[0] for a in ALL_FNS])
def test_determinism_rng_dtype_and_no_inplace(name, fn, kind):
    for dtype in (torch.float32, torch.float64):
        x = _input(kind, dtype)
        x_before = x.clone()
        torch.manual_seed(2024)
        state = torch.get_rng_state()
        a = fn(x, gen(1))
        assert torch.equal(torch.get_rng_state(), state), "global RNG was advanced"
        b = fn(x, gen(1))
        c = fn(x, gen(2))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
        assert a.dtype == dtype and a.shape == x.shape and a.device == x.device
        assert torch.equal(x, x_before), "input modified in place"


def test_generator_is_advanced():
    g = gen(0)
    x = images()
    a = weak_image_view(x, generator=g, padding=2, flip=True)
    b = weak_image_view(x, generator=g, padding=2, flip=True)
    assert not torch.equal(a, b)


def test_image_validation_messages():
    with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
        random_pad_crop(images(), padding=-1, generator=gen())
    with pytest.raises(ValueError, match=r"expected images of shape \(N, C, H, W\), got shape"):
        random_pad_crop(torch.zeros(3, 4, 4), padding=1, generator=gen())
    with pytest.raises(ValueError, match="mode"):
        random_pad_crop(images(), padding=1, generator=gen(), mode="wrap")
    with pytest.raises(ValueError, match="p must be in"):
        random_hflip(images(), generator=gen(), p=1.5)
    with pytest.raises(ValueError, match="size must be >= 0"):
        cutout(images(), size=-2, generator=gen())
    with pytest.raises(ValueError, match="floating-point"):
        cutout(torch.zeros(1, 1, 3, 3, dtype=torch.uint8), size=1, generator=gen())
    with pytest.raises(ValueError, match="policy"):
        strong_image_view(
            images(),
            generator=gen(),
            padding=1,
            flip=False,
            policy="x",
            cutout_size=0,
            value_range=(0, 1),
        )


@pytest.mark.parametrize("policy", ["autoaugment", "randaugment"])
def test_empty_batch(policy):
    x = torch.zeros(0, 3, 8, 8)
    out = strong_image_view(
        x,
        generator=gen(),
        padding=2,
        flip=True,
        policy=policy,
        cutout_size=3,
        value_range=(0.0, 1.0),
    )
    assert out.shape == x.shape
