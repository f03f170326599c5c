"""Round 15: two cheaper forms of the digits fit, timed in one process against the
committed code at fcf562e (digits 80%, seed 0, E=60, one thread; the first fit is a
warm-up).

- ``notie``: ``functional_call(..., tie_weights=False)`` in ``sk_ieg.step`` (skips untying
  the parameter dict at every call; wrong for modules with tied weights);
- ``fwad``: the check's JVPs (``_probe_logit_changes``) through
  ``torch.autograd.forward_ad``, as ``sk_ieg.meta.jvp`` does, instead of
  ``torch.func.jvp`` (adopted: since round 15 the package does this, so on a later
  checkout ``base`` and ``fwad`` are the same code).

    python check_speed.py default 3 & python check_speed.py plain_mlp 3

Prints each variant's fit times, median, test accuracy and whether its test
probabilities equal the committed code's (``speed_check.txt``)."""
import functools
import sys
import time

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch.func import functional_call

import sk_ieg.step as step
from sk_ieg import IEGClassifier
from sk_ieg.bench import load_bench_data
from sk_ieg.bench.runner import module_for

COMMITTED = step._probe_logit_changes


def changes_forward_ad(module, params, buffers, x_weak, probes, seed):
    def forward(p, inputs):
        return step.functional_forward(module, p, {k: b.clone() for k, b in buffers.items()},
                                       inputs)

    device, changes = x_weak.device, []
    primals = {k: p.detach() for k, p in params.items()}
    for xp, yp, wp in probes:
        with step._module_rng(device, seed):
            per_row = F.cross_entropy(forward(params, xp), yp, reduction="none")
        loss = (per_row * wp).sum() / wp.sum()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        with step._module_rng(device, seed + 1), fwAD.dual_level():
            duals = {k: fwAD.make_dual(primals[k], torch.zeros_like(primals[k]) if g is None
                                       else g) for k, g in zip(params, grads)}
            out = fwAD.unpack_dual(forward(duals, x_weak))
            logits, change = out.primal.detach(), out.tangent.detach()
        changes.append(change)
    return logits, changes


def use(variant):
    step.functional_call = (functools.partial(functional_call, tie_weights=False)
                            if "notie" in variant else functional_call)
    step._probe_logit_changes = changes_forward_ad if "fwad" in variant else COMMITTED


def main(model, repeats):
    torch.set_num_threads(1)
    d = load_bench_data("digits", noise="uniform", rate=0.8, seed=0)
    kw = {}
    if model != "default":
        module, module_kw = module_for(d.X, d.n_classes, model)
        kw = {"module": module, **module_kw}

    def fit():
        clf = IEGClassifier(max_epochs=60, random_state=0, verbose=0, **kw)
        start = time.perf_counter()
        clf.fit(d.X, d.y, X_trusted=d.X_trusted, y_trusted=d.y_trusted)
        return time.perf_counter() - start, clf.predict_proba(d.X_test)

    variants = ["base", "notie", "fwad", "notie_fwad"]
    fit()
    times, probs = {k: [] for k in variants}, {}
    for _ in range(int(repeats)):
        for k in variants:
            use(k)
            seconds, probs[k] = fit()
            times[k].append(seconds)
    for k in variants:
        acc = (probs[k].argmax(1) == d.y_test).mean()
        print(model, k, np.round(times[k], 2), "median", np.median(times[k]).round(2),
              "acc", acc.round(4), "identical", np.array_equal(probs["base"], probs[k]))


if __name__ == "__main__":
    main(*sys.argv[1:])
