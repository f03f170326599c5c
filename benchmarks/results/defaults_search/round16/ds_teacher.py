"""Round 16 scratch runner: ``defaults_search.py`` with the step's guesses taken from the
weight average (a mean teacher, Tarvainen & Valpola 2017; ELR+ draws its targets from
such an average, Liu et al. 2020) instead of only from the live network's views.

Before each step the weight average (``ieg_state_.average``, the EMA the fit already
keeps) is run in eval mode on the batch's un-augmented rows; the step's guesses are then

- ``SK_IEG_TEACHER=only``: sharpened from the teacher's logits alone;
- ``SK_IEG_TEACHER=add``: sharpened from the live views and the teacher together.

Everything downstream of the guesses (relabeling, the meta step's candidates, mixup
targets, row statistics) uses them. The first step (no average yet) and the epoch-end
check are unchanged. Without SK_IEG_TEACHER it is the committed code.

    SK_IEG_TEACHER=only python ds_teacher.py --dataset digits ... --name tonly --out F
"""
import os
import sys
from pathlib import Path

import torch
from torch.func import functional_call

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import scratch  # noqa: E402
from rows import around_train_step  # noqa: E402

import sk_ieg.step as step  # noqa: E402

_state = {"teacher": None}


def patch():
    mode = os.environ["SK_IEG_TEACHER"]
    guess_labels = step.guess_labels

    def teacher_guesses(logits_views, *, temperature=0.5, normalize=True):
        teacher, _state["teacher"] = _state["teacher"], None
        if teacher is None:  # the epoch-end check, or no average yet
            return guess_labels(logits_views, temperature=temperature, normalize=normalize)
        teacher = teacher.to(logits_views.dtype)[None]
        views = teacher if mode == "only" else torch.cat([logits_views, teacher])
        return guess_labels(views, temperature=temperature, normalize=normalize)

    def teacher(net, batch):
        average = net.ieg_state_.average
        if average is not None:
            x = torch.as_tensor(batch[0]).to(net.device)
            with torch.no_grad():
                net.module_.eval()
                _state["teacher"] = functional_call(net.module_, average, (x,))
                net.module_.train()

    step.guess_labels = teacher_guesses
    around_train_step(teacher, _state, ("teacher",))


scratch.run("SK_IEG_TEACHER", patch)
