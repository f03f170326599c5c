"""The meta-step machinery around the steps and epochs, as skorch callbacks.

:class:`~sk_ieg.IEGClassifier` installs these from ``get_default_callbacks``
(before skorch's ``print_log``), under the names in brackets; each can be
replaced or turned off like any skorch default, e.g. ``callbacks__convergence=None``:

* :class:`FiniteCheck` (``finite_check``): stops a diverging fit at the first
  non-finite training or probe loss, with a :class:`NonFiniteLossError`.
* :class:`CosineRestartSchedule` (``lr_schedule``): the learning rate per batch.
  Left out when the user passes a skorch ``LRScheduler``, which then drives the
  rate alone.
* :class:`RampUp` (``ramp_up``): the weight of the unsupervised terms, ramped up
  over the first part of training, and when relabeling starts.
* :class:`RecordLR` (``record_lr``): history's ``lr``, the rate the optimizer used,
  per batch and per epoch (the last batch's).
* :class:`WeightAverage` (``weight_average``): the exponential moving average of
  the weights that predictions use.
* :class:`RowStatistics` (``row_statistics``): per-row running averages of the meta
  step's results, history's ``probe_loss`` and ``relabeled``, and at the end of
  training ``sample_weights_``, ``relabel_scores_``, ``label_quality_`` and
  ``corrected_labels_``.
* :class:`AutoConsistency` (``auto_consistency``): with ``consistency_weight="auto"``,
  the consistency weight, from whether its gradient agrees with the probe's.
* :class:`AutoMetaStrength` (``auto_meta``): with ``meta_strength="auto"`` and
  ``relabel_strength="auto"``, how much of the meta step's weights and relabeling the
  step uses, from whether choices made by one half of the trusted rows help the other.
* :class:`NoiseTransition` (``noise_transition``): with ``noise_transition="auto"``,
  the estimate of how the given labels are corrupted, which turns the guesses into
  posteriors given each row's label.
* :class:`ConvergenceCheck` (``convergence``): warns when training did not learn.

They take their settings from the estimator's parameters (``lr_schedule``,
``first_cycle_epochs``, ``ramp_up``, ``ema_decay``, ``statistics_decay``), so each
hyper-parameter stays declared once. Tensors live in the estimator's
``ieg_state_`` (pickled device-aware), not in the callbacks.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from sk_ieg.data import is_image_shape, n_batches
from sk_ieg.losses import with_label_evidence
from sk_ieg.schedule import cosine_restarts, first_cycle_length, sigmoid_ramp_up
from sk_ieg.state import TORCH_PROCESS_LOCK, RowStats
from sk_ieg.step import consistency_alignment, meta_generalization

#: The consistency weight that ``consistency_weight="auto"`` starts from and never
#: exceeds: the paper's constant weight.
AUTO_CONSISTENCY_WEIGHT = 20.0

__all__ = ["AUTO_CONSISTENCY_WEIGHT", "AutoConsistency", "AutoMetaStrength", "ConvergenceCheck",
           "CosineRestartSchedule", "FiniteCheck", "NonFiniteLossError", "RampUp", "RecordLR",
           "NoiseTransition", "RowStatistics", "WeightAverage", "estimate_transition",
           "ieg_callbacks"]


class NonFiniteLossError(FloatingPointError, ValueError):
    """Training diverged: a loss became NaN or infinite (the fit is undone)."""


def _diverged(net, what: str, value) -> NonFiniteLossError:
    epoch, step = len(net.history), len(net.history[-1, "batches"])
    return NonFiniteLossError(
        f"IEG training diverged: {what} is {value} at epoch {epoch}, step {step}. Likely "
        f"causes: lr={net.lr!r} too high for this network, a module whose outputs are not "
        "finite, or inputs on a very large scale (standardise X). The estimator is left as "
        "it was before this call.")


class FiniteCheck(Callback):
    """Stops training at the first step whose training loss, probe loss or logits are
    not finite, and at the end of an epoch whose predictions on trusted rows are not,
    with a :class:`NonFiniteLossError` naming the epoch, the step and likely causes (the
    estimator then undoes the fit: see ``IEGClassifier.fit``)."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        for what, name in (("loss", "the training loss"), ("probe_loss", "the probe loss"),
                           ("y_pred", "a logit of the batch")):
            value = kwargs.get(what)
            if value is not None and not bool(torch.isfinite(value).all()):
                bad = value.detach().reshape(-1)[~torch.isfinite(value.detach().reshape(-1))]
                raise _diverged(net, name, float(bad[0]))

    def on_epoch_end(self, net, **kwargs):
        # Weights can grow huge yet finite, and predictions overflow: check what
        # predict would compute, on (up to 256) trusted rows.
        logits = net.evaluation_step((net.ieg_state_.probe.X[:256], None), training=False)
        if not bool(torch.isfinite(logits).all()):
            raise _diverged(net, "the prediction on a trusted row", "not finite")


def _optimizer_lr(net) -> float:
    return net.optimizer_.param_groups[0]["lr"]


class CosineRestartSchedule(Callback):
    """The estimator's ``lr_schedule`` per batch: each param group's base rate times
    :func:`~sk_ieg.schedule.cosine_restarts` (``"cosine_restarts"``) or times 1
    (``"constant"``), over the steps of this call of ``fit`` / ``partial_fit``.

    The base rates are the optimizer's at the start of the first training call (the
    estimator's ``lr``, or per-group rates); ``partial_fit`` starts a new schedule from
    them, scaled by ``lr`` / the first call's ``lr`` after ``set_params(lr=...)``.
    """

    def initialize(self):
        self.base_lrs_ = None
        self.lr_ = None
        self.step_ = 0
        self.steps_per_epoch_ = self.total_steps_ = self.first_cycle_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.base_lrs_ is None:
            self.base_lrs_ = [g["lr"] for g in net.optimizer_.param_groups]
        elif net.lr != self.lr_:
            self.base_lrs_ = [b * net.lr / self.lr_ if self.lr_ else net.lr
                              for b in self.base_lrs_]
        self.lr_ = net.lr
        self.step_ = 0
        self.steps_per_epoch_ = n_batches(len(X), net.batch_size)
        self.total_steps_ = self.steps_per_epoch_ * net.max_epochs
        self.first_cycle_ = first_cycle_length(
            net.first_cycle_epochs, net.max_epochs,
            images=is_image_shape(net.input_shape_)) * self.steps_per_epoch_

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        if net.lr_schedule == "cosine_restarts":
            factor = cosine_restarts(self.step_, self.total_steps_, self.first_cycle_)
        else:
            factor = 1.0
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base * factor

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.step_ += 1


class RampUp(Callback):
    """The estimator's ``ramp_up``: over the first ``ramp_up * max_epochs`` epochs the
    consistency and noisy-row mixup weights grow from near 0 to their values along
    :func:`~sk_ieg.schedule.sigmoid_ramp_up`, and relabeling starts once the ramp
    is done (before that, the meta step only re-weights the given labels).

    The count of steps runs across ``partial_fit`` calls and restarts with ``fit``.
    Sets ``net.ieg_state_.ramp``, which ``step_config`` reads.
    """

    def initialize(self):
        self.step_ = 0
        self.length_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.length_ is None:
            self.length_ = net.ramp_up * net.max_epochs * n_batches(len(X), net.batch_size)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            net.ieg_state_.ramp = sigmoid_ramp_up(self.step_, self.length_)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.step_ += 1


class AutoConsistency(Callback):
    """``consistency_weight="auto"``: the probe decides the consistency weight.

    On the first ``n_checks`` training batches of every epoch (after their step) it
    measures :func:`~sk_ieg.step.consistency_alignment`, the cosine between the
    probe loss's gradient and the consistency loss's gradient. At the end of the
    epoch the weight's scale doubles (up to 1, i.e. :data:`AUTO_CONSISTENCY_WEIGHT`)
    when the mean cosine is more than two standard errors above 0 (the consistency
    term measurably helps the trusted rows) and the epoch's mean probe loss
    (history's ``probe_loss``, from the ``row_statistics`` callback; without it the
    guard is off) is no higher than the epoch before's; it stays when the
    cosine says the term helps but the probe loss rose, and halves otherwise (down to
    ``min_scale``). The cosine is a first-order check of the direction only: on a
    table with clean labels it stayed positive while the doubling weight drove the
    probe loss from 0.36 to 1.3 and the test accuracy from 0.95 to 0.55 (round 14 of
    ``benchmarks/results/defaults_search``). Starts at full weight. Records
    ``consistency_weight`` (the weight used in the epoch) and
    ``consistency_alignment`` in the history.

    Parameters
    ----------
    n_checks : int, default=4
    min_scale : float, default=1/16
    """

    def __init__(self, n_checks: int = 4, min_scale: float = 1 / 16):
        self.n_checks = n_checks
        self.min_scale = min_scale

    def initialize(self):
        self.scale_ = 1.0
        self.cosines_ = []
        self.probe_loss_ = None  # the last epoch's mean probe loss, as history has it
        return self

    def on_train_begin(self, net, **kwargs):
        net.ieg_state_.consistency_scale = self.scale_

    def on_epoch_begin(self, net, **kwargs):
        self.cosines_ = []

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training or net.consistency_weight != "auto" or net.n_views < 2 \
                or len(self.cosines_) >= self.n_checks:
            return
        net.module_.train()
        x = torch.as_tensor(batch[0], device=net.device)
        rng = net.ieg_state_.rng
        # Under the step's process lock: the check seeds torch's global generator for
        # dropout, which a fit in another thread of this process may be drawing from.
        with TORCH_PROCESS_LOCK:
            cosine = consistency_alignment(net.module_, x, *net.probe_batch(),
                                           make_view=net.view_function(),
                                           n_strong=net.n_views - 1,
                                           seed_generator=rng.seeds or rng.views)
        self.cosines_.append(float(cosine))

    def on_epoch_end(self, net, **kwargs):
        last, self.probe_loss_ = self.probe_loss_, net.history[-1].get("probe_loss")
        if net.consistency_weight != "auto":
            return
        net.history.record("consistency_weight", AUTO_CONSISTENCY_WEIGHT * self.scale_)
        if not self.cosines_:
            return
        scale, mean = _halve_or_double(self.scale_, self.cosines_, self.min_scale)
        rose = None not in (last, self.probe_loss_) and self.probe_loss_ > last
        self.scale_ = self.scale_ if scale > self.scale_ and rose else scale
        net.history.record("consistency_alignment", mean)
        net.ieg_state_.consistency_scale = self.scale_


def _halve_or_double(scale: float, values, min_scale: float) -> tuple[float, float]:
    """``(new scale, mean)``: double (up to 1) when the mean of ``values`` is more than
    two standard errors above 0, else halve (down to ``min_scale``)."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.inf
    helps = mean - 2 * se > 0
    return (min(1.0, 2 * scale) if helps else max(min_scale, scale / 2)), mean


def split_halves(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of the trusted rows, alternating within each class (in the
    rows' order): ``(indices A, indices B)``. No random draw, so the split does not
    move any of the fit's random streams."""
    first = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        first[np.flatnonzero(y == c)[::2]] = True
    return np.flatnonzero(first), np.flatnonzero(~first)


class AutoMetaStrength(Callback):
    """``meta_strength="auto"`` / ``relabel_strength="auto"``: the trusted rows decide
    how far to follow the meta step's weights and its relabeling.

    The trusted rows are split into two halves (:func:`split_halves`). On the first
    ``n_checks`` training batches of every epoch (after their step) it measures
    :func:`~sk_ieg.step.meta_generalization`, both ways round: how much more the loss of
    rows of one half falls, to first order, under a step on the noisy rows weighted (column 0)
    or relabeled (column 1) as the other half's meta-gradient says, than under a
    plain step on the given labels. The choices are made on the whole other half; the
    gain is scored on one chunk of the half, a different one at each check of the
    epoch (:meth:`_chunk`), so the epoch's gains come from disjoint trusted rows and
    their standard error counts how much the gain varies from row to row. (Scored on
    the same rows at every check, the gains of a few trusted rows the network keeps
    getting wrong looked significant on two-class tables, and the full meta step
    stayed on while it drove the network below plain training.) At the end of the
    epoch each strength doubles (up to 1: the paper's step) when its mean gain is more
    than two standard errors above 0 (choices made by some trusted rows help trusted
    rows they did not see) and halves otherwise (down to ``min_scale``). Where the
    meta step fits the trusted rows rather than the task the strengths fall and the
    step moves towards plain training; where its choices carry over they stay at 1.
    Both start at 1. The halves' rows are weighted by the class mix of the probe
    batches (``probe_prior``); each half chooses with at most ``probe_batch_size``
    rows per check, taken in turn, and scores on at most as many; with fewer than 2
    rows in a half there is no check and the strengths stay at 1. Records
    ``meta_strength`` / ``relabel_strength`` (used in the epoch) and ``meta_gain`` /
    ``relabel_gain`` in the history, for each parameter set to ``"auto"``.

    Parameters
    ----------
    n_checks : int, default=4
    min_scale : float, default=1/16
    """

    #: (estimator parameter, column of meta_generalization, history's gain key)
    _TERMS = (("meta_strength", 0, "meta_gain"), ("relabel_strength", 1, "relabel_gain"))

    def __init__(self, n_checks: int = 4, min_scale: float = 1 / 16):
        self.n_checks = n_checks
        self.min_scale = min_scale

    def initialize(self):
        self.scales_ = {name: 1.0 for name, _, _ in self._TERMS}
        self.gains_ = {name: [] for name, _, _ in self._TERMS}
        self.halves_ = None
        self.turn_ = 0  # checks so far, over the fit (which rows of a large half)
        self.checks_ = 0  # checks this epoch
        return self

    def _auto(self, net) -> list:
        """The terms set to ``"auto"`` that this fit uses."""
        used = {"meta_strength": net.reweight, "relabel_strength": net.relabel}
        return [t for t in self._TERMS if getattr(net, t[0]) == "auto" and used[t[0]]]

    def on_train_begin(self, net, **kwargs):
        state = net.ieg_state_
        for name, scale in self.scales_.items():
            setattr(state, name, scale)
        y = state.probe.y.cpu().numpy()
        halves = split_halves(y)
        self.halves_ = None
        # at least 2 rows a half (BatchNorm trains on no fewer); numpy here, tensors
        # live in ieg_state_
        if min(len(h) for h in halves) >= 2:
            shares = state.probe.sampler.class_shares()
            idx = np.searchsorted(state.probe.sampler.classes, y)
            self.halves_ = [(h, shares[idx[h]] / np.bincount(idx[h], minlength=len(shares))[idx[h]])
                            for h in halves]

    def on_epoch_begin(self, net, **kwargs):
        self.gains_ = {name: [] for name, _, _ in self._TERMS}
        self.checks_ = 0

    def _half(self, net, k):
        rows, weights = self.halves_[k]
        size = net.probe_batch_size or net.batch_size
        if len(rows) > size:  # the next `size` rows of the half, in turn
            take = (self.turn_ * size + np.arange(size)) % len(rows)
            rows, weights = rows[take], weights[take]
        probe = net.ieg_state_.probe
        index = torch.as_tensor(rows, device=probe.X.device)
        return probe.X[index], probe.y[index], torch.as_tensor(weights, dtype=probe.X.dtype,
                                                              device=probe.X.device)

    def _chunk(self, net, k):
        """This check's held-out rows of half ``k``: those at positions ``j``,
        ``j + c``, ``j + 2c``, ... of the half, for check ``j`` of the epoch and ``c =
        min(n_checks, len(half) // 2)`` chunks (at most ``probe_batch_size`` rows each;
        at least 2, which a BatchNorm layer in training mode needs)."""
        rows, weights = self.halves_[k]
        chunks = max(1, min(self.n_checks, len(rows) // 2))
        take = np.arange(self.checks_ % chunks, len(rows), chunks)
        take = take[:net.probe_batch_size or net.batch_size]
        probe = net.ieg_state_.probe
        index = torch.as_tensor(rows[take], device=probe.X.device)
        return probe.X[index], probe.y[index], torch.as_tensor(weights[take],
                                                              dtype=probe.X.dtype,
                                                              device=probe.X.device)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        terms = self._auto(net) if training else []
        if not terms or self.halves_ is None or self.checks_ >= self.n_checks:
            return
        net.module_.train()
        x = torch.as_tensor(batch[0], device=net.device)
        y = torch.as_tensor(batch[1], device=net.device)[:, 0]
        rng = net.ieg_state_.rng
        with TORCH_PROCESS_LOCK:  # seeds torch's global generator for dropout
            gains = meta_generalization(
                net.module_, x, y, self._half(net, 0), self._half(net, 1),
                make_view=net.view_function(), n_strong=net.n_views - 1,
                temperature=net.temperature, seed_generator=rng.seeds or rng.views,
                held_out=(self._chunk(net, 0), self._chunk(net, 1)))
        self.turn_ += 1
        self.checks_ += 1
        for name, column, _ in terms:
            self.gains_[name] += gains[:, column].tolist()

    def on_epoch_end(self, net, **kwargs):
        for name, _, gain_key in self._auto(net):
            net.history.record(name, self.scales_[name])
            if self.gains_[name]:
                self.scales_[name], mean = _halve_or_double(self.scales_[name],
                                                            self.gains_[name],
                                                            self.min_scale)
                net.history.record(gain_key, mean)
                setattr(net.ieg_state_, name, self.scales_[name])


class RecordLR(Callback):
    """History's ``lr``: the first param group's rate at every training batch (read
    after the optimizer step, before any scheduler moves it on) and, per epoch, the
    rate of its last batch."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            net.history.record_batch("lr", _optimizer_lr(net))

    def on_epoch_end(self, net, **kwargs):
        batches = net.history[-1, "batches"]
        rates = [b["lr"] for b in batches if "lr" in b]
        net.history.record("lr", rates[-1] if rates else _optimizer_lr(net))


class WeightAverage(Callback):
    """Exponential moving average of the weights (``ema_decay``; None: off), with the
    usual warm-up ``min(decay, (1 + t) / (10 + t))`` at step ``t`` of this training
    call. Floating parameters are averaged; BatchNorm statistics and counters are
    copied. The average lives in ``net.ieg_state_.average`` and is kept over
    ``partial_fit``."""

    def initialize(self):
        self.step_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        self.step_ += 1
        if net.ema_decay is None:
            return
        state = net.ieg_state_
        params = dict(net.module_.named_parameters())
        buffers = dict(net.module_.named_buffers())
        with torch.no_grad():
            if state.average is None:
                state.average = {k: v.detach().clone() for k, v in {**params, **buffers}.items()}
                return
            decay = min(net.ema_decay, (1 + self.step_) / (10 + self.step_))
            for k, p in params.items():
                if p.dtype.is_floating_point:
                    state.average[k].lerp_(p, 1 - decay)
                else:
                    state.average[k].copy_(p)
            for k, b in buffers.items():
                state.average[k].copy_(b)


class RowStatistics(Callback):
    """Per-row running averages of the meta step (decay ``statistics_decay``), the
    per-epoch means ``probe_loss`` and ``relabeled`` in history, and at the end of
    training the fitted ``sample_weights_``, ``relabel_scores_``, ``label_quality_``
    and ``corrected_labels_`` (aligned with the rows of ``X``; the last two from the
    posterior given each row's label when ``noise_transition`` estimated a
    transition) and ``noise_transition_``; see :class:`~sk_ieg.IEGClassifier`."""

    def initialize(self):
        self.sums_ = {}
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        device = net.ieg_state_.probe.X.device
        net.ieg_state_.stats = RowStats.zeros(len(X), len(net.classes_), device)
        self.sums_ = {}

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        st, d = net.ieg_state_.stats, net.statistics_decay
        rows, omega, lam = kwargs["rows"], kwargs["omega"], kwargs["lam"]
        n = omega.shape[0]
        # Capped at the uniform weight: a step's normalised weight above 1/B mostly
        # reflects how few rows of that batch got any weight, not the row itself.
        capped = (omega * n).clamp(max=1.0)
        st.weight[rows] = d * st.weight[rows] + (1 - d) * capped
        st.keep[rows] = d * st.keep[rows] + (1 - d) * lam
        st.guess[rows] = d * st.guess[rows] + (1 - d) * kwargs["guesses"]
        st.visits[rows] += 1
        sums = self.sums_
        if kwargs.get("probe_loss") is not None:
            sums["probe_loss"] = sums.get("probe_loss", 0.0) + kwargs["probe_loss"]
        sums["relabeled"] = sums.get("relabeled", 0.0) + (1 - lam).sum()
        sums["rows"] = sums.get("rows", 0) + n
        sums["steps"] = sums.get("steps", 0) + 1

    def on_epoch_end(self, net, **kwargs):
        sums, self.sums_ = self.sums_, {}
        if sums.get("steps"):
            if "probe_loss" in sums:
                net.history.record("probe_loss", float(sums["probe_loss"]) / sums["steps"])
            net.history.record("relabeled", float(sums["relabeled"]) / sums["rows"])

    def on_train_end(self, net, **kwargs):
        st, rows = net.ieg_state_.stats, net.ieg_state_.rows
        seen = st.visits > 0
        norm = 1 - net.statistics_decay ** st.visits.clamp_min(1).double()
        weights = torch.where(seen, st.weight.double() / norm, torch.ones_like(norm))
        keep = torch.where(seen, st.keep.double() / norm, torch.ones_like(norm))
        mean = weights.mean()
        weights = weights / mean if mean > 0 else torch.ones_like(weights)
        keep = keep.cpu().numpy()
        guessed = st.guess.argmax(dim=1).cpu().numpy()
        corrected = np.where(keep >= 0.5, rows.labels, guessed)
        quality = np.clip(keep, 0.0, 1.0)
        transition = net.ieg_state_.transition if net.noise_transition else None
        if transition is not None and net.relabel:  # the posterior given the row's label
            given = torch.as_tensor(rows.labels, device=st.guess.device)
            labels = F.one_hot(given, st.guess.shape[1]).to(st.guess.dtype)
            posterior = with_label_evidence(st.guess, labels, transition)
            corrected = posterior.argmax(1).cpu().numpy()
            quality = (posterior * labels).sum(1).double().cpu().numpy()
        net.noise_transition_ = None if transition is None else transition.cpu().numpy()
        net.sample_weights_ = rows.align(weights.cpu().numpy(), 1.0)
        net.relabel_scores_ = rows.align(keep, 1.0)
        net.label_quality_ = rows.align(quality, 1.0)
        net.corrected_labels_ = net.classes_[rows.align(corrected, rows.trusted_labels)]


def estimate_transition(guesses: torch.Tensor, given: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``T[c, j]``, the estimated share of rows of true class ``c`` labeled ``j``: the
    soft joint ``sum_i g_i(c) [y_i = j]`` of guesses ``g_i`` (each normalised to sum 1)
    and given labels ``y_i``, plus ``1 / n_classes`` in every cell, normalised per row
    (float32, on the guesses' device)."""
    g = guesses.double() / guesses.double().sum(dim=1, keepdim=True).clamp_min(1e-30)
    joint = g.T @ F.one_hot(given, n_classes).double() + 1.0 / n_classes
    return (joint / joint.sum(dim=1, keepdim=True)).float()


class NoiseTransition(Callback):
    """``noise_transition="auto"``: at the end of every epoch after the ramp-up,
    :func:`estimate_transition` from the running guesses of the rows seen so far
    (the ``row_statistics`` callback's) and their given labels, into
    ``ieg_state_.transition``, which the next epoch's steps use to turn the guesses
    into posteriors given each row's label
    (:func:`~sk_ieg.losses.with_label_evidence`). The guesses come from the
    network alone, so the estimate does not feed on its own posteriors."""

    def on_epoch_end(self, net, **kwargs):
        state = net.ieg_state_
        if net.noise_transition != "auto" or state.ramp < 1.0 or state.stats is None:
            return
        stats = state.stats
        seen = stats.visits > 0
        if not bool(seen.any()):
            return
        given = torch.as_tensor(state.rows.labels, device=stats.guess.device)
        state.transition = estimate_transition(stats.guess[seen], given[seen],
                                               len(net.classes_))


class ConvergenceCheck(Callback):
    """Warns (``ConvergenceWarning``) when the last epoch's probe loss, the
    cross-entropy on trusted rows after the virtual step, is no lower than
    ``ln(n_classes)``, a uniform guess's: training collapsed or never started."""

    def on_train_end(self, net, **kwargs):
        last = next((h["probe_loss"] for h in reversed(net.history) if "probe_loss" in h),
                    None)
        k = len(net.classes_)
        chance = math.log(k)
        if last is not None and last >= chance:
            warnings.warn(
                f"IEG training did not learn: the trusted (probe) loss of the last epoch, "
                f"{last:.3f}, is no lower than a uniform guess's, ln({k}) = {chance:.3f}, so "
                "predictions are likely near-constant. Try more epochs, a lower lr or "
                "consistency_weight, or a network with normalisation layers "
                "(see history_[:, 'probe_loss']).", ConvergenceWarning,
                stacklevel=6)  # on_train_end < notify < skorch's partial_fit < fit < caller


def ieg_callbacks(*, schedule: bool = True) -> list:
    """The named default callbacks of :class:`~sk_ieg.IEGClassifier`, in order;
    ``schedule=False`` leaves out the learning-rate schedule."""
    named = [("finite_check", FiniteCheck())]
    named += [("lr_schedule", CosineRestartSchedule())] if schedule else []
    # The "auto" checks come after row_statistics, whose epoch's probe_loss
    # auto_consistency reads from the history; neither step nor weights depend on the
    # order of those in between.
    return named + [("ramp_up", RampUp()), ("record_lr", RecordLR()),
                    ("weight_average", WeightAverage()), ("row_statistics", RowStatistics()),
                    ("auto_consistency", AutoConsistency()), ("auto_meta", AutoMetaStrength()),
                    ("noise_transition", NoiseTransition()), ("convergence", ConvergenceCheck())]
