"""Round 16 scratch runner: ``defaults_search.py`` with other relabel targets.

The diagnostics of ``ds_oracle.py`` put the loss at 80% uniform noise in what the
supervised term asks of the wrongly labelled rows: with exact relabel decisions the
digits plain MLP stays at 0.961, while dropping those rows from the supervised term gives
0.982. Their relabel target is the guesses' posterior given the label, which under
uniform noise tilts every guess towards the (wrong) given label, 3.5x at 80% on ten
classes, on top of whatever the network has already learnt of that label: the label's
evidence counted twice. ``SK_IEG_REL`` picks the targets:

- ``raw``: the supervised term's guesses are the raw guesses (no label evidence); the
  meta step and mixup keep the posterior;
- ``cap``: the supervised term's guesses are the posterior under the capped transition
  of ``round15/ds_capmix.py`` (a label still says which classes could have produced it,
  but does not favour itself over its likeliest confusion);
- ``capstep``: the capped transition everywhere in the step (meta step, supervised
  term, mixup); the fitted corrected labels keep the committed posterior.

Without SK_IEG_REL it is the committed code.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round15"))
import scratch  # noqa: E402
from ds_capmix import capped  # noqa: E402
from ds_rawmix import committed_evidence, last, with_label_evidence  # noqa: E402

import sk_ieg.step as step  # noqa: E402


def patch():
    mode = os.environ["SK_IEG_REL"]
    if mode == "capstep":
        step.with_label_evidence = lambda raw, labels, transition: committed_evidence(
            raw, labels, None if transition is None else capped(transition))
        return
    supervised_loss = step.supervised_loss

    def targets():
        if mode == "raw":
            return last["raw"]
        return committed_evidence(last["raw"], last["labels"], capped(last["transition"]))

    def supervised(logits, labels, guesses, **kwargs):
        if guesses is last.get("posterior") and last["transition"] is not None:
            guesses = targets()
        return supervised_loss(logits, labels, guesses, **kwargs)

    step.with_label_evidence = with_label_evidence
    step.supervised_loss = supervised


scratch.run("SK_IEG_REL", patch)
