"""Round 10 scratch runner: ``defaults_search.py`` (or ``cifar10n_check.py``) with an
early-learning regularisation term (ELR, Liu et al., NeurIPS 2020) added to IEG's
supervised loss, as a patch of the committed code (nothing here is in the package):

    loss += LAMBDA * mean_i log(1 - <p_i, t_i>)

``p_i`` the weak view's softmax (clamped to [1e-4, 1 - 1e-4]), ``t_i`` a per-row running
average of the detached, normalised ``p_i`` (decay BETA per visit, updated before the
term is taken, as the ELR authors' code does). Its gradient pulls each row's prediction
towards what the network predicted for it earlier, against the pull of a wrong label
once the network has learnt the clean pattern.

    SK_IEG_ELR=3 SK_IEG_ELR_BETA=0.7 python ds_elr.py --dataset digits ... --name elr3 --out F
    SK_IEG_SCRIPT=cifar10n_check SK_IEG_ELR=3 python ds_elr.py --seed 0 ...

Without SK_IEG_ELR (or 0) it is the committed code."""
import importlib
import os
import sys
from pathlib import Path

import torch
from skorch.dataset import unpack_data

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
import sk_ieg.estimator as est  # noqa: E402
import sk_ieg.step as step  # noqa: E402

LAMBDA = float(os.environ.get("SK_IEG_ELR", "0") or 0)
BETA = float(os.environ.get("SK_IEG_ELR_BETA", "0.7"))
CTX = {}

if LAMBDA:
    committed_step = est.IEGClassifier.train_step_single
    committed_loss = step.supervised_loss

    def train_step_single(self, batch, **fit_params):
        _, yi = unpack_data(batch)
        rows = torch.as_tensor(yi)[:, 1].long()
        n = self.ieg_state_.rows.labels.shape[0]
        key = id(self)
        if CTX.get("key") != key or CTX["targets"].shape[0] < n:
            CTX.update(key=key, targets=torch.zeros(n, len(self.classes_)))
        CTX["rows"] = rows
        return committed_step(self, batch, **fit_params)

    def supervised_loss(logits, labels, guesses, **kw):
        sup = committed_loss(logits, labels, guesses, **kw)
        rows, targets = CTX["rows"], CTX["targets"]
        p = torch.softmax(logits, dim=1).clamp(1e-4, 1 - 1e-4)
        q = p.detach()
        targets[rows] = BETA * targets[rows] + (1 - BETA) * q / q.sum(1, keepdim=True)
        reg = torch.log(1 - (targets[rows] * p).sum(1)).mean()
        return sup + LAMBDA * reg

    est.IEGClassifier.train_step_single = train_step_single
    step.supervised_loss = supervised_loss

importlib.import_module(os.environ.get("SK_IEG_SCRIPT", "defaults_search")).main()
