"""Per-epoch trace of a default fit on a two-class table with flipped labels: the
strengths and the weight-averaged model's accuracy on the noisy rows and a test split
(round 5, scratch).  python .../trace_table.py NAME FLIP SEED EPOCHS"""

import sys

import numpy as np
import torch
from skorch.callbacks import Callback

from sk_ieg import IEGClassifier, datasets
from sk_ieg.noise import split_trusted


class Probe(Callback):
    def __init__(self, X, y, Xt, yt, Xp, yp, given):
        self.X, self.y, self.Xt, self.yt, self.Xp, self.yp, self.given = X, y, Xt, yt, Xp, yp, given

    def on_epoch_end(self, net, **kw):
        h = net.history[-1]
        acc = (net.predict(self.X) == self.y).mean()
        tacc = (net.predict(self.Xt) == self.yt).mean()
        pp = net.predict_proba(self.Xp)
        enc = np.searchsorted(net.classes_, self.yp)
        ce = -np.log(pp[np.arange(len(enc)), enc].clip(1e-12)).mean()
        agree = (net.predict(self.X) == self.given).mean()
        print(
            h["epoch"],
            "meta",
            h.get("meta_strength"),
            "rel",
            h.get("relabel_strength"),
            "cons",
            round(float(h.get("consistency_scale", float("nan"))), 3)
            if "consistency_scale" in h
            else None,
            f"noisy-rows {acc:.3f} test {tacc:.3f} trustedCE {ce:.3f} "
            f"probe_loss {h.get('probe_loss', 0):.3f} agree {agree:.3f}",
            flush=True,
        )


name, flip, seed, epochs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
X, y = datasets.load_pmlb(name)
rng = np.random.default_rng(seed)
idx = rng.permutation(len(y))
test, idx = idx[6000:8000], idx[:6000]
Xt, yt = X[test].astype("float32"), y[test]
X, y = X[idx].astype("float32"), y[idx]
trusted = np.zeros(len(y), bool)
trusted[split_trusted(y, 10, random_state=seed)] = True
classes = np.unique(y)
noisy = y.copy()
flipped = ~trusted & (rng.random(len(y)) < flip)
noisy[flipped] = np.where(y[flipped] == classes[0], classes[1], classes[0])
mu, sd = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1)
X, Xt = (X - mu) / sd, (Xt - mu) / sd
u = ~trusted
m = IEGClassifier(
    max_epochs=epochs,
    random_state=0,
    verbose=0,
    callbacks=[("probe", Probe(X[u], y[u], Xt, yt, X[trusted], y[trusted], noisy[u]))],
)
m.fit(X, noisy, trusted=trusted)
