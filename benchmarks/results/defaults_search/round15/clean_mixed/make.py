"""A mixed-type two-class table for `sk-ieg clean` (round 15): 6,000 rows of PMLB adult,
its discrete columns written as strings, 30% of the labels flipped, 10 verified rows per
class marked in a `checked` column. Run from a scratch folder:

    python make.py SEED   # adult_mixed_sSEED.csv, true_sSEED.npy
"""
import sys

import numpy as np
import pandas as pd

from sk_ieg.datasets import data_dir

DISCRETE = ["workclass", "education", "marital-status", "occupation", "relationship", "race",
            "sex", "native-country"]

seed = int(sys.argv[1])
df = pd.read_csv(data_dir() / "pmlb" / "adult.tsv.gz", sep="\t")
rng = np.random.default_rng(seed)
df = df.iloc[rng.choice(len(df), 6000, replace=False)].reset_index(drop=True)
for c in DISCRETE:
    df[c] = c[:4] + "_" + df[c].astype(int).astype(str)
true = np.where(df.pop("target") == 1, ">50K", "<=50K")
flip = rng.random(len(df)) < 0.3
given = np.where(flip, np.where(true == ">50K", "<=50K", ">50K"), true)
trusted = np.zeros(len(df), bool)
for c in ("<=50K", ">50K"):
    trusted[rng.choice(np.flatnonzero(true == c), 10, replace=False)] = True
given[trusted] = true[trusted]
df["income"] = given
df["checked"] = trusted
df.to_csv(f"adult_mixed_s{seed}.csv", index=False)
np.save(f"true_s{seed}.npy", true)
print("given acc (unverified rows)", (given == true)[~trusted].mean())
