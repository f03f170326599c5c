"""The IEG step: shared-pass route against the textbook reference route, the
head-only meta-gradient, and the sub-sampled mixup pool (float64)."""

import functools
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sk_ieg.losses import early_learning_loss, early_learning_targets, with_label_evidence
from sk_ieg.step import IEGConfig, find_head, ieg_objective, meta_step, reference_objective

N_CLASSES = 4


def _cnn(dropout=0.0):
    layers = [nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
              nn.Linear(3 * 4 * 4, 8), nn.BatchNorm1d(8), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(8, N_CLASSES))
    return nn.Sequential(*layers).double().train()


def _view(generator):
    def make_view(x, strong):
        scale = 0.3 if strong else 0.05
        return x + scale * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return make_view


def _run(objective, config, *, seed=0, dropout=0.0, batch=6, probe=5, model=None,
         early_targets=None):
    torch.manual_seed(seed)
    model = _cnn(dropout) if model is None else model
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 2, 6, 6, generator=g, dtype=torch.float64)
    xp = torch.randn(probe, 2, 6, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, N_CLASSES, (batch,), generator=g)
    yp = torch.randint(0, N_CLASSES, (probe,), generator=g)
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    mom = {k: 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64)
           for k, p in params.items()}
    gen = torch.Generator().manual_seed(seed + 100)
    out = objective(model, x, y, xp, yp, n_classes=N_CLASSES, make_view=_view(gen),
                    config=config, generator=gen, momentum=0.9, weight_decay=5e-4,
                    momentum_buffers=mom, early_targets=early_targets)
    grads = torch.autograd.grad(out.loss, list(params.values()))
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    return out, grads, buffers


def _assert_same_meta_step(a, b):
    """omega*, lambda* and the probe loss of two step outputs agree (float64)."""
    torch.testing.assert_close(a.omega, b.omega, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(a.lam, b.lam)
    torch.testing.assert_close(a.probe_loss, b.probe_loss, rtol=1e-12, atol=0)


def _assert_same_grads(grads_a, grads_b):
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("meta_gradient", ["jvp", "double_backward"])
def test_shared_route_equals_reference_route(dropout, meta_gradient):
    config = IEGConfig(meta_gradient=meta_gradient)
    fast, g_fast, b_fast = _run(ieg_objective, config, dropout=dropout)
    ref, g_ref, b_ref = _run(reference_objective, config, dropout=dropout)
    assert fast.omega.max() > 0 and fast.parts["consistency"] > 0
    torch.testing.assert_close(fast.loss, ref.loss, rtol=1e-10, atol=0)
    for key in ref.parts:
        torch.testing.assert_close(fast.parts[key], ref.parts[key], rtol=1e-10, atol=0)
    _assert_same_meta_step(fast, ref)
    torch.testing.assert_close(fast.guesses, ref.guesses, rtol=1e-12, atol=0)
    _assert_same_grads(g_fast, g_ref)
    for k in b_ref:  # BatchNorm running statistics updated once, by the same pass
        torch.testing.assert_close(b_fast[k], b_ref[k], rtol=0, atol=0)


def test_loss_parts_change_with_the_config():
    """The comparison above is not vacuous: the routes react to the same switches."""
    base, _, _ = _run(ieg_objective, IEGConfig())
    other, _, _ = _run(ieg_objective, IEGConfig(consistency_weight=1.0))
    assert not torch.allclose(base.loss, other.loss)


def _frozen_body_model():
    torch.manual_seed(0)
    model = _cnn()
    for name, p in model.named_parameters():
        if not name.startswith("7."):  # the last Linear
            p.requires_grad_(False)
    return model


@pytest.mark.parametrize("meta_gradient", ["jvp", "double_backward"])
def test_head_scope_equals_full_scope_when_only_the_head_trains(meta_gradient):
    """With every other parameter frozen, the last-layer closed form is the whole
    meta-gradient: both scopes must give the same omega*, lambda* and loss."""
    full, g_full, _ = _run(ieg_objective, IEGConfig(meta_gradient=meta_gradient),
                           model=_frozen_body_model())
    head, g_head, _ = _run(ieg_objective, IEGConfig(meta_gradient=meta_gradient,
                                                    meta_scope="head"),
                           model=_frozen_body_model())
    assert full.omega.max() > 0
    _assert_same_meta_step(head, full)
    torch.testing.assert_close(head.loss, full.loss, rtol=1e-10, atol=0)
    _assert_same_grads(g_head, g_full)


def test_head_scope_differs_from_full_scope_when_the_body_trains():
    full, _, _ = _run(ieg_objective, IEGConfig())
    head, _, _ = _run(ieg_objective, IEGConfig(meta_scope="head"))
    assert not torch.allclose(head.omega, full.omega)


def test_head_meta_step_matches_closed_form_by_hand():
    """omega and lambda meta-gradients of a linear head, written out explicitly."""
    torch.manual_seed(0)
    head = nn.Linear(3, N_CLASSES).double()
    g = torch.Generator().manual_seed(1)
    h = torch.randn(5, 3, generator=g, dtype=torch.float64)
    hp = torch.randn(4, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, N_CLASSES, (5,), generator=g)
    yp = torch.randint(0, N_CLASSES, (4,), generator=g)
    labels = F.one_hot(y, N_CLASSES).double()
    guesses = torch.softmax(torch.randn(5, N_CLASSES, generator=g, dtype=torch.float64), -1)
    a, lam0 = 0.1, 0.9
    W, b = head.weight.detach(), head.bias.detach()
    z = h @ W.T + b
    t = lam0 * labels + (1 - lam0) * guesses
    r = (torch.softmax(z, -1) - t) / 5  # omega = 1/B
    W2, b2 = W - a * (r.T @ h), b - a * r.sum(0)
    rp = (torch.softmax(hp @ W2.T + b2, -1) - F.one_hot(yp, N_CLASSES).double()) / 4
    gW, gb = rp.T @ hp, rp.sum(0)
    zdot = h @ gW.T + gb
    d_omega = -a * ((torch.softmax(z, -1) - t) * zdot).sum(-1)
    d_lam = a * (1 / 5) * ((labels - guesses) * zdot).sum(-1)
    expected_omega = torch.clamp(-d_omega, min=0)
    expected_omega = expected_omega / (expected_omega.sum() + 1e-5)

    model = nn.Sequential(nn.Identity(), head)
    params = dict(model.named_parameters())

    def fcall(p, inputs):
        return torch.func.functional_call(model, p, (inputs,))

    logits = fcall(params, h)
    omega, lam, _ = meta_step(
        fcall, params, logits, h, hp, yp, labels=labels, guesses=guesses,
        config=IEGConfig(meta_scope="head", meta_lr=a), seeds=(0, 1), features=h,
        head=find_head(model))
    torch.testing.assert_close(omega, expected_omega, rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(lam, (d_lam < 0).double())


class _ScaledOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(2 * 6 * 6, 8)
        self.head = nn.Linear(8, N_CLASSES)

    def forward(self, x):
        return 2.0 * self.head(torch.tanh(self.body(x.flatten(1))))


def test_head_scope_refuses_a_module_whose_output_is_not_the_last_linear():
    torch.manual_seed(0)
    model = _ScaledOutput().double().train()
    with pytest.raises(ValueError, match="meta_scope='all'"):
        _run(ieg_objective, IEGConfig(meta_scope="head"), model=model)
    with pytest.raises(ValueError, match="torch.nn.Linear"):
        find_head(nn.Sequential(nn.Conv2d(1, 1, 1)))


def test_mixup_size_subsamples_the_pool_keeping_the_probe_share():
    sizes = []
    model = _cnn()
    model[0].register_forward_hook(lambda m, a, o: sizes.append(a[0].shape[0]))
    out, _, _ = _run(ieg_objective, IEGConfig(mixup_size=8), model=model, batch=10, probe=10)
    # passes: weak (10), strong (10), probe at theta' (10), JVP (10), mixup (8)
    assert sizes == [10, 10, 10, 10, 8]
    full_sizes = []
    model = _cnn()
    model[0].register_forward_hook(lambda m, a, o: full_sizes.append(a[0].shape[0]))
    _run(ieg_objective, IEGConfig(), model=model, batch=10, probe=10)
    assert full_sizes[-1] == 10 + 2 * 10
    assert {"mixup_probe", "mixup_noisy"} <= set(out.parts)


def test_reference_objective_takes_the_arguments_of_ieg_objective():
    assert inspect.signature(reference_objective) == inspect.signature(ieg_objective)
    with pytest.raises(TypeError, match="bogus"):
        _run(functools.partial(reference_objective, bogus=1), IEGConfig())


def test_bad_config_raises():
    with pytest.raises(ValueError, match="meta_scope"):
        _run(ieg_objective, IEGConfig(meta_scope="last"))
    with pytest.raises(ValueError, match="mixup_size"):
        _run(ieg_objective, IEGConfig(mixup_size=1))
    with pytest.raises(ValueError, match="all parameters"):
        _run(reference_objective, IEGConfig(meta_scope="head"))


@pytest.mark.parametrize("config", [IEGConfig(), IEGConfig(mixup_size=8, meta_scope="head"),
                                    IEGConfig(mixup=False), IEGConfig(consistency_weight=0.0)])
def test_staged_backward_gives_the_same_gradients(config):
    """backward=True back-propagates in two stages: same .grad as one loss.backward()."""
    def grads(staged):
        torch.manual_seed(0)
        model = _cnn()
        g = torch.Generator().manual_seed(0)
        x = torch.randn(10, 2, 6, 6, generator=g, dtype=torch.float64)
        xp = torch.randn(10, 2, 6, 6, generator=g, dtype=torch.float64)
        y = torch.randint(0, N_CLASSES, (10,), generator=g)
        yp = torch.randint(0, N_CLASSES, (10,), generator=g)
        gen = torch.Generator().manual_seed(5)
        out = ieg_objective(model, x, y, xp, yp, n_classes=N_CLASSES, make_view=_view(gen),
                            config=config, generator=gen, momentum=0.9, weight_decay=5e-4,
                            backward=staged)
        if not staged:
            out.loss.backward()
        else:
            assert not out.loss.requires_grad
        return out.loss, [p.grad.clone() for p in model.parameters()]

    loss_one, g_one = grads(False)
    loss_staged, g_staged = grads(True)
    torch.testing.assert_close(loss_staged, loss_one.detach(), rtol=1e-12, atol=0)
    assert any(g.abs().max() > 0 for g in g_one)
    for a, b in zip(g_staged, g_one):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


def _labels(seed=0, batch=6, probe=5):
    """The noisy rows' labels that ``_run`` draws."""
    g = torch.Generator().manual_seed(seed)
    torch.randn(batch, 2, 6, 6, generator=g, dtype=torch.float64)
    torch.randn(probe, 2, 6, 6, generator=g, dtype=torch.float64)
    return torch.randint(0, N_CLASSES, (batch,), generator=g)


def test_noise_transition_turns_the_guesses_into_posteriors_on_both_routes():
    # a pair-flip-like transition: class c is labeled c + 1 a third of the time
    T = (2 / 3) * torch.eye(N_CLASSES, dtype=torch.float64) + (1 / 3) * torch.roll(
        torch.eye(N_CLASSES, dtype=torch.float64), 1, dims=1)
    plain, _, _ = _run(ieg_objective, IEGConfig())
    fast, g_fast, _ = _run(ieg_objective, IEGConfig(noise_transition=T))
    ref, g_ref, _ = _run(reference_objective, IEGConfig(noise_transition=T))
    torch.testing.assert_close(fast.raw_guesses, plain.guesses, rtol=0, atol=0)
    torch.testing.assert_close(fast.guesses, with_label_evidence(
        plain.guesses, F.one_hot(_labels(), N_CLASSES).double(), T), rtol=1e-12, atol=0)
    assert not torch.allclose(fast.loss, plain.loss)
    torch.testing.assert_close(fast.loss, ref.loss, rtol=1e-10, atol=0)
    _assert_same_meta_step(fast, ref)
    _assert_same_grads(g_fast, g_ref)


def test_early_learning_term_on_both_routes():
    """With ``early_learning_weight`` and the rows' targets, the loss adds the weight
    times the ELR loss of the weak logits at the targets moved on by this visit, the
    same on both routes; without targets (or at weight 0) the step is unchanged."""
    previous = torch.softmax(torch.randn(6, N_CLASSES, generator=torch.Generator()
                                         .manual_seed(3), dtype=torch.float64), dim=1)
    config = IEGConfig(early_learning_weight=2.0, early_learning_decay=0.6)
    plain, g_plain, _ = _run(ieg_objective, IEGConfig())
    fast, g_fast, _ = _run(ieg_objective, config, early_targets=previous)
    ref, g_ref, _ = _run(reference_objective, config, early_targets=previous)
    expected = early_learning_targets(previous, plain.logits, 0.6)
    torch.testing.assert_close(fast.early_targets, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(fast.loss, plain.loss + 2.0 * early_learning_loss(
        plain.logits, expected), rtol=1e-10, atol=0)
    torch.testing.assert_close(fast.loss, ref.loss, rtol=1e-10, atol=0)
    torch.testing.assert_close(ref.early_targets, fast.early_targets, rtol=1e-12, atol=0)
    _assert_same_meta_step(fast, ref)
    _assert_same_grads(g_fast, g_ref)
    assert any(not torch.allclose(a, b) for a, b in zip(g_fast, g_plain))
    for off in (_run(ieg_objective, config)[0],
                _run(ieg_objective, IEGConfig(early_learning_weight=0.0),
                     early_targets=previous)[0]):
        assert off.early_targets is None
        torch.testing.assert_close(off.loss, plain.loss, rtol=0, atol=0)


def test_bad_early_learning_config_raises():
    with pytest.raises(ValueError, match="early_learning_decay"):
        _run(ieg_objective, IEGConfig(early_learning_decay=1.0))
    with pytest.raises(ValueError, match="early_learning_weight"):
        _run(ieg_objective, IEGConfig(early_learning_weight=-1.0))
