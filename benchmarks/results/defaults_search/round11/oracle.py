"""What a perfect noise detector would reach: plain training on the rows whose given
label is right (plus the trusted rows), same network, same batch size, settings and
number of gradient steps as the bench's baselines (cosine decay, lr 0.1).

    python benchmarks/results/defaults_search/round11/oracle.py --dataset fashion_mnist \
        --n-train 10000 --model small_cnn --rate 0.4 --seed 0 --max-epochs 30 --out F

The oracle knows which labels are wrong and drops them; it does not relabel them
(relabeling every row correctly is the bench's ``clean``).
"""

import argparse
import json

import numpy as np
import torch

from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import matched_epochs, module_for, plain_net

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="fashion_mnist")
p.add_argument("--noise", default="uniform")
p.add_argument("--rate", type=float, default=0.4)
p.add_argument("--n-train", type=int, default=None)
p.add_argument("--model", default="small_cnn")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--max-epochs", type=int, default=30)
p.add_argument("--out", required=True)
a = p.parse_args()
torch.set_num_threads(1)
d = load_bench_data(a.dataset, noise=a.noise, rate=a.rate, seed=a.seed, n_train=a.n_train)
keep = d.y == d.y_true
X = np.concatenate([d.X[keep], d.X_trusted])
y = np.concatenate([d.y[keep], d.y_trusted])
epochs = matched_epochs(a.max_epochs, len(d.X), len(X), 128)
module, kw = module_for(d.X, d.n_classes, a.model)
with torch.random.fork_rng(devices=[]):
    torch.manual_seed(a.seed)
    clf = plain_net(module, kw, epochs=epochs, batch_size=128, seed=a.seed, callbacks=[])
    clf.fit(X, y)
row = dict(method="oracle_drop", dataset=a.dataset, noise=a.noise, rate=a.rate,
           n_train=a.n_train, model=a.model, seed=a.seed, max_epochs=a.max_epochs,
           epochs=epochs, rows=int(len(y)),
           test_accuracy=float(np.mean(clf.predict(d.X_test) == d.y_test)))
print(json.dumps(row))
with open(a.out, "a") as f:
    f.write(json.dumps(row) + "\n")
