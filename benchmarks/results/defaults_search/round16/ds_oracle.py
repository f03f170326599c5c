"""Round 16 diagnostic runner: ``defaults_search.py`` with the step told which given labels
are wrong (the bench split's true labels), to find where IEG loses against its own step
on the right rows alone (``oracle_ieg.py``). ``SK_IEG_ORACLE`` picks what it is told:

- ``sup``: the supervised term is plain cross-entropy on the batch's right rows only
  (the wrong rows add nothing there); consistency, early-learning and mixup terms, the
  meta step and the guesses are the committed code's.
- ``post``: the guesses after the label evidence are exact about the label: one-hot on
  the given label for right rows, the raw guesses (the label carries no evidence) for
  wrong rows. Everything downstream (relabeling, the meta step, mixup targets) uses them.
- ``both``: ``sup`` and ``post``.
- ``supall``: as ``sup``, but the right rows' cross-entropy is summed and divided by the
  batch size (all rows), not by the number of right rows: the supervised term's scale
  then is the right rows' share of the batch.
- ``suplate``: as ``sup``, but only from epoch ``ceil(SK_IEG_ORACLE_FROM * max_epochs)``
  on (the committed step before), as ``ds_freeze.py`` switches its detector on.
- ``supnomix``: as ``sup``, and the wrong rows (both views) left out of the mixup pool.
- ``supnocons``: as ``sup``, and the wrong rows left out of the consistency term (its
  KL summed over the right rows, divided by the batch size).
- ``lam``: the relabel coefficients are exact (1 for right rows: their given label; 0
  for wrong rows: their guess); the weighted term, the weights and the guesses are the
  committed code's.
- ``lamonly``: as ``lam``, without the weighted term (the supervised term is the
  relabeled half alone, ``mean_i CE(t_i(lambda), z_i)``).

A diagnostic, not a method: the step cannot know which labels are wrong.

    SK_IEG_ORACLE=sup python ds_oracle.py --dataset digits ... --name orsup --out F
"""
import math
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import scratch  # noqa: E402
from rows import around_train_step, record_truth  # noqa: E402

import sk_ieg.step as step  # noqa: E402

_state = {"right": None, "batch": None}


def patch():
    mode = os.environ["SK_IEG_ORACLE"]
    supervised_loss = step.supervised_loss
    with_label_evidence = step.with_label_evidence
    mixup_pool, kl_consistency = step._mixup_pool, step.kl_consistency

    def told(net, batch):
        rows = torch.as_tensor(batch[1])[:, 1].cpu()
        _state["batch"] = ~torch.as_tensor(_state["right"])[rows].to(net.device)
        if mode == "suplate" and len(net.history) <= math.ceil(
                float(os.environ["SK_IEG_ORACLE_FROM"]) * net.max_epochs):
            _state["batch"] = None

    def sup(logits, labels, guesses, **kwargs):
        wrong = _state["batch"]
        if wrong is None:
            return supervised_loss(logits, labels, guesses, **kwargs)
        right = ~wrong
        if not right.any():
            return logits.sum() * 0
        ce = F.cross_entropy(logits[right], labels[right].argmax(1))
        return ce * right.float().mean() if mode == "supall" else ce

    def exact_lam(logits, labels, guesses, *, lam, **kwargs):
        wrong = _state["batch"]
        if wrong is not None:
            lam = (~wrong).to(lam.dtype)
        if mode == "lamonly" and wrong is not None:
            return supervised_loss(logits, labels, guesses, lam=lam,
                                   **{**kwargs, "reweight": False})
        return supervised_loss(logits, labels, guesses, lam=lam, **kwargs)

    def post(guesses, labels, transition):
        wrong = _state["batch"]
        if wrong is None:
            return with_label_evidence(guesses, labels, transition)
        return torch.where(wrong[:, None], guesses, labels.to(guesses.dtype))

    record_truth(_state)
    around_train_step(told, _state, ("batch",))
    def pool(x_probe_weak, x_weak, x_strong, t_probe, guesses, n_strong, size, generator):
        wrong = _state["batch"]
        if wrong is not None:
            keep = ~wrong
            if n_strong:
                x_strong = x_strong.view(n_strong, len(x_weak), *x_weak.shape[1:])
                x_strong = x_strong[:, keep].reshape(-1, *x_weak.shape[1:])
            x_weak, guesses = x_weak[keep], guesses[keep]
        return mixup_pool(x_probe_weak, x_weak, x_strong, t_probe, guesses, n_strong, size,
                          generator)

    def consistency(logits_weak, logits_strong):
        wrong = _state["batch"]
        if wrong is None:
            return kl_consistency(logits_weak, logits_strong)
        log_p = F.log_softmax(logits_weak.detach(), dim=-1)
        log_q = F.log_softmax(logits_strong, dim=-1)
        per_row = (log_p.exp() * (log_p - log_q)).sum(dim=-1)
        keep = (~wrong).repeat(len(per_row) // len(wrong)).to(per_row.dtype)
        return (per_row * keep).mean()

    if mode == "supnomix":
        step._mixup_pool = pool
    if mode == "supnocons":
        step.kl_consistency = consistency
    if mode in ("sup", "both", "supall", "suplate", "supnomix", "supnocons"):
        step.supervised_loss = sup
    if mode in ("lam", "lamonly"):
        step.supervised_loss = exact_lam
    if mode in ("post", "both"):
        step.with_label_evidence = post


scratch.run("SK_IEG_ORACLE", patch)
