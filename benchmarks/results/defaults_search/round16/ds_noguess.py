"""Round 16 scratch runner: ``defaults_search.py`` with the guesses taken out of the
supervised term: its targets become ``lambda_i * onehot(y_i)`` (relabeled half) and
``lambda_0 * onehot(y_i)`` (weighted half), so a row the meta step relabels adds nothing
there instead of a cross-entropy to its guess; the guesses still drive the meta step,
the mixup targets and the row statistics.

Told which labels are wrong (``ds_oracle.py``), the step with exact relabel decisions and
no weighted half (``orlamonly``, right rows on their label, wrong rows on their guess)
reached 0.947 on digits plain MLP 80%, and with the wrong rows dropped instead
(``orsupall``, the same scale) 0.970: the cross-entropy to the network's own guesses is
what costs there. ``SK_IEG_NOGUESS=1``; without it the committed code.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402


def patch():
    supervised_loss = step.supervised_loss
    step.supervised_loss = lambda logits, labels, guesses, **kwargs: supervised_loss(
        logits, labels, torch.zeros_like(guesses), **kwargs)


scratch.run("SK_IEG_NOGUESS", patch)
