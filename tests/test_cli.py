"""The ``sk-ieg bench`` command on a tiny configuration."""

import json

import pytest

from sk_ieg.cli import main


def test_bench_writes_results_and_prints_table(tmp_path, capsys):
    code = main(["bench", "--rate", "0.4", "--seeds", "0", "--max-epochs", "2",
                 "--methods", "ieg,l2r,vanilla,trusted_only,clean", "--no-progress",
                 "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| digits | uniform | 40% |" in out
    res = json.loads((tmp_path / "results.json").read_text())
    runs = {r["method"]: r for r in res["runs"]}
    assert set(runs) == {"ieg", "l2r", "vanilla", "trusted_only", "clean"}
    for r in runs.values():
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert r["test_accuracy_per_epoch"][-1][1] == pytest.approx(r["test_accuracy"])
    assert 0.0 <= runs["ieg"]["cleaning_precision"] <= 1.0
    assert abs(runs["ieg"]["realised_noise"] - 0.4 * 0.9) < 0.05
    assert (tmp_path / "results.md").read_text().startswith("| data |")


def test_bench_rejects_unknown_inputs(tmp_path, capsys):
    assert main(["bench", "--dataset", "nope", "--no-progress", "--out", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--methods", "ieg,magic"])
