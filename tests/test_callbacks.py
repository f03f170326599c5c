"""The meta-step machinery as skorch callbacks: LR schedule (the default one or the
user's), history's lr, weight average, row statistics, convergence check."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback, LRScheduler

from sk_ieg import IEGClassifier
from sk_ieg.callbacks import AutoConsistency, AutoMetaStrength, split_halves
from sk_ieg.schedule import cosine_restarts

N, BATCH = 200, 64  # 4 batches per epoch, the last one of 8 rows


@pytest.fixture(scope="module")
def data(digits_small_module):
    X, y = digits_small_module
    mask = np.zeros(N, bool)
    mask[np.random.default_rng(0).permutation(N)[:40]] = True
    assert len(np.unique(y[:N][mask])) == 10
    return X[:N], y[:N], mask


@pytest.fixture(scope="module")
def digits_small_module():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype("float32"), y


class RateSpy(Callback):
    """The optimizer's rate as each training batch starts (appended last, so after
    every scheduler has set it): the rate that batch's optimizer step uses."""

    def initialize(self):
        self.rates_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rates_.append(net.optimizer_.param_groups[0]["lr"])


def _fit(data, epochs=3, **kw):
    X, y, mask = data
    kw.setdefault("module__hidden_units", (32,))
    clf = IEGClassifier(max_epochs=epochs, batch_size=BATCH, verbose=0, random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, trusted=mask)


def _batch_rates(clf):
    return [b["lr"] for epoch in clf.history for b in epoch["batches"] if "lr" in b]


@pytest.mark.parametrize("step_every", ["epoch", "batch"])
def test_a_users_lr_scheduler_replaces_the_default_schedule(data, step_every):
    spy = RateSpy()
    clf = _fit(data, callbacks=[("lr", LRScheduler(policy="StepLR", step_size=1, gamma=0.5,
                                                   step_every=step_every)), ("spy", spy)])
    names = [name for name, _ in clf.callbacks_]
    assert "lr_schedule" not in names and "lr" in names
    steps = math.ceil(160 / BATCH)  # 160 noisy rows
    if step_every == "epoch":
        expected = [0.1 * 0.5 ** e for e in range(3) for _ in range(steps)]
    else:
        expected = [0.1 * 0.5 ** s for s in range(3 * steps)]
    np.testing.assert_allclose(spy.rates_, expected, rtol=1e-12)
    # history's lr is the rate actually used, at every batch and per epoch (the last batch's)
    assert _batch_rates(clf) == spy.rates_
    assert list(clf.history[:, "lr"]) == spy.rates_[steps - 1::steps]


def test_default_schedule_is_cosine_with_restarts_and_history_reports_it(data):
    spy = RateSpy()
    clf = _fit(data, epochs=4, callbacks=[("spy", spy)])
    steps = math.ceil(160 / BATCH)
    expected = [0.1 * cosine_restarts(t, 4 * steps, steps) for t in range(4 * steps)]
    np.testing.assert_allclose(spy.rates_, expected, rtol=1e-12)
    assert _batch_rates(clf) == spy.rates_
    constant = RateSpy()
    _fit(data, epochs=2, lr_schedule="constant", callbacks=[("spy", constant)])
    assert constant.rates_ == [0.1] * (2 * steps)


def test_auto_first_cycle_is_one_cosine_over_the_budget_on_images(data):
    """first_cycle_epochs="auto": one cosine over max_epochs for 4-D X, restarts every
    1, 1.5, ... epochs for rows (the default test above); a number is used as it is."""
    X, y, mask = data
    steps = math.ceil(160 / BATCH)
    for first, cycle in (("auto", 4 * steps), (1.0, steps)):
        spy = RateSpy()
        clf = IEGClassifier(module=torch.nn.Sequential(torch.nn.Flatten(),
                                                       torch.nn.Linear(64, 10)),
                            max_epochs=4, batch_size=BATCH, verbose=0, random_state=0,
                            first_cycle_epochs=first, callbacks=[("spy", spy)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X.reshape(-1, 1, 8, 8), y, trusted=mask)
        expected = [0.1 * cosine_restarts(t, 4 * steps, cycle) for t in range(4 * steps)]
        np.testing.assert_allclose(spy.rates_, expected, rtol=1e-12)
        rises = any(b > a for a, b in zip(spy.rates_, spy.rates_[1:]))
        assert rises == (first == 1.0)


def test_auto_mixup_weight_is_four_on_images_and_one_on_rows(data):
    """mixup_weight="auto": the step's noisy-row mixup weight is 4 for 4-D X, 1 for 2-D
    rows; a number is used as it is (ramp_up=0 so the step sees the full weight)."""
    X, y, mask = data
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))

    class Spy(Callback):
        def initialize(self):
            self.seen_ = []
            return self

        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                self.seen_.append(net.step_config().mixup_weight)

    for inputs, weight, expected in ((X.reshape(-1, 1, 8, 8), "auto", 4.0), (X, "auto", 1.0),
                                     (X.reshape(-1, 1, 8, 8), 2.5, 2.5)):
        spy = Spy()
        clf = IEGClassifier(module=flat, max_epochs=1, batch_size=BATCH, ramp_up=0.0,
                            mixup_weight=weight, verbose=0, random_state=0,
                            callbacks=[("spy", spy)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(inputs, y, trusted=mask)
        assert spy.seen_ and set(spy.seen_) == {expected}


def test_partial_fit_starts_a_new_schedule_from_the_first_base_rate(data):
    X, y, mask = data
    spy = RateSpy()
    clf = _fit(data, epochs=2, callbacks=[("spy", spy)])
    first = list(spy.rates_)
    clf.partial_fit(X, y, trusted=mask)
    assert spy.rates_[len(first):] == first


def test_default_callbacks_are_named_and_replaceable(data):
    clf = _fit(data, epochs=1)
    names = [name for name, _ in clf.callbacks_]
    ours = ["lr_schedule", "record_lr", "weight_average", "row_statistics", "convergence"]
    assert [n for n in names if n in ours] == ours and names[-1] == "print_log"
    assert "callbacks__row_statistics" in IEGClassifier().get_params()
    # Without the weight average, predictions come from the raw weights.
    raw = _fit(data, epochs=1, callbacks__weight_average=None)
    assert raw.ieg_state_.average is None
    plain = _fit(data, epochs=1, ema_decay=None)
    np.testing.assert_array_equal(raw.predict_proba(data[0]), plain.predict_proba(data[0]))
    # Without row statistics there are no per-row results.
    none = _fit(data, epochs=1, callbacks__row_statistics=None)
    assert not hasattr(none, "sample_weights_") and "probe_loss" not in none.history[-1]


class ConstantLogits(torch.nn.Module):
    """Class 0 for every row, strongly: far worse than a uniform guess."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([10.0] + [0.0] * 9))

    def forward(self, x):
        return self.bias + 0 * x[:, :1]


def test_convergence_check_can_be_turned_off(data):
    X, y, mask = data
    kw = dict(module=ConstantLogits, max_epochs=1, batch_size=BATCH, verbose=0,
              random_state=0, lr=0.0)
    with pytest.warns(ConvergenceWarning):
        IEGClassifier(**kw).fit(X, y, trusted=mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        IEGClassifier(callbacks__convergence=None, **kw).fit(X, y, trusted=mask)


def test_row_statistics_match_a_hand_computed_running_average(data):
    """Two epochs with decay d: a row seen in both has weight (d (1-d) a + (1-d) b) /
    (1 - d^2) for its capped weights a, b (before the mean-1 scaling)."""
    seen = []

    class StepSpy(Callback):
        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training:
                seen.append({k: kwargs[k].detach().clone() for k in ("rows", "omega", "lam")})

    clf = _fit(data, epochs=2, statistics_decay=0.5, callbacks=[("steps", StepSpy())])
    d, n_noisy = 0.5, 160
    acc, keep = np.zeros(n_noisy), np.zeros(n_noisy)
    for s in seen:
        rows = s["rows"].numpy()
        capped = np.minimum(s["omega"].double().numpy() * len(rows), 1.0)
        acc[rows] = d * acc[rows] + (1 - d) * capped
        keep[rows] = d * keep[rows] + (1 - d) * s["lam"].double().numpy()
    norm = 1 - d ** 2
    weights, keep = acc / norm, keep / norm
    mask = data[2]
    np.testing.assert_allclose(clf.sample_weights_[~mask], weights / weights.mean(), rtol=1e-5)
    np.testing.assert_allclose(clf.relabel_scores_[~mask], keep, rtol=1e-5)
    assert np.all(clf.sample_weights_[mask] == 1) and np.all(clf.relabel_scores_[mask] == 1)


def test_ramp_up_scales_the_unsupervised_terms_and_delays_relabeling(data):
    X, y, mask = data
    seen = []

    class Spy(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                seen.append(net.step_config())

    clf = IEGClassifier(max_epochs=4, batch_size=BATCH, ramp_up=0.5, consistency_weight=20.0,
                        random_state=0, verbose=0, callbacks=[("spy", Spy())])
    clf.fit(X, y, trusted=mask)
    per_epoch = len(seen) // 4
    first, last = seen[0], seen[-1]
    assert first.consistency_weight == pytest.approx(20.0 * math.exp(-5.0))
    assert first.mixup_weight == pytest.approx(math.exp(-5.0)) and not first.relabel
    # The ramp covers half of the 4 epochs; after it the parameters' own values.
    assert seen[2 * per_epoch].consistency_weight == 20.0 and seen[2 * per_epoch].relabel
    assert last.consistency_weight == 20.0 and last.relabel
    assert [r["relabeled"] for r in clf.history][:2] == [0.0, 0.0]


def test_auto_consistency_halves_without_evidence_and_records_it(data):
    X, y, mask = data

    class NoHelp(AutoConsistency):  # the cosines of a term that does not help
        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training and net.consistency_weight == "auto":
                self.cosines_.append(0.0)

    clf = IEGClassifier(max_epochs=6, consistency_weight="auto", random_state=0, verbose=0,
                        callbacks__auto_consistency=NoHelp(min_scale=1 / 8))
    clf.fit(X, y, trusted=mask)
    assert clf.history[:, "consistency_weight"] == [20.0, 10.0, 5.0, 2.5, 2.5, 2.5]
    # The real check measures cosines in [-1, 1] on the first n_checks batches.
    real = IEGClassifier(max_epochs=2, batch_size=BATCH, consistency_weight="auto",
                         random_state=0, verbose=0)
    real.fit(X, y, trusted=mask)
    cb = dict(real.callbacks_)["auto_consistency"]
    # 160 noisy rows, batches of 64: 3 batches an epoch, fewer than n_checks = 4.
    assert len(cb.cosines_) == 3 and all(-1 <= c <= 1 for c in cb.cosines_)
    assert real.history[1, "consistency_weight"] in (10.0, 20.0)


def test_auto_consistency_does_not_double_while_the_probe_loss_rises():
    """The cosine can stay positive while a growing weight makes the trusted rows worse
    (round 14: clean letter fell from 0.95 to 0.55): no doubling after an epoch whose
    mean probe loss rose; halving is unaffected."""
    from types import SimpleNamespace

    from skorch.history import History

    net = SimpleNamespace(consistency_weight="auto", n_views=2, history=History(),
                          ieg_state_=SimpleNamespace(consistency_scale=None))
    cb = AutoConsistency(n_checks=0).initialize()
    cb.scale_ = 0.25

    def epoch(probe_losses, cosines):
        net.history.new_epoch()
        cb.on_epoch_begin(net)
        # what row_statistics, installed before this callback, records at the epoch's end
        net.history.record("probe_loss", float(np.mean(probe_losses)))
        cb.cosines_ = list(cosines)
        cb.on_epoch_end(net)
        return cb.scale_, net.ieg_state_.consistency_scale

    helps, hurts = [0.5, 0.6, 0.4, 0.5], [-0.1, 0.1, -0.2, 0.0]
    assert epoch([1.0, 0.8], helps) == (0.5, 0.5)  # first epoch: nothing to compare
    assert cb.probe_loss_ == pytest.approx(0.9)
    assert epoch([0.9, 0.7], helps) == (1.0, 1.0)  # 0.8 <= 0.9: doubles
    cb.scale_ = 0.25
    assert epoch([1.2, 1.0], helps) == (0.25, 0.25)  # 1.1 > 0.8: stays
    assert epoch([1.4, 1.4], hurts) == (0.125, 0.125)  # no evidence: halves, as before
    assert epoch([1.0, 1.0], helps) == (0.25, 0.25)  # fell again: doubles


def test_consistency_alignment_is_the_cosine_of_the_two_gradients():
    from sk_ieg.losses import kl_consistency
    from sk_ieg.step import consistency_alignment

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(),
                                 torch.nn.Linear(7, 3)).double()
    x, xp = torch.randn(6, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    yp = torch.tensor([0, 1, 2, 1])

    def view(inputs, strong):
        return inputs * (0.5 if strong else 1.0)

    got = consistency_alignment(module, x, xp, yp, make_view=view)
    params = list(module.parameters())
    gp = torch.autograd.grad(torch.nn.functional.cross_entropy(module(xp), yp), params)
    gc = torch.autograd.grad(kl_consistency(module(x), module(0.5 * x)), params)
    a, b = torch.cat([g.flatten() for g in gp]), torch.cat([g.flatten() for g in gc])
    assert float(got) == pytest.approx(float(a @ b / (a.norm() * b.norm())), rel=1e-10)


@pytest.mark.parametrize("held_out", [False, True])
def test_meta_generalization_reference_float64(held_out):
    # Per-row gradients from one explicit backward per row, the guesses by hand, then
    # the hand-written choices and gains; against the JVP route of the step. With
    # held_out, the choices of A and B are scored on other rows A2 and B2.
    from sk_ieg.losses import guess_labels
    from sk_ieg.step import meta_generalization

    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(),
                                 torch.nn.Linear(7, 3)).double()
    x, y = torch.randn(8, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0, 2, 2, 1])
    xa, ya = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 1])
    xb, yb = torch.randn(3, 5, dtype=torch.float64), torch.tensor([2, 0, 1])
    wa = torch.tensor([1.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    wb = torch.ones(3, dtype=torch.float64)

    def view(inputs, strong):
        return inputs * (0.5 if strong else 1.0)

    xa2, ya2 = torch.randn(2, 5, dtype=torch.float64), torch.tensor([1, 0])
    xb2, yb2 = torch.randn(3, 5, dtype=torch.float64), torch.tensor([0, 2, 2])
    wa2, wb2 = (torch.tensor([0.5, 1.5], dtype=torch.float64),
                torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64))
    extra = dict(held_out=((xa2, ya2, wa2), (xb2, yb2, wb2))) if held_out else {}
    got = meta_generalization(module, x, y, (xa, ya, wa), (xb, yb, wb), make_view=view,
                              n_strong=1, temperature=0.5, **extra)
    params = list(module.parameters())
    ce = torch.nn.functional.cross_entropy

    def flat(loss):
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    with torch.no_grad():
        g = guess_labels(torch.stack([module(x), module(0.5 * x)]), temperature=0.5)
    onehot = torch.nn.functional.one_hot(y, 3).double()
    grad_y = torch.stack([flat(ce(module(x[i:i + 1]), onehot[i:i + 1])) for i in range(8)])
    grad_g = torch.stack([flat(ce(module(x[i:i + 1]), g[i:i + 1])) for i in range(8)])
    ga = flat((ce(module(xa), ya, reduction="none") * wa).sum() / wa.sum())
    gb = flat(ce(module(xb), yb))
    ha, hb = ga, gb
    if held_out:
        ha = flat((ce(module(xa2), ya2, reduction="none") * wa2).sum() / wa2.sum())
        hb = flat((ce(module(xb2), yb2, reduction="none") * wb2).sum() / wb2.sum())
    expected = []
    for chosen, held in ((ga, hb), (gb, ha)):
        sy, sg = grad_y @ chosen, grad_g @ chosen  # s_i(A, y_i), s_i(A, g_i)
        hy, hg = grad_y @ held, grad_g @ held
        w = sy.clamp_min(0) / sy.clamp_min(0).sum()
        relabeled = (sy < sg).double()
        expected.append([float(w @ hy - hy.mean()), float((relabeled * (hg - hy)).mean())])
    np.testing.assert_allclose(got.numpy(), np.array(expected), rtol=1e-9, atol=1e-12)
    assert (np.abs(np.array(expected)) > 1e-6).all()  # no trivially zero entry


def test_split_halves_alternate_within_each_class():
    y = np.array([2, 0, 0, 1, 0, 2, 1, 0, 2])
    a, b = split_halves(y)
    # class 0 at rows 1, 2, 4, 7 -> A gets 1 and 4; class 1 at 3, 6 -> 3; class 2 at 0, 5, 8 -> 0, 8
    assert a.tolist() == [0, 1, 3, 4, 8] and b.tolist() == [2, 5, 6, 7]
    assert set(a).isdisjoint(b) and len(a) + len(b) == len(y)


def test_auto_meta_strengths_halve_without_evidence_and_shrink_the_step(data):
    X, y, mask = data

    class WeightsOnly(AutoMetaStrength):  # weights that help, relabeling that does not
        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training:
                self.gains_["meta_strength"] += [1.0, 1.1]
                self.gains_["relabel_strength"] += [0.0, 0.0]

    seen = []

    class Spy(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                config = net.step_config()
                seen.append((config.meta_strength, config.relabel_strength))

    clf = IEGClassifier(max_epochs=5, random_state=0, verbose=0, batch_size=BATCH,
                        ramp_up=0.0, callbacks__auto_meta=WeightsOnly(min_scale=1 / 4),
                        callbacks=[("spy", Spy())])
    clf.fit(X, y, trusted=mask)
    assert clf.history[:, "meta_strength"] == [1.0] * 5
    assert clf.history[:, "relabel_strength"] == [1.0, 0.5, 0.25, 0.25, 0.25]
    per_epoch = len(seen) // 5
    assert seen[0] == (1.0, 1.0) and seen[per_epoch] == (1.0, 0.5) and seen[-1] == (1.0, 0.25)
    # A fixed strength turns its check off; the real check records finite gains.
    fixed = IEGClassifier(max_epochs=1, random_state=0, verbose=0, meta_strength=0.5,
                          relabel_strength=1.0)
    fixed.fit(X, y, trusted=mask)
    assert "meta_strength" not in fixed.history[-1]
    assert "relabel_strength" not in fixed.history[-1]
    real = IEGClassifier(max_epochs=2, batch_size=BATCH, random_state=0, verbose=0)
    real.fit(X, y, trusted=mask)
    cb = dict(real.callbacks_)["auto_meta"]
    for name in ("meta_strength", "relabel_strength"):  # 3 batches an epoch, both ways
        assert len(cb.gains_[name]) == 2 * 3 and np.isfinite(cb.gains_[name]).all()
        assert real.history[1, name] in (0.5, 1.0)


def test_meta_strength_mixes_the_meta_step_with_plain_training():
    from sk_ieg.step import IEGConfig, meta_step

    torch.manual_seed(2)
    module = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    params = dict(module.named_parameters())
    x, xp = torch.randn(10, 4), torch.randn(6, 4)
    yp = torch.tensor([0, 1, 2, 0, 1, 2])
    labels = torch.nn.functional.one_hot(torch.randint(0, 3, (10,)), 3).float()
    guesses = torch.softmax(torch.randn(10, 3), dim=1)

    def fcall(p, inputs):
        return torch.func.functional_call(module, p, (inputs,))

    def run(strength):
        config = IEGConfig(meta_strength=strength, relabel_strength=strength)
        return meta_step(fcall, params, fcall(params, x), x, xp, yp, labels=labels,
                         guesses=guesses, config=config, seeds=(0, 1))

    omega, lam, loss = run(1.0)
    omega_s, lam_s, loss_s = run(0.25)
    torch.testing.assert_close(omega_s, 0.25 * omega + 0.75 / 10)
    torch.testing.assert_close(lam_s, 0.25 * lam + 0.75)
    assert float(loss_s) == pytest.approx(float(loss))
    assert 0 < float((lam < 1).sum()) < 10  # the case is not trivial: some rows relabeled


def test_auto_meta_scores_each_check_of_an_epoch_on_other_rows(data):
    X, y, mask = data
    clf = IEGClassifier(max_epochs=1, batch_size=BATCH, random_state=0, verbose=0)
    clf.fit(X, y, trusted=mask)
    cb = dict(clf.callbacks_)["auto_meta"]
    probe = clf.ieg_state_.probe
    for k in (0, 1):
        rows, weights = cb.halves_[k]
        assert len(rows) >= cb.n_checks
        chunks = []
        for check in range(cb.n_checks):
            cb.checks_ = check
            xc, yc, wc = cb._chunk(clf, k)
            take = np.arange(check, len(rows), cb.n_checks)
            np.testing.assert_array_equal(yc.numpy(), probe.y[rows[take]].numpy())
            np.testing.assert_array_equal(xc.numpy(), probe.X[rows[take]].numpy())
            np.testing.assert_allclose(wc.numpy(), weights[take], rtol=1e-6)
            chunks.append(rows[take])
        # the epoch's checks are scored on disjoint rows that cover the half
        assert sorted(np.concatenate(chunks).tolist()) == sorted(rows.tolist())
        cb.checks_ = cb.n_checks  # the next epoch starts again at the first chunk
        np.testing.assert_array_equal(cb._chunk(clf, k)[1].numpy(),
                                      probe.y[rows[::cb.n_checks]].numpy())
    small = IEGClassifier(max_epochs=1, batch_size=BATCH, probe_batch_size=2, random_state=0,
                          verbose=0).fit(X, y, trusted=mask)
    cb = dict(small.callbacks_)["auto_meta"]
    cb.checks_ = 0
    assert len(cb._chunk(small, 0)[1]) == 2  # at most probe_batch_size rows


def test_auto_meta_held_out_chunks_have_two_rows_for_batchnorm(data):
    X, y, _ = data
    two = np.isin(y, (0, 1))
    X, y = X[two], y[two]
    mask = np.zeros(len(y), bool)
    mask[np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1)])] = True
    # 6 trusted rows: halves of under 2 * n_checks rows, so fewer chunks than checks;
    # the default MLP has BatchNorm, which rejects a 1-row batch in training mode.
    clf = IEGClassifier(max_epochs=2, batch_size=BATCH, random_state=0, verbose=0)
    clf.fit(X, y, trusted=mask)
    cb = dict(clf.callbacks_)["auto_meta"]
    for k in (0, 1):
        assert 2 <= len(cb.halves_[k][0]) < 2 * cb.n_checks
        for check in range(cb.n_checks):
            cb.checks_ = check
            assert len(cb._chunk(clf, k)[1]) >= 2
    assert np.isfinite(clf.history[-1, "meta_gain"])


def test_auto_meta_takes_large_halves_in_turn(data):
    X, y, mask = data
    clf = IEGClassifier(max_epochs=1, batch_size=BATCH, probe_batch_size=4, random_state=0,
                        verbose=0)
    clf.fit(X, y, trusted=mask)
    cb = dict(clf.callbacks_)["auto_meta"]
    rows_a = cb.halves_[0][0]
    assert len(rows_a) > 4
    cb.turn_ = 0
    first = cb._half(clf, 0)
    cb.turn_ = 1
    second = cb._half(clf, 0)
    probe = clf.ieg_state_.probe
    np.testing.assert_array_equal(first[1].numpy(), probe.y[rows_a[:4]].numpy())
    np.testing.assert_array_equal(second[1].numpy(), probe.y[rows_a[4:8]].numpy())
    assert isinstance(cb.halves_[0][0], np.ndarray)  # no tensors in the callback


def test_estimate_transition_hand_values():
    from sk_ieg.callbacks import estimate_transition

    # Rows: guess (1, 0) labeled 0; guess (1, 0) labeled 1; guess (0.5, 0.5) given as
    # (1, 1) (normalised to 0.5, 0.5) labeled 1. Joint: [[1, 1.5], [0, 0.5]], plus 1/2
    # each cell: [[1.5, 2], [0.5, 1]], rows normalised: [[3/7, 4/7], [1/3, 2/3]].
    guesses = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    T = estimate_transition(guesses, torch.tensor([0, 1, 1]), 2)
    torch.testing.assert_close(T, torch.tensor([[3 / 7, 4 / 7], [1 / 3, 2 / 3]]))


@pytest.fixture(scope="module")
def pairflip_digits():
    from sklearn.datasets import load_digits

    from sk_ieg.noise import make_noisy_labels, split_trusted

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    trusted = np.zeros(len(y), bool)
    trusted[split_trusted(y, 10, random_state=0)] = True
    noisy = y.copy()
    noisy[~trusted] = make_noisy_labels(y[~trusted], "pairflip", 0.4, n_classes=10,
                                        random_state=0)
    return X, y, noisy, trusted


def test_noise_transition_finds_pairflip_noise_and_corrects_with_it(pairflip_digits):
    X, y, noisy, trusted = pairflip_digits
    clf = IEGClassifier(max_epochs=12, verbose=0, random_state=0).fit(X, noisy, trusted=trusted)
    T = clf.noise_transition_
    assert T.shape == (10, 10)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, rtol=1e-5)
    # pair-flip sends class c to c + 1 (mod 10): that is each row's largest
    # off-diagonal entry, and about 40% of the row
    off = T - np.diag(np.diag(T))
    assert (off.argmax(axis=1) == (np.arange(10) + 1) % 10).sum() >= 9
    assert 0.25 < np.median(off.max(axis=1)) < 0.5
    u = ~trusted
    given_acc = np.mean(noisy[u] == y[u])  # about 0.6
    corrected = np.mean(clf.corrected_labels_[u] == y[u])
    assert corrected > given_acc + 0.25
    issues = clf.corrected_labels_ != noisy
    assert (clf.label_quality_[issues] < 0.5).all()
    np.testing.assert_array_equal(clf.label_quality_[trusted], 1.0)


def test_noise_transition_off_is_the_paper_step_and_lambda_rule(pairflip_digits):
    X, y, noisy, trusted = pairflip_digits
    kw = dict(max_epochs=3, verbose=0, random_state=0, ramp_up=0.0)
    on = IEGClassifier(**kw).fit(X, noisy, trusted=trusted)
    off = IEGClassifier(noise_transition=None, **kw).fit(X, noisy, trusted=trusted)
    cb_off = IEGClassifier(callbacks__noise_transition=None, **kw).fit(X, noisy, trusted=trusted)
    assert on.noise_transition_ is not None and off.noise_transition_ is None
    assert cb_off.noise_transition_ is None
    # the first epoch has no estimate yet, so the fits part from the second one on
    assert not np.allclose(on.predict_proba(X), off.predict_proba(X))
    np.testing.assert_allclose(off.predict_proba(X), cb_off.predict_proba(X), rtol=0,
                               atol=1e-6)
    keep = off.relabel_scores_ >= 0.5
    np.testing.assert_array_equal(off.corrected_labels_[keep], noisy[keep])
    np.testing.assert_allclose(off.label_quality_, np.clip(off.relabel_scores_, 0, 1))
