"""Round 15 scratch runner: ``defaults_search.py`` with UDA's confidence mask on the
consistency term (Xie et al., 2020): only the rows whose weak-view softmax has a top
probability of at least ``SK_IEG_UDA`` (e.g. 0.8) contribute their KL; the sum is still
divided by the batch size. The step and the consistency check both use the masked term.

    SK_IEG_UDA=0.8 python ds_uda.py --dataset digits ... --name uda08 --out F

Without SK_IEG_UDA it is the committed code."""
import os
import sys
from pathlib import Path

import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402


def masked_kl(logits_weak, logits_strong):
    log_p = F.log_softmax(logits_weak.detach(), dim=-1)
    log_q = F.log_softmax(logits_strong, dim=-1)
    mask = (log_p.exp().amax(dim=-1) >= float(os.environ["SK_IEG_UDA"])).to(log_p.dtype)
    return ((log_p.exp() * (log_p - log_q)).sum(dim=-1) * mask).mean()


def patch():
    step.kl_consistency = masked_kl


scratch.run("SK_IEG_UDA", patch)
