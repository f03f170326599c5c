"""Round 16 scratch runner: ``defaults_search.py`` with a noise detector frozen part-way:
the committed step until epoch ``ceil(SK_IEG_FREEZE * max_epochs)``; there each noisy
row's posterior probability that its label is right, ``q_i`` (from its running guesses
under the estimated transition, as ``label_quality_``), is computed once and kept; from
then on the supervised term is ``sum_i m_i CE(y_i, z_i) / sum_i m_i`` over the batch, with
``m = q`` (``SK_IEG_FREEZE_MASK=soft``) or ``m = [q >= 0.5]`` (``hard``; ``hard0.9``:
``m = [q >= 0.9]``; ``tri``: 1 where ``q >= 0.9``, 0 where ``q <= 0.1``, ``q`` between).
Consistency, early-learning and mixup terms and the meta step are the committed code's.

``ds_qsup.py`` used ``q`` in the loss from the start, and the fit confirmed its own early
mistakes (0.916 / 0.898 on digits plain MLP 80%); frozen after a committed warm-up, as
DivideMix divides only after its warm-up, ``q`` cannot feed on itself. Without
SK_IEG_FREEZE it is the committed code. With ``SK_IEG_FREEZE_REPORT=1`` it prints, at the
freeze, how well ``q >= 0.5`` tells the right labels (the bench split's true labels).
"""
import math
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import scratch  # noqa: E402
from rows import around_train_step, record_truth, row_posterior  # noqa: E402

import sk_ieg.step as step  # noqa: E402
from sk_ieg.losses import soft_cross_entropy  # noqa: E402

_state = {"q": None, "batch": None, "right": None}


def patch():
    share = float(os.environ["SK_IEG_FREEZE"])
    mask = os.environ.get("SK_IEG_FREEZE_MASK", "soft")
    hard = mask.startswith("hard")
    threshold = float(mask[4:] or 0.5) if hard else 0.5
    supervised_loss = step.supervised_loss

    def frozen_q(net):
        state = net.ieg_state_
        given = torch.as_tensor(state.rows.labels, device=state.stats.guess.device)
        posterior, seen = row_posterior(net, slice(None), given)
        q = posterior.gather(1, given[:, None])[:, 0]
        q = torch.where(seen, q, torch.ones_like(q))
        if mask == "tri":
            return torch.where(q >= 0.9, torch.ones_like(q), torch.where(q <= 0.1, 0 * q, q))
        return (q >= threshold).to(q.dtype) if hard else q

    def batch_mask(net, batch):
        if _state["q"] is None and len(net.history) > math.ceil(share * net.max_epochs):
            _state["q"] = frozen_q(net)
            if _state["right"] is not None:
                report(net, _state["q"])
        if _state["q"] is not None:
            rows = torch.as_tensor(batch[1])[:, 1].to(_state["q"].device)
            _state["batch"] = _state["q"][rows]

    def masked(logits, labels, guesses, **kwargs):
        m = _state["batch"]
        if m is None:
            return supervised_loss(logits, labels, guesses, **kwargs)
        per_row = soft_cross_entropy(logits, labels, reduction="none")
        return (m.to(per_row.dtype) * per_row).sum() / m.sum().clamp_min(1.0)

    def report(net, q):
        right = _state["right"]  # the bench passes the trusted rows apart: rows align
        kept = (q >= 0.5).cpu().numpy() if not hard else (q > 0).cpu().numpy()
        print(f"freeze at epoch {len(net.history)}: precision {right[kept].mean():.3f}, "
              f"recall {kept[right].mean():.3f}", file=sys.stderr)

    if os.environ.get("SK_IEG_FREEZE_REPORT"):
        record_truth(_state)
    around_train_step(batch_mask, _state, ("batch",))
    step.supervised_loss = masked


scratch.run("SK_IEG_FREEZE", patch)
