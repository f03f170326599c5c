"""Round 17 scratch runner: a noise-robust loss in the supervised term.

``SK_IEG_GCE=KIND,Q`` replaces the supervised term's cross-entropy (both halves, the
relabeled and the weighted one; the meta step, consistency, early-learning and mixup
terms are the committed code's):

- ``gce``: generalised cross-entropy (Zhang & Sabuncu, NeurIPS 2018) on soft targets,
  ``sum_c t_c (1 - p_c^Q) / Q``; its gradient is cross-entropy's times ``p_c^Q``, so
  rows whose target the network does not lean to count less, and the term's scale falls.
- ``w``: cross-entropy weighted by ``stopgrad(<t, p>^Q)`` over its batch mean: GCE's
  per-row emphasis at cross-entropy's scale.

    SK_IEG_GCE=gce,0.7 python ds_gce.py --dataset digits ... --name N --out F
"""
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.losses as losses  # noqa: E402


def patch():
    kind, q = os.environ["SK_IEG_GCE"].split(",")
    q = float(q)

    def robust(logits, targets, *, reduction="mean"):
        p = torch.softmax(logits, dim=-1)
        if kind == "gce":
            per_row = (targets * (1 - p.clamp_min(1e-12) ** q)).sum(-1) / q
        else:
            w = ((targets * p).sum(-1).detach().clamp_min(1e-12) ** q)
            per_row = (w / w.mean()) * -(targets * F.log_softmax(logits, -1)).sum(-1)
        return {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]

    losses.soft_cross_entropy = robust


if __name__ == "__main__":
    scratch.run("SK_IEG_GCE", patch)
