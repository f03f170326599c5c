"""Offline transition estimators for the corrected-label posterior, on v8 dumps (round 5,
scratch): python rules_v8.py v8/dump_*.npz"""

import sys

import numpy as np


def norm(g):
    return g / g.sum(1, keepdims=True).clip(1e-30)


def soft_T(g, y, k):
    J = g.T @ np.eye(k)[y] + 1.0 / k
    return J / J.sum(1, keepdims=True)


def cl_T(g, y, k):
    """cleanlab's confident joint: row i counts for class c = argmax of the classes whose
    guess reaches their threshold t_c (mean g(c) over rows labeled c)."""
    t = np.array([g[y == c, c].mean() if (y == c).any() else 1.0 for c in range(k)])
    above = np.where(g >= t, g, -np.inf)
    ok = np.isfinite(above).any(1)
    c = above.argmax(1)
    J = np.zeros((k, k))
    np.add.at(J, (c[ok], y[ok]), 1.0)
    J += 1.0 / k
    return J / J.sum(1, keepdims=True)


def anchor_T(g, y, k, q=0.9):
    """per class c, the given-label mix of the rows whose guess of c is in its top 10%."""
    T = np.zeros((k, k))
    for c in range(k):
        top = g[:, c] >= np.quantile(g[:, c], q)
        T[c] = np.bincount(y[top], minlength=k) + 1.0 / k
    return T / T.sum(1, keepdims=True)


def post(g, y, T):
    return (g * T[:, y].T).argmax(1)


for f in sys.argv[1:]:
    d = np.load(f)
    y, t, k = d["given"], d["true"], d["guess"].shape[1]
    g = norm(d["guess"])
    res = {
        "given": (y == t).mean(),
        "fitted": (d["corrected"] == t).mean(),
        "guess": (g.argmax(1) == t).mean(),
    }
    for name, fn in (("soft", soft_T), ("cl", cl_T), ("anchor", anchor_T)):
        T = fn(g, y, k)
        res[name] = (post(g, y, T) == t).mean()
        res[name + "_diag"] = np.diag(T).mean()
    true_T = np.zeros((k, k))
    np.add.at(true_T, (t, y), 1.0)
    true_T = (true_T + 1.0 / k) / (true_T + 1.0 / k).sum(1, keepdims=True)
    res["trueT"] = (post(g, y, true_T) == t).mean()
    res["trueT_diag"] = np.diag(true_T).mean()
    rs = d["relabel_strength"]
    res["rel_last"] = rs[~np.isnan(rs)][-1] if (~np.isnan(rs)).any() else np.nan
    print(f.split("/")[-1], {a: round(float(b), 3) for a, b in res.items()})
