"""Per-epoch trace of an IEG fit on a bench split (round 6, scratch): history keys and test
accuracy. python trace_f.py DATASET MODEL RATE SEED EPOCHS N_TRAIN|none PARAMS-JSON"""
import json
import sys

import torch
from skorch.callbacks import Callback

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

KEYS = ["consistency_weight", "consistency_alignment", "meta_strength", "relabel_strength",
        "probe_loss", "relabeled", "train_loss", "lr"]


class Trace(Callback):
    def __init__(self, data):
        self.data = data

    def on_epoch_end(self, net, **kwargs):
        h = net.history[-1]
        acc = (net.predict(self.data.X_test) == self.data.y_test).mean()
        cells = [f"{k[:8]}={h.get(k):.3g}" if isinstance(h.get(k), float)
                 else f"{k[:8]}={h.get(k)}" for k in KEYS]
        print(h["epoch"], " ".join(cells), f"test={acc:.4f}", flush=True)


def main():
    ds, model, rate, seed, epochs, n, params = sys.argv[1:8]
    torch.set_num_threads(1)
    data = load_bench_data(ds, rate=float(rate), seed=int(seed),
                           n_train=None if n == "none" else int(n))
    module, kw = module_for(data.X, data.n_classes, model)
    clf = IEGClassifier(module=module, max_epochs=int(epochs), random_state=int(seed),
                        verbose=0, callbacks=[("trace", Trace(data))], **kw,
                        **json.loads(params))
    clf.fit(data.X, data.y, data.X_trusted, data.y_trusted)


if __name__ == "__main__":
    main()
