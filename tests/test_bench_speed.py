"""The speed benchmark (``sk_ieg.bench.speed`` and ``sk-ieg bench --speed``) on a tiny run."""

import json

import pytest

from sk_ieg.bench.speed import CONFIGS, default_variants, format_speed_table, run_speed
from sk_ieg.cli import main


def _check_records(res, expected):
    recs = {r["variant"]: r for r in res["results"]}
    assert set(recs) == set(expected)
    for name, r in recs.items():
        assert r["epoch_s"] and all(t > 0 for t in r["epoch_s"])
        for key in ("median_epoch_s", "ratio_to_vanilla", "median_step_s"):
            assert isinstance(r[key], float) and r[key] > 0, (name, key)
        assert r["rows_per_epoch"] > 0 and r["steps_per_epoch"] > 0
        mem = r["peak_memory_mib"]
        assert mem is None or mem >= 0
    assert recs["vanilla"]["ratio_to_vanilla"] == pytest.approx(1.0)
    # vanilla trains on noisy + trusted rows, IEG on the noisy rows
    assert recs["vanilla"]["rows_per_epoch"] == 300
    assert recs["ieg"]["rows_per_epoch"] == recs["ieg"]["config_info"]["n_noisy"]


def test_run_speed_writes_json_and_table(tmp_path):
    builtin, notes = default_variants()
    expected = ["vanilla", *builtin]
    res = run_speed([], dataset="digits", n_train=300, repeats=1, epochs_per_repeat=1,
                    warmup=False, step_repeats=2, out=tmp_path, log=None)
    _check_records(res, expected)
    assert res["notes"][: len(notes)] == notes
    saved = json.loads((tmp_path / "speed.json").read_text())
    assert saved["environment"]["threads"] >= 1 and saved["environment"]["torch"]
    assert saved["config"]["configs"]["custom"]["dataset"] == "digits"
    _check_records(saved, expected)
    table = (tmp_path / "speed.md").read_text()
    assert table.strip() == format_speed_table(saved).strip()
    for name in expected:
        assert f"| {name} |" in table


def test_cli_speed(tmp_path, capsys):
    out = tmp_path / "speed"
    code = main(["bench", "--speed", "--dataset", "digits", "--n-train", "300", "--model", "mlp",
                 "--repeats", "1", "--epochs-per-repeat", "1", "--variants", "vanilla,ieg",
                 "--variant", 'plain={"mixup": false, "consistency_weight": 0}',
                 "--no-warmup", "--no-step-phases", "--no-progress", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "speed.json").read_text())
    _check_records(res, ["vanilla", "ieg", "plain"])
    plain = next(r for r in res["results"] if r["variant"] == "plain")
    assert plain["params"] == {"mixup": False, "consistency_weight": 0}
    table = (out / "speed.md").read_text()
    for name in ("vanilla", "ieg", "plain"):
        assert f"| {name} |" in table and f"| {name} |" in printed


def test_cli_speed_rejects_bad_input(tmp_path, capsys):
    assert main(["bench", "--speed", "--config", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown config" in err and all(c in err for c in CONFIGS)
    assert main(["bench", "--speed", "--config", "mlp", "--variants", "ieg,turbo",
                 "--out", str(tmp_path)]) == 2
    assert "unknown variant" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--speed", "--variant", "broken"])
    with pytest.raises(ValueError, match="unknown speed config"):
        run_speed(["gpu"], log=None)
