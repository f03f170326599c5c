"""Round 14 scratch runner: ``defaults_search.py`` with a guard on the doubling of
``consistency_weight="auto"``.

Committed code (``AutoConsistency``): at the end of every epoch the weight's scale
doubles (up to 1) when the mean cosine between the probe loss's and the consistency
loss's gradients is more than two standard errors above 0, and halves otherwise. Here
(``SK_IEG_GUARD=1``) it doubles only when, in addition, the epoch's mean probe loss (the
``probe_loss`` the step reports, after the virtual step) is no higher than the epoch
before's; when the cosine says "helps" but the probe loss rose, the scale stays.

Motivation (``hist_clean_letter.txt``): on letter with clean labels the default fit
reached 0.946 at epoch 21, then the cosine stayed positive while the weight doubled
from 1.25 to 20 in four epochs, the probe loss rose from 0.36 to 1.3 and the test
accuracy fell to 0.547 (0.900 at the end). The cosine is a first-order direction
check; it does not see that steps of the grown weight make the trusted rows worse.

    SK_IEG_GUARD=1 python ds_guard.py --dataset digits ... --name guard --out F

Without SK_IEG_GUARD it is the committed code."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.callbacks as cb  # noqa: E402

committed_begin = cb.AutoConsistency.on_epoch_begin
committed_batch = cb.AutoConsistency.on_batch_end
committed_end = cb.AutoConsistency.on_epoch_end


def on_epoch_begin(self, net, **kwargs):
    committed_begin(self, net, **kwargs)
    self.probe_sum_, self.probe_steps_ = 0.0, 0


def on_batch_end(self, net, batch=None, training=False, **kwargs):
    if training and kwargs.get("probe_loss") is not None:
        self.probe_sum_ += float(kwargs["probe_loss"])
        self.probe_steps_ += 1
    committed_batch(self, net, batch=batch, training=training, **kwargs)


def on_epoch_end(self, net, **kwargs):
    before = self.scale_
    committed_end(self, net, **kwargs)
    loss = self.probe_sum_ / self.probe_steps_ if self.probe_steps_ else None
    last = getattr(self, "last_probe_", None)
    if self.scale_ > before and loss is not None and last is not None and loss > last:
        self.scale_ = before
        net.ieg_state_.consistency_scale = before
    self.last_probe_ = loss


def patch():
    cb.AutoConsistency.on_epoch_begin = on_epoch_begin
    cb.AutoConsistency.on_batch_end = on_batch_end
    cb.AutoConsistency.on_epoch_end = on_epoch_end


scratch.run("SK_IEG_GUARD", patch)
