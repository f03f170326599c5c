"""Shared by round 16's ``ds_filter.py`` and ``ds_qsup.py``: what a fit's running row
statistics say about a training batch's labels."""
import torch
import torch.nn.functional as F

from sk_ieg.losses import with_label_evidence


def batch_posterior(net, batch):
    """``(y, posterior, seen)`` for the noisy rows of training ``batch``: their encoded
    labels, the posterior of their running guesses (``RowStatistics``) given the label
    under the fit's estimated transition (as ``label_quality_`` and
    ``corrected_labels_``), and whether each row has been visited yet."""
    state = net.ieg_state_
    yi = torch.as_tensor(batch[1]).to(net.device)
    y, rows = yi[:, 0], yi[:, 1]
    guess = state.stats.guess[rows]
    labels = F.one_hot(y, guess.shape[1]).to(guess.dtype)
    transition = state.transition if net.noise_transition else None
    norm = guess.sum(1, keepdim=True).clamp_min(1e-30)
    posterior = with_label_evidence(guess / norm, labels, transition)
    return y, posterior, state.stats.visits[rows] > 0
