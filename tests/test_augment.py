"""Tests for sk_ieg.augment: hand-computed values and naive per-sample references."""

from __future__ import annotations

import pytest
import torch

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


def test_policy_augment_routes():
    x = images(n=8, c=3, h=8, w=8)
    kw = dict(value_range=(0.0, 1.0))
    ra = policy_augment(x, policy="randaugment", generator=gen(3), **kw)
    assert torch.equal(ra, A.batched_randaugment(x, generator=gen(3), **kw))
    aa = policy_augment(x, policy="autoaugment", generator=gen(3), **kw)
    ref = A._torchvision_policy_augment(x, policy="autoaugment", generator=gen(3), **kw)
    assert torch.equal(aa, ref)


def test_public_names():
    # the policies, in one public tuple; the RandAugment module's public names re-exported
    assert A.POLICIES == ("autoaugment", "randaugment")
    assert all(hasattr(A, name) for name in A.__all__)
    assert A.batched_randaugment is A.randaugment.batched_randaugment


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
    assert default_image_padding(32, 32) == 1 and default_cutout_size(32, 32) == 16
    assert default_image_padding(28, 28) == 1 and default_cutout_size(28, 28) == 14
    assert default_image_padding(64, 64) == 2 and default_image_padding(224, 300) == 7
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
