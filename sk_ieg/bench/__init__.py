"""Benchmark tools behind ``sk-ieg bench``: the accuracy runner (:mod:`sk_ieg.bench.runner`),
the speed benchmark (:mod:`sk_ieg.bench.speed`), single-step timings
(:mod:`sk_ieg.bench.profiling`) and figures (:mod:`sk_ieg.bench.plots`).

This package re-exports the runner's public names. It uses the library's public API only,
and nothing in the library core imports it.
"""

from sk_ieg.bench.runner import (
    METHODS,
    MODELS,
    BenchData,
    EpochProgress,
    RowStatistics,
    TestAccuracy,
    default_methods,
    format_table,
    load_bench_data,
    matched_epochs,
    merge_results,
    module_for,
    plain_net,
    run_benchmark,
    run_method,
)

__all__ = ["METHODS", "MODELS", "BenchData", "EpochProgress", "RowStatistics", "TestAccuracy",
           "default_methods", "format_table", "load_bench_data", "matched_epochs",
           "merge_results", "module_for",
           "plain_net", "run_benchmark", "run_method"]
