"""Every exercise checker accepts the reference solution and refuses plausible mistakes, without revealing the answer.

The checkers live in ``amago_edu.course.exercises`` (what the notebooks call), the solutions in
``solutions/solutions.py``. Each case names a checker, its context arguments, wrong answers a learner could
plausibly give, and strings (the answer) that no message for a wrong or missing answer may contain.
"""

import importlib.util
import inspect
import json

import numpy as np
import pytest
import torch

from amago_edu.course import exercises
from amago_edu.twohot import TwoHot
from conftest import ROOT

# the reference solutions live outside the package (solutions/solutions.py): loaded from their file
_SPEC = importlib.util.spec_from_file_location("solutions", ROOT / "solutions" / "solutions.py")
solutions = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(solutions)


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


# -- plausible wrong implementations for the exercises that ask for a function ----------------------
def _symlog(x):
    return torch.sign(x) * torch.log1p(x.abs())


def _hat(s, bins):
    """Two-hot by the triangle kernel of an already-located s: the reference, with the mistakes put into s."""
    return (1 - (s[..., None] - bins).abs() / (bins[1] - bins[0])).clamp(min=0)


def encode_without_symlog(values, bins):
    return _hat(values.clamp(bins[0], bins[-1]), bins)


def encode_without_clipping(values, bins):
    return _hat(_symlog(values), bins)


def encode_with_swapped_weights(values, bins):
    label = solutions.two_hot_encode(values, bins)
    below = label.argmax(-1, keepdim=True)
    below = torch.where((label.gather(-1, below) < 1) & (below > 0) & (label.gather(-1, (below - 1).clamp(min=0)) > 0),
                        below - 1, below).clamp(max=len(bins) - 2)  # the lower of the two bins
    swapped = torch.zeros_like(label)
    swapped.scatter_(-1, below, label.gather(-1, below + 1))
    swapped.scatter_(-1, below + 1, label.gather(-1, below))
    return swapped


def encode_one_hot(values, bins):
    return torch.nn.functional.one_hot((_symlog(values)[:, None] - bins).abs().argmin(-1), len(bins)).float()


def encode_wide(values, bins):
    """A triangle twice as wide: mass on three or four bins."""
    s = _symlog(values).clamp(bins[0], bins[-1])
    label = (1 - (s[..., None] - bins).abs() / (2 * (bins[1] - bins[0]))).clamp(min=0)
    return label / label.sum(-1, keepdim=True)


def bc_loss_through_the_advantage(log_prob, advantage, mask, threshold):
    weight = (advantage > threshold).float() * torch.exp(advantage - advantage.detach())  # the value is 1
    return torch.where(mask, -weight * log_prob, 0.0).sum() / mask.sum().clamp(min=1)


def bc_loss_over_kept_steps(log_prob, advantage, mask, threshold):
    keep = (advantage > threshold) & mask
    return -(log_prob[keep]).sum() / keep.sum().clamp(min=1)


def bc_loss_non_strict(log_prob, advantage, mask, threshold):
    weight = (advantage >= threshold).float()
    return torch.where(mask, -weight * log_prob, 0.0).sum() / mask.sum().clamp(min=1)


def bc_loss_ignoring_the_mask(log_prob, advantage, mask, threshold):
    return (-(advantage > threshold).float() * log_prob).mean()


def bc_loss_nan_on_padding(log_prob, advantage, mask, threshold):
    return (-(advantage > threshold).float() * log_prob)[mask].mean()


def bc_loss_as_a_number(log_prob, advantage, mask, threshold):
    return solutions.filtered_bc_loss(log_prob, advantage, mask, threshold).item()


def mask_transposed(T):
    return torch.ones(T, T, dtype=torch.bool).triu()


def mask_without_diagonal(T):
    return torch.ones(T, T, dtype=torch.bool).tril(-1)


def mask_of_the_future(T):
    return torch.ones(T, T, dtype=torch.bool).triu(1)


def mask_as_floats(T):
    return torch.ones(T, T).tril()


def step_without_appending(q, k_cache, v_cache, k_new, v_new):
    return (q @ k_cache.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v_cache


def step_without_scale(q, k_cache, v_cache, k_new, v_new):
    keys, values = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    return (q @ keys.transpose(-2, -1)).softmax(-1) @ values


def step_with_is_causal(q, k_cache, v_cache, k_new, v_new):
    keys, values = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    return torch.nn.functional.scaled_dot_product_attention(q, keys, values, is_causal=True)


def td_multiplier_on_everything(rewards, not_done, q_next, gammas, multiplier):
    return multiplier * (rewards[:, None] + gammas[None, :] * not_done[:, None] * q_next)


def td_without_done(rewards, not_done, q_next, gammas, multiplier):
    return multiplier * rewards[:, None] + gammas[None, :] * q_next


def td_axes_unset(rewards, not_done, q_next, gammas, multiplier):
    return multiplier * rewards + gammas * not_done * q_next  # (N,) vectors broadcast along the gamma axis


def td_gammas_on_rows(rewards, not_done, q_next, gammas, multiplier):
    return multiplier * rewards[:, None] + gammas[:, None] * not_done[:, None] * q_next


def popart_bias_kept(w, b, mu_old, sigma_old, mu_new, sigma_new):
    return w * sigma_old / sigma_new, b


def popart_bias_not_rescaled(w, b, mu_old, sigma_old, mu_new, sigma_new):
    return w * sigma_old / sigma_new, b + (mu_old - mu_new) / sigma_new


def popart_bias_not_shifted(w, b, mu_old, sigma_old, mu_new, sigma_new):
    return w * sigma_old / sigma_new, b * sigma_old / sigma_new


def popart_swapped(w, b, mu_old, sigma_old, mu_new, sigma_new):
    return solutions.popart_rescale(w, b, mu_new, sigma_new, mu_old, sigma_old)


#: checker -> [(a wrong implementation, a phrase its hint must contain)]
FUNCTION_MISTAKES = {
    "check_two_hot_encode": [(encode_without_symlog, "symlog space"), (encode_without_clipping, "clip"),
                             (encode_with_swapped_weights, "wrong neighbour"), (encode_one_hot, "mean must be s"),
                             (encode_wide, "two neighbouring"),
                             (lambda values, bins: solutions.two_hot_encode(values, bins)[:, :-1], "shape")],
    "check_filtered_bc_loss": [(bc_loss_through_the_advantage, "gradient flows into the advantage"),
                               (bc_loss_over_kept_steps, "kept steps only"), (bc_loss_non_strict, "strict"),
                               (bc_loss_ignoring_the_mask, "padded steps"), (bc_loss_nan_on_padding, "not NaN"),
                               (bc_loss_as_a_number, "one-number tensor")],
    "check_causal_mask": [(mask_transposed, "transposed"), (mask_without_diagonal, "itself"),
                          (mask_of_the_future, "may attend"), (mask_as_floats, "bool tensor")],
    "check_kv_cache_step": [(step_without_appending, "append k_new and v_new"), (step_without_scale, "1/sqrt(d_h)"),
                            (step_with_is_causal, "top-left"), (lambda q, *cache: q[:, :, 0], "shaped like q")],
    "check_td_target": [(td_multiplier_on_everything, "multiplier scales the reward only"),
                        (td_without_done, "terminal step"), (td_axes_unset, "axis"), (td_gammas_on_rows, "axis"),
                        (lambda r, d, q, g, m: solutions.td_target(r, d, q, g, m).T, "shape (N, G)")],
    "check_popart_rescale": [(popart_bias_kept, "left the bias"), (popart_bias_not_rescaled, "not rescaled"),
                             (popart_bias_not_shifted, "not shifted"), (popart_swapped, "swapped"),
                             (lambda w, b, *stats: w, "pair")],
}


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
        ("check_lookalike_games", dict(entries=ENTRIES), solutions.lookalike_games(ENTRIES),
         [{"popgym/RepeatFirstEasy"}, set(ENTRIES), {"popgym/HigherLowerEasy", "popgym/CountRecallEasy"}, "RepeatFirstEasy"], []),
        # the exercises that ask for a function: the solution is the function itself
        ("check_two_hot_encode", {}, solutions.two_hot_encode, _function_mistakes("check_two_hot_encode"),
         ["searchsorted", "scatter", "log1p"]),
        ("check_filtered_bc_loss", {}, solutions.filtered_bc_loss, _function_mistakes("check_filtered_bc_loss"),
         ["torch.where", "clamp(min=1)"]),
        ("check_causal_mask", {}, solutions.causal_mask, _function_mistakes("check_causal_mask"), ["tril"]),
        ("check_kv_cache_step", {}, solutions.kv_cache_step, _function_mistakes("check_kv_cache_step"),
         ["torch.cat", "transpose("]),
        ("check_td_target", {}, solutions.td_target, _function_mistakes("check_td_target"), ["[:, None] * q"]),
        ("check_popart_rescale", {}, solutions.popart_rescale, _function_mistakes("check_popart_rescale"),
         ["w * sigma_old / sigma_new", "(sigma_old * b"]),
    ]


def _function_mistakes(name):
    """The wrong implementations of a function exercise, plus a non-function and a function that raises."""
    return [wrong for wrong, _ in FUNCTION_MISTAKES[name]] + ["not a function", lambda *args: 1 / 0]


def test_every_checker_has_a_case_and_a_solution(run_dir):
    checkers = {name for name, fn in inspect.getmembers(exercises, inspect.isfunction) if name.startswith("check_")}
    assert checkers == set(exercises.__all__)
    assert {case[0] for case in cases(run_dir)} == checkers
    assert all(hasattr(solutions, name.removeprefix("check_")) for name in checkers)
    notebooks = "".join(path.read_text() for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert {name for name in checkers if name not in notebooks} == set()  # no checker that no notebook asks for


@pytest.mark.parametrize("index", range(23))
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


@pytest.mark.parametrize("name", sorted(FUNCTION_MISTAKES))
def test_function_exercises_name_the_mistake(name, capsys):
    """Each plausible wrong implementation gets the hint about its own mistake; the notebook's stub (a function
    that returns None) is "not answered yet", like the ``answer = None`` placeholder."""
    check = getattr(exercises, name)
    assert check(lambda *args: None) is None
    assert "not answered yet" in capsys.readouterr().out
    for wrong, phrase in FUNCTION_MISTAKES[name]:
        assert check(wrong) is False, f"{name} accepted {wrong.__name__}"
        out = capsys.readouterr().out
        assert phrase in out, f"{name}: {wrong.__name__} should get a hint with {phrase!r}, got: {out}"
    assert check(lambda *args: 1 / 0) is False
    assert "your function raised ZeroDivisionError" in capsys.readouterr().out


def test_function_exercises_do_not_change_the_inputs_they_lend(capsys):
    """A learner's function that writes into its arguments must not corrupt the checker's later comparisons."""
    def in_place(values, bins):
        label = solutions.two_hot_encode(values, bins)
        values.zero_()
        bins.zero_()
        return label

    def popart_in_place(w, b, mu_old, sigma_old, mu_new, sigma_new):
        w.mul_(sigma_old / sigma_new)
        b.mul_(sigma_old).add_(mu_old - mu_new).div_(sigma_new)
        return w, b

    assert exercises.check_two_hot_encode(in_place) is True
    assert exercises.check_popart_rescale(popart_in_place) is True
    capsys.readouterr()


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
