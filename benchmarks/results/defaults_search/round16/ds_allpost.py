"""Round 16 scratch runner: ``defaults_search.py`` with the supervised term replaced by
cross-entropy to the posterior guesses on every row, ``mean_i CE(g_i, z_i)``, where
``g_i`` are the guesses after the label evidence (``with_label_evidence``: the views'
sharpened guess times the estimated transition's column of the given label). The
posterior already weighs the given label by how often such a label is right, so it is
the Bayes target for every row; the meta step's weights and relabel decisions are not
used (the meta step still runs, so the checks and row statistics are unchanged in kind).

``SK_IEG_ALLPOST=1``; without it the committed code.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402
from sk_ieg.losses import soft_cross_entropy  # noqa: E402


def patch():
    step.supervised_loss = lambda logits, labels, guesses, **_: soft_cross_entropy(
        logits, guesses)


scratch.run("SK_IEG_ALLPOST", patch)
