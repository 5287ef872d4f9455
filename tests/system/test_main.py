"""`python -m amago_edu.main` (the README's `make run`): the summary says how many updates the run made and says
plainly when it stopped before its budget; it prints the held-out measurement and the filter's shares."""

from __future__ import annotations

import re

import pytest

from amago_edu.main import main


@pytest.fixture(autouse=True)
def fewer_held_out_trials(monkeypatch):
    monkeypatch.setattr("amago_edu.main.HELD_OUT_TRIALS", 8)


def test_a_run_that_meets_its_budget_reports_it(tmp_path, capsys):
    assert main(["--preset", "fast", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "40 of 40 updates" in out and "NOTE" not in out and "stopped early" not in out
    assert re.search(r"8 more held-out trials .* last attempt - first = [+-]\d\.\d\d", out)
    assert re.search(r"filtered BC imitates \d+% of replay actions with the sampled V\(s\) \(exact V\(s\): \d+%", out)
    assert (tmp_path / "run" / "results.html").is_file()


def test_a_run_stopped_by_its_time_cap_says_so(tmp_path, capsys):
    assert main(["--preset", "fast", "--minutes", "0.0001", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    updates = int(re.search(r"(\d+) of 40 updates", out).group(1))
    assert updates < 40
    assert f"NOTE: the run stopped after {updates} of its 40 updates" in out
    assert f"--run-dir {tmp_path / 'run'} --resume --max-minutes 0" in out
    assert f"(stopped early: {updates} of 40 updates)" in out
