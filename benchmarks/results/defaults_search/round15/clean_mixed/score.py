"""Score an `sk-ieg clean` output on the unverified rows: python score.py SEED OUT.csv"""
import sys

import numpy as np
import pandas as pd

seed, out = int(sys.argv[1]), sys.argv[2]
true = np.load(f"true_s{seed}.npy", allow_pickle=True)
df = pd.read_csv(out)
m = ~df["checked"].astype(bool).values
print(out, "given", (df["income"].values == true)[m].mean().round(4),
      "corrected", (df["corrected_label"].values == true)[m].mean().round(4),
      "flagged", df["is_label_issue"].values[m].mean().round(3))
