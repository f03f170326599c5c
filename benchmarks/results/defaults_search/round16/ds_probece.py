"""Round 16 scratch runner: ``defaults_search.py`` with a plain cross-entropy term on the
probe batch's weak view added to the final loss, weight ``SK_IEG_PROBECE`` (e.g. 1).

In the committed step the trusted rows reach the network's update only through the
meta step and the probe half of mixup. Told which noisy labels are right
(``ds_oracle.py``), the step gains most from clean rows carrying the supervised term at
full scale (``orsup`` 0.982 against ``orsupall`` 0.970 on digits plain MLP 80%); this
asks whether the trusted rows, which the step always has, can carry part of that.
One more forward pass of the probe batch. Without SK_IEG_PROBECE it is the committed code.
"""
import os
import sys
from pathlib import Path

import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402


def patch():
    weight = float(os.environ["SK_IEG_PROBECE"])
    final_loss = step._final_loss

    def with_probe(logits, logits_strong, labels, guesses, omega, lam, x_weak, x_strong,
                   x_probe_weak, y_probe, *, mixed_forward, backward=False, **kwargs):
        loss, parts, targets = final_loss(
            logits, logits_strong, labels, guesses, omega, lam, x_weak, x_strong,
            x_probe_weak, y_probe, mixed_forward=mixed_forward, backward=backward, **kwargs)
        ce = weight * F.cross_entropy(mixed_forward(x_probe_weak), y_probe)
        if backward:
            ce.backward()
            ce = ce.detach()
        parts["probe_ce"] = ce.detach()
        return loss + ce, parts, targets

    step._final_loss = with_probe


scratch.run("SK_IEG_PROBECE", patch)
