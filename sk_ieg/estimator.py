"""IEGClassifier: the IEG method as a skorch ``NeuralNetClassifier``.

The estimator holds the parameters, the fit prelude (validate everything, then
build the run-time state), devices and skorch's hooks. Around it:
:mod:`sk_ieg.fitting` validates and splits the data, :mod:`sk_ieg.state` holds the
run-time state, :mod:`sk_ieg.callbacks` the machinery around steps and epochs (LR
schedule, weight average, per-row statistics, convergence check), and the
mathematics lives in pure functions (:mod:`sk_ieg.step`, :mod:`sk_ieg.meta`,
:mod:`sk_ieg.losses`, :mod:`sk_ieg.augment`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
from functools import partial

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.func import functional_call
from torch.utils.data import RandomSampler, SequentialSampler

from sk_ieg import augment
from sk_ieg._validation import PARAMETERS, check_X, document_types, validate_params
from sk_ieg.callbacks import AUTO_CONSISTENCY_WEIGHT, ieg_callbacks
from sk_ieg.data import IndexedDataset, MergeLastBatchSampler, is_image_shape
from sk_ieg.fitting import (
    TORCH_PROCESS_LOCK,
    check_module_output,
    prepare_fit,
    warmup_probe_rows,
    warn_missing_classes,
)
from sk_ieg.issues import label_issues_table
from sk_ieg.models import MLP, ResNetSmall
from sk_ieg.state import FitState, ProbeSet, RandomStreams, ViewStats
from sk_ieg.step import IEGConfig, auto_mixup_weight, functional_forward, ieg_objective

__all__ = ["IEGClassifier", "SPEED_SETTING"]

#: The documented speed setting: ``IEGClassifier(**SPEED_SETTING)``. The meta-gradient
#: through the last linear layer only (closed form from the penultimate features),
#: a mixup pass over a random 64-row subset of the mixup pool (``B_p + 2 B`` = 384
#: rows with the defaults) and 64-row probe batches: half the default batch size of
#: 128. See the README's "Speed" section for the measured cost and accuracy.
SPEED_SETTING = {"meta_scope": "head", "mixup_size": 64, "probe_batch_size": 64}

#: ``torch.compile(functional_forward, **options)``, one per set of options.
_COMPILED_FORWARDS: dict = {}
#: The parameters ``__init__`` stores itself (skorch stores lr, max_epochs, batch_size).
_IEG_PARAMETERS = [k for k in PARAMETERS if k not in ("lr", "max_epochs", "batch_size",
                                                       "compile")]


def _compiled_forward(options: dict):
    key = repr(sorted(options.items()))
    if key not in _COMPILED_FORWARDS:
        _COMPILED_FORWARDS[key] = torch.compile(functional_forward, **options)
    return _COMPILED_FORWARDS[key]


def _compile_config(enabled: bool):
    """The meta step back-propagates with ``retain_graph=True``, which compiled
    backward graphs with donated buffers refuse; backward graphs compile lazily,
    so the setting must hold over the whole step."""
    if not enabled:
        return contextlib.nullcontext()
    return torch._functorch.config.patch(donated_buffer=False)


def optimizer_state(optimizer: torch.optim.Optimizer, module: torch.nn.Module):
    """Momentum, weight decay and momentum buffers of ``optimizer``, per parameter name
    of ``module`` (what the virtual step needs)."""
    names = {id(p): n for n, p in module.named_parameters()}
    momentum, decay, buffers = {}, {}, {}
    is_sgd = isinstance(optimizer, torch.optim.SGD)
    for group in optimizer.param_groups:
        for p in group["params"]:
            name = names.get(id(p))
            if name is None:
                continue
            decay[name] = group.get("weight_decay", 0.0)
            momentum[name] = group.get("momentum", 0.0) if is_sgd else 0.0
            buf = optimizer.state.get(p, {}).get("momentum_buffer") if is_sgd else None
            if buf is not None:
                buffers[name] = buf
    return momentum, decay, buffers


def _view_function(est, stats: ViewStats, generator: torch.Generator):
    """``make_view(x, strong)`` for the estimator's view settings."""
    if stats.kind == "callable":
        def view(x, strong):
            out = est.augmentation(x, strong=strong, generator=generator)
            if not torch.is_tensor(out) or out.shape != x.shape:
                got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
                raise ValueError(f"augmentation: the callable returned {got} for a batch of "
                                 f"shape {tuple(x.shape)}; it must return a tensor of the "
                                 "batch's shape")
            return out
        return view
    if stats.kind == "none":
        return lambda x, strong: x
    if stats.kind == "tabular":
        strong = partial(augment.tabular_strong_view, generator=generator, scale=stats.std,
                         fill=stats.mean, jitter=est.strong_jitter,
                         mask_prob=est.strong_mask_prob)
        weak = partial(augment.tabular_weak_view, generator=generator, scale=stats.std,
                       jitter=est.weak_jitter)
    else:
        h, w = est.input_shape_[1:]
        pad = augment.default_image_padding(h, w) if est.crop_padding is None \
            else est.crop_padding
        cut = augment.default_cutout_size(h, w) if est.cutout_size is None else est.cutout_size
        weak = partial(augment.weak_image_view, generator=generator, padding=pad,
                       flip=est.hflip)
        strong = partial(augment.strong_image_view, generator=generator, padding=pad,
                         flip=est.hflip, policy=est.policy, cutout_size=cut,
                         value_range=stats.value_range,
                         cutout_fill=stats.mean.mean(dim=(1, 2)))
    return lambda x, is_strong: strong(x) if is_strong else weak(x)


def _augmentation_kind(augmentation, X) -> str:
    if callable(augmentation):
        return "callable"
    kind = augmentation
    if augmentation == "auto":
        kind = {2: "tabular", 4: "image"}.get(X.ndim)
    needs = {"tabular": 2, "image": 4}.get(kind)
    if kind is None or (needs is not None and X.ndim != needs):
        raise ValueError(
            f"augmentation={augmentation!r} makes views of 2-D rows (tabular) or 4-D images "
            f"(N, C, H, W){'' if kind is None else f' (here {needs}-D)'}, but X has shape "
            f"{X.shape}; pass augmentation='none' or a callable f(x, *, strong, generator)")
    return kind


def _has_lr_scheduler(callbacks) -> bool:
    for cb in callbacks or []:
        cb = cb[1] if isinstance(cb, tuple) else cb
        if isinstance(cb, LRScheduler) or (isinstance(cb, type) and
                                           issubclass(cb, LRScheduler)):
            return True
    return False


@document_types
class IEGClassifier(NeuralNetClassifier):
    """Neural network classifier trained with IEG on noisy labels.

    IEG (Zhang et al., CVPR 2020) trains on a large set of rows with noisy labels
    and a small trusted ("probe") set with verified labels. At every step it
    makes augmented views of the batch, guesses labels from them, and uses the
    exact meta-gradient of the probe loss after a virtual SGD step to decide, for
    every row, how much to trust it (exemplar weight ``omega*``) and whether to
    keep its given label or replace it by the guess (``lambda*``). The final
    loss adds mixup anchored on the probe rows and a consistency term between
    weak and strong views.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        Any module mapping a batch of inputs to logits. ``None`` builds a default
        from the data: :class:`~sk_ieg.models.MLP` for 2-D ``X``,
        :class:`~sk_ieg.models.ResNetSmall` for 4-D ``X`` (N, C, H, W); pass its
        options as ``module__hidden_units=(512,)`` etc.
    n_views : @type
        ``K``, views per noisy row: one weak and ``K - 1`` strong (paper: 2).
    temperature : @type
        ``tau``, sharpening temperature of the guessed labels (eq. 3).
    given_label_weight : @type
        ``lambda_0``, the given label's share in the soft target
        ``t = lambda y + (1 - lambda) g`` at which the meta-gradient is taken.
    meta_lr : @type
        ``a``, the step size of the virtual SGD step (fixed; the authors' code).
    meta_gradient : @type
        How the meta-gradient is computed. ``"jvp"`` is exact and costs one
        forward-mode pass; ``"double_backward"`` is the exact reference
        (slower); ``"finite_difference"`` approximates the JVP with one extra
        forward, for modules without forward-mode AD support.
    relabel : @type
        Re-labeling with ``lambda*`` (eq. 6-7). Off: the given labels are the
        targets and ``corrected_labels_`` equals the given labels.
    reweight : @type
        Exemplar re-weighting with ``omega*`` (eq. 5). Off: uniform weights.
        ``relabel=False, mixup=False, consistency_weight=0, policy=None`` is L2R
        (the paper's ablation M-1).
    mixup : @type
        Probe-anchored mixup over the pool [probe, weak views, strong views]
        (eq. 9), with ``m = max(b, 1 - b)``, ``b ~ Beta(0.5, 0.5)``.
    probe_mixup_weight : @type
        Weight of the mixup loss on rows whose first element is a probe row
        (``L_beta_p``).
    mixup_weight : @type
        ``p``, weight of the mixup loss on the other rows (``L_beta_u``;
        paper: 5 on CIFAR, 4 on WebVision). ``"auto"`` (default): 4 for images
        (4-D ``X``) and 1 otherwise. Measured at 30 to 60 epochs
        (``benchmarks/results/defaults_search``, round 12): on images 4 gained
        0.4 points on the mean of 5 configurations (-0.3 to +0.7); on digits and
        letter it lost 0.2 on the mean of 5 (-0.6 to +0.7).
    consistency_weight : @type
        ``k``, weight of ``KL(weak || strong)`` (eq. 4; paper: 20 on CIFAR, 3.5
        on Clothing1M, 14 on Food101N). 0 turns the consistency loss off; a
        number keeps that weight for the whole fit (the paper: 20.0).
        ``"auto"`` (default): start at 20 and let the probe decide each epoch: the
        weight halves (down to 20/16) unless the consistency loss's gradient
        agrees with the probe loss's gradient (mean cosine on 4 batches more than
        two standard errors above 0), and doubles back (up to 20) when it does and
        the epoch's mean probe loss did not rise (a positive cosine alone let the
        weight grow while training collapsed on a clean table, round 14);
        history records ``consistency_weight`` and ``consistency_alignment``. The
        check costs about 3 steps' time an epoch (+4% per epoch on a Fashion-MNIST
        CNN with 78 steps an epoch). Why it is the default:
        ``benchmarks/results/defaults_search``.
    meta_scope : @type
        Parameters the meta-gradient is taken through. ``"all"``: every
        trainable parameter (exact, as the paper). ``"head"``: only the last
        :class:`torch.nn.Linear` layer, whose output must be the module's output;
        the virtual step, probe loss and JVP then have closed forms in the
        penultimate features, so the meta step costs one forward of the probe
        batch without a graph. Cheaper for large networks, an approximation of
        the full meta-gradient (see the README's "Speed" section for its
        measured effect).
    meta_strength : @type
        How far the exemplar weights follow the meta step: ``s omega* + (1 - s) / B``,
        so 1 is the paper's step and 0 uniform weights. ``"auto"``: starts at 1
        and, each epoch, halves (to 1/16 at least) unless weights chosen by one
        half of the trusted rows measurably help the other half (4 checks an
        epoch; see :class:`~sk_ieg.callbacks.AutoMetaStrength`), doubling back
        when they do. With few trusted rows the meta step fits them rather than
        the task (on two-class tables with 10 trusted rows per class it ended
        below plain training); ``"auto"`` then moves the step towards plain
        training, and with enough trusted rows it stays at 1.
    relabel_strength : @type
        Likewise for relabeling: coefficients ``r lambda* + 1 - r``, so 0 keeps
        every given label; ``"auto"``: the same check, on whether relabeling
        chosen by one half of the trusted rows helps the other half.
    noise_transition : @type
        ``"auto"``: from the end of the ramp-up, each epoch estimates how the given
        labels are corrupted, ``T[c, j]``, the share of rows of true class ``c``
        labeled ``j``, from the running guesses' soft joint with the given labels
        (as confident learning counts it; see
        :class:`~sk_ieg.callbacks.NoiseTransition`), and the guessed labels become
        posteriors given the row's own label, ``g(c) T[c, y] / sum``. A label that
        a known confusion explains (pair-flip noise, c -> c+1) then picks between
        the classes that could have produced it instead of among all classes;
        under uniform noise it tilts a guess slightly towards the given label.
        ``corrected_labels_`` is the argmax of the same posterior of the running
        guesses. None: the paper's guesses, and the ``lambda*`` rule for
        ``corrected_labels_``.
    early_learning_weight : @type
        ``w_e``, weight of early-learning regularisation (ELR, Liu et al., NeurIPS
        2020) on the noisy rows: the loss adds ``w_e * mean_i log(1 - <p_i, t_i>)``,
        ``p_i`` the weak view's softmax and ``t_i`` a running average of the row's
        earlier predictions (:func:`~sk_ieg.losses.early_learning_loss`). It holds
        each row's prediction to what the network learnt early, before it
        memorises wrong labels: the step falls back towards plain training where
        the trusted rows turn the meta step down, and at long budgets plain
        training memorises the noise. 0 turns it off (the paper's step). Why 1:
        ``benchmarks/results/defaults_search`` (round 10).
    early_learning_decay : @type
        ``beta``, decay per visit of the rows' running targets ``t_i`` (ELR's
        0.7).
    mixup_size : @type
        Rows of the mixup pool ``[probe, weak views, strong views]`` that are
        mixed and passed through the network each step: a random subset of this
        size that keeps the probe rows' share. None: the whole pool
        (``B_p + K B`` rows, the authors' code). ``SPEED_SETTING`` uses
        64.
    compile : @type
        skorch's switch, extended to the IEG step: every pass at explicit
        parameters (strong views, probe, JVP, mixup) runs through
        ``torch.compile(sk_ieg.step.functional_forward, **compile__options)``;
        the first pass too, unless ``meta_scope="head"``; prediction stays eager. Same
        losses to float tolerance; compiling takes tens of seconds and pays off
        on GPUs with larger networks (see the README's "Speed" section).
    augmentation : @type
        How views are made. ``"auto"``: ``"image"`` for 4-D ``X``, otherwise
        ``"tabular"``. A callable ``f(x, *, strong, generator)`` returning a
        tensor of the same shape replaces the built-in views.
    policy : @type
        Images only: augmentation policy applied first in strong views. None
        (default): off, so a strong view is another random pad-and-crop (and flip)
        of the image; with ``cutout_size=0`` this gained 0.6-4.5 points on 4 of 5
        image benchmarks at 30 epochs and lost 1.2 on the fifth, against
        RandAugment with Cutout (``benchmarks/results/defaults_search``, round 6).
        ``"randaugment"``: a batched re-implementation of torchvision's
        ``v2.RandAugment()`` (2 ops at magnitude 9 of 31, same op space and uint8
        results), an independent op chain per image with no Python loop over
        images and no host-device sync, on the model's device.
        ``"autoaugment"``: torchvision's ``v2.AutoAugment`` (CIFAR-10 policy),
        called once per image (much slower, especially on a GPU). Both need 1 or
        3 channels and quantise the strong view to 256 levels.
    hflip : @type
        Images only: random horizontal flips in both views. False (default): a
        flip changes the label of digits and text, and on the five image
        benchmarks of the defaults search flips lost on all five (mean -0.5
        points, -0.3 to -0.9; ``benchmarks/results/defaults_search``, round 11).
        True for natural images trained long enough to use it (the paper).
    crop_padding : @type
        Images only: pixels of the random pad-and-crop; None (default):
        ``max(1, round(min(H, W) / 32))``, 1 for 28x28 and 32x32 (the paper: 4).
    cutout_size : @type
        Images only: side of the Cutout square in strong views; 0 (default): no
        Cutout; None: ``H / 2`` (16 for 32x32, as in the paper).
    weak_jitter : @type
        Tabular only: Gaussian noise of the weak view, in units of each
        feature's standard deviation.
    strong_jitter : @type
        Tabular only: Gaussian noise of the strong views, likewise.
    strong_mask_prob : @type
        Tabular only: probability that a strong view replaces a feature by the
        feature's mean (the tabular analogue of Cutout).
    probe_batch_size : @type
        Probe rows per step, cycling through the trusted set; None:
        ``batch_size`` (the authors' code).
    probe_prior : @type
        The class mix of the probe batches, which is the class prior the meta
        step fits the network to. ``"given"``: classes in proportion to the
        given labels of the noisy rows (plus one each), so a trusted set of 10
        rows per class does not pull an imbalanced problem towards equal class
        frequencies. ``"balanced"``: every class equally often (the authors' code;
        right when the test classes are balanced whatever the labels say).
        ``"trusted"``: as often as the class occurs in the trusted set (for a
        trusted set drawn at random from the data).
    lr_schedule : @type
        Cosine decay with warm restarts: the first cycle lasts
        ``first_cycle_epochs``, each next one 1.5x longer with a 0.9x lower peak;
        the last cycle is cut to end at ``max_epochs`` so training ends at the
        lowest learning rate.
    first_cycle_epochs : @type
        Epochs of the first cycle. ``"auto"`` (default): ``max_epochs`` for images
        (4-D ``X``), i.e. one cosine decay over the budget as plain image training
        runs it, and 1 (the paper's schedule) otherwise. Measured at 30 to 60
        epochs (``benchmarks/results/defaults_search``, rounds 6 and 7): one cycle
        gained 0.4 points on the mean of 5 image configurations (-1.0 to +1.2) and
        cost 2-3 points on digits and letter (on letter the accuracy peaked mid-way
        and fell during the long decay).
    ramp_up : @type
        Fraction of ``max_epochs`` over which the consistency and noisy-row mixup
        weights ramp up from near 0 (``exp(-5 (1 - t)**2)``, as Mean Teacher and
        MixMatch ramp their unlabeled loss); relabeling starts when the ramp ends,
        so that early guesses of a barely trained network do not replace labels.
        Default 0.15 (9 of 60 epochs). 0: the paper's constant weights from the
        first step.
    ema_decay : @type
        Exponential moving average of the weights used for prediction, with the
        usual warm-up ``min(decay, (1 + t) / (10 + t))`` at step ``t``. None: off.
    statistics_decay : @type
        Per-row decay of the running averages behind ``sample_weights_`` and
        ``corrected_labels_`` (one update per epoch a row is seen).
    auto_probe_per_class : @type
        Only when ``fit`` gets no trusted rows: how many rows per class to select
        as the probe set (see Notes).
    auto_probe_epochs : @type
        Only when ``fit`` gets no trusted rows: epochs of the warm-up network
        that selects the probe set; None: ``max(1, max_epochs // 10)``.
    random_state : @type
        Drives every random choice: module initialisation, shuffling, probe
        batches, views, mixup and dropout. The global RNGs are not touched.
    lr : @type
        Peak learning rate of SGD (momentum 0.9 and weight decay 5e-4 by default,
        as ``optimizer__momentum`` and ``optimizer__weight_decay``).
    max_epochs : @type
    batch_size : @type
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        Used for validation loss and ``predict_proba``'s softmax only; the
        training loss is IEG's.
    train_split : callable or None, default=None
        Internal validation split (on noisy labels, so of little use; rather
        score on trusted rows).
    **kwargs
        Other :class:`skorch.NeuralNetClassifier` parameters (``device``,
        ``verbose``, ``callbacks``, ``optimizer__*``, ``module__*``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the user's label space.
    n_features_in_ : int
        Number of features (for images: channels) seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit; only when ``X`` has string column names.
    sample_weights_ : ndarray of shape (n_samples,)
        One entry per row of ``X`` as passed to ``fit``. Rows marked by
        ``trusted`` get 1 (likewise 1 in ``relabel_scores_`` and their own
        label in ``corrected_labels_``). Every other row, noisy: per step
        ``min(B * omega*_i, 1)`` (the normalised weight in units of the uniform
        weight ``1/B``, capped at 1), averaged over the epochs the row was seen
        with decay ``statistics_decay``, then scaled so the mean over the noisy
        rows is 1. Low values
        mark rows whose label the trusted set disagrees with. The cap keeps one
        step in which few rows of a batch got any weight from dominating a row's
        score (on digits at 40% noise it raised the clean / mislabeled ratio of
        mean weights from about 2x to about 10x).
    corrected_labels_ : ndarray of shape (n_samples,)
        With ``noise_transition="auto"``: the most likely true label given the
        running average of the guessed labels and the row's given label under the
        estimated transition ``noise_transition_`` (the argmax of
        ``g(c) T[c, y]``). With ``noise_transition=None``: the given label where
        the meta step mostly kept it (running average of ``lambda*`` >= 0.5),
        otherwise the argmax of the running average of the guessed labels. In the
        user's label space.
    noise_transition_ : ndarray of shape (n_classes, n_classes) or None
        The last estimate of ``noise_transition="auto"``: entry ``[c, j]`` is the
        estimated share of the noisy rows of true class ``c`` labeled ``j`` (rows
        sum to 1; classes in the order of ``classes_``). None when it is off or
        training ended before the ramp-up did.
    relabel_scores_ : ndarray of shape (n_samples,)
        Running average of the relabeling coefficient the step used (``lambda*``,
        shrunk towards 1 by ``relabel_strength``): 1 = the given label was always
        kept.
    label_quality_ : ndarray of shape (n_samples,)
        How likely the given label is right, in [0, 1]: with
        ``noise_transition="auto"`` the posterior of the given label behind
        ``corrected_labels_`` (below 0.5 for every row whose label it replaced);
        with ``noise_transition=None`` (or ``relabel=False``) ``relabel_scores_``
        clipped to [0, 1]. Trusted rows get 1. The ``label_quality`` column of
        ``label_issues_``.
    given_labels_ : ndarray of shape (n_samples,)
        The labels ``fit`` was given, in the user's label space, aligned with
        ``corrected_labels_`` (the noisy rows, or every row of ``X`` with a
        ``trusted`` mask, whose trusted rows have their verified label).
    probe_indices_ : ndarray of shape (n_probe,)
        Indices into ``X`` of the probe rows: those marked by ``trusted``, or
        those selected when no trusted data was given. Only then (absent when
        the probe set came as ``X_trusted``).
    label_issues_ : pandas.DataFrame of shape (n_samples, 5)
        Rows aligned with ``corrected_labels_``; columns ``given_label``,
        ``corrected_label``, ``sample_weight``, ``is_label_issue``
        (``corrected_label != given_label``) and ``label_quality``
        (``label_quality_``). Needs pandas; see
        :func:`sk_ieg.cleaning.label_issues_table`.
    module_ : torch.nn.Module
        The trained network (the raw weights; predictions use the weight average
        when ``ema_decay`` is set).
    history_ : skorch.History
        Per epoch: ``train_loss``, ``probe_loss``, ``relabeled`` (share of rows
        with ``lambda* = 0``), ``lr`` (the rate of the epoch's last batch), ``dur``;
        per batch also ``lr``, the rate the optimizer used.
    ieg_state_ : sk_ieg.state.FitState
        Run-time state (probe set, random streams, per-row statistics, weight
        average), kept for ``partial_fit``.

    See Also
    --------
    skorch.NeuralNetClassifier : the base class.
    sklearn.semi_supervised.SelfTrainingClassifier : per-sample results alike.

    Notes
    -----
    Cost per step with the defaults (K=2): forwards of the weak, strong, probe
    (at the virtual parameters) and mixup (3B rows) batches, one JVP, and three
    backwards (virtual loss, probe loss, final loss).

    **Callbacks.** The machinery around steps and epochs is a set of skorch
    callbacks installed by ``get_default_callbacks`` (:mod:`sk_ieg.callbacks`):
    ``finite_check`` (a diverging fit raises ``NonFiniteLossError`` and is undone),
    ``lr_schedule`` (``lr_schedule``, ``first_cycle_epochs``), ``record_lr``,
    ``weight_average`` (``ema_decay``), ``row_statistics`` (``statistics_decay``;
    it sets ``sample_weights_``, ``relabel_scores_``, ``label_quality_`` and
    ``corrected_labels_``),
    ``noise_transition`` (``noise_transition``) and ``convergence``. Pass a skorch
    ``LRScheduler`` in ``callbacks`` and it replaces ``lr_schedule``; turn any of them
    off with ``callbacks__<name>=None``.

    **Pipelines and model selection.** Mark the trusted rows with a boolean
    mask, ``fit(X, y, trusted=mask)``: the mask is aligned with ``X``, so the
    trusted rows go through every preprocessing step and every CV split with
    the others. In a Pipeline pass ``ieg__trusted=mask``, or enable metadata
    routing and call ``set_fit_request(trusted=True)``; to choose
    hyperparameters by verified labels use
    :class:`~sk_ieg.model_selection.TrustedStratifiedKFold` and
    :data:`~sk_ieg.model_selection.trusted_accuracy_scorer`.

    **Without trusted data** (``fit(X, y)``, or a mask with no True entry) a
    probe set is selected from ``X`` with a :class:`UserWarning`: a plain
    network (the same module, cross-entropy on the given labels) is trained
    for ``auto_probe_epochs`` epochs, then per class the
    ``auto_probe_per_class`` rows whose given label it agrees with most become
    the probe set (:func:`~sk_ieg.model_selection.select_probe_rows`). They
    stay in the noisy set too. Networks fit clean labels before noisy ones, so
    these rows are mostly clean, but unverified: IEG is then only as good as
    that guess.

    **Persistence.** ``pickle`` and ``joblib`` round trips restore identical
    predictions and the run-time state for ``partial_fit``. Loading is
    unpickling, which can run arbitrary code from the file: load only files you
    trust. Tensors are restored through skorch's unpickler with
    ``torch.load(weights_only=True)`` (``torch_load_kwargs``) onto the saved
    device, or onto the CPU where CUDA is unavailable (with a
    ``skorch.exceptions.DeviceWarning``); random generators of a GPU fit are
    then re-seeded on the CPU, which only affects further training.

    **Threads.** Parallel fits in threads of one process (joblib's threading
    backend, Dask worker threads) are safe and reproducible: the sections
    that use per-process torch state (forward-mode AD, ``fork_rng``) take
    turns. Processes (joblib's default loky backend) run fully in parallel.

    References
    ----------
    Zhang, Zhang, Arik, Lee, Pfister. "Distilling Effective Supervision from
    Severe Label Noise". CVPR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_ieg import IEGClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")
    >>> clf = IEGClassifier(max_epochs=2, verbose=0, random_state=0)
    >>> clf = clf.fit(X[100:], y[100:], X_trusted=X[:100], y_trusted=y[:100])
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    # The run-time state holds tensors: pickle it through skorch's device-aware path.
    cuda_dependent_attributes_ = ["ieg_state_"]

    #: The step's objective, ``sk_ieg.step.ieg_objective``; a subclass may set
    #: ``sk_ieg.step.reference_objective`` (the speed benchmark times the textbook route so).
    objective = staticmethod(ieg_objective)

    def __init__(
        self,
        module=None,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        lr=0.1,
        max_epochs=100,
        batch_size=128,
        n_views=2,
        temperature=0.5,
        given_label_weight=0.9,
        meta_lr=0.1,
        meta_gradient="jvp",
        relabel=True,
        reweight=True,
        mixup=True,
        probe_mixup_weight=1.0,
        mixup_weight="auto",
        consistency_weight="auto",
        meta_scope="all",
        meta_strength="auto",
        relabel_strength="auto",
        noise_transition="auto",
        early_learning_weight=1.0,
        early_learning_decay=0.7,
        mixup_size=None,
        augmentation="auto",
        policy=None,
        hflip=False,
        crop_padding=None,
        cutout_size=0,
        weak_jitter=0.05,
        strong_jitter=0.2,
        strong_mask_prob=0.2,
        probe_batch_size=None,
        probe_prior="given",
        lr_schedule="cosine_restarts",
        first_cycle_epochs="auto",
        ramp_up=0.15,
        ema_decay=0.999,
        statistics_decay=0.9,
        auto_probe_per_class=10,
        auto_probe_epochs=None,
        random_state=None,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__momentum", 0.9)
        kwargs.setdefault("optimizer__weight_decay", 5e-4)
        super().__init__(module, *args, criterion=criterion, train_split=train_split, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, **kwargs)
        given = locals()
        for name in _IEG_PARAMETERS:  # the constraint table's names: one declaration each
            setattr(self, name, given[name])

    def _get_param_names(self):
        # skorch takes every instance attribute not ending in "_" for a parameter, its
        # private set `_params_to_validate` included; parameters never start with "_".
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # random_state fixes every random choice (on CPU)
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags

    def get_default_callbacks(self):
        """skorch's defaults with the meta-step callbacks (:mod:`sk_ieg.callbacks`)
        before ``print_log``; without the learning-rate schedule when ``callbacks``
        holds a skorch ``LRScheduler``, which then sets the rate alone."""
        base = NeuralNetClassifier._default_callbacks.fget(self)
        ours = ieg_callbacks(schedule=not _has_lr_scheduler(self.callbacks))
        return base[:-1] + ours + base[-1:]

    @property
    def _default_callbacks(self):  # skorch's get_params reads this property directly
        return self.get_default_callbacks()

    # --------------------------------------------------------------------- fit
    def fit(self, X, y, X_trusted=None, y_trusted=None, *, trusted=None, **fit_params):
        """Fit the network with IEG on noisy rows and trusted rows.

        The trusted (probe) rows come in one of three ways: a boolean mask
        ``trusted`` over the rows of ``X`` (the way to use in Pipelines and model
        selection), separate arrays ``X_trusted`` / ``y_trusted``, or not at all
        (then a probe set is selected from ``X``, with a warning; see Notes of
        the class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training rows. Without ``trusted``: all of them have possibly wrong
            labels.
        y : array-like of shape (n_samples,)
            Their labels (any hashable type: ints, strings, ...).
        X_trusted : array-like of shape (n_trusted, ...), default=None
            Rows with verified labels (the probe set), same row shape as ``X``.
            Not to be used inside Pipelines or search utilities: a Pipeline
            passes it to this step untransformed, and GridSearchCV or
            cross_validate slice it like ``X`` when it has as many rows (a
            warning is raised then); use ``trusted`` there.
        y_trusted : array-like of shape (n_trusted,), default=None
            Their verified labels.
        trusted : array-like of bool of shape (n_samples,), default=None
            Marks the rows of ``X`` whose label ``y`` is verified; they form
            the probe set, the other rows the noisy set. Being aligned with
            ``X``, the mask follows the rows through every preprocessing step
            and cross-validation split (``ieg__trusted=mask`` in a Pipeline, or
            ``set_fit_request(trusted=True)`` with metadata routing). Cannot be
            combined with ``X_trusted``. A mask without any True entry counts
            as no trusted data.
        **fit_params
            None are accepted (a ``TypeError`` names them).

        Returns
        -------
        self : IEGClassifier

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            When the trusted (probe) loss of the last epoch is no lower than
            ``ln(n_classes)``, the loss of a uniform guess: the network did not learn
            (too few epochs, or training collapsed to near-constant predictions).
        """
        return self._fit_ieg(X, y, X_trusted, y_trusted, trusted, None, fit_params,
                             partial=False)

    def partial_fit(self, X, y, classes=None, X_trusted=None, y_trusted=None, *, trusted=None,
                    **fit_params):
        """Train ``max_epochs`` more epochs on ``(X, y)``, continuing from the current state.

        On an unfitted estimator this is :meth:`fit`. Later calls keep the
        weights, the optimizer state and the weight average, and start a new
        learning-rate cycle; the probe set is the one given to this call
        (``trusted`` or ``X_trusted`` / ``y_trusted``), else the previous one.
        ``sample_weights_``, ``corrected_labels_``, ``relabel_scores_`` and
        ``label_quality_`` then describe the rows of this call.

        Parameters
        ----------
        X, y, X_trusted, y_trusted, trusted
            As in :meth:`fit`. After the first call, the labels must be among
            ``classes_`` and the rows of the same shape.
        classes : array-like of shape (n_classes,), default=None
            All classes, for a first call whose labels do not show them all;
            ignored by later calls.
        **fit_params
            None are accepted (a ``TypeError`` names them).

        Returns
        -------
        self : IEGClassifier
        """
        fitted = self.initialized_ and hasattr(self, "ieg_state_")
        return self._fit_ieg(X, y, X_trusted, y_trusted, trusted, classes, fit_params,
                             partial=fitted)

    def _fit_ieg(self, X, y, X_trusted, y_trusted, trusted, classes, fit_params, *, partial):
        """Validate everything, then change the estimator; a call that raises leaves the
        estimator as it was (see :meth:`_backup`)."""
        restore = self._backup(partial)
        try:
            return self._validated_fit(X, y, X_trusted, y_trusted, trusted, classes, fit_params,
                                       partial)
        except BaseException:
            state = restore()
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _backup(self, partial):
        """A way back to the current state. A fresh fit replaces the module, optimizer,
        history and run-time state by new objects, so a shallow copy suffices; training
        that goes on from the current weights (``partial_fit``, ``warm_start``, a module
        instance that skorch reuses) changes them in place, so it keeps a pickle."""
        shallow = dict(self.__dict__)
        in_place = partial or self.warm_start or isinstance(self.module, torch.nn.Module)
        if self.initialized_ and in_place:
            try:
                blob = pickle.dumps(self)
            except Exception:  # unpicklable user callbacks: a best effort
                return lambda: shallow
            return lambda: pickle.loads(blob).__dict__
        return lambda: shallow

    def _validated_fit(self, X, y, X_trusted, y_trusted, trusted, classes, fit_params, partial):
        validate_params(self)
        if fit_params:
            raise TypeError(f"unexpected fit parameters: {sorted(fit_params)}")
        data = prepare_fit(self, X, y, X_trusted, y_trusted, trusted, classes, partial=partial)
        kind = _augmentation_kind(self.augmentation, data.X)
        if data.needs_probe:
            data = warmup_probe_rows(self, data, self._build_module(
                int(data.seeds[4]), data.input_shape, len(data.classes)))
        warn_missing_classes(data)
        # Validated: from here on the estimator changes.
        if not partial:
            self.input_shape_ = data.input_shape
            self.classes_inferred_ = data.classes
            self.n_features_in_ = data.features.n_features_in_
            self.__dict__.pop("feature_names_in_", None)
            if hasattr(data.features, "feature_names_in_"):
                self.feature_names_in_ = data.features.feature_names_in_
        self.ieg_state_ = self._make_state(data, kind, self.ieg_state_ if partial else None)
        self.given_labels_ = data.classes[data.rows.align(data.y, data.rows.trusted_labels)]
        if not partial and (not self.warm_start or not self.initialized_):
            self.initialize()
        check_module_output(self.module_, data.X[:2], len(self.classes_), self.device)
        super().partial_fit(IndexedDataset(torch.from_numpy(data.X), torch.from_numpy(data.y)),
                            data.y)
        if data.probe_indices is None:
            self.__dict__.pop("probe_indices_", None)
        else:
            self.probe_indices_ = data.probe_indices
        return self

    def _make_state(self, data, kind, previous=None) -> FitState:
        """Run-time state of a fit, or of a partial_fit continuing ``previous``."""
        device = torch.device(self.device) if self.device is not None else torch.device("cpu")
        if data.X_probe is None:  # partial_fit without new trusted rows: the previous probe set
            probe, X_probe = previous.probe, previous.probe.X.cpu().numpy()
        else:
            X_probe = data.X_probe
            probe = ProbeSet.from_arrays(X_probe, data.y_probe,
                                         self.probe_batch_size or self.batch_size,
                                         int(data.seeds[3]), device,
                                         class_counts=self._probe_class_counts(data))
        return FitState(
            probe=probe,
            rng=previous.rng if previous is not None else RandomStreams.from_seeds(
                data.seeds, device),
            views=ViewStats.from_rows(kind, np.concatenate([data.X, X_probe]), device),
            rows=data.rows, average=None if previous is None else previous.average,
            early_targets=self._early_targets(data.rows, len(data.classes), device, previous))

    def _early_targets(self, rows, n_classes, device, previous=None):
        """The noisy rows' early-learning targets: a ``partial_fit`` on the same noisy
        rows (the same given labels, in order) continues the previous fit's, anything
        else starts from zeros; None when the term is off."""
        if not self.early_learning_weight:
            return None
        kept = getattr(previous, "early_targets", None)
        if kept is not None and kept.shape[1] == n_classes \
                and np.array_equal(previous.rows.labels, rows.labels):
            return kept.to(device)
        return torch.zeros(len(rows.labels), n_classes, device=device)

    # ------------------------------------------------------------ skorch hooks
    def check_data(self, X, y=None):
        # Validation and label encoding happen in fit; y here is already encoded.
        pass

    def initialize_module(self):
        """Build the module; ``module=None`` builds a default from the data."""
        state = getattr(self, "ieg_state_", None)
        self.module_ = self._build_module(None if state is None else state.rng.module_seed)
        return self

    def torch_compile(self, module, name):
        """skorch's hook: the module stays eager (the IEG step compiles its passes
        itself, see ``compile``); other modules are compiled as skorch does."""
        if name == "module":
            return module
        return super().torch_compile(module, name)

    def _build_module(self, seed=None, input_shape=None, n_classes=None):
        """The module, initialised from ``seed`` without touching torch's global RNG;
        the default module is sized for ``input_shape`` (default: the fitted one)."""
        kwargs = self.get_params_for("module")
        with TORCH_PROCESS_LOCK, torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            if self.module is None and input_shape is None:
                if not hasattr(self, "input_shape_"):
                    raise ValueError("module=None builds the network from the data: call fit "
                                     "before initialize, or pass a module")
                input_shape, n_classes = self.input_shape_, len(self.classes_)
            try:
                if self.module is not None:
                    return self.initialized_instance(self.module, kwargs)
                shape = tuple(input_shape)
                if is_image_shape(shape):
                    return ResNetSmall(shape[0], n_classes, **kwargs)
                return MLP(int(np.prod(shape)), n_classes, **kwargs)
            except (RuntimeError, TypeError, ValueError) as exc:
                raise ValueError(f"module: the network cannot be built with "
                                 f"module__ parameters {kwargs}: {exc}") from exc

    def get_iterator(self, dataset, training=False):
        """Loaders that never draw from the global RNG.

        Training batches are shuffled by a generator seeded from ``random_state``; a
        last batch of a single row is merged into the one before (BatchNorm cannot
        train on one row).
        A DataLoader without a generator draws its base seed from torch's global
        RNG even when it does not shuffle, so prediction loaders get a private one.
        """
        if training and hasattr(self, "ieg_state_"):
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("shuffle", True)
            kwargs.setdefault("generator", self.ieg_state_.rng.loader)
            if not {"sampler", "batch_sampler", "drop_last"} & set(kwargs):
                # batch_size's batches, a lone last row merged into the batch before
                sampler = RandomSampler(dataset, generator=kwargs["generator"]) \
                    if kwargs.pop("shuffle") else SequentialSampler(dataset)
                size = kwargs.pop("batch_size", self.batch_size)
                kwargs["batch_sampler"] = MergeLastBatchSampler(
                    sampler, len(dataset) if size == -1 else size)
                return self.iterator_train(dataset, **kwargs)
            iterator = self.iterator_train
        else:
            kwargs = self.get_params_for("iterator_valid")
            kwargs.setdefault("generator", torch.Generator())
            iterator = self.iterator_valid
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return iterator(dataset, **kwargs)

    # -------------------------------------------------------------- the step
    def step_config(self) -> IEGConfig:
        """The :class:`~sk_ieg.step.IEGConfig` of one step, from the parameters."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(IEGConfig)}
        state = getattr(self, "ieg_state_", None)
        for name in ("meta_strength", "relabel_strength"):  # the auto_meta callback's
            if values[name] == "auto":
                values[name] = getattr(state, name, 1.0)
        if values["mixup_weight"] == "auto":  # a rule on the input kind
            shape = getattr(self, "input_shape_", ())
            values["mixup_weight"] = auto_mixup_weight(images=is_image_shape(shape))
        if values["consistency_weight"] == "auto":  # the auto_consistency callback's scale
            values["consistency_weight"] = AUTO_CONSISTENCY_WEIGHT * getattr(
                state, "consistency_scale", 1.0)
        if values["noise_transition"] == "auto":  # the noise_transition callback's estimate
            values["noise_transition"] = getattr(state, "transition", None)
        config = IEGConfig(**values)
        ramp = getattr(state, "ramp", 1.0)
        if ramp < 1.0:  # the ramp_up callback's factor
            config = dataclasses.replace(
                config, consistency_weight=config.consistency_weight * ramp,
                mixup_weight=config.mixup_weight * ramp, relabel=False)
        return config

    def view_function(self):
        """``make_view(x, strong)``: the fitted views, drawing from the fit's generator."""
        state = self.ieg_state_
        return _view_function(self, state.views, state.rng.views)

    def _probe_class_counts(self, data):
        """The probe sampler's class weights for ``probe_prior`` (None: balanced)."""
        probe_classes = np.unique(data.y_probe)
        if self.probe_prior == "given":
            return np.bincount(data.y, minlength=len(data.classes))[probe_classes] + 1
        if self.probe_prior == "trusted":
            return np.bincount(data.y_probe, minlength=len(data.classes))[probe_classes]
        return None

    def probe_batch(self):
        """The next class-balanced batch of probe rows and labels, on the device."""
        return self.ieg_state_.probe.batch()

    def train_step_single(self, batch, **fit_params):
        """Compute the IEG loss on one batch and back-propagate it."""
        self._set_training(True)
        state = self.ieg_state_
        Xi, yi = unpack_data(batch)
        x = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        y, rows = yi[:, 0], yi[:, 1]
        momentum, decay, buffers = optimizer_state(self.optimizer_, self.module_)
        targets = state.early_targets
        with TORCH_PROCESS_LOCK, _compile_config(self.compile):
            out = self.objective(
                self.module_, x, y, *self.probe_batch(), n_classes=len(self.classes_),
                make_view=self.view_function(), config=self.step_config(),
                generator=state.rng.views, momentum=momentum, weight_decay=decay,
                momentum_buffers=buffers, seed_generator=state.rng.seeds,
                call=_compiled_forward(self.get_params_for("compile")) if self.compile else None,
                backward=True, early_targets=None if targets is None else targets[rows])
        if out.early_targets is not None:
            targets[rows] = out.early_targets
        # Extra keys reach the callbacks' on_batch_end (skorch passes the step dict on).
        return {"loss": out.loss, "y_pred": out.logits, "rows": rows, "omega": out.omega,
                "lam": out.lam, "guesses": out.raw_guesses, "probe_loss": out.probe_loss}

    # ------------------------------------------------------------- prediction
    def validation_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        yi = to_tensor(yi, device=self.device)
        if yi.dim() == 2:  # IndexedDataset rows: (label, row index)
            yi = yi[:, 0]
        return super().validation_step((Xi, yi), **fit_params)

    def evaluation_step(self, batch, training=False):
        state = getattr(self, "ieg_state_", None)
        if training or state is None or state.average is None:
            return super().evaluation_step(batch, training=training)
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.no_grad():
            self._set_training(False)
            return functional_call(self.module_, state.average,
                                   (to_tensor(Xi, device=self.device),))

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Uses the weight average when ``ema_decay`` is set.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        return super().predict_proba(check_X(self, X, shape=self.input_shape_))

    def predict(self, X):
        """Predicted class labels, in the user's label space.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[proba.argmax(axis=1)]

    @property
    def label_issues_(self):
        """Label-issues table (pandas DataFrame); see :mod:`sk_ieg.cleaning`."""
        check_is_fitted(self, ["corrected_labels_", "sample_weights_", "label_quality_",
                               "given_labels_"])
        return label_issues_table(self.given_labels_, self.corrected_labels_,
                                  self.sample_weights_, self.label_quality_)
