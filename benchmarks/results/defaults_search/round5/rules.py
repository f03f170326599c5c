"""Offline corrected-label rules on the dumps of dump_fit.py (round 5, scratch)."""

import sys

import numpy as np


def fuse(p, given, k, floor=1e-3):
    """argmax_y p(y|x) T[y, given]; T from the soft confident joint of p and given."""
    C = np.zeros((k, k))
    np.add.at(C.T, given, p)  # C[y, j] += p_i(y) for given_i = j
    T = (C + floor) / (C + floor).sum(1, keepdims=True)
    return (p * T[:, given].T).argmax(1), T


def rules(d):
    g, t, k = d["given"], d["true"], d["guess"].shape[1]
    guess = d["guess"] / d["guess"].sum(1, keepdims=True).clip(1e-12)
    p = d["proba"]
    out = {
        "given": g,
        "current": d["corrected"] if len(d["corrected"]) == len(g) else g,
        "guess": guess.argmax(1),
        "proba": p.argmax(1),
    }
    out["fuse_p"] = fuse(p, g, k)[0]
    out["fuse_g"] = fuse(guess, g, k)[0]
    out["fuse_avg"] = fuse((p + guess) / 2, g, k)[0]
    a = (d["proba_tr"].argmax(1) == d["y_tr"]).mean()
    agree = (p.argmax(1) == g).mean()
    r = (agree * (k - 1) - 1 + a) / (a * k - 1)
    res = {n: round(float((v == t).mean()), 4) for n, v in out.items()}
    res["_a_tr"], res["_agree"], res["_r_est"] = round(a, 3), round(agree, 3), round(r, 3)
    return res


for f in sys.argv[1:]:
    print(f.split("/")[-1], rules(np.load(f)))
