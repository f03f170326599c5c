"""Round 13 scratch runner: ``defaults_search.py`` with the given label's part of the
supervised loss forward-corrected once a noise transition is estimated.

Committed code: both supervised terms use soft targets ``t_i = lam_i onehot(y_i) + (1 -
lam_i) g_i``, i.e. ``lam_i CE(y_i, z_i) + (1 - lam_i) CE(g_i, z_i)``. Here
(``SK_IEG_FWD=1``), while ``noise_transition="auto"`` has an estimate ``T[true, given]``,
the given label's cross-entropy becomes the forward-corrected one (Patrini et al. 2017;
Hendrycks et al. 2018's Gold Loss Correction): ``-log (softmax(z_i) @ T)[y_i]``, whose
minimiser is the clean posterior when ``T`` is right.

    SK_IEG_FWD=1 python ds_fwd.py --dataset digits ... --name fwd --out F

Without SK_IEG_FWD it is the committed code."""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402

_T = {"T": None}
committed_final = step._final_loss


def _final_loss(*args, config, **kw):
    _T["T"] = config.noise_transition
    return committed_final(*args, config=config, **kw)


def _ce(logits, labels, guesses, lam):
    """Per row: lam * forward-corrected CE(y) + (1 - lam) * CE(g)."""
    logp = F.log_softmax(logits, dim=-1)
    ce_g = -(guesses * logp).sum(-1)
    T = _T["T"]
    if T is None:
        ce_y = -(labels * logp).sum(-1)
    else:
        noisy = torch.softmax(logits, dim=-1) @ T.to(logits.dtype)
        ce_y = -(labels * noisy.clamp_min(1e-12).log()).sum(-1)
    return lam * ce_y + (1 - lam) * ce_g


def supervised_loss(logits, labels, guesses, *, omega, lam, lam_init, relabel, reweight):
    if not relabel:
        per_row = _ce(logits, labels, guesses, torch.ones_like(lam))
        return (omega * per_row).sum() if reweight else per_row.mean()
    relabeled = _ce(logits, labels, guesses, lam).mean()
    if not reweight:
        return relabeled
    weighted = (omega * _ce(logits, labels, guesses, torch.full_like(lam, lam_init))).sum()
    return 0.5 * (relabeled + weighted)


def patch():
    step._final_loss = _final_loss
    step.supervised_loss = supervised_loss


scratch.run("SK_IEG_FWD", patch)
