"""Round 16 scratch runner: ``defaults_search.py`` with distribution alignment of the
guesses (ReMixMatch, Berthelot et al. 2020): before the label evidence is applied, each
step's raw guesses are multiplied by ``target / running_mean(guesses)`` and renormalised,
where ``running_mean`` is an EMA (decay ``SK_IEG_ALIGN``, e.g. 0.99) of the batches' mean
raw guess and ``target`` the same EMA of the batches' given-label frequencies. So the
guesses are kept, on average over the training rows, at the labels' class mix instead of
drifting towards the classes the network finds easy. Only the step's guesses change (the
epoch-end check is unchanged). Without SK_IEG_ALIGN it is the committed code.

    SK_IEG_ALIGN=0.99 python ds_align.py --dataset digits ... --name align --out F
"""
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import scratch  # noqa: E402
from rows import around_train_step  # noqa: E402

import sk_ieg.step as step  # noqa: E402

_state = {"labels": None, "mean": None, "target": None}


def patch():
    decay = float(os.environ["SK_IEG_ALIGN"])
    guess_labels = step.guess_labels

    def aligned(logits_views, *, temperature=0.5, normalize=True):
        g = guess_labels(logits_views, temperature=temperature, normalize=normalize)
        labels = _state["labels"]
        if labels is None:  # the epoch-end check
            return g
        _state["labels"] = None
        freq = F.one_hot(labels, g.shape[-1]).to(g.dtype).mean(0)
        if _state["mean"] is None:
            _state["mean"], _state["target"] = g.mean(0), freq
        else:
            _state["mean"] = decay * _state["mean"] + (1 - decay) * g.mean(0)
            _state["target"] = decay * _state["target"] + (1 - decay) * freq
        g = g * (_state["target"] / _state["mean"].clamp_min(1e-6))
        return g / g.sum(-1, keepdim=True)

    def labels(net, batch):
        _state["labels"] = torch.as_tensor(batch[1])[:, 0].to(net.device)

    step.guess_labels = aligned
    around_train_step(labels, _state, ("labels",))


scratch.run("SK_IEG_ALIGN", patch)
