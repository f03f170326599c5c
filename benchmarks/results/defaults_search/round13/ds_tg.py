"""Round 13 scratch runner: ``defaults_search.py`` with temporally ensembled guesses.

Committed code: a row's guess is the sharpened average of this step's views' softmax
(``guess_labels``). Here (``SK_IEG_TG=1``) the average is taken half and half with the
row's running early-learning target (the average of its earlier weak-view predictions,
decay 0.7 a visit, kept by the step when ``early_learning_weight > 0``), as temporal
ensembling (Laine & Aila 2017) does, for rows seen before; then sharpened as before.

    SK_IEG_TG=1 python ds_tg.py --dataset digits ... --name tg --out F

Without SK_IEG_TG it is the committed code."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402
from sk_ieg import IEGClassifier  # noqa: E402
from sk_ieg.losses import logit_norm, sharpen  # noqa: E402

_G = {"t": None}
committed = IEGClassifier.objective


def objective(*args, early_targets=None, **kw):
    _G["t"] = early_targets
    try:
        return committed(*args, early_targets=early_targets, **kw)
    finally:
        _G["t"] = None


def guess_labels(logits_views, *, temperature=0.5, normalize=True):
    z = logit_norm(logits_views) if normalize else logits_views
    p = torch.softmax(z, dim=-1).mean(dim=0)
    t = _G["t"]
    if t is not None and t.shape == p.shape:
        total = t.sum(dim=1, keepdim=True)
        p = torch.where(total > 0, 0.5 * (p + t / total.clamp_min(1e-30)), p)
    return sharpen(p, temperature)


def patch():
    IEGClassifier.objective = staticmethod(objective)
    step.guess_labels = guess_labels


scratch.run("SK_IEG_TG", patch)
