"""Every exercise checker accepts the reference solution and refuses plausible mistakes, without revealing the answer.

The checkers live in ``amago_edu.exercises`` (what the notebooks call), the solutions in
``amago_edu.solutions``. Each case names a checker, its context arguments, wrong answers a learner could
plausibly give, and strings (the answer) that no message for a wrong or missing answer may contain.
"""

import inspect
import json

import numpy as np
import pytest
import torch

from amago_edu import exercises, solutions
from amago_edu.twohot import TwoHot


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder with train and eval rows, as ``train`` writes them."""
    path = tmp_path_factory.mktemp("run")
    rows = [{"kind": "train", "update": 10, "critic_loss": 1.0},
            {"kind": "eval", "update": 20, "attempt_success": [0.25, 0.5, 0.5]},
            {"kind": "train", "update": 30, "critic_loss": 0.5},
            {"kind": "eval", "update": 40, "attempt_success": [0.5, 0.25, 0.875]}]
    (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


TRIALS = [{"successes": np.array(s, dtype=np.float32)} for s in
          ([0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 1, 1], [0, 1, 0])]
ADVANTAGES = torch.tensor([0.3, 0.0, -5e-5, -2e-4])
TWOHOT = TwoHot(128, -1e5, 1e5)
ENTRIES = {"popgym/RepeatFirstEasy": (0, 1, 2, 3), "popgym/RepeatPreviousEasy": (0, 1, 2, 3),
           "popgym/HigherLowerEasy": tuple(range(13)), "popgym/CountRecallEasy": tuple(range(8))}
SCALES = (0.1, 1.0, 100.0)


def cases(run_dir):
    """(checker, context kwargs, the solution, [wrong answers], [secrets])"""
    return [
        ("check_attempt_improvements", dict(run_dir=run_dir), solutions.attempt_improvements(run_dir),
         [[0.25, -0.375], [-0.25, -0.375], [0.25], [0.25, 0.375, 0.0], "0.25"], []),
        ("check_full_trial_context", {}, solutions.full_trial_context(), [125, 26, 25 * 5, 81, 200, 126.5], ["126"]),
        ("check_worse_after_success", dict(trials=TRIALS), solutions.worse_after_success(TRIALS),
         [2, 4, 0, 7], []),
        ("check_equal_scale_shares", {}, solutions.equal_scale_shares(), [[0.98, 0.01, 0.01], [1, 1, 1], [0.5, 0.5]],
         []),
        ("check_actor_gradient_factor", {}, solutions.actor_gradient_factor(), [100.0, 1.0, 3.16, "10"], []),
        ("check_small_task_share", {}, solutions.small_task_share(), ["a", "c", "d", "e"], []),
        ("check_tiny_return_cost", dict(twohot=TWOHOT), solutions.tiny_return_cost(TWOHOT),
         [0.69, -0.006, 0.0, 1e-5], ["0.006"]),
        ("check_coarse_bins", {}, solutions.coarse_bins(),
         [(np.log(128), 0.36549), (np.log(64), 2 * np.log1p(1e5) / 64), (np.log(64), 0.181306), (4.16,)],
         ["0.3654", "4.158", "ln 64"]),
        ("check_gradient_scale_factors", {}, solutions.gradient_scale_factors(), [(1.0, 1e6), (1000.0, 1000.0), 1.0],
         []),
        ("check_filter_threshold", dict(advantages=ADVANTAGES), solutions.filter_threshold(ADVANTAGES),
         [[True, False, False, False], [True, True, True, True], [True, True, True], [1, 1, 1, 0.5]],
         ["[True, True, True, False]"]),
        ("check_sampled_baseline", {}, solutions.sampled_baseline(), [False, "no", "maybe"], []),
        ("check_max_q_with_labels", {}, solutions.max_q_with_labels(), [False, "no"], []),
        ("check_block_parameters", {}, solutions.block_parameters,
         [lambda d: 12 * d * d, lambda d: 12 * d * d + 13 * d + 1, lambda d: 8 * d * d + 13 * d, lambda d: 1 / 0,
          lambda d: "many", 49984], ["13 d", "13d", "49984", "49,984"]),
        ("check_sliding_window", {}, solutions.sliding_window(), ["both", "neither", "exact"], []),
        ("check_first_changed_step", {}, solutions.first_changed_step(), [0, 9, 11, 10.5, "ten"], []),
        ("check_trials_needed", {}, solutions.trials_needed(), [197, 199, 99, 50, 20, 0], ["198"]),
        ("check_first_full_attempt", {}, solutions.first_full_attempt(), [9, 33, 81, 16], []),  # choices are listed
        ("check_lookalike_games", dict(entries=ENTRIES), solutions.lookalike_games(ENTRIES),
         [{"popgym/RepeatFirstEasy"}, set(ENTRIES), {"popgym/HigherLowerEasy", "popgym/CountRecallEasy"}, "RepeatFirstEasy"], []),
        ("check_layout_overlap", {}, solutions.layout_overlap(), [True, "yes", 1.0], []),
        ("check_mse_loss_share", dict(scales=SCALES), solutions.mse_loss_share(SCALES),
         [0.1 / 101.1, 0.5, 1 / 3, 2.0], ["9.8e-07"]),
        ("check_rescaled_loss_ratio", {}, solutions.rescaled_loss_ratio(), [1000.0, 100.0, 1e-6, -1e6, "1e6"],
         ["1000000", "1e6", "10^6"]),
    ]


def test_every_checker_has_a_case_and_a_solution(run_dir):
    checkers = {name for name, fn in inspect.getmembers(exercises, inspect.isfunction) if name.startswith("check_")}
    assert checkers == set(exercises.__all__)
    assert {case[0] for case in cases(run_dir)} == checkers
    assert all(hasattr(solutions, name.removeprefix("check_")) for name in checkers)


@pytest.mark.parametrize("index", range(21))
def test_checker_accepts_the_solution_and_refuses_mistakes(index, run_dir, capsys):
    name, context, solution, wrong_answers, secrets = cases(run_dir)[index]
    check = getattr(exercises, name)
    assert check(solution, **context) is True, capsys.readouterr().out
    assert "right" in capsys.readouterr().out
    # the notebooks' placeholder: a message, no exception, no verdict
    assert check(None, **context) is None
    messages = [capsys.readouterr().out]
    assert "not answered yet" in messages[0]
    for wrong in wrong_answers:
        assert check(wrong, **context) is False, f"{name} accepted {wrong!r}"
        out = capsys.readouterr().out
        assert "not yet. Hint:" in out and len(out.strip().splitlines()) == 1, out
        messages.append(out)
    for secret in secrets:
        assert not any(secret in message for message in messages), f"{name} reveals {secret!r}"


def test_checkers_compute_the_truth_from_their_context(run_dir, tmp_path, capsys):
    # a different run folder, map size or bin layout changes the right answer: nothing is hard-coded
    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.jsonl").write_text(json.dumps({"kind": "eval", "attempt_success": [0.0, 1.0]}) + "\n")
    assert exercises.check_attempt_improvements([1.0], other) is True
    assert exercises.check_attempt_improvements(solutions.attempt_improvements(run_dir), other) is False
    assert exercises.check_full_trial_context(3 * 16 + 1, size=4, episodes_per_trial=3) is True
    assert exercises.check_full_trial_context(solutions.full_trial_context(), size=4, episodes_per_trial=3) is False
    coarse = TwoHot(32, -1e5, 1e5)
    assert exercises.check_tiny_return_cost(solutions.tiny_return_cost(coarse), coarse) is True
    assert exercises.check_tiny_return_cost(solutions.tiny_return_cost(TWOHOT), coarse) is False
    assert exercises.check_first_changed_step(5, changed_step=5) is True
    assert exercises.check_rescaled_loss_ratio(100.0, scales={"a": 10.0, "b": 1.0}) is True
    assert exercises.check_rescaled_loss_ratio(solutions.rescaled_loss_ratio(), scales={"a": 10.0, "b": 1.0}) is False
    capsys.readouterr()


def test_lookalikes_are_computed_from_the_real_mixture(capsys):
    """The observation entries each popgym-mt game sets, played for real: RepeatFirst, RepeatPrevious and
    CountRecall share 4 entries, the position-only cart-pole and the bandit 2; the other games have their own."""
    entries = exercises._observation_entries()
    assert entries["popgym/RepeatFirstEasy"] == entries["popgym/RepeatPreviousEasy"] == (0, 1, 2, 3)
    assert entries["popgym/PositionOnlyCartPoleEasy"] == entries["popgym/MultiarmedBanditEasy"] == (0, 1)
    lookalikes = {"RepeatFirstEasy", "RepeatPreviousEasy", "CountRecallEasy", "PositionOnlyCartPoleEasy",
                  "MultiarmedBanditEasy"}
    assert exercises.check_lookalike_games(lookalikes, entries) is True
    assert exercises.check_lookalike_games(lookalikes - {"CountRecallEasy"}, entries) is False
