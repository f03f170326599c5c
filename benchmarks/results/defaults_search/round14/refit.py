"""Round 14 hypothesis check (``refit.txt``): fit the default IEG for E1 epochs, then
train the same network plainly on its corrected labels (+ trusted rows) for E2 epochs,
SGD (momentum 0.9, Nesterov, weight decay 5e-4), cosine learning rate from LR to 0.

    python refit.py DATASET NOISE RATE SEED E1 E2 LR [MODEL [N_TRAIN]]"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for


def main(ds, noise, rate, seed, e1, e2, lr, model="default", n_train=None):
    rate, seed, e1, e2, lr = float(rate), int(seed), int(e1), int(e2), float(lr)
    d = load_bench_data(ds, noise=noise, rate=rate, seed=seed,
                        n_train=int(n_train) if n_train else None)
    kw = {}
    if model != "default":
        module, module_kw = module_for(d.X, d.n_classes, model)
        kw = {"module": module, **module_kw}
    t0 = time.time()
    clf = IEGClassifier(max_epochs=e1, batch_size=128, random_state=seed, verbose=0, **kw)
    clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
    corr = clf.corrected_labels_
    print(f"IEG E1={e1}: test {clf.score(d.X_test, d.y_test):.4f} corrected "
          f"{np.mean(corr == d.y_true):.4f} ({time.time() - t0:.0f}s)", flush=True)
    m = clf.module_
    X = torch.as_tensor(np.concatenate([d.X, d.X_trusted]), dtype=torch.float32)
    Xt = torch.as_tensor(d.X_test, dtype=torch.float32)
    y = torch.as_tensor(np.searchsorted(clf.classes_, np.concatenate([corr, d.y_trusted])))
    opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    g = torch.Generator().manual_seed(seed)
    n, b = len(X), 128
    steps, k = e2 * math.ceil(n / b), 0
    for e in range(e2):
        m.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, b):
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * k / steps))
            idx = perm[i:i + b]
            if len(idx) < 2:
                continue
            loss = F.cross_entropy(m(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            k += 1
        m.eval()
        with torch.no_grad():
            pred = torch.cat([m(Xt[j:j + 1000]) for j in range(0, len(Xt), 1000)]).argmax(1)
        print(f"  refit epoch {e + 1}: test "
              f"{np.mean(clf.classes_[pred.numpy()] == d.y_test):.4f}", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
