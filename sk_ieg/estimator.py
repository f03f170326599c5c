"""IEGClassifier: the IEG method as a skorch ``NeuralNetClassifier``.

This module holds only the estimator: input validation, devices, the optimizer,
the learning-rate schedule, the weight average and per-row bookkeeping. The
mathematics lives in pure functions (:mod:`sk_ieg.step`, :mod:`sk_ieg.meta`,
:mod:`sk_ieg.losses`, :mod:`sk_ieg.augment`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import threading
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.func import functional_call

from sk_ieg import augment
from sk_ieg.data import IndexedDataset, ProbeSampler
from sk_ieg.meta import META_GRADIENT_METHODS
from sk_ieg.model_selection import select_probe_rows
from sk_ieg.models import MLP, ResNetSmall
from sk_ieg.schedule import cosine_restarts
from sk_ieg.step import META_SCOPES, IEGConfig, functional_forward, ieg_objective

__all__ = ["IEGClassifier", "SPEED_SETTING"]

#: The documented speed setting: ``IEGClassifier(**SPEED_SETTING)``. The meta-gradient
#: through the last linear layer only (closed form from the penultimate features),
#: a mixup pass over a random 64-row subset of the mixup pool (``B_p + 2 B`` = 384
#: rows with the defaults) and 64-row probe batches: half the default batch size of
#: 128. See the README's "Speed" section for the measured cost and accuracy.
SPEED_SETTING = {"meta_scope": "head", "mixup_size": 64, "probe_batch_size": 64}

_POLICIES = ("autoaugment", "randaugment", None)
_AUGMENTATIONS = ("auto", "tabular", "image", "none")
#: Forward-mode AD levels (the "jvp" meta-gradient) and the global RNG state that
#: ``torch.random.fork_rng`` swaps are per process, not per thread: fits running in
#: threads of one process (joblib's threading backend, Dask threads) take turns here.
_TORCH_PROCESS_LOCK = threading.RLock()
#: ``torch.compile(functional_forward, **options)``, one per set of options.
_COMPILED_FORWARDS: dict = {}


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


def _generator_record(generator):
    """A torch.Generator as plain data: device, initial seed and state."""
    return {"device": str(generator.device), "seed": generator.initial_seed(),
            "state": generator.get_state()}


def _restore_generator(record):
    """Rebuild a generator from :func:`_generator_record`.

    A CUDA generator restored where CUDA is not available (a model fitted on a
    GPU, loaded on a CPU-only machine) becomes a CPU generator re-seeded from
    its initial seed: CUDA's Philox state has no CPU equivalent. Only further
    training (``partial_fit``) draws from it; predictions do not.
    """
    device = torch.device(record["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.Generator().manual_seed(int(record["seed"]))
    generator = torch.Generator(device=device)
    generator.set_state(record["state"])
    return generator


@dataclass
class _FitState:
    """Run-time state of one fit (kept after fit for ``partial_fit``).

    Pickled through skorch's device-aware path (``cuda_dependent_attributes_``):
    tensors are mapped to the loading device by skorch's unpickler, generators
    are stored as plain records (:func:`_generator_record`).
    """

    given: np.ndarray
    X_probe: torch.Tensor
    y_probe: torch.Tensor
    probe_sampler: ProbeSampler
    generator: torch.Generator
    loader_generator: torch.Generator
    view_stats: dict
    n_rows: int
    steps_per_epoch: int
    total_steps: int
    base_lrs: list
    step: int = 0
    weight_avg: torch.Tensor | None = None
    keep_avg: torch.Tensor | None = None
    guess_avg: torch.Tensor | None = None
    visits: torch.Tensor | None = None
    ema: dict | None = None
    #: CPU generator for module-RNG seeds when ``generator`` is on a GPU (no host sync)
    seed_generator: torch.Generator | None = None
    epoch_sums: dict = field(default_factory=dict)
    #: (n_samples,) bool: the rows of X marked trusted (``fit(..., trusted=mask)``)
    trusted_mask: np.ndarray | None = None
    #: encoded labels of those rows
    trusted_labels: np.ndarray | None = None

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("generator", "loader_generator", "seed_generator"):
            if state.get(name) is not None:
                state[name] = _generator_record(state[name])
        return state

    def __setstate__(self, state):
        for name in ("generator", "loader_generator", "seed_generator"):
            if isinstance(state.get(name), dict):
                state[name] = _restore_generator(state[name])
        self.__dict__.update(state)


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
    n_views : int, default=2
        ``K``, views per noisy row: one weak and ``K - 1`` strong (paper: 2).
    temperature : float, default=0.5
        ``tau``, sharpening temperature of the guessed labels (eq. 3).
    given_label_weight : float, default=0.9
        ``lambda_0``, the given label's share in the soft target
        ``t = lambda y + (1 - lambda) g`` at which the meta-gradient is taken.
    meta_lr : float, default=0.1
        ``a``, the step size of the virtual SGD step (fixed; the authors' code).
    meta_gradient : {"jvp", "finite_difference", "double_backward"}, default="jvp"
        How the meta-gradient is computed. ``"jvp"`` is exact and costs one
        forward-mode pass; ``"double_backward"`` is the exact reference
        (slower); ``"finite_difference"`` approximates the JVP with one extra
        forward, for modules without forward-mode AD support.
    relabel : bool, default=True
        Re-labeling with ``lambda*`` (eq. 6-7). Off: the given labels are the
        targets and ``corrected_labels_`` equals the given labels.
    reweight : bool, default=True
        Exemplar re-weighting with ``omega*`` (eq. 5). Off: uniform weights.
        ``relabel=False, mixup=False, consistency_weight=0, policy=None`` is L2R
        (the paper's ablation M-1).
    mixup : bool, default=True
        Probe-anchored mixup over the pool [probe, weak views, strong views]
        (eq. 9), with ``m = max(b, 1 - b)``, ``b ~ Beta(0.5, 0.5)``.
    probe_mixup_weight : float, default=1.0
        Weight of the mixup loss on rows whose first element is a probe row
        (``L_beta_p``).
    mixup_weight : float, default=1.0
        ``p``, weight of the mixup loss on the other rows (``L_beta_u``;
        paper: 5 on CIFAR, 4 on WebVision).
    consistency_weight : float, default=20.0
        ``k``, weight of ``KL(weak || strong)`` (eq. 4; paper: 20 on CIFAR, 3.5
        on Clothing1M, 14 on Food101N). 0 turns the consistency loss off.
    meta_scope : {"all", "head"}, default="all"
        Parameters the meta-gradient is taken through. ``"all"``: every
        trainable parameter (exact, as the paper). ``"head"``: only the last
        :class:`torch.nn.Linear` layer, whose output must be the module's output;
        the virtual step, probe loss and JVP then have closed forms in the
        penultimate features, so the meta step costs one forward of the probe
        batch without a graph. Cheaper for large networks, an approximation of
        the full meta-gradient (see the README's "Speed" section for its
        measured effect).
    mixup_size : int, default=None
        Rows of the mixup pool ``[probe, weak views, strong views]`` that are
        mixed and passed through the network each step: a random subset of this
        size that keeps the probe rows' share. None: the whole pool
        (``B_p + K B`` rows, the authors' code). ``SPEED_SETTING`` uses
        64.
    compile : bool, default=False
        skorch's switch, extended to the IEG step: every pass at explicit
        parameters (strong views, probe, JVP, mixup) runs through
        ``torch.compile(sk_ieg.step.functional_forward, **compile__options)``;
        the first pass too, unless ``meta_scope="head"``; prediction stays eager. Same
        losses to float tolerance; compiling takes tens of seconds and pays off
        on GPUs with larger networks (see the README's "Speed" section).
    augmentation : {"auto", "tabular", "image", "none"} or callable, default="auto"
        How views are made. ``"auto"``: ``"image"`` for 4-D ``X``, otherwise
        ``"tabular"``. A callable ``f(x, *, strong, generator)`` returning a
        tensor of the same shape replaces the built-in views.
    policy : {"randaugment", "autoaugment", None}, default="randaugment"
        Images only: augmentation policy applied first in strong views (None:
        off). ``"randaugment"``: a batched re-implementation of torchvision's
        ``v2.RandAugment()`` (2 ops at magnitude 9 of 31, same op space and uint8
        results), an independent op chain per image with no Python loop over
        images and no host-device sync, on the model's device.
        ``"autoaugment"``: torchvision's ``v2.AutoAugment`` (CIFAR-10 policy),
        called once per image (much slower, especially on a GPU). Both need 1 or
        3 channels and quantise the strong view to 256 levels.
    hflip : bool, default=True
        Images only: random horizontal flips in both views (turn off for digits
        and text).
    crop_padding : int, default=None
        Images only: pixels of the random pad-and-crop; None: ``H / 8``
        (4 for 32x32, as in the paper).
    cutout_size : int, default=None
        Images only: side of the Cutout square in strong views; None: ``H / 2``
        (16 for 32x32, as in the paper); 0 turns it off.
    weak_jitter : float, default=0.05
        Tabular only: Gaussian noise of the weak view, in units of each
        feature's standard deviation.
    strong_jitter : float, default=0.2
        Tabular only: Gaussian noise of the strong views, likewise.
    strong_mask_prob : float, default=0.2
        Tabular only: probability that a strong view replaces a feature by the
        feature's mean (the tabular analogue of Cutout).
    probe_batch_size : int, default=None
        Probe rows per step, drawn class-balanced and cycling through the
        trusted set; None: ``batch_size`` (the authors' code).
    lr_schedule : {"cosine_restarts", "constant"}, default="cosine_restarts"
        Cosine decay with warm restarts: the first cycle lasts
        ``first_cycle_epochs``, each next one 1.5x longer with a 0.9x lower peak;
        the last cycle is cut to end at ``max_epochs`` so training ends at the
        lowest learning rate.
    first_cycle_epochs : float, default=1.0
    ema_decay : float or None, default=0.999
        Exponential moving average of the weights used for prediction, with the
        usual warm-up ``min(decay, (1 + t) / (10 + t))`` at step ``t``. None: off.
    statistics_decay : float, default=0.9
        Per-row decay of the running averages behind ``sample_weights_`` and
        ``corrected_labels_`` (one update per epoch a row is seen).
    auto_probe_per_class : int, default=10
        Only when ``fit`` gets no trusted rows: how many rows per class to select
        as the probe set (see Notes).
    auto_probe_epochs : int, default=None
        Only when ``fit`` gets no trusted rows: epochs of the warm-up network
        that selects the probe set; None: ``max(1, max_epochs // 10)``.
    random_state : int, RandomState instance or None, default=None
        Drives every random choice: module initialisation, shuffling, probe
        batches, views, mixup and dropout. The global RNGs are not touched.
    lr : float, default=0.1
        Peak learning rate of SGD (momentum 0.9 and weight decay 5e-4 by default,
        as ``optimizer__momentum`` and ``optimizer__weight_decay``).
    max_epochs : int, default=100
    batch_size : int, default=128
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
        The given label where the meta step mostly kept it (running average of
        ``lambda*`` >= 0.5), otherwise the argmax of the running average of the
        guessed labels; in the user's label space.
    relabel_scores_ : ndarray of shape (n_samples,)
        Running average of ``lambda*``: 1 = the given label was always kept.
    probe_indices_ : ndarray of shape (n_probe,)
        Indices into ``X`` of the probe rows: those marked by ``trusted``, or
        those selected when no trusted data was given. Only then (absent when
        the probe set came as ``X_trusted``).
    label_issues_ : pandas.DataFrame of shape (n_samples, 5)
        Rows aligned with ``corrected_labels_``; columns ``given_label``,
        ``corrected_label``, ``sample_weight``, ``is_label_issue``
        (``corrected_label != given_label``) and ``label_quality``
        (``relabel_scores_`` clipped to [0, 1]). Needs pandas; see
        :func:`sk_ieg.cleaning.label_issues_table`.
    module_ : torch.nn.Module
        The trained network (the raw weights; predictions use the weight average
        when ``ema_decay`` is set).
    history_ : skorch.History
        Per epoch: ``train_loss``, ``probe_loss``, ``relabeled`` (share of rows
        with ``lambda* = 0``), ``lr``, ``dur``.

    See Also
    --------
    skorch.NeuralNetClassifier : the base class.
    sklearn.semi_supervised.SelfTrainingClassifier : per-sample results alike.

    Notes
    -----
    Cost per step with the defaults (K=2): forwards of the weak, strong, probe
    (at the virtual parameters) and mixup (3B rows) batches, one JVP, and three
    backwards (virtual loss, probe loss, final loss).

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
        mixup_weight=1.0,
        consistency_weight=20.0,
        meta_scope="all",
        mixup_size=None,
        augmentation="auto",
        policy="randaugment",
        hflip=True,
        crop_padding=None,
        cutout_size=None,
        weak_jitter=0.05,
        strong_jitter=0.2,
        strong_mask_prob=0.2,
        probe_batch_size=None,
        lr_schedule="cosine_restarts",
        first_cycle_epochs=1.0,
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
        self.n_views = n_views
        self.temperature = temperature
        self.given_label_weight = given_label_weight
        self.meta_lr = meta_lr
        self.meta_gradient = meta_gradient
        self.relabel = relabel
        self.reweight = reweight
        self.mixup = mixup
        self.probe_mixup_weight = probe_mixup_weight
        self.mixup_weight = mixup_weight
        self.consistency_weight = consistency_weight
        self.meta_scope = meta_scope
        self.mixup_size = mixup_size
        self.augmentation = augmentation
        self.policy = policy
        self.hflip = hflip
        self.crop_padding = crop_padding
        self.cutout_size = cutout_size
        self.weak_jitter = weak_jitter
        self.strong_jitter = strong_jitter
        self.strong_mask_prob = strong_mask_prob
        self.probe_batch_size = probe_batch_size
        self.lr_schedule = lr_schedule
        self.first_cycle_epochs = first_cycle_epochs
        self.ema_decay = ema_decay
        self.statistics_decay = statistics_decay
        self.auto_probe_per_class = auto_probe_per_class
        self.auto_probe_epochs = auto_probe_epochs
        self.random_state = random_state

    #: The step's objective, ``sk_ieg.step.ieg_objective``; a subclass may set
    #: ``sk_ieg.step.reference_objective`` (the speed benchmark times the textbook route so).
    objective = staticmethod(ieg_objective)

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

    # ------------------------------------------------------------------ checks
    def _check_ieg_params(self):
        def positive_int(name):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")

        def number(name, lo, hi, lo_open=False, hi_open=False, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            bad = not isinstance(v, numbers.Real) or isinstance(v, bool) or math.isnan(v)
            if not bad:
                bad = (v < lo or (lo_open and v == lo) or v > hi or (hi_open and v == hi))
            if bad:
                rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
                raise ValueError(f"{name} must be in {rng}, got {v!r}")

        inf = math.inf
        positive_int("n_views")
        positive_int("max_epochs")
        positive_int("batch_size")
        if self.probe_batch_size is not None:
            positive_int("probe_batch_size")
        if self.mixup_size is not None:
            positive_int("mixup_size")
            if self.mixup_size < 2:
                raise ValueError(f"mixup_size must be None or >= 2, got {self.mixup_size}")
        if self.meta_scope not in META_SCOPES:
            raise ValueError(f"meta_scope must be one of {META_SCOPES}, got {self.meta_scope!r}")
        positive_int("auto_probe_per_class")
        if self.auto_probe_epochs is not None:
            positive_int("auto_probe_epochs")
        number("temperature", 0, inf, lo_open=True)
        number("given_label_weight", 0, 1)
        number("meta_lr", 0, inf, lo_open=True)
        number("probe_mixup_weight", 0, inf)
        number("mixup_weight", 0, inf)
        number("consistency_weight", 0, inf)
        number("weak_jitter", 0, inf)
        number("strong_jitter", 0, inf)
        number("strong_mask_prob", 0, 1)
        number("first_cycle_epochs", 0, inf, lo_open=True)
        number("ema_decay", 0, 1, hi_open=True, allow_none=True)
        number("statistics_decay", 0, 1, hi_open=True)
        if self.meta_gradient not in META_GRADIENT_METHODS:
            raise ValueError(f"meta_gradient must be one of {META_GRADIENT_METHODS}, "
                             f"got {self.meta_gradient!r}")
        if self.policy not in _POLICIES:
            raise ValueError(f"policy must be one of {_POLICIES}, got {self.policy!r}")
        if not (callable(self.augmentation) or self.augmentation in _AUGMENTATIONS):
            raise ValueError(f"augmentation must be one of {_AUGMENTATIONS} or a callable, "
                             f"got {self.augmentation!r}")
        if self.lr_schedule not in ("cosine_restarts", "constant"):
            raise ValueError("lr_schedule must be 'cosine_restarts' or 'constant', "
                             f"got {self.lr_schedule!r}")
        for name in ("relabel", "reweight", "mixup", "hflip"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("crop_padding", "cutout_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, numbers.Integral) or v < 0):
                raise ValueError(f"{name} must be None or an integer >= 0, got {v!r}")

    def _validate_X(self, X, *, reset, what="X"):
        try:
            X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32,
                              ensure_all_finite=True, ensure_min_samples=1)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from exc
        if not X.flags.writeable:  # torch.from_numpy warns on read-only arrays (memmaps)
            X = X.copy()
        if X.ndim not in (2, 4) and self.module is None:
            raise ValueError(f"{what} must be 2-D (n_samples, n_features) or 4-D images "
                             f"(n_samples, C, H, W) for the default module, got shape {X.shape}")
        if not reset and X.shape[1:] != tuple(self.input_shape_):
            raise ValueError(f"{what} has rows of shape {X.shape[1:]}, but {type(self).__name__} "
                             f"was fitted with rows of shape {tuple(self.input_shape_)}")
        return X

    @staticmethod
    def _validate_y(y, n, what):
        if y is None:
            raise ValueError(f"IEGClassifier requires {what} to be passed, but the target "
                             f"{what} is None")
        y = column_or_1d(np.asarray(y, dtype=object if np.asarray(y).dtype.kind in "OUS" else None),
                         warn=True)
        if len(y) != n:
            raise ValueError(f"{what} has {len(y)} labels but there are {n} rows")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{what} contains NaN or infinity")
        if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and math.isnan(v))
                                       for v in y):
            raise ValueError(f"{what} contains missing labels (None or NaN)")
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from exc
        return y

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
            Passed on to :meth:`skorch.NeuralNet.fit`.

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
        ``sample_weights_``, ``corrected_labels_`` and ``relabel_scores_`` then
        describe the rows of this call.

        Parameters
        ----------
        X, y, X_trusted, y_trusted, trusted
            As in :meth:`fit`. After the first call, the labels must be among
            ``classes_`` and the rows of the same shape.
        classes : array-like of shape (n_classes,), default=None
            All classes, for a first call whose labels do not show them all;
            ignored by later calls.
        **fit_params
            Passed on to :meth:`skorch.NeuralNet.partial_fit`.

        Returns
        -------
        self : IEGClassifier
        """
        if hasattr(self, "_ieg_fit_data_"):  # NeuralNet.fit calls this inside our own fit
            return super().partial_fit(X, y, classes, **fit_params)
        fitted = self.initialized_ and hasattr(self, "ieg_state_")
        return self._fit_ieg(X, y, X_trusted, y_trusted, trusted, classes, fit_params,
                             partial=fitted)

    def _fit_ieg(self, X, y, X_trusted, y_trusted, trusted, classes, fit_params, *, partial):
        """Validate, split noisy / probe rows, then run skorch's fit or partial_fit."""
        self._check_ieg_params()
        if trusted is not None and (X_trusted is not None or y_trusted is not None):
            raise ValueError("pass the trusted rows either as a mask (trusted=...) or as "
                             "X_trusted and y_trusted, not both")
        if X_trusted is None and y_trusted is not None:
            raise ValueError("y_trusted was given without X_trusted")
        if X_trusted is not None and y_trusted is None:
            raise ValueError("X_trusted was given without y_trusted")
        if fit_params:
            raise TypeError(f"unexpected fit parameters: {sorted(fit_params)}")
        X = self._validate_X(X, reset=not partial)
        if not partial:
            self.input_shape_ = X.shape[1:]
        y = self._validate_y(y, len(X), "y")
        mask = None if trusted is None else self._validate_mask(trusted, len(X))
        if mask is not None and mask.all():
            raise ValueError("trusted marks every row of X: IEG needs noisy rows too")
        if mask is not None and not mask.any():
            mask = None  # an empty trusted set: as if none was given
        if X_trusted is not None:
            if hasattr(X_trusted, "__len__") and len(X_trusted) == 0:
                raise ValueError("the trusted set is empty: X_trusted has 0 rows")
            X_trusted = self._validate_X(X_trusted, reset=False, what="X_trusted")
            y_trusted = self._validate_y(y_trusted, len(X_trusted), "y_trusted")
            if len(X_trusted) == len(X):
                warnings.warn(
                    f"X_trusted has as many rows as X ({len(X)}): scikit-learn's search and "
                    "cross-validation utilities slice every fit parameter of that length "
                    "together with X, so X_trusted may have been cut into folds (and a "
                    "Pipeline passes it to this step untransformed). Mark the trusted rows "
                    "of X with fit(X, y, trusted=mask) instead.", UserWarning, stacklevel=3)

        encoder = LabelEncoder()
        if partial:
            encoder.classes_ = self.classes_
        else:
            labels = [y] + [np.asarray(v) for v in (y_trusted, classes) if v is not None]
            try:
                encoder.fit(np.concatenate(labels))
            except TypeError as exc:
                raise ValueError(f"labels of mixed types cannot be ordered: {exc}") from exc
        n_classes = len(encoder.classes_)
        if n_classes < 2:
            raise ValueError(f"IEG needs at least 2 classes, got {n_classes} class: "
                             f"{encoder.classes_.tolist()}")
        try:
            y_enc = encoder.transform(y)
            yt_enc = None if y_trusted is None else encoder.transform(y_trusted)
        except ValueError as exc:
            raise ValueError(f"labels not seen in the first call of partial_fit: {exc}") from exc
        if not partial:
            self.classes_inferred_ = encoder.classes_

        if partial:  # continue the random streams of the fit
            g = self.ieg_state_.generator
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g, device=g.device))
            rng = np.random.RandomState(seed)
        else:
            rng = check_random_state(self.random_state)
        seeds = rng.randint(0, 2**31 - 1, size=5)
        probe_indices = None
        if X_trusted is not None:
            X_noisy, y_noisy = X, y_enc
        elif mask is not None:
            X_noisy, y_noisy = X[~mask], y_enc[~mask]
            X_trusted, yt_enc = X[mask], y_enc[mask]
            probe_indices = np.flatnonzero(mask)
        elif partial:  # keep the previous probe set
            X_noisy, y_noisy = X, y_enc
        else:
            probe_indices = self._select_probe(X, y_enc, int(seeds[4]))
            X_noisy, y_noisy = X, y_enc
            X_trusted, yt_enc = X[probe_indices], y_enc[probe_indices]
        missing = [] if yt_enc is None else np.setdiff1d(np.arange(n_classes), yt_enc)
        if len(missing):
            warnings.warn(f"the trusted set has no rows of classes "
                          f"{encoder.classes_[missing].tolist()}; probe batches cannot represent "
                          "them", UserWarning, stacklevel=3)

        # Only during fit (names end in '_' so skorch does not take them for parameters).
        self._ieg_module_seed_ = int(seeds[0])  # read by initialize_module
        self._ieg_fit_data_ = (X_noisy, y_noisy, X_trusted, yt_enc, seeds[:4], mask,
                               None if mask is None else yt_enc,
                               self.ieg_state_ if partial else None)
        dataset = IndexedDataset(torch.from_numpy(X_noisy), torch.from_numpy(y_noisy))
        try:
            if partial:
                super().partial_fit(dataset, y_noisy)
            else:
                super().fit(dataset, y_noisy)
        finally:
            del self._ieg_module_seed_, self._ieg_fit_data_
        if probe_indices is None:
            self.__dict__.pop("probe_indices_", None)
        else:
            self.probe_indices_ = probe_indices
        return self

    @staticmethod
    def _validate_mask(trusted, n):
        mask = np.asarray(trusted)
        if mask.shape != (n,):
            raise ValueError(f"trusted must be a boolean mask of shape (n_samples,) = ({n},), "
                             f"got shape {mask.shape}")
        if mask.dtype != bool:
            raise ValueError(f"trusted must be a boolean mask, got dtype {mask.dtype}; for row "
                             "indices idx use mask = np.zeros(len(X), bool); mask[idx] = True")
        return mask

    def _select_probe(self, X, y, seed):
        """Probe rows chosen from noisy data: a short warm-up fit, then per class
        the rows whose given label the warm-up network agrees with most."""
        epochs = self.auto_probe_epochs or max(1, self.max_epochs // 10)
        device = torch.device(self.device) if self.device is not None else torch.device("cpu")
        devices = [device.index or 0] if device.type == "cuda" else []
        # Dropout draws from torch's global RNG: fork it (under the process lock).
        with _TORCH_PROCESS_LOCK, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            module = copy.deepcopy(self._build_module(seed))
            warmup = NeuralNetClassifier(
                module, criterion=torch.nn.CrossEntropyLoss, optimizer=self.optimizer,
                lr=self.lr, max_epochs=epochs, batch_size=self.batch_size, train_split=None,
                device=self.device, verbose=0,
                iterator_train__shuffle=True,
                iterator_train__generator=torch.Generator().manual_seed(seed),
                iterator_valid__generator=torch.Generator(),
                **{f"optimizer__{k}": v for k, v in self.get_params_for("optimizer").items()})
            warmup.fit(X, y)
            proba = warmup.predict_proba(X)
        rows = select_probe_rows(y, proba, self.auto_probe_per_class)
        warnings.warn(
            f"no trusted rows were given: IEG uses as its probe set the {len(rows)} rows whose "
            f"given label a {epochs}-epoch warm-up network agrees with most (up to "
            f"{self.auto_probe_per_class} per class). Their labels are not verified: pass a "
            "few verified rows per class (trusted=mask) when you can.", UserWarning,
            stacklevel=4)  # the caller of fit or partial_fit
        return rows

    def _make_state(self, X, y, X_trusted, y_trusted, seeds, trusted_mask=None,
                    trusted_labels=None, previous=None):
        """Run-time state of a fit, or of a partial_fit continuing ``previous``."""
        device = torch.device(self.device) if self.device is not None else torch.device("cpu")
        if previous is None:
            generator = torch.Generator(device=device).manual_seed(int(seeds[1]))
            loader_generator = torch.Generator().manual_seed(int(seeds[2]))
            seed_generator = None if device.type == "cpu" else \
                torch.Generator().manual_seed(int(seeds[1]))
            base_lrs = [g["lr"] for g in self.optimizer_.param_groups]
        else:
            generator, loader_generator = previous.generator, previous.loader_generator
            seed_generator = previous.seed_generator
            base_lrs = previous.base_lrs
        probe_bs = self.probe_batch_size or self.batch_size
        if X_trusted is None:  # partial_fit without new trusted rows: the previous probe set
            X_probe, y_probe, sampler = previous.X_probe, previous.y_probe, \
                previous.probe_sampler
            X_trusted = X_probe.cpu().numpy()
        else:
            X_probe = torch.from_numpy(X_trusted).to(device)
            y_probe = torch.from_numpy(y_trusted).long().to(device)
            sampler = ProbeSampler(y_trusted, probe_bs, np.random.default_rng(int(seeds[3])))
        both = np.concatenate([X, X_trusted])
        view_stats = {
            "kind": self._augmentation_kind(X),
            "mean": torch.from_numpy(both.mean(axis=0)).to(device),
            "std": torch.from_numpy(both.std(axis=0)).to(device),
            "range": (float(both.min()), float(both.max())),
        }
        steps = math.ceil(len(X) / self.batch_size)
        n, k = len(X), len(self.classes_)
        return _FitState(
            given=y, X_probe=X_probe, y_probe=y_probe,
            probe_sampler=sampler, generator=generator, loader_generator=loader_generator,
            view_stats=view_stats, n_rows=n, steps_per_epoch=steps,
            total_steps=steps * self.max_epochs,
            base_lrs=base_lrs,
            weight_avg=torch.zeros(n, device=device), keep_avg=torch.zeros(n, device=device),
            guess_avg=torch.zeros(n, k, device=device),
            visits=torch.zeros(n, dtype=torch.long, device=device),
            ema=None if previous is None else previous.ema, seed_generator=seed_generator,
            trusted_mask=trusted_mask, trusted_labels=trusted_labels,
        )

    def _augmentation_kind(self, X):
        if callable(self.augmentation):
            return "callable"
        if self.augmentation == "auto":
            return "image" if X.ndim == 4 else "tabular"
        if self.augmentation == "image" and X.ndim != 4:
            raise ValueError(f"augmentation='image' needs 4-D X (N, C, H, W), got {X.shape}")
        return self.augmentation

    # ------------------------------------------------------------ skorch hooks
    def check_data(self, X, y=None):
        # Validation and label encoding happen in fit; y here is already encoded.
        pass

    def initialize_module(self):
        """Build the module; ``module=None`` builds a default from the data."""
        self.module_ = self._build_module(getattr(self, "_ieg_module_seed_", None))
        return self

    def torch_compile(self, module, name):
        """skorch's hook: the module stays eager (the IEG step compiles its passes
        itself, see ``compile``); other modules are compiled as skorch does."""
        if name == "module":
            return module
        return super().torch_compile(module, name)

    def _build_module(self, seed=None):
        """The module, initialised from ``seed`` without touching torch's global RNG."""
        kwargs = self.get_params_for("module")
        with _TORCH_PROCESS_LOCK, torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            if self.module is None:
                if not hasattr(self, "input_shape_"):
                    raise ValueError("module=None builds the network from the data: call fit "
                                     "before initialize, or pass a module")
                shape, n_classes = tuple(self.input_shape_), len(self.classes_)
                if len(shape) == 3:
                    module = ResNetSmall(shape[0], n_classes, **kwargs)
                else:
                    module = MLP(int(np.prod(shape)), n_classes, **kwargs)
            else:
                module = self.initialized_instance(self.module, kwargs)
        return module

    def get_iterator(self, dataset, training=False):
        """Loaders that never draw from the global RNG.

        Training batches are shuffled by a generator seeded from ``random_state``.
        A DataLoader without a generator draws its base seed from torch's global
        RNG even when it does not shuffle, so prediction loaders get a private one.
        """
        if training and hasattr(self, "ieg_state_"):
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("shuffle", True)
            kwargs.setdefault("generator", self.ieg_state_.loader_generator)
            iterator = self.iterator_train
        else:
            kwargs = self.get_params_for("iterator_valid")
            kwargs.setdefault("generator", torch.Generator())
            iterator = self.iterator_valid
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return iterator(dataset, **kwargs)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        data = getattr(self, "_ieg_fit_data_", None)
        if data is not None:  # a fresh fit (not partial_fit): new run-time state
            self.ieg_state_ = self._make_state(*data)
        if not hasattr(self, "ieg_state_"):
            raise ValueError("call fit with trusted rows before partial_fit")

    def view_function(self):
        """``make_view(x, strong)``: the fitted views, drawing from the fit's generator."""
        st, gen = self.ieg_state_.view_stats, self.ieg_state_.generator
        kind = st["kind"]
        if kind == "callable":
            return lambda x, strong: self.augmentation(x, strong=strong, generator=gen)
        if kind == "none":
            return lambda x, strong: x
        if kind == "tabular":
            scale, fill = st["std"], st["mean"]

            def view(x, strong):
                if strong:
                    return augment.tabular_strong_view(
                        x, generator=gen, scale=scale, fill=fill, jitter=self.strong_jitter,
                        mask_prob=self.strong_mask_prob)
                return augment.tabular_weak_view(x, generator=gen, scale=scale,
                                                 jitter=self.weak_jitter)
            return view
        h, w = self.input_shape_[1:]
        pad = augment.default_image_padding(h, w) if self.crop_padding is None \
            else self.crop_padding
        cut = augment.default_cutout_size(h, w) if self.cutout_size is None else self.cutout_size
        weak = partial(augment.weak_image_view, generator=gen, padding=pad, flip=self.hflip)
        strong = partial(augment.strong_image_view, generator=gen, padding=pad, flip=self.hflip,
                         policy=self.policy, cutout_size=cut, value_range=st["range"],
                         cutout_fill=st["mean"].mean(dim=(1, 2)))
        return lambda x, is_strong: strong(x) if is_strong else weak(x)

    def _optimizer_state(self):
        """Momentum, weight decay and momentum buffers of the optimizer, per parameter."""
        names = {id(p): n for n, p in self.module_.named_parameters()}
        momentum, decay, buffers = {}, {}, {}
        is_sgd = isinstance(self.optimizer_, torch.optim.SGD)
        for group in self.optimizer_.param_groups:
            for p in group["params"]:
                name = names.get(id(p))
                if name is None:
                    continue
                decay[name] = group.get("weight_decay", 0.0)
                momentum[name] = group.get("momentum", 0.0) if is_sgd else 0.0
                buf = self.optimizer_.state.get(p, {}).get("momentum_buffer") if is_sgd else None
                if buf is not None:
                    buffers[name] = buf
        return momentum, decay, buffers

    def step_config(self):
        """The :class:`~sk_ieg.step.IEGConfig` of one step, from the parameters."""
        return IEGConfig(
            n_views=self.n_views, temperature=self.temperature,
            given_label_weight=self.given_label_weight, meta_lr=self.meta_lr,
            meta_gradient=self.meta_gradient, relabel=self.relabel, reweight=self.reweight,
            mixup=self.mixup, probe_mixup_weight=self.probe_mixup_weight,
            mixup_weight=self.mixup_weight, consistency_weight=self.consistency_weight,
            meta_scope=self.meta_scope, mixup_size=self.mixup_size)

    def train_step_single(self, batch, **fit_params):
        """Compute the IEG loss on one batch and back-propagate it."""
        self._set_training(True)
        state = self.ieg_state_
        Xi, yi = unpack_data(batch)
        x = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        y, rows = yi[:, 0], yi[:, 1]
        momentum, decay, buffers = self._optimizer_state()
        with _TORCH_PROCESS_LOCK, _compile_config(self.compile):
            out = self.objective(
                self.module_, x, y, *self.probe_batch(),
                n_classes=len(self.classes_), make_view=self.view_function(),
                config=self.step_config(), generator=state.generator, momentum=momentum,
                weight_decay=decay, momentum_buffers=buffers,
                seed_generator=state.seed_generator,
                call=_compiled_forward(self.get_params_for("compile")) if self.compile else None,
                backward=True)
        self._record_rows(rows, out)
        # Extra keys reach callbacks' on_batch_end (skorch passes the step dict on).
        return {"loss": out.loss, "y_pred": out.logits, "rows": rows, "omega": out.omega,
                "lam": out.lam}

    def probe_batch(self):
        """The next class-balanced batch of probe rows and labels, on the device."""
        state = self.ieg_state_
        idx = torch.from_numpy(state.probe_sampler.sample()).to(state.X_probe.device)
        return state.X_probe[idx], state.y_probe[idx]

    def _record_rows(self, rows, out):
        st, d = self.ieg_state_, self.statistics_decay
        batch = out.omega.shape[0]
        # Capped at the uniform weight: a step's normalised weight above 1/B mostly
        # reflects how few rows of that batch got any weight, not the row itself.
        capped = (out.omega * batch).clamp(max=1.0)
        st.weight_avg[rows] = d * st.weight_avg[rows] + (1 - d) * capped
        st.keep_avg[rows] = d * st.keep_avg[rows] + (1 - d) * out.lam
        st.guess_avg[rows] = d * st.guess_avg[rows] + (1 - d) * out.guesses
        st.visits[rows] += 1
        sums = st.epoch_sums
        if out.probe_loss is not None:
            sums["probe_loss"] = sums.get("probe_loss", 0.0) + out.probe_loss
        sums["relabeled"] = sums.get("relabeled", 0.0) + (1 - out.lam).sum()
        sums["rows"] = sums.get("rows", 0) + batch
        sums["steps"] = sums.get("steps", 0) + 1

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        if not training:
            return
        st = self.ieg_state_
        if self.lr_schedule == "cosine_restarts":
            factor = cosine_restarts(st.step, st.total_steps,
                                     self.first_cycle_epochs * st.steps_per_epoch)
        else:
            factor = 1.0
        for group, base in zip(self.optimizer_.param_groups, st.base_lrs):
            group["lr"] = base * factor

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if not training:
            return
        st = self.ieg_state_
        st.step += 1
        if self.ema_decay is None:
            return
        params = dict(self.module_.named_parameters())
        buffers = dict(self.module_.named_buffers())
        with torch.no_grad():
            if st.ema is None:
                st.ema = {k: v.detach().clone() for k, v in {**params, **buffers}.items()}
                return
            decay = min(self.ema_decay, (1 + st.step) / (10 + st.step))
            for k, p in params.items():
                if p.dtype.is_floating_point:
                    st.ema[k].lerp_(p, 1 - decay)
                else:
                    st.ema[k].copy_(p)
            for k, b in buffers.items():  # BatchNorm statistics and counters: current values
                st.ema[k].copy_(b)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)
        st = self.ieg_state_
        sums, st.epoch_sums = st.epoch_sums, {}
        if sums.get("steps"):
            if "probe_loss" in sums:
                self.history.record("probe_loss", float(sums["probe_loss"]) / sums["steps"])
            self.history.record("relabeled", float(sums["relabeled"]) / sums["rows"])
        self.history.record("lr", self.optimizer_.param_groups[0]["lr"])

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        st = self.ieg_state_
        seen = st.visits > 0
        norm = 1 - self.statistics_decay ** st.visits.clamp_min(1).double()
        weights = torch.where(seen, st.weight_avg.double() / norm, torch.ones_like(norm))
        keep = torch.where(seen, st.keep_avg.double() / norm, torch.ones_like(norm))
        mean = weights.mean()
        weights = weights / mean if mean > 0 else torch.ones_like(weights)
        self.sample_weights_ = weights.cpu().numpy()
        self.relabel_scores_ = keep.cpu().numpy()
        given = st.given
        guessed = st.guess_avg.argmax(dim=1).cpu().numpy()
        corrected = np.where(self.relabel_scores_ >= 0.5, given, guessed)
        if st.trusted_mask is not None:  # align with X: trusted rows keep weight 1, own label
            mask = st.trusted_mask
            full_w, full_k = np.ones(len(mask)), np.ones(len(mask))
            full_c = np.empty(len(mask), dtype=corrected.dtype)
            full_w[~mask], full_k[~mask], full_c[~mask] = self.sample_weights_, \
                self.relabel_scores_, corrected
            full_c[mask] = st.trusted_labels
            self.sample_weights_, self.relabel_scores_, corrected = full_w, full_k, full_c
        self.corrected_labels_ = self.classes_[corrected]
        self._warn_if_not_learning()

    def _warn_if_not_learning(self) -> None:
        # The probe loss is the cross-entropy on trusted rows (after the virtual step).
        # Above ln(K), a uniform guess does better: training collapsed or never started.
        last = next((h["probe_loss"] for h in reversed(self.history) if "probe_loss" in h),
                    None)
        chance = math.log(len(self.classes_))
        if last is not None and last >= chance:
            warnings.warn(
                f"IEG training did not learn: the trusted (probe) loss of the last epoch, "
                f"{last:.3f}, is no lower than a uniform guess's, ln({len(self.classes_)}) = "
                f"{chance:.3f}, so predictions are likely near-constant. Try more epochs, a "
                "lower lr or consistency_weight, or a network with normalisation layers "
                "(see history_[:, 'probe_loss']).", ConvergenceWarning, stacklevel=2)

    # ------------------------------------------------------------- prediction
    def validation_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        yi = to_tensor(yi, device=self.device)
        if yi.dim() == 2:  # IndexedDataset rows: (label, row index)
            yi = yi[:, 0]
        return super().validation_step((Xi, yi), **fit_params)

    def evaluation_step(self, batch, training=False):
        state = getattr(self, "ieg_state_", None)
        if training or state is None or state.ema is None:
            return super().evaluation_step(batch, training=training)
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.no_grad():
            self._set_training(False)
            return functional_call(self.module_, state.ema, (to_tensor(Xi, device=self.device),))

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
        return super().predict_proba(self._validate_X(X, reset=False))

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
        from sk_ieg.cleaning import estimator_label_issues

        return estimator_label_issues(self)
