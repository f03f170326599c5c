"""Round 15 scratch runner: ``defaults_search.py`` with the noisy rows' mixup targets taken
from the guesses' posterior under a capped transition: ``T'[c, j] = T[c, j]`` for ``c !=
j`` and ``T'[j, j] = min(T[j, j], max_{c != j} T[c, j])``. A given label then still says
which classes could have produced it (pair-flip: ``j`` or ``j - 1``), but no longer
favours itself over the most likely confusion (uniform noise: no tilt at all, the raw
guesses; ``ds_rawmix.py`` takes the raw guesses everywhere). The supervised term keeps
the committed posterior.

    SK_IEG_CAPMIX=1 python ds_capmix.py --dataset digits ... --name capmix --out F

Without SK_IEG_CAPMIX it is the committed code."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ds_rawmix as mix  # noqa: E402
import scratch  # noqa: E402


def capped(transition):
    t = transition.clone()
    eye = torch.eye(len(t), dtype=torch.bool, device=t.device)
    largest_confusion = t.masked_fill(eye, float("-inf")).amax(dim=0)
    t[eye] = torch.minimum(t.diagonal(), largest_confusion)
    return t


def patch():
    mix.patch(lambda: mix.committed_evidence(mix.last["raw"], mix.last["labels"],
                                             capped(mix.last["transition"])))


if __name__ == "__main__":
    scratch.run("SK_IEG_CAPMIX", patch)
