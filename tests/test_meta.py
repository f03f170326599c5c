"""Meta-gradients against a float64 double-backward reference."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sk_ieg.losses import soft_targets
from sk_ieg.meta import (
    exemplar_weights,
    meta_gradients,
    primal_and_jvp,
    relabel_coefficients,
    virtual_step,
)

N_CLASSES = 4


def _cnn():
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
        nn.Linear(3 * 4 * 4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, N_CLASSES),
    ).double().train()


def _problem(seed=0, batch=6, probe=5):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = _cnn()
    x = torch.randn(batch, 2, 6, 6, generator=g, dtype=torch.float64)
    xp = torch.randn(probe, 2, 6, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, N_CLASSES, (batch,), generator=g)
    yp = torch.randint(0, N_CLASSES, (probe,), generator=g)
    guesses = torch.softmax(torch.randn(batch, N_CLASSES, generator=g, dtype=torch.float64), -1)
    params = dict(model.named_parameters())
    bufs = {k: v.clone() for k, v in model.named_buffers()}
    mom = {k: torch.randn(p.shape, generator=g, dtype=torch.float64) for k, p in params.items()}

    def forward(p):
        return functional_call(model, (p, {k: v.clone() for k, v in bufs.items()}), (x,))

    def probe_loss(p):
        out = functional_call(model, (p, {k: v.clone() for k, v in bufs.items()}), (xp,))
        return F.cross_entropy(out, yp)

    return dict(model=model, params=params, forward=forward, probe_loss=probe_loss,
                labels=F.one_hot(y, N_CLASSES).double(), guesses=guesses, momentum_buffers=mom,
                omega=torch.full((batch,), 1.0 / batch, dtype=torch.float64),
                lam=torch.full((batch,), 0.9, dtype=torch.float64))


def _run(prob, method, **kw):
    logits = prob["forward"](prob["params"])
    return meta_gradients(
        logits, prob["params"], forward=prob["forward"], probe_loss=prob["probe_loss"],
        labels=prob["labels"], guesses=prob["guesses"], omega=prob["omega"], lam=prob["lam"],
        lr=0.1, momentum=0.9, weight_decay=5e-4, momentum_buffers=prob["momentum_buffers"],
        method=method, **kw)


def _rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jvp_route_matches_double_backward_float64(seed):
    prob = _problem(seed)
    ref = _run(prob, "double_backward")
    got = _run(prob, "jvp")
    assert ref.omega.abs().max() > 0 and ref.lam.abs().max() > 0
    assert _rel_err(got.omega, ref.omega) <= 1e-10
    assert _rel_err(got.lam, ref.lam) <= 1e-10
    assert torch.allclose(got.probe_loss, ref.probe_loss, rtol=1e-12)


def test_finite_difference_route_is_close():
    prob = _problem(3)
    ref = _run(prob, "double_backward")
    got = _run(prob, "finite_difference", fd_eps=1e-6)
    assert _rel_err(got.omega, ref.omega) < 1e-4
    assert _rel_err(got.lam, ref.lam) < 1e-4


def test_double_backward_reference_matches_autograd_on_explicit_virtual_loss():
    """Independent check of the reference: perturb omega_i and difference L_p."""
    prob = _problem(4)
    ref = _run(prob, "double_backward")

    def probe_after_step(omega, lam):
        logits = prob["forward"](prob["params"])
        t = soft_targets(prob["labels"], prob["guesses"], lam)
        loss_v = (omega * -(t * F.log_softmax(logits, -1)).sum(-1)).sum()
        names = list(prob["params"])
        grads = dict(zip(names, torch.autograd.grad(loss_v, [prob["params"][k] for k in names])))
        theta = virtual_step({k: v.detach() for k, v in prob["params"].items()}, grads, lr=0.1,
                             momentum=0.9, weight_decay=5e-4,
                             momentum_buffers=prob["momentum_buffers"])
        reg = sum(0.5 * 5e-4 * v.pow(2).sum() for v in theta.values())
        return (prob["probe_loss"](theta) + reg).item()

    h = 1e-6
    for i in (0, 3):
        e = torch.zeros_like(prob["omega"])
        e[i] = h
        num_w = (probe_after_step(prob["omega"] + e, prob["lam"])
                 - probe_after_step(prob["omega"] - e, prob["lam"])) / (2 * h)
        num_l = (probe_after_step(prob["omega"], prob["lam"] + e)
                 - probe_after_step(prob["omega"], prob["lam"] - e)) / (2 * h)
        assert num_w == pytest.approx(ref.omega[i].item(), rel=1e-5, abs=1e-12)
        assert num_l == pytest.approx(ref.lam[i].item(), rel=1e-5, abs=1e-12)


def test_meta_gradients_leave_buffers_and_graph_usable():
    prob = _problem(5)
    before = {k: v.clone() for k, v in prob["model"].named_buffers()}
    logits = prob["forward"](prob["params"])
    meta_gradients(logits, prob["params"], forward=prob["forward"],
                   probe_loss=prob["probe_loss"], labels=prob["labels"],
                   guesses=prob["guesses"], omega=prob["omega"], lam=prob["lam"])
    logits.sum().backward()  # graph retained for the final loss
    for k, v in prob["model"].named_buffers():
        assert torch.equal(v, before[k])


def test_primal_and_jvp_match_double_backward_float64():
    # J v by the double-backward trick, d/du <J^T u, v>, on a BatchNorm CNN in training
    # mode with cloned buffers (the case torch.func.jvp refuses for in-place updates).
    prob = _problem(7)
    model, params, forward = prob["model"], prob["params"], prob["forward"]
    before = {k: v.clone() for k, v in model.named_buffers()}

    g = torch.Generator().manual_seed(3)
    v = {k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in params.items()}
    primal, tangent = primal_and_jvp(forward, params, v)
    out = forward(params)
    u = torch.zeros_like(out, requires_grad=True)
    vjp = torch.autograd.grad(out, list(params.values()), u, create_graph=True)
    expected = torch.autograd.grad(sum((a * v[k]).sum() for a, k in zip(vjp, params)), u)[0]
    torch.testing.assert_close(primal, out.detach(), rtol=0, atol=0)
    torch.testing.assert_close(tangent, expected, rtol=1e-10, atol=1e-12)
    assert expected.abs().max() > 1e-3  # not trivially zero
    for k, b in model.named_buffers():
        assert torch.equal(b, before[k])


def test_virtual_step_matches_torch_sgd():
    torch.manual_seed(0)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.3, momentum=0.9, weight_decay=0.01)
    for _ in range(2):  # second step uses the momentum buffer
        opt.zero_grad()
        (w.pow(3).sum()).backward()
        buf = opt.state[w].get("momentum_buffer")
        expected = virtual_step({"w": w.detach()}, {"w": w.grad}, lr=0.3, momentum=0.9,
                                weight_decay=0.01,
                                momentum_buffers=None if buf is None else {"w": buf})["w"]
        opt.step()
        assert torch.allclose(w.detach(), expected, rtol=1e-14, atol=1e-14)


def test_exemplar_weights_and_relabel_coefficients_by_hand():
    d = torch.tensor([-3.0, 1.0, -1.0, 0.0])
    w = exemplar_weights(d, eps=0.0)
    assert torch.allclose(w, torch.tensor([0.75, 0.0, 0.25, 0.0]))
    assert torch.equal(exemplar_weights(torch.ones(3)), torch.zeros(3))
    assert torch.equal(relabel_coefficients(torch.tensor([-0.1, 0.0, 2.0])),
                       torch.tensor([1.0, 0.0, 0.0]))


def test_unknown_method_raises():
    prob = _problem(0)
    with pytest.raises(ValueError, match="method must be one of"):
        _run(prob, "magic")
