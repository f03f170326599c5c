"""Round 14 scratch runner: ``defaults_search.py`` with round 14's probe-loss guard also on
the ``"auto"`` meta and relabel strengths.

Committed code (``AutoMetaStrength``): at an epoch's end each strength doubles (up to 1)
when its split-half gain is more than two standard errors above 0, else halves. Here
(``SK_IEG_MGUARD=1``) a strength doubles only when, in addition, the epoch's mean probe
loss is no higher than the epoch before's (as ``AutoConsistency`` does since af7f53c);
otherwise it stays.

    SK_IEG_MGUARD=1 python ds_mguard.py --dataset digits ... --name mguard --out F

Without SK_IEG_MGUARD it is the committed code."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.callbacks as cb  # noqa: E402

committed_end = cb.AutoMetaStrength.on_epoch_end


def on_epoch_end(self, net, **kwargs):
    """The epoch's mean probe loss is the one the committed ``AutoConsistency`` (which
    runs before this callback) has just computed."""
    before = dict(self.scales_)
    committed_end(self, net, **kwargs)
    loss = dict(net.callbacks_)["auto_consistency"].probe_loss_
    last = getattr(self, "last_probe_", None)
    if loss is not None and last is not None and loss > last:
        for name, scale in before.items():
            if self.scales_[name] > scale:
                self.scales_[name] = scale
                setattr(net.ieg_state_, name, scale)
    self.last_probe_ = loss


def patch():
    cb.AutoMetaStrength.on_epoch_end = on_epoch_end


scratch.run("SK_IEG_MGUARD", patch)
