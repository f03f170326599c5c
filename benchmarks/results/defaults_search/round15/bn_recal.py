"""Round 15 diagnostic: one default fit, then the test accuracy of its prediction (weight
average, live BatchNorm statistics), of the live weights, and of both with the BatchNorm
statistics recomputed on the training rows (SWA's ``update_bn``: cumulative averages over
one pass in training mode, no augmentation). One JSON line to ``bn_recal.jsonl``.

    python bn_recal.py fashion_mnist small_cnn RATE SEED 30 10000
"""
import copy
import json
import sys
import time

import numpy as np
import torch

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for


def accuracy(module, d, classes):
    module.eval()
    X = torch.as_tensor(d.X_test, dtype=torch.float32)
    with torch.no_grad():
        pred = torch.cat([module(X[i:i + 512]).argmax(1) for i in range(0, len(X), 512)])
    return float(np.mean(classes[pred.numpy()] == d.y_test))


def recalibrated(module, X):
    module = copy.deepcopy(module)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    module.train()
    X = torch.as_tensor(X, dtype=torch.float32)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for i in range(0, len(X), 128):
            module(X[order[i:i + 128]])
    return module


def main(ds, model, rate, seed, epochs, n_train=None):
    rate, seed, epochs = float(rate), int(seed), int(epochs)
    d = load_bench_data(ds, noise="uniform", rate=rate, seed=seed,
                        n_train=int(n_train) if n_train else None)
    module, kw = module_for(d.X, d.n_classes, model)
    clf = IEGClassifier(module=module, max_epochs=epochs, random_state=seed, verbose=0, **kw)
    start = time.time()
    clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    out = dict(ds=ds, model=model, rate=rate, seed=seed, E=epochs,
               seconds=time.time() - start,
               default=float(np.mean(clf.predict(d.X_test) == d.y_test)))
    live = copy.deepcopy(clf.module_)
    ema = copy.deepcopy(clf.module_)
    with torch.no_grad():
        for k, v in ema.state_dict().items():
            v.copy_(clf.ieg_state_.average[k])
    X_all = np.concatenate([d.X, d.X_trusted])
    out.update(live=accuracy(live, d, clf.classes_), ema_check=accuracy(ema, d, clf.classes_),
               ema_recal=accuracy(recalibrated(ema, X_all), d, clf.classes_),
               live_recal=accuracy(recalibrated(live, X_all), d, clf.classes_))
    print(json.dumps(out))
    with open("bn_recal.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
