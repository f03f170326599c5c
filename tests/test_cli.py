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
    # trusted_only: 100 rows, one batch per epoch, so 10x the epochs for the same steps,
    # but scored about as often as IEG (every 10th epoch)
    trusted = runs["trusted_only"]
    assert trusted["epochs"] == 20
    assert [e for e, _ in trusted["test_accuracy_per_epoch"]] == [10, 20]
    assert abs(runs["ieg"]["realised_noise"] - 0.4 * 0.9) < 0.05
    assert (tmp_path / "results.md").read_text().startswith("| data |")


def test_bench_rejects_unknown_inputs(tmp_path, capsys):
    assert main(["bench", "--dataset", "nope", "--no-progress", "--out", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--methods", "ieg,magic"])


def _bench(out, rate, methods, *extra):
    assert main(["bench", "--rate", rate, "--seeds", "0", "--max-epochs", "1", "--methods",
                 methods, "--no-progress", "--out", str(out), *extra]) == 0


def test_ieg_fast_is_ieg_with_the_speed_setting_and_keeps_its_own_settings(tmp_path, capsys):
    from sk_ieg import SPEED_SETTING

    _bench(tmp_path, "0.4", "ieg,ieg_fast,l2r", "--ieg-params",
           '{"consistency_weight": 1, "probe_batch_size": 32}')
    runs = {r["method"]: r for r in json.loads((tmp_path / "results.json").read_text())["runs"]}
    assert runs["ieg"]["ieg_params"]["probe_batch_size"] == 32
    fast = runs["ieg_fast"]["ieg_params"]
    assert {k: fast[k] for k in SPEED_SETTING} == SPEED_SETTING  # the setting wins
    assert fast["consistency_weight"] == 1  # the rest of --ieg-params still applies
    assert runs["l2r"]["ieg_params"]["consistency_weight"] == 0.0
    assert runs["l2r"]["ieg_params"]["relabel"] is False


def test_merge_joins_split_runs_and_refuses_incomparable_parts(tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _bench(a, "0.4", "trusted_only")
    _bench(b, "0.8", "trusted_only")
    _bench(c, "0.8", "trusted_only", "--trusted-per-class", "5")
    capsys.readouterr()
    merged = tmp_path / "m"
    assert main(["bench", "--merge", f"{a},{b}", "--out", str(merged)]) == 0
    out = capsys.readouterr().out
    assert "| digits | uniform | 40% |" in out and "| digits | uniform | 80% |" in out
    res = json.loads((merged / "results.json").read_text())
    parts = [json.loads((d / "results.json").read_text())["runs"] for d in (a, b)]
    assert res["runs"] == parts[0] + parts[1]
    assert res["config"]["rates"] == [0.4, 0.8]
    assert len(res["config"]["parts"]) == 2
    assert (merged / "results.md").read_text().count("| digits |") == 2

    assert main(["bench", "--merge", f"{a},{a}", "--out", str(tmp_path / "x")]) == 2
    assert "repeats the run" in capsys.readouterr().err
    assert main(["bench", "--merge", f"{a},{c}", "--out", str(tmp_path / "x")]) == 2
    assert "trusted_per_class" in capsys.readouterr().err
    assert main(["bench", "--merge", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_table_when_ieg_does_not_relabel(tmp_path, capsys):
    _bench(tmp_path, "0.4", "ieg", "--ieg-params", '{"relabel": false}')
    row = (tmp_path / "results.md").read_text().splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3].startswith("0.") and cells[4] == ""  # accuracy; no corrected labels
    assert "corrected_accuracy" not in json.loads((tmp_path / "results.json").read_text())[
        "runs"][0]


def test_tag_renames_ieg_runs_so_other_ieg_params_can_be_merged(tmp_path, capsys):
    plain, tagged, clash = tmp_path / "plain", tmp_path / "tagged", tmp_path / "clash"
    _bench(plain, "0.4", "ieg,trusted_only")
    _bench(tagged, "0.4", "ieg,l2r", "--ieg-params", '{"consistency_weight": 1}', "--tag", "k1")
    _bench(clash, "0.8", "ieg", "--ieg-params", '{"consistency_weight": 1}')
    runs = json.loads((tagged / "results.json").read_text())["runs"]
    assert [(r["method"], r["base_method"]) for r in runs] == [("ieg_k1", "ieg"),
                                                              ("l2r_k1", "l2r")]
    capsys.readouterr()
    merged = tmp_path / "m"
    assert main(["bench", "--merge", f"{plain},{tagged}", "--out", str(merged)]) == 0
    res = json.loads((merged / "results.json").read_text())
    assert res["config"]["methods"] == ["ieg", "trusted_only", "ieg_k1", "l2r_k1"]
    assert res["config"]["ieg_params"]["ieg"] == {}
    assert res["config"]["ieg_params"]["ieg_k1"] == {"consistency_weight": 1}
    assert "| ieg_k1 |" in (merged / "results.md").read_text().splitlines()[0]
    # the same name with other parameters is refused, with the way out in the message
    assert main(["bench", "--merge", f"{plain},{clash}", "--out", str(tmp_path / "x")]) == 2
    assert "--tag" in capsys.readouterr().err
    assert main(["bench", "--tag", "a b", "--no-progress", "--out", str(tmp_path / "y")]) == 2
    assert "tag must be" in capsys.readouterr().err
