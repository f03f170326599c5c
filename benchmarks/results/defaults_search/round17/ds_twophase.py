"""Round 17 scratch runner: a detector kept out of its own feedback by a fresh start.

``SK_IEG_TWO="F,MASK"``: the bench's IEG fit runs in two phases with the same total
epoch budget ``E``.

1. A default fit for ``E1 = ceil(F * E)`` epochs. Its ``label_quality_`` (the posterior
   that each noisy row's given label is right) is the detector.
2. A *fresh* default fit (same ``random_state``) for ``E - E1`` epochs whose supervised
   term is the given labels' cross-entropy on the rows the detector keeps (round 16's
   ``orsup`` with the detector in place of the truth); every other term is the committed
   step's, the dropped rows stay in the unsupervised terms as unlabelled rows.

``MASK``: ``hard0.5`` / ``hard0.9`` (keep ``q >= t``; mean CE over the batch's kept
rows) or ``soft`` (``sum q CE / sum q``). The record gets the detector's precision and
recall for the right labels (``det_precision``, ``det_recall``; a diagnostic, the fit
never sees the truth), also appended as a JSON line to ``SK_IEG_TWO_REPORT`` when set.

    SK_IEG_TWO=0.25,hard0.5 python ds_twophase.py --dataset digits ... --name N --out F
"""
import dataclasses
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round16"))
import scratch  # noqa: E402
from rows import around_train_step  # noqa: E402

import sk_ieg.bench.runner as runner  # noqa: E402
import sk_ieg.step as step  # noqa: E402
from sk_ieg.bench.runner import matched_epochs  # noqa: E402

_state = {"q": None, "batch": None}


def patch():
    frac, mode = os.environ["SK_IEG_TWO"].split(",")
    frac = float(frac)
    digits = re.search(r"\d+(\.\d+)?", mode)
    threshold = float(digits.group()) if digits else 0.5
    fit_method = runner._fit_ieg_method
    supervised_loss = step.supervised_loss

    def two_phase(method, data, record, callbacks, net, **kwargs):
        total = net["max_epochs"]
        first = math.ceil(frac * total)
        clf1, _ = fit_method(method, data, dict(record), callbacks,
                             {**net, "max_epochs": first}, **kwargs)
        right = data.y == data.y_true
        q = (right.astype(float) if mode == "truth"
             else np.asarray(clf1.label_quality_, dtype=float))
        kept = q >= threshold
        report = dict(det_precision=float(right[kept].mean()),
                      det_recall=float(kept[right].mean()), phase1_epochs=first,
                      phase1_test=float(np.mean(clf1.predict(data.X_test) == data.y_test)))
        record.update(report)
        print("two-phase:", report, file=sys.stderr)
        if os.environ.get("SK_IEG_TWO_REPORT"):
            with open(os.environ["SK_IEG_TWO_REPORT"], "a") as f:
                f.write(json.dumps({"name": os.environ["SK_IEG_TWO"], "seed": net["seed"],
                                    "data": data.name, "rate": data.info.get("rate"),
                                    **report}) + "\n")
        if mode.endswith("first"):  # the first phase alone: its detector's figures
            return clf1, clf1.history
        if mode.startswith("drop"):
            epochs = matched_epochs(total - first, len(data.X), int(kept.sum()),
                                    net["batch_size"])
            subset = dataclasses.replace(data, X=data.X[kept], y=data.y[kept],
                                         y_true=data.y_true[kept])
            return fit_method(method, subset, record, callbacks,
                              {**net, "max_epochs": epochs}, **kwargs)
        _state["q"] = torch.as_tensor(q, dtype=torch.float32)
        try:
            return fit_method(method, data, record, callbacks,
                              {**net, "max_epochs": total - first}, **kwargs)
        finally:
            _state["q"] = None

    def before(net, batch):
        if _state["q"] is not None:
            rows = torch.as_tensor(batch[1])[:, 1].cpu()
            _state["batch"] = _state["q"][rows].to(net.device)

    def sup(logits, labels, guesses, **kwargs):
        q = _state["batch"]
        if q is None:
            return supervised_loss(logits, labels, guesses, **kwargs)
        ce = F.cross_entropy(logits, labels.argmax(1), reduction="none")
        w = (q if mode == "soft" else q >= threshold).to(ce.dtype)  # truth: q is 0/1
        return (w * ce).sum() / w.sum().clamp_min(1.0)

    runner._fit_ieg_method = two_phase
    around_train_step(before, _state, ("batch",))
    step.supervised_loss = sup


if __name__ == "__main__":
    scratch.run("SK_IEG_TWO", patch)
