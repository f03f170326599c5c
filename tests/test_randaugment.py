"""Tests for sk_ieg.augment.randaugment: the batched RandAugment, op by op and end
to end, against torchvision's functional ops on one image at a time."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from sk_ieg.augment import randaugment as A

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 4, c: int = 3, h: int = 6, w: int = 5, *, dtype=torch.float32, seed=0):
    return torch.rand(n, c, h, w, generator=gen(seed + 1000), dtype=dtype)


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

