"""Tests for amago_edu.course.recording: what recorded frozen-lake trials did after each outcome, by hand."""

from amago_edu.course.recording import after_each_outcome


def test_after_each_outcome_counts_consecutive_attempts_by_hand():
    hole_a, hole_b, goal = (1, 0), (0, 1), (3, 3)
    trials = [
        # hole a, hole a again, goal, goal: pairs (hole, hole) same, (hole, goal), (goal, goal)
        {"outcomes": ["hole", "hole", "goal", "goal"],
         "paths": [[(0, 0), hole_a], [(0, 0), hole_a], [(0, 0), goal], [(0, 0), goal]]},
        # hole a, hole b (another hole), out of time, goal: (hole, hole) not the same, (hole, time), (time, goal)
        {"outcomes": ["hole", "hole", "out of time", "goal"],
         "paths": [[(0, 0), hole_a], [(0, 0), hole_b], [(0, 0), (0, 0)], [(0, 0), goal]]},
    ]
    result = after_each_outcome(trials)
    assert result["goal after goal"] == (1.0, 1)
    assert result["goal after a failure"] == (2 / 5, 5)  # goals after: hole (trial 1), out of time (trial 2)
    assert result["same hole again"] == (1 / 4, 4)  # four attempts follow a hole; one fell in the same hole
    assert after_each_outcome([{"outcomes": ["goal"], "paths": [[(0, 0), goal]]}])["same hole again"] == (None, 0)
