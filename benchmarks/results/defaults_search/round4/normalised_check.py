"""Patch (scratch, round 4): the auto_meta check with gains per unit step length, each
step direction divided by its norm. It did not change the decisions on magic."""
import torch
import torch.nn.functional as F

import sk_ieg.callbacks as cb
import sk_ieg.step as st


def meta_generalization_norm(module, x, y, probe_a, probe_b, *, make_view, n_strong=1,
                             temperature=0.5, seed_generator=None):
    params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    buffers = {k: b.clone() for k, b in module.named_buffers()}
    x_weak = make_view(x, False)
    x_strong = torch.cat([make_view(x, True) for _ in range(n_strong)]) if n_strong else None
    probes = [(make_view(xp, False), yp, wp) for xp, yp, wp in (probe_a, probe_b)]
    seed = (0 if seed_generator is None else st._seed_from(seed_generator)) % 2**61
    logits, (change_a, change_b) = st._probe_logit_changes(module, params, buffers, x_weak,
                                                           probes, seed)
    views = [logits]
    if n_strong:
        with torch.no_grad(), st._module_rng(x.device, seed + 2):
            strong = st.functional_forward(module, params, buffers, x_strong)
        views += list(strong.split(len(x)))
    guesses = st.guess_labels(torch.stack(views), temperature=temperature)
    p, labels = torch.softmax(logits, dim=1), F.one_hot(y, logits.shape[1]).to(logits.dtype)
    primals = {k: q.detach() for k, q in params.items()}
    with st._module_rng(x.device, seed + 1):
        _, vjp_fn = torch.func.vjp(
            lambda q: st.functional_forward(module, q, {k: b.clone() for k, b in buffers.items()},
                                            x_weak), primals)
    def norm(cot):
        (g,) = vjp_fn(cot)
        return torch.sqrt(sum((v.detach() ** 2).sum() for v in g.values()))
    n = len(y)
    u_norm = norm((p - labels) / n)
    def signals(change):
        return (change * (p - labels)).sum(1), (change * (p - guesses)).sum(1)
    (ya, ga), (yb, gb) = signals(change_a), signals(change_b)
    rows = []
    for (y_c, g_c), (y_h, g_h) in (((ya, ga), (yb, gb)), ((yb, gb), (ya, ga))):
        w = y_c.clamp_min(0)
        tot = w.sum()
        w = w / tot if tot > 0 else torch.full_like(w, 1.0 / len(w))
        rel = (y_c < g_c).to(w.dtype)
        w_norm = norm(w[:, None] * (p - labels))
        t = labels + rel[:, None] * (guesses - labels)
        r_norm = norm((p - t) / n)
        plain = y_h.mean() / u_norm
        rows.append(torch.stack([(w * y_h).sum() / w_norm - plain,
                                 (y_h + rel * (g_h - y_h)).mean() / r_norm - plain]))
    return torch.stack(rows)

cb.meta_generalization = meta_generalization_norm
