"""What a perfect noise detector would reach: plain training on the rows whose given
label is right (plus the trusted rows), same network, same batch size, settings and
number of gradient steps as the bench's baselines (cosine decay, lr 0.1).

    python benchmarks/results/defaults_search/round11/oracle.py --dataset fashion_mnist \
        --n-train 10000 --model small_cnn --rate 0.4 --seed 0 --max-epochs 30 --out F

The oracle knows which labels are wrong and drops them; it does not relabel them
(relabeling every row correctly is the bench's ``clean``).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from sk_ieg.bench.runner import matched_epochs, module_for, plain_net

sys.path.insert(0, str(Path(__file__).parent))
from split_args import parse_and_load  # noqa: E402

a, d = parse_and_load(model="small_cnn", max_epochs=30)
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
