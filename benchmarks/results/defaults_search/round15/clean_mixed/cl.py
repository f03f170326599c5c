"""cleanlab around a logistic regression on the same table (one-hot, standardised,
5-fold out-of-sample probabilities): python cl.py SEED"""
import sys

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import StandardScaler

seed = int(sys.argv[1])
true = np.load(f"true_s{seed}.npy", allow_pickle=True)
df = pd.read_csv(f"adult_mixed_s{seed}.csv")
y = df.pop("income").values
trusted = df.pop("checked").values
X = StandardScaler().fit_transform(pd.get_dummies(df).astype(float).values)
yi = (y == ">50K").astype(int)
p = cross_val_predict(LogisticRegression(max_iter=2000), X, yi, cv=5, method="predict_proba")
corrected = np.where(find_label_issues(yi, p), p.argmax(1), yi)
names = np.array(["<=50K", ">50K"])
m = ~trusted
print("cleanlab LR: corrected", (names[corrected] == true)[m].mean().round(4),
      "LR argmax", (names[p.argmax(1)] == true)[m].mean().round(4))
