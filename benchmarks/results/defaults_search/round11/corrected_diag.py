"""Where should ``corrected_labels_`` come from? One default fit, then the corrected-label
accuracy on the noisy rows of: ``now`` (the fitted attribute: the running average of the
step's guesses, turned into the posterior given each row's label), ``final`` (the
fitted model's own prediction on the un-augmented noisy rows, weight average, eval
mode, the same posterior) and ``mean`` (the two distributions averaged).

    python benchmarks/results/defaults_search/round11/corrected_diag.py --dataset D \
        --model M --rate R [--noise N] [--n-train N] --max-epochs E --seed S --out F
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sk_ieg import IEGClassifier
from sk_ieg.bench.runner import module_for
from sk_ieg.losses import with_label_evidence

sys.path.insert(0, str(Path(__file__).parent))
from split_args import parse_and_load  # noqa: E402

a, d = parse_and_load(model="default", max_epochs=60)
kw = {} if a.model == "default" else dict(zip(("module", "kw"), module_for(d.X, d.n_classes,
                                                                         a.model)))
clf = IEGClassifier(module=kw.get("module"), max_epochs=a.max_epochs, random_state=a.seed,
                    verbose=0, **kw.get("kw", {}))
clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
labels = F.one_hot(torch.as_tensor(d.y), d.n_classes).double()
T = None if clf.noise_transition_ is None else torch.as_tensor(clf.noise_transition_)
st = clf.ieg_state_.stats
running = (st.guess.double() / st.guess.double().sum(1, keepdim=True).clamp_min(1e-30)).cpu()
final = torch.as_tensor(clf.predict_proba(d.X)).double()
row = dict(dataset=a.dataset, model=a.model, noise=a.noise, rate=a.rate, n_train=a.n_train,
           seed=a.seed, max_epochs=a.max_epochs,
           test_accuracy=float(np.mean(clf.predict(d.X_test) == d.y_test)),
           given=float(np.mean(d.y == d.y_true)),
           now=float(np.mean(clf.corrected_labels_ == d.y_true)))
for name, g in (("running", running), ("final", final), ("mean", (running + final) / 2)):
    post = with_label_evidence(g, labels, T)
    row[name] = float(np.mean(post.argmax(1).numpy() == d.y_true))
print(json.dumps(row))
with open(a.out, "a") as f:
    f.write(json.dumps(row) + "\n")
