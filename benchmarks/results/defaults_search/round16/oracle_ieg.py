"""What IEG's own step reaches when a perfect noise detector has dropped the wrong labels:
``IEGClassifier`` with its defaults on the rows whose given label is right, the trusted
rows as its trusted set, and as many steps as the default fit on all rows (epochs scaled
by ``matched_epochs``). Against round 11's ``oracle_drop`` (plain training on the same
rows) it tells what IEG's regularisation adds without any unlabelled rows; against the
default fit, what the wrongly labelled rows add or cost.

    python benchmarks/results/defaults_search/round16/oracle_ieg.py --dataset digits \
        --model plain_mlp --rate 0.8 --seed 0 --max-epochs 60 --out F
"""

import json
import sys
from pathlib import Path

import numpy as np

from sk_ieg import IEGClassifier
from sk_ieg.bench.runner import matched_epochs, module_for

sys.path.insert(0, str(Path(__file__).parents[1] / "round11"))
from split_args import parse_and_load  # noqa: E402

a, d = parse_and_load(model="small_cnn", max_epochs=30)
keep = d.y == d.y_true
epochs = matched_epochs(a.max_epochs, len(d.X), int(keep.sum()), 128)
module, kw = module_for(d.X, d.n_classes, a.model)
params = {} if a.model == "default" else {"module": module, **kw}
clf = IEGClassifier(max_epochs=epochs, random_state=a.seed, verbose=0, **params)
clf.fit(d.X[keep], d.y[keep], X_trusted=d.X_trusted, y_trusted=d.y_trusted)
row = dict(method="oracle_ieg", dataset=a.dataset, noise=a.noise, rate=a.rate,
           n_train=a.n_train, model=a.model, seed=a.seed, max_epochs=a.max_epochs,
           epochs=epochs, rows=int(keep.sum()),
           test_accuracy=float(np.mean(clf.predict(d.X_test) == d.y_test)))
print(json.dumps(row))
with open(a.out, "a") as f:
    f.write(json.dumps(row) + "\n")
