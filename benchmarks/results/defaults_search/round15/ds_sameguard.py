"""Round 15 scratch runner: ``defaults_search.py`` with round 14's probe-loss guard on the
``"auto"`` consistency weight compared only between epochs at the same weight.

Committed code (``AutoConsistency``, af7f53c): the scale doubles when the cosine check
says the term helps and the epoch's mean probe loss is no higher than the epoch before's.
Right after a halving that comparison is confounded: the probe loss falls because the
weight fell, and the scale doubles straight back (digits plain MLP 80% seed 0 went 10, 5,
10, 5 over epochs 52-56, the probe loss 0.21, 0.29, 0.18, 0.25). Here
(``SK_IEG_SAMEGUARD=1``) the scale doubles only when, in addition, the epoch before used
the same scale, so the two probe losses compared were both measured at it.

    SK_IEG_SAMEGUARD=1 python ds_sameguard.py --dataset digits ... --name same --out F

Without SK_IEG_SAMEGUARD it is the committed code."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.callbacks as cb  # noqa: E402

committed_end = cb.AutoConsistency.on_epoch_end


def on_epoch_end(self, net, **kwargs):
    used, before = self.scale_, getattr(self, "used_before_", None)
    committed_end(self, net, **kwargs)
    if self.scale_ > used and before != used:
        self.scale_ = used
        net.ieg_state_.consistency_scale = used
    self.used_before_ = used


def patch():
    cb.AutoConsistency.on_epoch_end = on_epoch_end


scratch.run("SK_IEG_SAMEGUARD", patch)
