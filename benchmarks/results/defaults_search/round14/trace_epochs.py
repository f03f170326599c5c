"""Round 14 diagnostic: one default fit with the test accuracy recorded at every epoch's
end (a callback), printed with the history's loss, learning rate, ``"auto"`` weights and
probe loss, one line an epoch (``trace_*.txt``, ``hist_clean_letter.txt``).

    python trace_epochs.py DATASET NOISE RATE SEED EPOCHS MODEL [N_TRAIN]

``trace_adult60_s0_before.txt`` ran at c204324 (a worktree on ``PYTHONPATH``, with
``SK_IEG_DATA`` set); ``hist_clean_letter.txt`` came from an earlier form of this script
(same callback, letter only)."""
import sys

import numpy as np
import torch
from skorch.callbacks import Callback

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

KEYS = ("test", "train_loss", "lr", "consistency_weight", "consistency_alignment",
        "meta_strength", "relabel_strength", "probe_loss")


def main(ds, noise, rate, seed, epochs, model, n_train=None):
    seed = int(seed)
    d = load_bench_data(ds, noise=noise, rate=float(rate), seed=seed,
                        n_train=int(n_train) if n_train else None)
    kw = {}
    if model != "default":
        module, module_kw = module_for(d.X, d.n_classes, model)
        kw = {"module": module, **module_kw}

    class TestAccuracy(Callback):
        def on_epoch_end(self, net, **kwargs):
            net.history.record("test", float(np.mean(net.predict(d.X_test) == d.y_test)))

    clf = IEGClassifier(max_epochs=int(epochs), batch_size=128, random_state=seed, verbose=0,
                        callbacks=[("test", TestAccuracy())], **kw)
    clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    for h in clf.history:
        print(h["epoch"], " ".join(f"{k}={h[k]:.3g}" for k in KEYS
                                   if isinstance(h.get(k), (int, float))))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
