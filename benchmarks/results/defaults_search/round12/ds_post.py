"""Round 12 scratch runner: ``defaults_search.py`` with the meta step's shrinkage
target changed. Committed code: with ``meta_strength = s < 1`` the weights are
``s omega* + (1 - s) / B`` (uniform). Here (``SK_IEG_POST=1``) they are
``s omega* + (1 - s) q / sum(q)`` with ``q_i = g_i[y_i]``, the guessed label's
(posterior, with label evidence) probability that row ``i``'s given label is right.

    SK_IEG_POST=1 python ds_post.py --dataset digits ... --name post --out F

Without SK_IEG_POST it is the committed code."""
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402

committed = step.meta_step


def meta_step(fcall, params, logits, x_weak, x_probe_weak, y_probe, *, labels, guesses,
              config, **kw):
    s = config.meta_strength
    if not config.reweight or s >= 1.0:
        return committed(fcall, params, logits, x_weak, x_probe_weak, y_probe,
                         labels=labels, guesses=guesses, config=config, **kw)
    full = dataclasses.replace(config, meta_strength=1.0)
    omega, lam, probe_loss = committed(fcall, params, logits, x_weak, x_probe_weak,
                                       y_probe, labels=labels, guesses=guesses,
                                       config=full, **kw)
    q = (guesses * labels).sum(1)
    total = q.sum()
    prior = q / total if total > 0 else torch.full_like(q, 1.0 / len(q))
    return s * omega + (1.0 - s) * prior, lam, probe_loss


def patch():
    step.meta_step = meta_step


scratch.run("SK_IEG_POST", patch)
