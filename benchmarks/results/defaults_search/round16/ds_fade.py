"""Round 16 scratch runner: ``defaults_search.py`` where a meta strength ``s < 1`` fades
the weighted term out instead of shrinking its weights towards plain training.

The committed step shrinks the meta step's weights towards uniform, ``s omega* + (1 -
s) / B``, so where the check turns the meta step down the weighted half of the
supervised term becomes plain training on the given labels (target ``0.9 y + 0.1 g``).
At 80% uniform noise that half pulls most rows towards a wrong label: with the step told
which labels are wrong and that half dropped (``ds_oracle.py``, ``orsup``) the digits plain
MLP reaches 0.982 against today's 0.958. Here the weights are ``s omega*`` (not
renormalised): the weighted term keeps the meta step's choices at the strength the check
gives them, and what remains of the supervised term is the relabeled half (given labels
where the meta step keeps them, the posterior guesses elsewhere).

``SK_IEG_FADE=1``; without it the committed code.
"""
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scratch  # noqa: E402

import sk_ieg.step as step  # noqa: E402


def patch():
    meta_step = step.meta_step

    def faded(*args, config, **kwargs):
        s = config.meta_strength
        if not config.reweight or s >= 1.0:
            return meta_step(*args, config=config, **kwargs)
        omega, lam, probe_loss = meta_step(
            *args, config=dataclasses.replace(config, meta_strength=1.0), **kwargs)
        return s * omega, lam, probe_loss

    step.meta_step = faded


scratch.run("SK_IEG_FADE", patch)
