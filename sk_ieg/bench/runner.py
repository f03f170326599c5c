"""Benchmarks: IEG against baselines on a data set with injected label noise.

Used by ``sk-ieg bench`` and ``python -m sk_ieg bench``; its public names are
re-exported by :mod:`sk_ieg.bench`, and everything here uses the library's public API
only. A run is: split the data (stratified, ``random_state=seed``), draw a
class-balanced trusted set from the training part before noise, corrupt the other
training labels, train each method with the same network and budget, and score it on
the untouched test split.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_ieg import datasets
from sk_ieg.estimator import SPEED_SETTING, IEGClassifier
from sk_ieg.models import MLP, ResNetSmall, SmallCNN
from sk_ieg.noise import make_noisy_labels, split_trusted

__all__ = ["METHODS", "MODELS", "BenchData", "EpochProgress", "RowStatistics", "TestAccuracy",
           "default_methods", "format_table", "load_bench_data", "matched_epochs",
           "merge_results", "module_for",
           "plain_net", "run_benchmark", "run_method"]

#: Methods ``run_method`` knows. All share the network, optimizer and epochs.
METHODS = ("ieg", "ieg_fast", "l2r", "vanilla", "vanilla_es", "trusted_only", "clean",
           "cleanlab")
#: ``vanilla_es``'s early stopping: epochs without a higher accuracy on the trusted
#: (validation) rows before it stops; the best epoch's weights are restored either way.
#: Accuracy, not loss: a net trained on noisy labels grows overconfident, and its
#: validation loss bottoms out epochs before its accuracy peaks (digits, 40% uniform:
#: 0.727 restored by loss against 0.920 by accuracy, default MLP, E=60).
EARLY_STOPPING_PATIENCE = 20
#: Networks for ``--model``: ``default`` is what ``IEGClassifier(module=None)`` builds.
#: ``small_cnn_fc`` is ``SmallCNN(head_units=128)``, a small CNN that can memorise noise.
#: ``plain_mlp`` is ``MLP(hidden_units=(256, 256), batch_norm=False)``: two hidden layers of
#: 256 ReLU units, no BatchNorm, the network a user typically brings.
MODELS = ("default", "mlp", "plain_mlp", "small_cnn", "small_cnn_fc", "resnet")
#: The methods that are an IEGClassifier, and the settings each one fixes.
_IEG_METHODS = {"ieg": {}, "ieg_fast": SPEED_SETTING,
                "l2r": dict(relabel=False, mixup=False, consistency_weight=0.0,
                            meta_strength=1.0, relabel_strength=1.0)}


@dataclass
class BenchData:
    """One noisy split: noisy rows, trusted rows, test rows."""

    name: str
    X: np.ndarray
    y: np.ndarray  #: noisy labels (encoded 0..K-1)
    y_true: np.ndarray
    X_trusted: np.ndarray
    y_trusted: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    info: dict = field(default_factory=dict)


def _load(dataset: str, n_train: int | None, seed: int):
    """(X, y, X_test or None, y_test or None) for a dataset name."""
    if dataset == "digits":
        X, y = datasets.load_digits()
        return X, y, None, None
    if dataset in ("mnist", "fashion_mnist"):
        loader = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
        X, y = loader("train")
        X_test, y_test = loader("test")
        if n_train is not None and n_train < len(X):
            X, _, y, _ = train_test_split(X, y, train_size=n_train, stratify=y,
                                          random_state=seed)
        return X, y, X_test, y_test
    if dataset.startswith("pmlb:"):
        X, y = datasets.load_pmlb(dataset.split(":", 1)[1])
        return X, y, None, None
    if dataset.endswith(".csv"):
        raise ValueError("CSV benchmarks: load the file with sk_ieg.datasets.load_csv and call "
                         "run_method directly")
    raise ValueError(f"unknown dataset {dataset!r}: use digits, mnist, fashion_mnist or "
                     "pmlb:<name>")


def load_bench_data(dataset: str = "digits", *, noise: str = "uniform", rate: float = 0.4,
                    trusted_per_class: int = 10, seed: int = 0, n_train: int | None = None,
                    test_size: float = 0.25) -> BenchData:
    """Build one noisy split of ``dataset`` for ``seed``.

    Data sets without an official test split get a stratified ``test_size``
    split with ``random_state=seed``. ``n_train`` sub-samples the training part
    (stratified). Tabular features are standardised with statistics of the
    training part (digits is scaled by 1/16 instead, as in the literature).
    """
    X, y, X_test, y_test = _load(dataset, n_train, seed)
    enc = LabelEncoder().fit(y if y_test is None else np.concatenate([y, y_test]))
    y = enc.transform(y)
    if X_test is None:
        X, X_test, y, y_test = train_test_split(X, y, test_size=test_size, stratify=y,
                                                random_state=seed)
        if n_train is not None and n_train < len(X):
            X, _, y, _ = train_test_split(X, y, train_size=n_train, stratify=y,
                                          random_state=seed)
    else:
        y_test = enc.transform(y_test)
    if dataset.startswith("pmlb:"):
        mu, sd = X.mean(0), X.std(0)
        sd[sd == 0] = 1
        X, X_test = (X - mu) / sd, (X_test - mu) / sd
    X, X_test = X.astype(np.float32), X_test.astype(np.float32)
    trusted = np.zeros(len(y), bool)
    trusted[split_trusted(y, trusted_per_class, random_state=seed)] = True
    k = len(enc.classes_)
    y_noisy = make_noisy_labels(y[~trusted], noise, rate, n_classes=k, random_state=seed)
    return BenchData(name=dataset, X=X[~trusted], y=y_noisy, y_true=y[~trusted],
                     X_trusted=X[trusted], y_trusted=y[trusted], X_test=X_test, y_test=y_test,
                     n_classes=k, info=dict(noise=noise, rate=rate,
                                            trusted_per_class=trusted_per_class, seed=seed,
                                            realised_noise=float(np.mean(y_noisy != y[~trusted]))))


class EpochProgress(Callback):
    """A tqdm bar over epochs with the latest history values (stderr).

    Parameters
    ----------
    desc : str, default=""
        The bar's label.
    keys : sequence of str, default=("train_loss", "test_acc")
        History entries of the last epoch shown beside the bar (when recorded).
    """

    def __init__(self, desc: str = "", keys: Sequence[str] = ("train_loss", "test_acc")):
        self.desc = desc
        self.keys = keys

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=False, unit="epoch",
                         file=sys.stderr)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.bar_.set_postfix({k: f"{row[k]:.3f}" for k in self.keys if k in row})
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()


class TestAccuracy(Callback):
    """Records accuracy on a held-out set after every epoch as ``test_acc``."""

    def __init__(self, X, y, every: int = 1):
        self.X = X
        self.y = y
        self.every = every

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every == 0 or epoch == net.max_epochs:
            net.history.record("test_acc", float(np.mean(net.predict(self.X) == self.y)))


class RowStatistics(Callback):
    """Per epoch, the meta step's mean ``lambda*`` and capped weight ``min(B omega*, 1)``
    over truly clean and truly mislabeled rows (the paper's Figure 4).

    Reads the ``rows``, ``omega`` and ``lam`` entries of IEGClassifier's step dict;
    records ``keep_clean``, ``keep_mislabeled``, ``weight_clean`` and
    ``weight_mislabeled`` in the history.

    Parameters
    ----------
    mislabeled : ndarray of bool, shape (n_noisy,)
        Ground truth of the simulation, aligned with the noisy rows.
    """

    def __init__(self, mislabeled):
        self.mislabeled = mislabeled

    def on_epoch_begin(self, net, **kwargs):
        self.sums_ = np.zeros((2, 3))  # [clean, mislabeled] x [count, lambda, weight]

    def on_batch_end(self, net, batch=None, training=False, **step):
        if not training or "rows" not in step:
            return
        rows = step["rows"].cpu().numpy()
        lam = step["lam"].cpu().numpy()
        weight = np.minimum(step["omega"].cpu().numpy() * len(rows), 1.0)
        bad = np.asarray(self.mislabeled)[rows].astype(int)
        for g in (0, 1):
            sel = bad == g
            self.sums_[g] += [sel.sum(), lam[sel].sum(), weight[sel].sum()]

    def on_epoch_end(self, net, **kwargs):
        n = np.maximum(self.sums_[:, 0], 1)
        for g, name in ((0, "clean"), (1, "mislabeled")):
            net.history.record(f"keep_{name}", float(self.sums_[g, 1] / n[g]))
            net.history.record(f"weight_{name}", float(self.sums_[g, 2] / n[g]))


def module_for(X: np.ndarray, n_classes: int, model: str = "default"):
    """(module class, ``module__*`` kwargs) of the network shared by every method.

    Parameters
    ----------
    X : ndarray
        Training rows: images ``(N, C, H, W)`` or tables ``(N, d)``.
    n_classes : int
    model : str, default="default"
        One of :data:`MODELS`; ``"default"`` is ResNetSmall for images, MLP otherwise.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {MODELS}")
    if model == "default":
        model = "resnet" if X.ndim == 4 else "mlp"
    if model in ("resnet", "small_cnn", "small_cnn_fc"):
        if X.ndim != 4:
            raise ValueError(f"model {model!r} needs images (N, C, H, W), got shape {X.shape}")
        kw = dict(module__in_channels=X.shape[1], module__n_classes=n_classes)
        if model == "small_cnn_fc":
            kw["module__head_units"] = 128
        return (ResNetSmall if model == "resnet" else SmallCNN), kw
    kw = dict(module__n_features=int(np.prod(X.shape[1:])), module__n_classes=n_classes)
    if model == "plain_mlp":
        kw.update(module__hidden_units=(256, 256), module__batch_norm=False)
    return MLP, kw


def _cleaning_scores(corrected: np.ndarray, data: BenchData) -> dict:
    """Label-cleaning precision/recall (flagged = corrected label differs from the given one)."""
    flagged = corrected != data.y
    mislabeled = data.y != data.y_true
    tp = int(np.sum(flagged & mislabeled))
    return dict(corrected_accuracy=float(np.mean(corrected == data.y_true)),
                cleaning_precision=float(tp / max(flagged.sum(), 1)),
                cleaning_recall=float(tp / max(mislabeled.sum(), 1)))


def matched_epochs(ieg_epochs: int, n_noisy: int, n_rows: int, batch_size: int) -> int:
    """Epochs over ``n_rows`` rows with as many gradient steps as IEG's epochs over
    ``n_noisy`` noisy rows (the budget of every skorch baseline)."""
    steps = ieg_epochs * math.ceil(n_noisy / batch_size)
    return max(1, round(steps / math.ceil(n_rows / batch_size)))


def plain_net(module, module_kw, *, epochs, batch_size, seed, callbacks, device="cpu",
              validation=None):
    """skorch's ``NeuralNetClassifier`` with the settings of every baseline: SGD (lr 0.1,
    momentum 0.9, weight decay 5e-4), cosine learning-rate decay over ``epochs``, batches
    shuffled from ``seed``.

    Without ``validation`` there is no validation split. With ``validation=(X_val,
    y_val)`` those rows are the validation set, and skorch's ``EarlyStopping`` on
    their accuracy (patience :data:`EARLY_STOPPING_PATIENCE`, ``load_best=True``) stops
    training and restores the weights of the best epoch: the practitioner's
    baseline ``vanilla_es``.
    """
    split = None
    if validation is not None:
        split = predefined_split(Dataset(*validation))
        callbacks = list(callbacks) + [("early_stopping", EarlyStopping(
            monitor="valid_acc", lower_is_better=False, patience=EARLY_STOPPING_PATIENCE,
            load_best=True))]
    return NeuralNetClassifier(
        module, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD, lr=0.1,
        optimizer__momentum=0.9, optimizer__weight_decay=5e-4, batch_size=batch_size,
        max_epochs=epochs, train_split=split, verbose=0, device=device,
        callbacks=list(callbacks) + [("lr", LRScheduler(policy="CosineAnnealingLR",
                                                         T_max=epochs))],
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed), **module_kw)


def run_method(method: str, data: BenchData, *, max_epochs: int = 100, seed: int = 0,
               batch_size: int = 128, progress: bool = True, ieg_params: dict | None = None,
               test_every: int = 1, model: str = "default", track_rows: bool = True,
               device: str = "cpu") -> dict:
    """Train one method on one split; returns a JSON-able record.

    ``ieg``/``ieg_fast``/``l2r`` are :class:`IEGClassifier` (``ieg_fast``: with
    :data:`sk_ieg.SPEED_SETTING`; ``l2r``: meta re-weighting only, the paper's
    ablation M-1); ``ieg_params`` go to all three, except what those settings fix.
    ``vanilla`` (noisy + trusted rows), ``vanilla_es`` (noisy rows, with the
    trusted rows held out for early stopping on their accuracy; the best epoch is
    restored), ``trusted_only``
    and ``clean`` (true labels on all training rows; the upper bound) are skorch's
    ``NeuralNetClassifier`` with the same network, SGD settings, batch size and
    number of gradient steps, with a cosine learning-rate decay. ``cleanlab`` is
    cleanlab's ``CleanLearning`` around that same skorch network (5-fold
    out-of-sample probabilities, then a fit on the rows it keeps); it needs the
    optional ``cleanlab`` package. ``device`` is the torch device of every network.
    The test set is scored every ``test_every`` epochs and after the last; a
    baseline that runs k times IEG's epochs (the same gradient steps over fewer
    rows, e.g. ``trusted_only``) is scored every ``k * test_every`` epochs.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    test_acc = TestAccuracy(data.X_test, data.y_test, every=test_every)
    callbacks = [("test_acc", test_acc)]
    if progress:
        callbacks.append(("progress", EpochProgress(f"{method} seed={seed}")))
    module, module_kw = module_for(data.X, data.n_classes, model)
    net = dict(module=module, module_kw=module_kw, max_epochs=max_epochs,
               batch_size=batch_size, seed=seed, device=device)
    start = time.perf_counter()
    record: dict = dict(method=method, seed=seed, model=model)
    if method in _IEG_METHODS:
        if track_rows:
            callbacks.append(("row_stats", RowStatistics(data.y != data.y_true)))
        clf, history = _fit_ieg_method(method, data, record, callbacks, net,
                                       ieg_params=ieg_params, model=model)
    else:
        clf, history = _fit_baseline(method, data, record, callbacks, net, test_acc)
    record["fit_seconds"] = time.perf_counter() - start
    record["test_accuracy"] = float(np.mean(clf.predict(data.X_test) == data.y_test))
    record["test_accuracy_per_epoch"] = [
        [int(r["epoch"]), r["test_acc"]] for r in history if "test_acc" in r]
    last = history[-1]
    for key in ("relabeled", "probe_loss", "keep_clean", "keep_mislabeled", "weight_clean",
                "weight_mislabeled"):
        if key in last:
            record[f"{key}_per_epoch"] = [r.get(key) for r in history]
    return record


def _fit_ieg_method(method, data: BenchData, record: dict, callbacks, net: dict, *,
                    ieg_params, model):
    """Fit an IEG-family method; adds its parameters and weight figures to ``record``.
    Returns (estimator, history)."""
    params = {**(ieg_params or {}), **_IEG_METHODS[method]}  # the method's own settings win
    record["ieg_params"] = dict(params)
    if model != "default":
        params = {"module": net["module"], **net["module_kw"], **params}
    clf = IEGClassifier(max_epochs=net["max_epochs"], batch_size=net["batch_size"],
                        random_state=net["seed"], verbose=0, device=net["device"],
                        callbacks=callbacks, **params)
    clf.fit(data.X, data.y, X_trusted=data.X_trusted, y_trusted=data.y_trusted)
    mislabeled = data.y != data.y_true
    if clf.relabel:  # l2r never relabels: no cleaning scores to report
        record.update(_cleaning_scores(clf.corrected_labels_, data))
    record.update(mean_weight_clean=float(clf.sample_weights_[~mislabeled].mean()),
                  mean_weight_mislabeled=float(clf.sample_weights_[mislabeled].mean())
                  if mislabeled.any() else None)
    return clf, clf.history


def _baseline_rows(method: str, data: BenchData):
    """The (X, y) a skorch baseline trains on."""
    if method in ("vanilla", "cleanlab"):
        return (np.concatenate([data.X, data.X_trusted]),
                np.concatenate([data.y, data.y_trusted]))
    if method == "vanilla_es":
        return data.X, data.y
    if method == "clean":
        return (np.concatenate([data.X, data.X_trusted]),
                np.concatenate([data.y_true, data.y_trusted]))
    return data.X_trusted, data.y_trusted


def _fit_baseline(method, data: BenchData, record: dict, callbacks, net: dict,
                  test_acc: TestAccuracy):
    """Fit a skorch baseline for IEG's number of gradient steps; adds ``epochs`` (and
    cleanlab's cleaning scores) to ``record``. Returns (estimator, history)."""
    X, y = _baseline_rows(method, data)
    max_epochs, seed = net["max_epochs"], net["seed"]
    epochs = matched_epochs(max_epochs, len(data.X), len(X), net["batch_size"])
    # About as many test evaluations as IEG's: trusted_only runs ~N/B_p times the
    # epochs, and scoring the test set after each of them would cost more than training.
    test_acc.every = test_acc.every * max(1, round(epochs / max_epochs))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = plain_net(net["module"], net["module_kw"], epochs=epochs,
                        batch_size=net["batch_size"], seed=seed,
                        callbacks=[] if method == "cleanlab" else callbacks,
                        device=net["device"],
                        validation=((data.X_trusted, data.y_trusted)
                                    if method == "vanilla_es" else None))
        if method == "cleanlab":
            clf, history = _fit_cleanlab(clf, X, y, data, record, epochs, seed)
        else:
            clf.fit(X, y)
            history = clf.history
    if method == "vanilla_es":
        stopper = dict(clf.callbacks_)["early_stopping"]
        record.update(stopped_epoch=len(history), best_epoch=int(stopper.best_epoch_))
    record["epochs"] = epochs
    return clf, history


def _fit_cleanlab(net, X, y, data: BenchData, record: dict, epochs: int, seed: int):
    """cleanlab's ``CleanLearning`` around ``net``; adds its cleaning scores to ``record``.
    Returns (estimator, a one-row history with the final test accuracy)."""
    try:
        from cleanlab.classification import CleanLearning
    except ImportError as exc:
        raise ImportError("the cleanlab baseline needs the optional package "
                          "cleanlab: pip install 'sk-ieg[cleanlab]'") from exc
    clf = CleanLearning(net, seed=seed, verbose=False)
    clf.fit(X, y)
    issues = clf.get_label_issues()
    corrected = np.where(issues["is_label_issue"], issues["predicted_label"],
                         issues["given_label"])[: len(data.X)]
    record.update(_cleaning_scores(np.asarray(corrected), data))
    history = [dict(epoch=epochs, test_acc=float(
        np.mean(clf.predict(data.X_test) == data.y_test)))]
    return clf, history


def default_methods() -> tuple[str, ...]:
    """The methods of a default ``sk-ieg bench``: IEG, plain training with and without
    early stopping on the trusted rows, cleanlab (when the ``cleanlab`` package is
    installed: ``pip install 'sk-ieg[bench]'``), trusted rows only and clean labels."""
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        extra = ()
    else:
        extra = ("cleanlab",)
    return ("ieg", "vanilla", "vanilla_es", *extra, "trusted_only", "clean")


def run_benchmark(*, dataset: str = "digits", noise: str = "uniform",
                  rates: Sequence[float] = (0.4, 0.8), trusted_per_class: int = 10,
                  methods: Sequence[str] | None = None,
                  seeds: Sequence[int] = (0, 1), max_epochs: int = 100,
                  n_train: int | None = None, out: str | Path | None = None,
                  progress: bool = True, ieg_params: dict | None = None, model: str = "default",
                  plots: bool = True, device: str = "cpu", tag: str | None = None,
                  log=print) -> dict:
    """Run every method on every (rate, seed).

    With ``out``: writes ``results.json`` (every run), ``results.md`` (mean ± std
    table) and, when matplotlib is installed and ``plots``, ``accuracy.png`` (test
    accuracy per epoch) and ``meta_statistics.png`` (the paper's Figure 4).

    ``tag`` renames the IEG-family runs (``ieg``, ``ieg_fast``, ``l2r``) to
    ``<method>_<tag>`` (the record keeps ``base_method``), so that runs with other
    ``ieg_params`` can be joined into one table with :func:`merge_results`.
    """
    methods = default_methods() if methods is None else methods
    if tag is not None and not re.fullmatch(r"\w+", tag):
        raise ValueError(f"tag must be letters, digits and underscores, got {tag!r}")
    runs = []
    for rate in rates:
        for seed in seeds:
            data = load_bench_data(dataset, noise=noise, rate=rate,
                                   trusted_per_class=trusted_per_class, seed=seed,
                                   n_train=n_train)
            for method in methods:
                rec = run_method(method, data, max_epochs=max_epochs, seed=seed,
                                 progress=progress, ieg_params=ieg_params, model=model,
                                 device=device)
                if tag and "ieg_params" in rec:
                    rec.update(method=f"{method}_{tag}", base_method=method)
                rec.update(dataset=dataset, noise=noise, rate=rate,
                           trusted_per_class=trusted_per_class,
                           realised_noise=data.info["realised_noise"],
                           n_noisy=len(data.X), n_test=len(data.X_test))
                runs.append(rec)
                extra = ""
                if "corrected_accuracy" in rec:
                    extra = (f" corrected={rec['corrected_accuracy']:.3f}"
                             f" precision={rec['cleaning_precision']:.3f}"
                             f" recall={rec['cleaning_recall']:.3f}")
                log(f"{dataset} {noise} {rate:.0%} seed={seed} {rec['method']:>12}: "
                    f"test acc {rec['test_accuracy']:.4f}{extra} ({rec['fit_seconds']:.0f}s)")
    results = dict(config=dict(dataset=dataset, noise=noise, rates=list(rates),
                               trusted_per_class=trusted_per_class, methods=list(methods),
                               seeds=list(seeds), max_epochs=max_epochs, n_train=n_train,
                               model=model, ieg_params=ieg_params or {}, device=str(device),
                               tag=tag),
                   environment=dict(torch=torch.__version__, python=platform.python_version(),
                                    threads=torch.get_num_threads(), device=str(device),
                                    gpu=torch.cuda.get_device_name(device)
                                    if str(device).startswith("cuda") else None,
                                    machine=platform.machine()),
                   runs=runs)
    return _write_results(results, out, plots=plots, log=log)


def _write_results(results: dict, out, *, plots: bool, log) -> dict:
    """Write results.json, results.md and the plots to ``out`` (if given); add the table."""
    runs = results["runs"]
    if out is not None:  # the runs first: nothing after this may lose them
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1))
    table = format_table(runs)
    if out is not None:
        (out / "results.md").write_text(table + "\n")
        if plots:
            try:
                from sk_ieg.bench.plots import plot_accuracy, plot_meta_statistics

                plot_accuracy(runs, out / "accuracy.png")
                plot_meta_statistics(runs, out / "meta_statistics.png")
            except ImportError as exc:
                log(f"no plots: {exc}")
    results["table"] = table
    return results


def merge_results(dirs: Sequence[str | Path], out: str | Path | None = None, *,
                  plots: bool = True, log=print) -> dict:
    """Merge the ``results.json`` of benchmark runs split across processes or machines.

    The runs are concatenated in the order given; the merged ``config`` lists
    every rate, method and seed that occurs, and ``config`` and ``environment``
    keep each part's own record under ``parts``. Written like
    :func:`run_benchmark`'s output when ``out`` is given.

    Parts may run IEG with different ``ieg_params`` as long as the method names
    differ (``run_benchmark(tag=...)``, ``sk-ieg bench --tag``): a method name must
    mean one set of IEG parameters. The merged ``config["ieg_params"]`` maps each
    IEG-family method to its parameters.

    Raises
    ------
    ValueError
        If no folder is given, or the parts differ in data set,
        noise, network or epochs, or one method name ran with different IEG
        parameters (their figures would not be comparable), or two parts hold
        the same (rate, seed, method).
    """
    if not dirs:
        raise ValueError("merge_results needs at least one results folder")
    parts = []
    for d in dirs:
        path = Path(d) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"no results.json in {d}")
        parts.append(json.loads(path.read_text()))
    same = ("dataset", "noise", "trusted_per_class", "max_epochs", "n_train", "model")
    first = parts[0]["config"]
    for d, part in zip(dirs, parts):
        differ = [k for k in same if part["config"].get(k) != first.get(k)]
        if differ:
            raise ValueError(f"{d} differs from {dirs[0]} in {differ}: not comparable")
    runs, seen, params = [], set(), {}
    for d, part in zip(dirs, parts):
        for r in part["runs"]:
            key = (r["rate"], r["seed"], r["method"])
            if key in seen:
                raise ValueError(f"{d} repeats the run rate={key[0]} seed={key[1]} "
                                 f"method={key[2]}")
            seen.add(key)
            if "ieg_params" in r:
                if params.setdefault(r["method"], r["ieg_params"]) != r["ieg_params"]:
                    raise ValueError(
                        f"{d}: method {r['method']} ran with ieg_params {r['ieg_params']}, "
                        f"elsewhere with {params[r['method']]}; give one of them another "
                        "name with sk-ieg bench --tag")
            runs.append(r)

    def union(name):  # in order of first appearance
        return list(dict.fromkeys(r[name] for r in runs))

    config = {k: first.get(k) for k in same}
    config.update(ieg_params=params, rates=union("rate"), methods=union("method"),
                  seeds=union("seed"), parts=[p["config"] for p in parts])
    results = dict(config=config, environment=dict(parts=[p["environment"] for p in parts]),
                   runs=runs)
    return _write_results(results, out, plots=plots, log=log)


def format_table(runs: Sequence[dict]) -> str:
    """Markdown table: mean +- std test accuracy per (data, noise, rate) and method."""
    groups: dict = {}
    methods: list = []
    for r in runs:
        key = (r["dataset"], r["noise"], r["rate"])
        groups.setdefault(key, {}).setdefault(r["method"], []).append(r)
        if r["method"] not in methods:
            methods.append(r["method"])
    head = ("| data | noise | rate | " + " | ".join(methods)
            + " | IEG corrected-label acc | IEG weight clean / mislabeled |")
    lines = [head, "|" + "---|" * (len(methods) + 5)]
    for (ds, noise, rate), by_method in groups.items():
        cells = []
        for m in methods:
            accs = [r["test_accuracy"] for r in by_method.get(m, [])]
            cells.append(f"{np.mean(accs):.3f} ± {np.std(accs):.3f} (n={len(accs)})"
                         if accs else "")
        ieg = by_method.get("ieg", [])
        corr = [r["corrected_accuracy"] for r in ieg if "corrected_accuracy" in r]
        cells.append(f"{np.mean(corr):.3f}" if corr else "")
        ratio = [r["mean_weight_clean"] / r["mean_weight_mislabeled"] for r in ieg
                 if r.get("mean_weight_mislabeled")]
        cells.append(f"{np.mean(ratio):.1f}x" if ratio else "")
        lines.append(f"| {ds} | {noise} | {rate:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
