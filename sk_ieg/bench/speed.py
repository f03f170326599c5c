"""Speed benchmark: per-epoch time and peak memory of IEG against plain skorch.

Used by ``sk-ieg bench --speed`` and ``benchmarks/speed.py``. For each
configuration (a data set, a network and a batch size) every variant is trained
side by side in one process on the same data, network, batch size and device:

* ``vanilla``: skorch's :class:`~skorch.NeuralNetClassifier` (SGD, lr 0.1,
  momentum 0.9, weight decay 5e-4, shuffled batches) on the noisy + trusted rows;
  the baseline of every ratio;
* ``ieg``: :class:`~sk_ieg.IEGClassifier` with its defaults;
* ``ieg_fast``: IEGClassifier with ``sk_ieg.SPEED_SETTING``;
* ``ieg_reference``: the reference route, double-backward meta-gradient without
  shared forward passes (``sk_ieg.step.reference_objective``);
* any extra variant given as a dict of IEGClassifier parameters.

Protocol: one untimed warm-up fit per variant (one epoch; its time is kept as
``warmup_epoch_s``), then ``repeats`` rounds in alternating order (vanilla, ieg,
ieg_fast, ieg_reference, vanilla, ...), each a fresh estimator with the same seed
fitted for ``epochs_per_repeat`` epochs. Epoch times are skorch's
``history[:, "dur"]``; the table reports their median per variant and its ratio to
vanilla's median. An IEG epoch is one pass over the noisy rows, a vanilla epoch one
pass over the noisy + trusted rows (rows and steps per epoch are reported).

Peak memory is measured around every timed fit: on CUDA the growth of
``torch.cuda.max_memory_allocated`` over the memory allocated before the fit (live
tensor bytes); on CPU the growth of the process's peak resident set size over
the resident set size before the fit, with the peak reset before each fit through
``/proc/self/clear_refs`` (Linux) and freed heap memory returned to the system
first (``malloc_trim``), so earlier fits and the data loading do not mask it. The
reported figure is the median over the repeats. Elsewhere the CPU figure is
missing (``None``).
"""

from __future__ import annotations

import ctypes
import gc
import json
import numbers
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from sk_ieg.bench.profiling import time_step_phases
from sk_ieg.bench.runner import load_bench_data, module_for, plain_net
from sk_ieg.estimator import SPEED_SETTING, IEGClassifier
from sk_ieg.step import reference_objective

__all__ = ["CONFIGS", "VARIANTS", "default_variants", "run_speed", "format_speed_table"]

#: Configurations of ``--config``: data set, network (``None``: SmallCNN for
#: images, MLP for tables), training rows and batch size.
CONFIGS: dict[str, dict] = {
    "cnn": dict(dataset="fashion_mnist", model="small_cnn", n_train=10_000, batch_size=128),
    "mlp": dict(dataset="pmlb:letter", model="mlp", n_train=None, batch_size=128),
}
#: Built-in variants, in the order they run within a repeat (vanilla always first).
VARIANTS = ("vanilla", "ieg", "ieg_fast", "ieg_reference")
#: Keys of a variant's parameter dict that are not IEGClassifier parameters.
_ROUTE_KEY = "_route"
_MIB = 2.0**20


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ variants
class _ReferenceIEG(IEGClassifier):
    """IEG through the reference objective (double backward, no shared passes)."""

    objective = staticmethod(reference_objective)


def default_variants(names: Sequence[str] = VARIANTS) -> tuple[dict[str, dict], list[str]]:
    """The built-in IEG variants that this installation provides.

    Parameters
    ----------
    names : sequence of str, default=VARIANTS
        Which built-ins to consider; ``"vanilla"`` is ignored here (it is always
        run, as the baseline).

    Returns
    -------
    variants : dict
        Variant name -> IEGClassifier parameters. The reference route carries the
        extra key ``"_route": "reference"``.
    notes : list of str
        Lines for the run's notes about these variants (none for the built-ins,
        which are all part of the package).
    """
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; built-ins are {list(VARIANTS)} "
                         "(add others as NAME=JSON)")
    variants: dict[str, dict] = {}
    notes: list[str] = []
    if "ieg" in names:
        variants["ieg"] = {}
    if "ieg_fast" in names:
        variants["ieg_fast"] = dict(SPEED_SETTING)
    if "ieg_reference" in names:
        variants["ieg_reference"] = {_ROUTE_KEY: "reference", "meta_gradient": "double_backward"}
    return variants, notes


def _split_route(params: Mapping) -> tuple[str, dict]:
    params = dict(params)
    route = params.pop(_ROUTE_KEY, "default")
    if route not in ("default", "reference"):
        raise ValueError(f"{_ROUTE_KEY} must be 'default' or 'reference', got {route!r}")
    bad = [k for k in params if k.startswith("_")]
    if bad:
        raise ValueError(f"unknown variant key(s) {bad}; the only private key is {_ROUTE_KEY!r}")
    return route, params


# ------------------------------------------------------------------- memory
def _read_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            m = re.search(rf"^{key}:\s+(\d+)\s+kB", fh.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakMemory:
    """Peak memory growth of the code run between ``start()`` and ``stop()``.

    ``device`` CUDA: ``max_memory_allocated`` growth (bytes of live tensors).
    Always also the process's peak-RSS growth where Linux allows resetting it.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"
        self.rss_ok = _read_status_kib("VmHWM") is not None

    def start(self) -> None:
        _release_memory()
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.cuda0 = torch.cuda.memory_allocated(self.device)
        self.rss0 = None
        if self.rss_ok:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")  # resets VmHWM (the peak RSS) to the current RSS
                self.rss0 = _read_status_kib("VmRSS")
            except OSError:
                self.rss_ok = False

    def stop(self) -> dict:
        out: dict = {}
        if self.cuda:
            torch.cuda.synchronize(self.device)
            out["cuda_peak_mib"] = (torch.cuda.max_memory_allocated(self.device)
                                    - self.cuda0) / _MIB
        if self.rss0 is not None:
            hwm = _read_status_kib("VmHWM")
            out["rss_peak_growth_mib"] = max(hwm - self.rss0, 0) * 1024 / _MIB
        return out


def _memory_kind(device: torch.device) -> str:
    return "cuda_peak_mib" if device.type == "cuda" else "rss_peak_growth_mib"


# ---------------------------------------------------------------- estimators
def _make_estimator(route: str | None, params: dict, module, module_kw: dict, *,
                    epochs: int, batch_size: int, seed: int, device: str):
    """A fresh estimator; ``route`` None is the vanilla skorch network."""
    if route is None:  # the same network as the benchmark's baselines
        return plain_net(module, module_kw, epochs=epochs, batch_size=batch_size, seed=seed,
                         callbacks=[], device=device)
    cls = _ReferenceIEG if route == "reference" else IEGClassifier
    kwargs = dict(module=module, batch_size=batch_size, max_epochs=epochs, device=device,
                  random_state=seed, verbose=0, **module_kw)
    kwargs.update(params)
    return cls(**kwargs)


def _fit(net, route, data, seed, joined):
    if route is None:
        torch.manual_seed(seed)  # skorch initialises the module from the global RNG
        net.fit(*joined)
    else:
        net.fit(data.X, data.y, X_trusted=data.X_trusted, y_trusted=data.y_trusted)
    return net


def _one_fit(spec, ctx, epochs, meter):
    """Fit a fresh estimator of ``spec`` (route, params) for ``epochs`` epochs.

    Returns (epoch seconds, fit wall seconds, memory dict, rows/epoch, steps/epoch);
    memory is measured when ``meter`` is given.
    """
    route, params = spec
    dev = ctx["device"]
    net = _make_estimator(route, params, ctx["module"], ctx["module_kw"], epochs=epochs,
                          batch_size=ctx["batch_size"], seed=ctx["seed"], device=str(dev))
    if meter is not None:
        meter.start()
    elif dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    _fit(net, route, ctx["data"], ctx["seed"], ctx["joined"])
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - t0
    mem = meter.stop() if meter is not None else {}
    durs = [float(d) for d in net.history[:, "dur"]]
    rows, steps = _epoch_rows(net)
    return durs, wall, mem, rows, steps


def _epoch_rows(net) -> tuple[int, int]:
    """(rows, steps) of the last epoch, from skorch's batch history."""
    batches = net.history[-1, "batches"]
    return sum(int(b.get("train_batch_size", 0)) for b in batches), len(batches)


# --------------------------------------------------------------- environment
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            m = re.search(r"^model name\s*:\s*(.+)$", fh.read(), re.M)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _environment(device: torch.device) -> dict:
    import skorch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    env = dict(torch=torch.__version__, skorch=skorch.__version__,
               python=platform.python_version(), platform=platform.platform(),
               device=str(device), cpu=_cpu_name(), cpu_count=os.cpu_count(),
               usable_cpus=usable, threads=torch.get_num_threads(),
               gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
    if hasattr(os, "getloadavg"):
        env["load_average_start"] = list(os.getloadavg())
    return env


# ------------------------------------------------------------------- running
def _median(values):
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def _ratio(a, b):
    return float(a / b) if a is not None and b else None


def _resolve_configs(configs, *, dataset, model, n_train, batch_size) -> dict[str, dict]:
    if isinstance(configs, str):
        configs = [c.strip() for c in configs.split(",") if c.strip()]
    resolved: dict[str, dict] = {}
    if not configs:
        if dataset is None:
            raise ValueError("no configuration: give config names or a dataset")
        configs = []
        resolved["custom"] = dict(dataset=dataset, model=model, n_train=n_train,
                                  batch_size=batch_size or 128)
    for name in configs:
        if name not in CONFIGS:
            raise ValueError(f"unknown speed config {name!r}; choose from {list(CONFIGS)}")
        cfg = dict(CONFIGS[name])
        for key, value in (("dataset", dataset), ("model", model), ("n_train", n_train),
                           ("batch_size", batch_size)):
            if value is not None:
                cfg[key] = value
        resolved[name] = cfg
    return resolved


def _plain(value):
    """A JSON-able copy of one value returned by ``time_step_phases``."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _step_phases(cfg_name, variant, params, ctx, repeats, log) -> tuple[dict | None, str | None]:
    """``sk_ieg.bench.profiling.time_step_phases`` for one IEG variant, or a note why not."""
    data = ctx["data"]
    try:
        net = _make_estimator("default", params, ctx["module"], ctx["module_kw"], epochs=1,
                              batch_size=ctx["batch_size"], seed=ctx["seed"],
                              device=str(ctx["device"]))
        phases = time_step_phases(net, data.X, data.y, data.X_trusted, data.y_trusted,
                                  repeats=repeats)
        phases = {str(k): _plain(v) for k, v in dict(phases).items()}
    except Exception as exc:  # the profiling helper is optional; report, do not fail
        return None, (f"step phases skipped for {cfg_name}/{variant}: "
                      f"{type(exc).__name__}: {exc}")
    log(f"[{cfg_name}] step phases {variant}: " + ", ".join(
        f"{k}={v * 1e3:.1f} ms" for k, v in phases.items() if _is_phase(k, v)))
    return phases, None


def _is_phase(key, value) -> bool:
    """Whether a ``time_step_phases`` entry is a time in seconds (not a ratio or a setting)."""
    return (isinstance(value, float) and "_over_" not in key
            and (key.endswith("_step") or key == "views"))


def run_speed(configs: str | Sequence[str] = ("cnn", "mlp"), *, dataset: str | None = None,
              model: str | None = None, n_train: int | None = None,
              batch_size: int | None = None, device: str = "cpu", repeats: int = 5,
              epochs_per_repeat: int = 1, warmup: bool = True,
              variants: Sequence[str] = VARIANTS, extra_variants: Mapping[str, dict] | None = None,
              ieg_params: Mapping | None = None, seed: int = 0, step_phases: bool = True,
              step_repeats: int = 20, out: str | Path | None = None,
              log: Callable[[str], None] | None = _stderr) -> dict:
    """Time IEG variants against skorch's NeuralNetClassifier, side by side.

    Parameters
    ----------
    configs : str or sequence of str, default=("cnn", "mlp")
        Names from :data:`CONFIGS` (a comma-separated string works too). Empty
        with ``dataset`` given: one configuration ``"custom"`` from the
        overrides below.
    dataset, model, n_train, batch_size : optional
        Override these fields of every configuration. ``dataset`` as in
        :func:`sk_ieg.bench.load_bench_data`; ``model`` as in ``sk-ieg bench
        --model`` (``None`` in a configuration: SmallCNN for images, MLP for
        tables).
    device : str, default="cpu"
        Torch device of every network.
    repeats : int, default=5
        Timed rounds; each fits every variant once, in alternating order.
    epochs_per_repeat : int, default=1
        ``max_epochs`` of each timed fit; every epoch's time is kept.
    warmup : bool, default=True
        One untimed one-epoch fit of every variant first.
    variants : sequence of str, default=VARIANTS
        Built-in variants to run (see :func:`default_variants`); vanilla always
        runs.
    extra_variants : mapping, optional
        More variants: name -> IEGClassifier parameters (``"_route":
        "reference"`` selects the reference objective).
    ieg_params : mapping, optional
        IEGClassifier parameters applied to every IEG variant (a variant's own
        parameters take precedence).
    seed : int, default=0
        Seed of the noisy split and of every estimator (the same in every repeat).
    step_phases : bool, default=True
        Also time single training steps with
        :func:`sk_ieg.bench.profiling.time_step_phases`.
    step_repeats : int, default=20
        ``repeats`` passed to ``time_step_phases``.
    out : str or Path, optional
        Folder for ``speed.json`` and ``speed.md``.
    log : callable or None, default=print to stderr
        Receives one progress line per fit.

    Returns
    -------
    dict
        ``environment``, ``config``, ``complete``, ``notes``, ``results`` (one
        record per configuration and variant: raw epoch and fit times, median
        epoch time, ratio to vanilla, rows and steps per epoch, peak memory per
        repeat with its median and ratio), ``step_phases`` (configuration ->
        variant -> the dict of ``time_step_phases``, for the IEG variants on the
        default route, when measured) and ``table`` (the markdown of
        :func:`format_speed_table`). With ``out``, the files are rewritten after
        every configuration (``complete`` is false until the last one).
    """
    log = log or (lambda msg: None)
    if repeats < 1 or epochs_per_repeat < 1:
        raise ValueError("repeats and epochs_per_repeat must be >= 1")
    cfgs = _resolve_configs(configs, dataset=dataset, model=model, n_train=n_train,
                            batch_size=batch_size)
    dev = torch.device(device)
    ieg_params = dict(ieg_params or {})
    specs, notes = _variant_specs(variants, extra_variants, ieg_params)
    for note in notes:
        log(note)
    env = _environment(dev)
    mem_key = _memory_kind(dev)
    results: list[dict] = []
    phases_all: dict[str, dict] = {}
    meter = _PeakMemory(dev)
    if dev.type != "cuda" and not meter.rss_ok:
        notes.append("CPU peak memory not measured: needs Linux /proc/self/clear_refs")

    for cfg_name, cfg in cfgs.items():
        ctx, cfg_info = _config_context(cfg_name, cfg, seed, dev, log)
        recs = _time_variants(cfg_name, specs, ctx, meter, mem_key, repeats=repeats,
                              epochs_per_repeat=epochs_per_repeat, warmup=warmup, log=log)
        results += _summarise(recs, mem_key, cfg_info)
        if step_phases:
            _add_step_phases(cfg_name, specs, ctx, step_repeats, phases_all, notes, log)
        del ctx  # the data set, before the next configuration loads its own
        result = _result(env, cfgs, dev, repeats, epochs_per_repeat, warmup, seed, ieg_params,
                         specs, mem_key, notes, results, phases_all,
                         complete=cfg_name == list(cfgs)[-1])
        if out is not None:  # after every configuration, so a later failure keeps the rest
            _write(result, out)
    return result


def _variant_specs(variants, extra_variants, ieg_params: dict):
    """``{name: (route, params)}`` of every variant (vanilla first, route None) and the
    notes about them; ``ieg_params`` go to every IEG variant, under its own parameters."""
    builtin, notes = default_variants([v for v in variants if v != "vanilla"])
    specs: dict[str, tuple[str | None, dict]] = {"vanilla": (None, {})}
    for name, params in {**builtin, **dict(extra_variants or {})}.items():
        if name in specs:
            raise ValueError(f"variant name {name!r} is used twice")
        route, own = _split_route(params)
        specs[name] = (route, {**ieg_params, **own})
    return specs, notes


def _config_context(cfg_name: str, cfg: dict, seed: int, dev: torch.device, log):
    """Load one configuration's split and network: (context of the fits, config info)."""
    data = load_bench_data(cfg["dataset"], noise="uniform", rate=0.4, trusted_per_class=10,
                           seed=seed, n_train=cfg["n_train"])
    kind = cfg["model"] or ("small_cnn" if data.X.ndim == 4 else "mlp")
    module, module_kw = module_for(data.X, data.n_classes, kind)
    bs = cfg["batch_size"]
    # vanilla's rows, joined once outside the measured fits
    joined = (np.concatenate([data.X, data.X_trusted]),
              np.concatenate([data.y, data.y_trusted]))
    ctx = dict(module=module, module_kw=module_kw, batch_size=bs, seed=seed, device=dev,
               data=data, joined=joined)
    cfg_info = dict(cfg, model=kind, module=module.__name__, n_noisy=len(data.X),
                    n_trusted=len(data.X_trusted), n_classes=data.n_classes,
                    input_shape=list(data.X.shape[1:]))
    log(f"[{cfg_name}] {cfg['dataset']}: {len(data.X)} noisy + {len(data.X_trusted)} trusted "
        f"rows, {module.__name__}, batch {bs}, device {dev}")
    return ctx, cfg_info


def _time_variants(cfg_name, specs, ctx, meter, mem_key, *, repeats, epochs_per_repeat,
                   warmup, log) -> dict[str, dict]:
    """The warm-up fits, then ``repeats`` rounds of timed fits of every variant in turn;
    one record per variant with the raw times and memory."""
    recs = {name: dict(config=cfg_name, variant=name, route=route or "vanilla",
                       params=dict(params), epoch_s=[], fit_s=[], memory=[])
            for name, (route, params) in specs.items()}
    if warmup:
        for name in specs:
            durs, _, _, _, _ = _one_fit(specs[name], ctx, 1, None)
            recs[name]["warmup_epoch_s"] = durs[0]
            log(f"[{cfg_name}] warm-up {name}: {durs[0]:.3f} s/epoch")
    for r in range(repeats):
        for name in specs:
            durs, wall, mem, rows, steps = _one_fit(specs[name], ctx, epochs_per_repeat, meter)
            rec = recs[name]
            rec["epoch_s"].extend(durs)
            rec["fit_s"].append(wall)
            rec["memory"].append(mem)
            rec.update(rows_per_epoch=rows, steps_per_epoch=steps)
            mem_txt = (f", peak +{mem[mem_key]:.1f} MiB" if mem.get(mem_key) is not None
                       else "")
            log(f"[{cfg_name}] repeat {r + 1}/{repeats} {name}: "
                f"{statistics.median(durs):.3f} s/epoch over {len(durs)} epoch(s), "
                f"fit {wall:.2f} s{mem_txt}")
    return recs


def _summarise(recs: dict[str, dict], mem_key: str, cfg_info: dict) -> list[dict]:
    """The records with their medians and ratios to vanilla added."""
    base = recs["vanilla"]
    base_t = _median(base["epoch_s"])
    base_m = _median([m.get(mem_key) for m in base["memory"]])
    for rec in recs.values():
        rec["median_epoch_s"] = _median(rec["epoch_s"])
        rec["min_epoch_s"] = float(min(rec["epoch_s"]))
        rec["max_epoch_s"] = float(max(rec["epoch_s"]))
        rec["median_step_s"] = rec["median_epoch_s"] / max(rec["steps_per_epoch"], 1)
        rec["ratio_to_vanilla"] = _ratio(rec["median_epoch_s"], base_t)
        rec["step_ratio_to_vanilla"] = _ratio(
            rec["median_step_s"], base_t / max(base["steps_per_epoch"], 1))
        for key in ("cuda_peak_mib", "rss_peak_growth_mib"):
            vals = [m.get(key) for m in rec["memory"]]
            if any(v is not None for v in vals):
                rec[f"median_{key}"] = _median(vals)
        rec["peak_memory_mib"] = _median([m.get(mem_key) for m in rec["memory"]])
        rec["memory_ratio_to_vanilla"] = _ratio(rec["peak_memory_mib"], base_m)
        rec["config_info"] = cfg_info
    return list(recs.values())


def _add_step_phases(cfg_name, specs, ctx, step_repeats, phases_all, notes, log) -> None:
    """Single-step timings of the IEG variants on the default route into ``phases_all``;
    a note for each one that could not be timed."""
    for name, (route, params) in specs.items():
        if route != "default":
            continue
        phases, note = _step_phases(cfg_name, name, params, ctx, step_repeats, log)
        if phases is not None:
            phases_all.setdefault(cfg_name, {})[name] = phases
        elif note not in notes:
            notes.append(note)
            log(note)


def _result(env, cfgs, dev, repeats, epochs_per_repeat, warmup, seed, ieg_params, specs,
            mem_key, notes, results, phases_all, *, complete) -> dict:
    env = dict(env)
    if hasattr(os, "getloadavg"):
        env["load_average_end"] = list(os.getloadavg())
    result = dict(
        environment=env,
        config=dict(configs={k: dict(v) for k, v in cfgs.items()}, device=str(dev),
                    repeats=repeats, epochs_per_repeat=epochs_per_repeat, warmup=warmup,
                    seed=seed, ieg_params=ieg_params, noise="uniform", rate=0.4,
                    trusted_per_class=10, variants=list(specs),
                    variant_params={k: {**p, **({_ROUTE_KEY: r} if r not in (None, "default")
                                                else {})} for k, (r, p) in specs.items()},
                    memory_measure=mem_key),
        complete=complete, notes=list(notes), results=list(results),
        step_phases={k: dict(v) for k, v in phases_all.items()})
    result["table"] = format_speed_table(result)
    return result


def _write(result: dict, out) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(
        json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1, default=str))
    (out / "speed.md").write_text(result["table"] + "\n")


# -------------------------------------------------------------------- tables
def _fmt(value, spec):
    return "" if value is None else format(value, spec)


def format_speed_table(result: Mapping) -> str:
    """Markdown tables of a :func:`run_speed` result.

    Parameters
    ----------
    result : mapping
        The dict returned by :func:`run_speed` (or read back from ``speed.json``).

    Returns
    -------
    str
        A header line with the environment, the epoch table (configuration,
        variant, rows and steps per epoch, median epoch seconds with the range,
        ratio to vanilla, peak memory and its ratio), the notes and, when
        measured, the step-phase table.
    """
    env = result.get("environment", {})
    conf = result.get("config", {})
    mem = conf.get("memory_measure", "")
    mem_label = ("peak CUDA memory MiB" if mem == "cuda_peak_mib"
                 else "peak RSS growth MiB")
    device = env.get("gpu") or env.get("cpu") or env.get("device", "")
    lines = [f"Speed: {env.get('device', '')} ({device}), torch {env.get('torch', '')}, "
             f"{env.get('threads', '')} thread(s); {conf.get('repeats', '')} repeat(s) x "
             f"{conf.get('epochs_per_repeat', '')} epoch(s), medians.", "",
             f"| config | variant | rows/epoch | steps/epoch | median epoch s (min-max) "
             f"| ratio to vanilla | {mem_label} | memory ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result.get("results", []):
        info = r.get("config_info", {})
        cfg = f"{r['config']} ({info.get('dataset', '')}, {info.get('module', '')})"
        lines.append(
            f"| {cfg} | {r['variant']} | {r.get('rows_per_epoch', '')} | "
            f"{r.get('steps_per_epoch', '')} | {_fmt(r['median_epoch_s'], '.3f')} "
            f"({_fmt(r['min_epoch_s'], '.3f')}-{_fmt(r['max_epoch_s'], '.3f')}) | "
            f"{_fmt(r['ratio_to_vanilla'], '.2f')} | {_fmt(r.get('peak_memory_mib'), '.1f')} | "
            f"{_fmt(r.get('memory_ratio_to_vanilla'), '.2f')} |")
    lines += ["", "IEG epochs pass over the noisy rows; vanilla epochs over the noisy + trusted "
              "rows. Memory: " + ("growth of torch.cuda.max_memory_allocated during a fit."
                                  if mem == "cuda_peak_mib" else
                                  "growth of the process's peak RSS during a fit (peak reset "
                                  "before each fit).")]
    for note in result.get("notes", []):
        lines.append(f"Note: {note}")
    phases = result.get("step_phases") or {}
    rows = [(cfg, variant, d) for cfg, by_variant in phases.items()
            for variant, d in by_variant.items()]
    if rows:
        keys: list[str] = []
        for _, _, d in rows:
            keys += [k for k, v in d.items() if _is_phase(k, v) and k not in keys]
        lines += ["", "One training step on one batch (median ms; in brackets: ratio to "
                  "vanilla_step):", "",
                  "| config | variant | " + " | ".join(keys) + " |",
                  "|---|---|" + "---|" * len(keys)]
        for cfg, variant, d in rows:
            base = d.get("vanilla_step")
            cells = []
            for k in keys:
                v = d.get(k)
                cell = _fmt(v * 1e3, ".2f") if isinstance(v, float) else ""
                if cell and base:
                    cell += f" ({v / base:.2f}x)"
                cells.append(cell)
            lines.append(f"| {cfg} | {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
