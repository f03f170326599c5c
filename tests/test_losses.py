"""Tests for sk_ieg.losses: reference values computed by hand with ``math``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sk_ieg.losses import (
    early_learning_loss,
    early_learning_targets,
    guess_labels,
    kl_consistency,
    logit_norm,
    mixup,
    sample_mixup_coefficients,
    sharpen,
    soft_cross_entropy,
    soft_targets,
    supervised_loss,
    with_label_evidence,
)

D = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


def _hand_ce(z: list[float], t: list[float]) -> float:
    """``-sum_c t_c log softmax(z)_c`` with plain ``math`` (no torch)."""
    lse = math.log(sum(math.exp(v) for v in z))
    return -sum(tc * (zc - lse) for tc, zc in zip(t, z))


# --------------------------------------------------------------------------- #
# soft_cross_entropy
# --------------------------------------------------------------------------- #

# Row 0: z = [1, 2, 3], t = [0.2, 0.3, 0.5]
#   CE = log(e + e^2 + e^3) - (0.2*1 + 0.3*2 + 0.5*3)
#      = 3.40760596444438 - 2.3 = 1.1076059644443803
# Row 1: z = [0, 0, 0], t = [1, 0, 0]
#   CE = log(3) - 0 = 1.0986122886681098
CE_LOGITS = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
CE_TARGETS = [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]
CE_ROW0 = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 2.3
CE_ROW1 = math.log(3.0)


def test_hand_values_are_what_the_comments_say():
    assert CE_ROW0 == pytest.approx(1.1076059644443803, abs=1e-12)
    assert CE_ROW1 == pytest.approx(1.0986122886681098, abs=1e-12)


def test_soft_cross_entropy_none_hand():
    out = soft_cross_entropy(_t(CE_LOGITS), _t(CE_TARGETS), reduction="none")
    assert out.shape == (2,)
    torch.testing.assert_close(out, _t([CE_ROW0, CE_ROW1]), rtol=0, atol=1e-12)


def test_soft_cross_entropy_sum_hand():
    out = soft_cross_entropy(_t(CE_LOGITS), _t(CE_TARGETS), reduction="sum")
    assert out.dim() == 0
    assert out.item() == pytest.approx(CE_ROW0 + CE_ROW1, abs=1e-12)
    assert out.item() == pytest.approx(2.20621825311249, abs=1e-10)


def test_soft_cross_entropy_mean_hand_and_default():
    expected = (CE_ROW0 + CE_ROW1) / 2  # 1.103109126556245
    out = soft_cross_entropy(_t(CE_LOGITS), _t(CE_TARGETS), reduction="mean")
    assert out.item() == pytest.approx(expected, abs=1e-12)
    assert out.item() == pytest.approx(1.103109126556245, abs=1e-10)
    default = soft_cross_entropy(_t(CE_LOGITS), _t(CE_TARGETS))
    assert default.item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_soft_cross_entropy_matches_cross_entropy_on_one_hot(reduction):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=g, dtype=D)
    y = torch.randint(0, 5, (7,), generator=g)
    onehot = F.one_hot(y, 5).to(D)
    ours = soft_cross_entropy(logits, onehot, reduction=reduction)
    ref = F.cross_entropy(logits, y, reduction=reduction)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reduction", ["avg", "", "Mean", None])
def test_soft_cross_entropy_bad_reduction_raises(reduction):
    with pytest.raises(ValueError, match="reduction"):
        soft_cross_entropy(_t(CE_LOGITS), _t(CE_TARGETS), reduction=reduction)


# --------------------------------------------------------------------------- #
# kl_consistency
# --------------------------------------------------------------------------- #

# weak z = [0, log 3] -> p = [1/4, 3/4]; strong z = [0, 0] -> q = [1/2, 1/2]
#   KL(p || q) = 1/4 log(1/2) + 3/4 log(3/2) = 0.13081203594113697
KL_HAND = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)


def test_kl_consistency_hand_value():
    assert KL_HAND == pytest.approx(0.13081203594113697, abs=1e-12)
    weak = _t([[0.0, math.log(3.0)]])
    strong = _t([[0.0, 0.0]])
    assert kl_consistency(weak, strong).item() == pytest.approx(KL_HAND, abs=1e-12)


def test_kl_consistency_is_mean_over_rows():
    # Row 2 is identical in both views, so its KL is 0: the mean is KL_HAND / 2.
    weak = _t([[0.0, math.log(3.0)], [1.0, -2.0]])
    strong = _t([[0.0, 0.0], [1.0, -2.0]])
    assert kl_consistency(weak, strong).item() == pytest.approx(KL_HAND / 2, abs=1e-12)


def test_kl_consistency_zero_for_equal_logits():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 4, generator=g, dtype=D)
    assert kl_consistency(z, z.clone()).item() == pytest.approx(0.0, abs=1e-12)
    # Softmax is shift invariant: a constant shift per row is still "equal".
    assert kl_consistency(z, z + 5.0).item() == pytest.approx(0.0, abs=1e-12)


def test_kl_consistency_gradient_only_into_strong_view():
    weak = _t([[0.0, math.log(3.0)]]).requires_grad_(True)
    strong = _t([[0.0, 0.0]]).requires_grad_(True)
    kl_consistency(weak, strong).backward()
    assert weak.grad is None or torch.count_nonzero(weak.grad) == 0
    # d KL / d z_strong = (q - p) / n = [1/2 - 1/4, 1/2 - 3/4] = [0.25, -0.25]
    assert strong.grad is not None
    torch.testing.assert_close(strong.grad, _t([[0.25, -0.25]]), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# logit_norm
# --------------------------------------------------------------------------- #


def test_logit_norm_hand_value():
    # mean([9, 16]) = 12.5 ; row 2: mean([1, 1]) = 1
    out = logit_norm(_t([[3.0, 4.0], [1.0, -1.0]]))
    expected = _t(
        [
            [3.0 / math.sqrt(12.5 + 1e-8), 4.0 / math.sqrt(12.5 + 1e-8)],
            [1.0 / math.sqrt(1.0 + 1e-8), -1.0 / math.sqrt(1.0 + 1e-8)],
        ]
    )
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_logit_norm_eps_and_zero_row():
    out = logit_norm(_t([[3.0, 4.0]]), eps=0.5)
    torch.testing.assert_close(out, _t([[3.0, 4.0]]) / math.sqrt(13.0), rtol=0, atol=1e-12)
    zero = logit_norm(_t([[0.0, 0.0, 0.0]]))
    assert torch.equal(zero, _t([[0.0, 0.0, 0.0]]))


def test_logit_norm_unit_rms():
    g = torch.Generator().manual_seed(2)
    z = 10 * torch.randn(5, 7, generator=g, dtype=D)
    rms = logit_norm(z).pow(2).mean(dim=-1).sqrt()
    torch.testing.assert_close(rms, torch.ones(5, dtype=D), rtol=0, atol=1e-8)


# --------------------------------------------------------------------------- #
# sharpen
# --------------------------------------------------------------------------- #


def test_sharpen_hand_value():
    # [0.6, 0.4] ** 2 = [0.36, 0.16], sum 0.52
    out = sharpen(_t([[0.6, 0.4]]), 0.5)
    torch.testing.assert_close(out, _t([[0.36 / 0.52, 0.16 / 0.52]]), rtol=0, atol=1e-12)


def test_sharpen_temperature_one_is_identity():
    p = _t([[0.6, 0.4], [0.1, 0.9], [0.25, 0.75]])
    torch.testing.assert_close(sharpen(p, 1.0), p, rtol=0, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.0, -0.5, -1.0])
def test_sharpen_nonpositive_temperature_raises(temperature):
    with pytest.raises(ValueError, match="temperature"):
        sharpen(_t([[0.6, 0.4]]), temperature)


# --------------------------------------------------------------------------- #
# guess_labels
# --------------------------------------------------------------------------- #

# View 1: z = [0, log 3] -> softmax [1/4, 3/4]; view 2: z = [0, 0] -> [1/2, 1/2].
VIEWS = [[[0.0, math.log(3.0)]], [[0.0, 0.0]]]  # shape (K=2, n=1, C=2)


def test_guess_labels_hand_value_without_normalize():
    # mean = [0.375, 0.625]; sharpen T=0.5: [0.140625, 0.390625] / 0.53125
    #      = [0.2647058823529412, 0.7352941176470589]
    out = guess_labels(_t(VIEWS), temperature=0.5, normalize=False)
    expected = _t([[0.140625 / 0.53125, 0.390625 / 0.53125]])
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    assert out[0, 0].item() == pytest.approx(0.2647058823529412, abs=1e-12)


def test_guess_labels_hand_value_with_normalize():
    # View 1 RMS-normalised: [0, log3] / sqrt(log3^2 / 2 + 1e-8) = [0, s] with s ~ sqrt(2);
    # view 2 is all zeros and stays [0, 0] (eps keeps it finite).
    s = math.log(3.0) / math.sqrt(math.log(3.0) ** 2 / 2 + 1e-8)
    assert s == pytest.approx(math.sqrt(2.0), abs=1e-7)
    p1 = [1 / (1 + math.exp(s)), math.exp(s) / (1 + math.exp(s))]
    mean = [(p1[0] + 0.5) / 2, (p1[1] + 0.5) / 2]
    sq = [mean[0] ** 2, mean[1] ** 2]  # T = 0.5 -> power 2
    expected = _t([[sq[0] / sum(sq), sq[1] / sum(sq)]])
    out = guess_labels(_t(VIEWS), temperature=0.5, normalize=True)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    # normalize=True is the default
    torch.testing.assert_close(guess_labels(_t(VIEWS), temperature=0.5), expected,
                               rtol=0, atol=1e-12)
    # and it really differs from the unnormalised guess here
    assert not torch.allclose(out, guess_labels(_t(VIEWS), temperature=0.5, normalize=False))


def test_guess_labels_normalize_removes_logit_scale():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 4, 5, generator=g, dtype=D)
    torch.testing.assert_close(guess_labels(z), guess_labels(7.0 * z), rtol=0, atol=1e-6)


def test_guess_labels_no_grad_and_rows_sum_to_one():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(3, 6, 4, generator=g, dtype=D).requires_grad_(True)
    for normalize in (True, False):
        out = guess_labels(z, normalize=normalize)
        assert out.shape == (6, 4)
        assert not out.requires_grad
        assert out.grad_fn is None
        torch.testing.assert_close(out.sum(dim=-1), torch.ones(6, dtype=D), rtol=0, atol=1e-12)
        assert bool((out >= 0).all())


# --------------------------------------------------------------------------- #
# soft_targets
# --------------------------------------------------------------------------- #


def test_soft_targets_hand_value():
    labels = _t([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    guesses = _t([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    lam = _t([1.0, 0.25, 0.0])
    out = soft_targets(labels, guesses, lam)
    expected = _t(
        [
            [1.0, 0.0, 0.0],  # lam = 1: the given label
            [0.45, 0.4, 0.15],  # 0.25*[0, 1, 0] + 0.75*[0.6, 0.2, 0.2]
            [0.1, 0.1, 0.8],  # lam = 0: the guess
        ]
    )
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# supervised_loss
# --------------------------------------------------------------------------- #

SL_Z = [[1.0, 0.0], [0.0, 2.0]]
SL_LABELS = [[1.0, 0.0], [1.0, 0.0]]
SL_GUESSES = [[0.2, 0.8], [0.1, 0.9]]
SL_LAM = [1.0, 0.0]  # lambda*: keep row 0's label, replace row 1's by its guess
SL_LAM0 = 0.9
SL_OMEGA = [0.25, 0.75]
# t(lambda*)  = [[1, 0], [0.1, 0.9]]
# t(lambda_0) = 0.9*y + 0.1*g = [[0.92, 0.08], [0.91, 0.09]]
T_STAR = [[1.0, 0.0], [0.1, 0.9]]
T_INIT = [[0.92, 0.08], [0.91, 0.09]]


def _sl(relabel: bool, reweight: bool) -> float:
    return supervised_loss(
        _t(SL_Z), _t(SL_LABELS), _t(SL_GUESSES), omega=_t(SL_OMEGA), lam=_t(SL_LAM),
        lam_init=SL_LAM0, relabel=relabel, reweight=reweight,
    ).item()


def test_supervised_loss_relabel_and_reweight_hand():
    relabeled = (_hand_ce(SL_Z[0], T_STAR[0]) + _hand_ce(SL_Z[1], T_STAR[1])) / 2
    weighted = (SL_OMEGA[0] * _hand_ce(SL_Z[0], T_INIT[0])
                + SL_OMEGA[1] * _hand_ce(SL_Z[1], T_INIT[1]))
    assert _sl(True, True) == pytest.approx(0.5 * (relabeled + weighted), abs=1e-12)


def test_supervised_loss_relabel_only_hand():
    expected = (_hand_ce(SL_Z[0], T_STAR[0]) + _hand_ce(SL_Z[1], T_STAR[1])) / 2
    assert _sl(True, False) == pytest.approx(expected, abs=1e-12)


def test_supervised_loss_reweight_only_hand():
    # CE([1, 0], [1, 0]) = log(1 + e^-1); CE([1, 0], [0, 2]) = log(1 + e^2)
    ce0 = math.log(1 + math.exp(-1))
    ce1 = math.log(1 + math.exp(2))
    assert ce0 == pytest.approx(_hand_ce(SL_Z[0], SL_LABELS[0]), abs=1e-12)
    assert ce1 == pytest.approx(_hand_ce(SL_Z[1], SL_LABELS[1]), abs=1e-12)
    assert _sl(False, True) == pytest.approx(0.25 * ce0 + 0.75 * ce1, abs=1e-12)


def test_supervised_loss_neither_hand():
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(2))) / 2
    assert _sl(False, False) == pytest.approx(expected, abs=1e-12)


def test_supervised_loss_four_variants_are_distinct():
    values = {round(_sl(r, w), 9) for r in (True, False) for w in (True, False)}
    assert len(values) == 4


def test_supervised_loss_zero_weights():
    kw = dict(lam=_t(SL_LAM), lam_init=SL_LAM0)
    zero = torch.zeros(2, dtype=D)
    # L2R with all-zero weights: no loss at all.
    out = supervised_loss(_t(SL_Z), _t(SL_LABELS), _t(SL_GUESSES), omega=zero,
                          relabel=False, reweight=True, **kw)
    assert out.item() == 0.0
    # IEG with all-zero weights: only half the relabeled mean remains.
    out = supervised_loss(_t(SL_Z), _t(SL_LABELS), _t(SL_GUESSES), omega=zero,
                          relabel=True, reweight=True, **kw)
    half = 0.25 * (_hand_ce(SL_Z[0], T_STAR[0]) + _hand_ce(SL_Z[1], T_STAR[1]))
    assert out.item() == pytest.approx(half, abs=1e-12)


def test_supervised_loss_gradient_reaches_logits():
    z = _t(SL_Z).requires_grad_(True)
    supervised_loss(z, _t(SL_LABELS), _t(SL_GUESSES), omega=_t(SL_OMEGA), lam=_t(SL_LAM),
                    lam_init=SL_LAM0, relabel=True, reweight=True).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert torch.count_nonzero(z.grad) == 4


# --------------------------------------------------------------------------- #
# sample_mixup_coefficients
# --------------------------------------------------------------------------- #


def test_mixup_coefficients_in_range():
    m = sample_mixup_coefficients(10_000, generator=torch.Generator().manual_seed(5))
    assert m.shape == (10_000,)
    assert m.dtype == torch.float32
    assert bool((m >= 0.5).all()) and bool((m <= 1.0).all())


def test_mixup_coefficients_equal_max_b_one_minus_b_of_redrawn_uniforms():
    m = sample_mixup_coefficients(1000, generator=torch.Generator().manual_seed(6), dtype=D)
    u = torch.rand(1000, generator=torch.Generator().manual_seed(6), dtype=D)
    b = torch.sin(math.pi * u / 2) ** 2
    torch.testing.assert_close(m, torch.maximum(b, 1 - b), rtol=0, atol=1e-15)


def test_mixup_coefficients_deterministic_per_seed():
    a = sample_mixup_coefficients(50, generator=torch.Generator().manual_seed(7))
    b = sample_mixup_coefficients(50, generator=torch.Generator().manual_seed(7))
    c = sample_mixup_coefficients(50, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_arcsine_sampler_matches_beta_half_half():
    # b = sin^2(pi U / 2) ~ Beta(1/2, 1/2): mean 1/2, variance ab/((a+b)^2 (a+b+1)) = 1/8,
    # CDF F(x) = (2/pi) asin(sqrt(x)). Std of the mean estimate: sqrt(1/8 / 2e5) ~ 8e-4.
    n = 200_000
    u = torch.rand(n, generator=torch.Generator().manual_seed(9), dtype=D)
    b = torch.sin(math.pi * u / 2) ** 2
    assert b.mean().item() == pytest.approx(0.5, abs=5e-3)
    assert b.var().item() == pytest.approx(0.125, abs=2e-3)
    for x in (0.05, 0.25, 0.5, 0.9):
        cdf = (2 / math.pi) * math.asin(math.sqrt(x))
        assert (b <= x).double().mean().item() == pytest.approx(cdf, abs=5e-3)


def test_mixup_coefficients_distribution_of_max():
    # m = max(b, 1-b) = 1/2 + |cos(pi U)| / 2, so
    #   E[m]   = 1/2 + 1/pi                       ~ 0.8183
    #   Var[m] = E[cos^2]/4 - (E|cos|/2)^2 = 1/8 - 1/pi^2 ~ 0.02368
    #   P(m <= x) = F(x) - F(1 - x) with the arcsine CDF F.
    # The authors' code uses m = 1 - U^2/2 instead (mean 5/6): that would fail here.
    n = 200_000
    m = sample_mixup_coefficients(n, generator=torch.Generator().manual_seed(10), dtype=D)
    assert m.mean().item() == pytest.approx(0.5 + 1 / math.pi, abs=2e-3)
    assert m.var().item() == pytest.approx(1 / 8 - 1 / math.pi**2, abs=1e-3)

    def arcsine_cdf(x: float) -> float:
        return (2 / math.pi) * math.asin(math.sqrt(x))

    for x in (0.6, 0.75, 0.9, 0.99):
        expected = arcsine_cdf(x) - arcsine_cdf(1 - x)
        assert (m <= x).double().mean().item() == pytest.approx(expected, abs=5e-3)


# --------------------------------------------------------------------------- #
# mixup
# --------------------------------------------------------------------------- #


def _redraw(n: int, seed: int, dtype=torch.float32):
    """Permutation and coefficients, drawn in the implementation's order."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    u = torch.rand(n, generator=g, dtype=dtype)
    b = torch.sin(0.5 * math.pi * u).pow(2)
    return perm, torch.maximum(b, 1 - b)


def test_mixup_matches_redrawn_permutation_and_coefficients():
    n, c = 8, 3
    g = torch.Generator().manual_seed(11)
    x = torch.randn(n, 5, generator=g)
    targets = torch.softmax(torch.randn(n, c, generator=g), dim=-1)
    x0, t0 = x.clone(), targets.clone()

    x_mix, t_mix = mixup(x, targets, generator=torch.Generator().manual_seed(12))

    perm, m = _redraw(n, 12)
    assert not torch.equal(perm, torch.arange(n))  # the check below is not vacuous
    mc = m.unsqueeze(-1)
    # Same ops in the same order on the same draws: bitwise equal.
    assert torch.equal(x_mix, mc * x + (1 - mc) * x[perm])
    assert torch.equal(t_mix, mc * targets + (1 - mc) * targets[perm])
    # inputs untouched
    assert torch.equal(x, x0) and torch.equal(targets, t0)


def test_mixup_4d_inputs():
    n = 6
    g = torch.Generator().manual_seed(13)
    x = torch.randn(n, 2, 3, 3, generator=g)
    targets = F.one_hot(torch.arange(n) % 3, 3).float()

    x_mix, t_mix = mixup(x, targets, generator=torch.Generator().manual_seed(14))

    assert x_mix.shape == x.shape and t_mix.shape == targets.shape
    perm, m = _redraw(n, 14)
    for i in range(n):
        torch.testing.assert_close(x_mix[i], m[i] * x[i] + (1 - m[i]) * x[perm[i]],
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(t_mix[i], m[i] * targets[i] + (1 - m[i]) * targets[perm[i]],
                                   rtol=0, atol=1e-6)


def test_mixup_rows_sum_to_one_and_keep_their_own_label():
    n = 16
    targets = torch.eye(n, dtype=D)  # row i's own label is class i
    x = torch.arange(n, dtype=D).unsqueeze(-1)
    for seed in range(5):
        x_mix, t_mix = mixup(x, targets, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(t_mix.sum(dim=-1), torch.ones(n, dtype=D), rtol=0, atol=1e-12)
        own = t_mix.diagonal()
        assert bool((own >= 0.5).all())
        # x is mixed with the same coefficient: x_mix_i - i = (1 - m_i)(x_perm(i) - i)
        perm, m = _redraw(n, seed, dtype=D)
        torch.testing.assert_close(own, torch.where(perm == torch.arange(n),
                                                    torch.ones(n, dtype=D), m),
                                   rtol=0, atol=1e-12)
        torch.testing.assert_close(x_mix.squeeze(-1),
                                   m * x.squeeze(-1) + (1 - m) * perm.to(D),
                                   rtol=0, atol=1e-12)


def test_mixup_deterministic_per_seed():
    x = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    t = F.one_hot(torch.arange(10) % 2, 2).float()
    a = mixup(x, t, generator=torch.Generator().manual_seed(3))
    b = mixup(x, t, generator=torch.Generator().manual_seed(3))
    c = mixup(x, t, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_with_label_evidence_hand_values():
    # g = (0.5, 0.5), given label 0, T = [[0.8, 0.2], [0.4, 0.6]]:
    # g(c) T[c, 0] = (0.4, 0.2) -> (2/3, 1/3). Given label 1: (0.1, 0.3) -> (1/4, 3/4).
    g = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64)
    labels = F.one_hot(torch.tensor([0, 1]), 2).double()
    T = torch.tensor([[0.8, 0.2], [0.4, 0.6]], dtype=torch.float64)
    out = with_label_evidence(g, labels, T)
    torch.testing.assert_close(out, torch.tensor([[2 / 3, 1 / 3], [0.25, 0.75]],
                                                 dtype=torch.float64), rtol=0, atol=1e-12)


def test_with_label_evidence_identity_cases():
    g = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.0, 0.0]])
    labels = F.one_hot(torch.tensor([2, 1]), 3).float()
    assert with_label_evidence(g, labels, None) is g
    # a uniform-noise T with equal off-diagonal entries keeps the guess's order among
    # the other classes; a row whose joint is 0 (all-zero guess) stays as it was
    T = torch.full((3, 3), 0.1) + 0.7 * torch.eye(3)
    out = with_label_evidence(g, labels, T)
    torch.testing.assert_close(out[0], torch.tensor([0.07, 0.02, 0.08]) / 0.17)
    torch.testing.assert_close(out[1], g[1])


# --------------------------------------------------------------------------- #
# early-learning regularisation (ELR)
# --------------------------------------------------------------------------- #

# z = [0, ln 2, ln 5]: softmax = [1, 2, 5] / 8 = [0.125, 0.25, 0.625] (inside the clamp)
# one visit from t = [0.5, 0.5, 0] with beta = 0.7:
#   t' = 0.7 * [0.5, 0.5, 0] + 0.3 * [0.125, 0.25, 0.625]
#      = [0.35 + 0.0375, 0.35 + 0.075, 0.1875] = [0.3875, 0.425, 0.1875]
#   <p, t'> = 0.125*0.3875 + 0.25*0.425 + 0.625*0.1875
#           = 0.0484375 + 0.10625 + 0.1171875 = 0.271875
#   loss = log(1 - 0.271875) = log(0.728125)
ELR_LOGITS = [[0.0, math.log(2.0), math.log(5.0)]]
ELR_TARGETS = [[0.5, 0.5, 0.0]]
ELR_NEXT = [[0.3875, 0.425, 0.1875]]


def test_early_learning_targets_hand_value():
    out = early_learning_targets(_t(ELR_TARGETS), _t(ELR_LOGITS), 0.7)
    torch.testing.assert_close(out, _t(ELR_NEXT), rtol=0, atol=1e-12)


def test_early_learning_targets_first_visit_is_the_normalised_prediction_share():
    out = early_learning_targets(torch.zeros(1, 3, dtype=D), _t(ELR_LOGITS), 0.7)
    torch.testing.assert_close(out, 0.3 * _t([[0.125, 0.25, 0.625]]), rtol=0, atol=1e-12)


def test_early_learning_targets_clamp_a_saturated_prediction():
    # softmax([0, 100, 0]) ~ [e^-100, 1, e^-100] is clamped to [1e-4, 1 - 1e-4, 1e-4]
    # before normalising: sum = 1 + 1e-4
    out = early_learning_targets(torch.zeros(1, 3, dtype=D), _t([[0.0, 100.0, 0.0]]), 0.0)
    s = 1.0 + 1e-4
    torch.testing.assert_close(out, _t([[1e-4 / s, (1 - 1e-4) / s, 1e-4 / s]]), rtol=0,
                               atol=1e-12)


def test_early_learning_loss_hand_value_and_mean_over_rows():
    row = math.log(0.728125)
    # second row: z = 0 (p = 1/3 each), t = [1, 0, 0]: log(1 - 1/3) = log(2/3)
    logits = _t(ELR_LOGITS + [[0.0, 0.0, 0.0]])
    targets = _t(ELR_NEXT + [[1.0, 0.0, 0.0]])
    out = early_learning_loss(logits, targets)
    assert out.item() == pytest.approx((row + math.log(2 / 3)) / 2, abs=1e-12)


def test_early_learning_loss_gradient_raises_the_targets_probability():
    logits = _t(ELR_LOGITS).requires_grad_(True)
    targets = _t([[0.0, 0.0, 1.0]])
    early_learning_loss(logits, targets).backward()
    # descending the loss raises <p, t> = p_2: the gradient on logit 2 is negative, and
    # the targets carry none
    assert logits.grad[0, 2] < 0 and logits.grad[0, :2].gt(0).all()
    assert not targets.requires_grad
