"""Shared by round 16's scratch runners: what a fit's running row statistics say about
its noisy rows' labels (``ds_filter.py``, ``ds_qsup.py``, ``ds_freeze.py``), the bench
split's truth about them (``ds_oracle.py``, ``ds_freeze.py``), and per-step state set
before each training step (every ``ds_*.py`` of the round that patches a step)."""
import torch
import torch.nn.functional as F

import sk_ieg.bench.runner as runner
import sk_ieg.estimator as estimator
from sk_ieg.losses import with_label_evidence


def row_posterior(net, rows, y):
    """``(posterior, seen)`` for noisy rows ``rows`` with encoded labels ``y``: the
    posterior of their running guesses (``RowStatistics``) given the label under the fit's
    estimated transition (as ``label_quality_`` and ``corrected_labels_``), and whether
    each row has been visited yet."""
    state = net.ieg_state_
    guess = state.stats.guess[rows]
    labels = F.one_hot(y, guess.shape[1]).to(guess.dtype)
    transition = state.transition if net.noise_transition else None
    norm = guess.sum(1, keepdim=True).clamp_min(1e-30)
    posterior = with_label_evidence(guess / norm, labels, transition)
    return posterior, state.stats.visits[rows] > 0


def batch_posterior(net, batch):
    """``(y, posterior, seen)`` for the noisy rows of training ``batch``: their encoded
    labels and :func:`row_posterior`."""
    yi = torch.as_tensor(batch[1]).to(net.device)
    y, rows = yi[:, 0], yi[:, 1]
    return (y, *row_posterior(net, rows, y))


def record_truth(store):
    """Make the bench's IEG fits put in ``store["right"]`` whether each noisy row's given
    label is right (a numpy bool array aligned with the rows the fit sees: the bench
    passes the trusted rows apart). A diagnostic: the step itself never sees it."""
    fit_method = runner._fit_ieg_method

    def fit_told(method, data, *args, **kwargs):
        store["right"] = data.y == data.y_true
        return fit_method(method, data, *args, **kwargs)

    runner._fit_ieg_method = fit_told


def around_train_step(before, state, keys):
    """Make every training step call ``before(net, batch)`` first (it fills per-step
    entries of ``state`` for the patched parts of the step to read), and set ``state[k]``
    back to None for each of ``keys`` after the step, so that nothing outside a training
    step (the epoch-end checks) sees them."""
    train_step_single = estimator.IEGClassifier.train_step_single

    def wrapped(self, batch, **fit_params):
        before(self, batch)
        try:
            return train_step_single(self, batch, **fit_params)
        finally:
            for k in keys:
                state[k] = None

    estimator.IEGClassifier.train_step_single = wrapped
