"""How the Fashion-MNIST v5 runs were made (before relabel_strength="meta" existed):
defaults_search.py on a snapshot of the package in /tmp/snap, with the relabeling
strength copied from the weights' strength at every epoch end, which is what
relabel_strength="meta" does."""
import sys

sys.path.insert(0, "/tmp/snap")
from sk_ieg.callbacks import AutoMetaStrength  # noqa: E402

orig = AutoMetaStrength.on_epoch_end
def on_epoch_end(self, net, **kw):
    orig(self, net, **kw)
    s = self.scales_["meta_strength"]
    self.scales_["relabel_strength"] = s
    net.ieg_state_.relabel_strength = s
AutoMetaStrength.on_epoch_end = on_epoch_end
import ds  # noqa: E402

ds.main(sys.argv[1:])
