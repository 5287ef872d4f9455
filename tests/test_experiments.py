"""The experiment registry: every entry runs end to end at a FAST budget, writes a result that names where it came
from, refuses to score a run made with other settings, and RESULTS.md is generated from the result files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amago_edu import experiments
from amago_edu.experiments import REGISTRY, report, run, score, summary_line


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_entry_runs_at_a_fast_budget(name, tmp_path):
    path = run(name, seed=0, threads=1, fast=True, run_root=str(tmp_path / "runs"), out=tmp_path / "result.json")
    record = json.loads(path.read_text())
    assert record["experiment"] == name and record["seed"] == 0 and record["updates"] == 4
    assert {"commit", "date", "machine", "torch"} <= set(record["provenance"])
    assert record["command"].startswith("python -m amago_edu.experiments")
    assert [row["update"] for row in record["trained_by"]] == [0]  # the run's own record of its commit, from update 0
    if REGISTRY[name].scoring == "held_out":
        assert len(record["attempt"]) == record["config"]["episodes_per_trial"]
        assert record["last_minus_first"] == pytest.approx(record["attempt"][-1] - record["attempt"][0])
        assert len(record["untrained"]["attempt"]) == len(record["untrained"]["attempt_se"]) == len(record["attempt"])
    else:
        assert set(record["results"]) == {"AMAGO-2", "random"}
        for tasks in record["above_random"].values():
            assert set(tasks) <= set(record["results"]["AMAGO-2"])


def test_score_refuses_a_run_made_with_other_settings(tmp_path):
    run("tmaze", seed=0, threads=1, fast=True, run_root=str(tmp_path), out=tmp_path / "r.json")
    with pytest.raises(ValueError, match="was not trained with 'frozen_lake'"):
        score("frozen_lake", 0, tmp_path / "tmaze-seed0", fast=True)
    with pytest.raises(ValueError, match="unknown experiment"):
        score("nope", 0, tmp_path / "tmaze-seed0")


def held_out_record(seed, attempt):
    return {"experiment": "frozen_lake", "seed": seed, "scoring": "held_out", "metric": "success", "trials": 256,
            "attempt": attempt, "attempt_se": [0.03] * len(attempt), "last_minus_first": attempt[-1] - attempt[0],
            "updates": 15000, "curve": [{"update": 500, "attempt_success": [0.1] * 5},
                                        {"update": 1000, "attempt_success": [0.2, 0.5, 0.6, 0.7, 0.8]}],
            "provenance": {"commit": "abc1234", "date": "2026-12-07 21:00 UTC", "machine": "x86_64, 2 CPUs",
                           "torch": "2.13.0", "torch_threads": 1}}


def test_report_is_made_from_the_result_files(tmp_path):
    folder = tmp_path / "frozen_lake"
    folder.mkdir()
    (folder / "seed0.json").write_text(json.dumps(held_out_record(0, [0.2, 0.6, 0.7, 0.8, 0.8])))
    (folder / "seed1.json").write_text(json.dumps(held_out_record(1, [0.4, 0.6, 0.7, 0.8, 0.6])))
    text = report(tmp_path, tmp_path / "RESULTS.md")
    assert (tmp_path / "RESULTS.md").read_text() == text
    # the mean of the two seeds by attempt, by hand: 0.3 / 0.6 / 0.7 / 0.8 / 0.7, last - first +0.4
    assert "mean of 2 seeds: 0.30 / 0.60 / 0.70 / 0.80 / 0.70; last - first +0.40" in text
    assert "best training-time evaluation (last attempt) at update 1,000" in text
    assert "trained at not recorded, scored at abc1234" in text
    assert "| `tmaze` |" in text and "not run yet" in text  # entries without results are listed as such


def test_summary_of_per_task_results_counts_tasks_above_random():
    records = [{"scoring": "per_task", "seed": s, "above_random": {"1": above, "2": above[:1]},
                "results": {"AMAGO-2": {"a": {}, "b": {}, "c": {}}}} for s, above in ((0, ["a", "b"]), (1, ["c"]))]
    assert summary_line(records) == ("attempt 1: 2, 1 of 3 tasks above random (seeds 0, 1); "
                                     "attempt 2: 1, 1 of 3 tasks above random (seeds 0, 1)")


def test_command_line_errors_are_clear(capsys):
    with pytest.raises(SystemExit):
        experiments.main(["run", "frozen_lake", "--seed", "0", "--fast"])
    assert "--fast results go to a scratch file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        experiments.main(["run", "not_an_entry", "--seed", "0"])


def test_readme_table_is_generated_between_its_markers(tmp_path):
    from amago_edu.experiments import README_MARKERS, update_readme

    folder = tmp_path / "frozen_lake"
    folder.mkdir()
    (folder / "seed0.json").write_text(json.dumps(held_out_record(0, [0.2, 0.6, 0.7, 0.8, 0.8])))
    readme = tmp_path / "README.md"
    from amago_edu.experiments import HERO_MARKERS

    readme.write_text(f"intro\n{HERO_MARKERS[0]}\nold caption\n{HERO_MARKERS[1]}\n"
                      f"{README_MARKERS[0]}\nold table\n{README_MARKERS[1]}\nafter\n")
    assert update_readme(readme, tmp_path)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "old table" not in text and "old caption" not in text
    assert "mean of 1 seeds, 15,000 updates, trained at abc1234): 0.20 in attempt 1, 0.80 in attempt 5" in text
    assert "`frozen_lake`: success by attempt, mean of 1 seeds: 0.20 / 0.60 / 0.70 / 0.80 / 0.80" in text
    assert "`paper_babyai`" in text and "`babyai_mt`: not run yet" in text
    readme.write_text("no markers")
    assert not update_readme(readme, tmp_path)


def test_export_writes_an_artefact_with_the_results_figures(tmp_path):
    import amago_edu.course.artefacts as artefacts

    results = tmp_path / "results"
    run("tmaze", seed=0, threads=1, fast=True, run_root=str(tmp_path / "runs"), out=results / "tmaze" / "seed0.json")
    path = experiments.export("tmaze", 0, str(tmp_path / "tmaze.pt"), run_root=str(tmp_path / "runs"), root=results)
    agent, config, meta = artefacts.load_trained(path)
    assert meta["updates"] == 4 and meta["command"] == "python -m amago_edu.experiments run tmaze --seed 0"
    assert meta["held_out"]["trials"] == 4 and len(meta["held_out"]["attempt_success"]) == 1
    assert meta["final_eval"]["update"] == 4 and config.env == "toy/tmaze"
    with pytest.raises(ValueError, match="run the experiment first"):
        experiments.export("tmaze", 5, str(tmp_path / "x.pt"), run_root=str(tmp_path / "runs"), root=results)


def test_probe_script_writes_what_the_report_shows(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    run("frozen_lake", seed=0, threads=1, fast=True, run_root=str(tmp_path / "runs"), out=tmp_path / "r.json")
    out = tmp_path / "results" / "probes" / "fl.json"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "probe.py"), str(tmp_path / "runs" / "frozen_lake-seed0"),
                             "--trials", "4", "--windows", "4", "--draws", "2", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "filter keeps (A > -0.0001): sampled V(s)" in result.stdout and "token spread" in result.stdout
    assert "critic (acting gamma): max_a Q varies by" in result.stdout
    record = json.loads(out.read_text())
    assert 0 <= record["learning_signal"]["rewarded_steps"] <= 1 and record["learning_signal"]["value_spread_states"] >= 0
    assert set(record["input_sensitivity"]) >= {"observation", "prev_action", "token_spread"}
    text = report(tmp_path / "results", tmp_path / "RESULTS.md")
    assert "## Probes of trained agents" in text and "filter keeps" in text and "policy change when swapping" in text
    assert "critic values vary by" in text
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "probe.py"), str(tmp_path / "nothing")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "neither a run folder" in bad.stderr


def test_target_verdicts_by_hand():
    from amago_edu.experiments import target_met

    fl = REGISTRY["frozen_lake"]
    good, short = held_out_record(0, [0.4, 0.6, 0.7, 0.8, 0.8]), held_out_record(1, [0.6, 0.6, 0.7, 0.8, 0.76])
    assert target_met(fl, [good]).startswith("met: last attempt 0.80; last - first +0.40")  # its curve only rises
    falling = {**good, "curve": [{"attempt_success": [0.8], "attempt_success_se": [0.03]},
                                 {"attempt_success": [0.6], "attempt_success_se": [0.04]}]}
    assert target_met(fl, [falling]).endswith("largest fall of the curve below its best so far 4.0 SE")  # 0.2 / 0.05
    assert target_met(fl, [falling]).startswith("NOT met")
    assert target_met(fl, [good, short]).startswith("NOT met")  # seed 1 gains only +0.16
    tmaze = REGISTRY["tmaze"]
    curve = lambda xs: [{"attempt_success": [x]} for x in xs]  # noqa: E731
    assert target_met(tmaze, [{"seed": 0, "curve": curve([0.5, 0.96, 1.0, 0.97])}]) == "met: seed 0 held"
    assert target_met(tmaze, [{"seed": 0, "curve": curve([0.96, 0.5, 1.0])}]) == "NOT met: seed 0 fell to 0.50"
    assert target_met(tmaze, [{"seed": 0, "curve": curve([0.5, 0.9])}]) == "NOT met: seed 0 never reached"
    babyai = REGISTRY["babyai_mt"]
    records = [{"above_random": {"1": list("abcde"), "2": list("abcd")}},
               {"above_random": {"1": [*"abcde", "babyai/OpenDoor"], "2": list("abcdef")}}]
    assert target_met(babyai, records) == ("met: mean tasks above random attempt 1 5.5, attempt 2 5.0 (needs 5); "
                                           "door or key levels above random: babyai/OpenDoor")
    records[1]["above_random"]["1"][-1] = "f"
    assert target_met(babyai, records).startswith("NOT met") and target_met(babyai, records).endswith("none")
    assert target_met(babyai, records[:1]).startswith("NOT met")
    assert target_met(babyai, []) == "-"


def test_ablation_rows_average_the_seeds_and_count_wins_over_random(tmp_path):
    from amago_edu.experiments import ablation_rows

    def record(seed, mine, random, above):
        tasks = ("popgym/A", "popgym/B")
        return {"seed": seed, "config": {"env": ",".join(tasks), "reward_scales": [0.1, 100.0]},
                "results": {"AMAGO-2": {t: {"normalized_return": v} for t, v in zip(tasks, mine)},
                            "random": {t: {"normalized_return": v} for t, v in zip(tasks, random)}},
                "above_random": {"1": above}}
    folder = tmp_path / "ablation_mse_max_q"
    folder.mkdir()
    for seed, mine, random, above in ((0, (0.2, 0.9), (0.0, -0.5), ["popgym/B"]), (1, (0.4, 0.7), (0.1, -0.4), [])):
        (folder / f"seed{seed}.json").write_text(json.dumps(record(seed, mine, random, above)))
    rows = {(r["variant"], r["task"]): r for r in ablation_rows("ablation", tmp_path)}
    a, b = rows["mse+max_q", "popgym/A"], rows["mse+max_q", "popgym/B"]
    assert a["normalized_return_mean"] == pytest.approx(0.3) and a["normalized_return_std"] == pytest.approx(0.1414, abs=1e-4)
    assert (a["reward_scale"], a["seeds"], a["above_random"], b["above_random"]) == (0.1, 2, 0, 1)
    assert rows["random", "popgym/B"]["normalized_return_mean"] == pytest.approx(-0.45)
    assert ablation_rows("ablation_equal", tmp_path) == []


def test_non_decreasing_fit_pools_adjacent_violators_by_hand():
    from amago_edu.experiments import non_decreasing_fit

    assert non_decreasing_fit([1, 3, 2, 4], [1, 1, 1, 1]).tolist() == [1, 2.5, 2.5, 4]
    assert non_decreasing_fit([3, 1], [1, 3]).tolist() == [1.5, 1.5]  # (3 + 3) / 4
    assert non_decreasing_fit([0.2, 0.5, 0.9], [32, 32, 32]).tolist() == [0.2, 0.5, 0.9]  # already rising


def test_fall_by_chance_matches_exact_enumeration_of_two_evaluations():
    """Two 32-trial evaluations, 0.8 then 0.6 (a 2.0 SE fall). The closest never-falling curve is 0.7, 0.7;
    enumerate every pair of binomial outcomes to get the exact chance of a fall at least as large."""
    from math import comb, hypot, sqrt

    from amago_edu.experiments import fall_by_chance

    n, curve = 32, [{"attempt_success": [x], "attempt_success_se": [sqrt(x * (1 - x) / 31)], "trials": 32}
                    for x in (0.8, 0.6)]
    observed = 0.2 / hypot(sqrt(0.8 * 0.2 / 31), sqrt(0.6 * 0.4 / 31))
    pmf = [comb(n, k) * 0.7 ** k * 0.3 ** (n - k) for k in range(n + 1)]
    se = [sqrt((k / n) * (1 - k / n) / (n - 1)) for k in range(n + 1)]
    exact = sum(pmf[a] * pmf[b] for a in range(n + 1) for b in range(a)
                if (a - b) / n / max(hypot(se[a], se[b]), 1e-9) >= observed - 1e-9)
    assert 0.03 < exact < 0.05  # a 2 SE fall between two evaluations is rare by chance
    assert fall_by_chance(curve, draws=40_000) == pytest.approx(exact, abs=0.01)
    rising = [{**curve[1], "attempt_success": [0.6]}, {**curve[0], "attempt_success": [0.8]}]
    assert fall_by_chance(rising) == 1.0  # no fall: every draw falls at least as far
    assert fall_by_chance([{"attempt_success": [0.5]}]) is None  # no trial counts recorded


def test_a_stable_curve_often_falls_2_se_below_its_best_but_rarely_looks_like_a_fall_by_chance():
    """48 evaluations of 32 trials of an agent whose success stays 0.75: the largest fall below the best so far
    exceeds 2 standard errors in most such curves (the best of 48 noisy values is biased upward), while
    fall_by_chance calls fewer than 1 in 10 of them a real fall."""
    from amago_edu.experiments import _largest_fall, fall_by_chance

    rng = np.random.default_rng(1)
    falls, chances = [], []
    for _ in range(100):
        x = rng.binomial(32, 0.75, size=48) / 32
        curve = [{"attempt_success": [v], "attempt_success_se": [np.sqrt(v * (1 - v) / 31)], "trials": 32} for v in x]
        falls.append(_largest_fall(curve))
        chances.append(fall_by_chance(curve, draws=500))
    assert np.mean(np.array(falls) > 2) > 0.9
    assert np.mean(np.array(chances) < 0.05) < 0.1
