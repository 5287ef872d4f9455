"""Figures built from hand-written metrics rows: exact trace data, per-task lines, live/static callback."""

import math

import plotly.graph_objects as go
import pytest

from amago_edu.course import plotting
from amago_edu.course.plotting import (LiveCurve, attempt_plot, compare_runs, learning_curve, loss_curves,
                                summary_table, widget_frontend_available)
from helpers import ROWS, eval_row, train_row


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    monkeypatch.setenv("AMAGO_EDU_HEADLESS", "1")


# --------------------------------------------------------------------------- figures
def test_learning_curve_overall_exact_data():
    fig = learning_curve(ROWS, metric="return", x="update")
    assert len(fig.data) == 1
    assert fig.data[0].x == (2, 4) and fig.data[0].y == (6.0, 9.0)
    assert fig.layout.xaxis.title.text == "gradient updates"
    assert fig.layout.template.layout.paper_bgcolor == "white" and fig.layout.height == 350
    fig = learning_curve(ROWS, metric="success", x="wall_time")
    assert fig.data[0].x == (2.0, 4.0) and fig.data[0].y == (0.5, 1.0)
    assert fig.layout.xaxis.title.text == "wall-clock time (s)"


def test_learning_curve_per_task():
    fig = learning_curve(ROWS, metric="normalized_return", per_task=True, title="mix")
    assert [t.name for t in fig.data] == ["lake", "pop"]
    assert fig.data[0].x == (100, 200) and fig.data[0].y == (1.0, 2.0)
    assert fig.data[1].y == (1.0, 1.1)
    assert fig.layout.title.text == "mix"
    # per-task success is the last attempt's; a task without a success notion gives NaN (a gap)
    fig = learning_curve(ROWS, metric="success", per_task=True)
    assert fig.data[0].y == (1.0, 1.0) and all(math.isnan(y) for y in fig.data[1].y)


def test_learning_curve_bad_arguments():
    with pytest.raises(ValueError, match="x must be one of"):
        learning_curve(ROWS, x="steps")
    with pytest.raises(KeyError, match="metric='nope'"):
        learning_curve(ROWS, metric="nope")
    with pytest.raises(ValueError, match="no eval rows"):
        learning_curve([train_row(1, 1.0, 1.0)])


def test_attempt_plot_one_line_per_evaluation_coloured_by_progress():
    fig = attempt_plot(ROWS, metric="success")
    assert [t.x for t in fig.data] == [(1, 2, 3), (1, 2, 3)]
    assert [t.y for t in fig.data] == [(0.0, 0.25, 0.5), (0.25, 0.5, 1.0)]
    assert [t.name for t in fig.data] == ["env steps 100", "env steps 200"]
    assert fig.data[0].line.color != fig.data[1].line.color
    assert [t.marker.showscale for t in fig.data] == [False, True]  # one shared colour bar
    assert fig.layout.xaxis.title.text == "attempt within the trial"


def test_attempt_plot_legend_stays_clear_of_the_colour_bar():
    # many evaluations: the colour bar (right) identifies the lines; the legend names the first and last only,
    # laid out horizontally below the plot instead of in the right margin where the colour bar is
    rows = [eval_row(u, 100 * u, [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], 1.0, 1.0) for u in range(1, 11)]
    fig = attempt_plot(rows, metric="success")
    assert [t.showlegend for t in fig.data] == [True] + [False] * 8 + [True]
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yanchor == "top" and fig.layout.legend.y < 0
    assert fig.data[-1].marker.showscale and fig.data[-1].marker.colorbar.x is None  # colour bar at its default


def test_attempt_plot_single_row_last_only_and_per_task():
    fig = attempt_plot(ROWS[1], metric="return")
    assert len(fig.data) == 1 and fig.data[0].x == (1, 2, 3) and fig.data[0].y == (1.0, 2.0, 3.0)
    fig = attempt_plot(ROWS, metric="return", last_only=True)
    assert len(fig.data) == 1 and fig.data[0].y == (2.0, 3.0, 4.0)
    fig = attempt_plot(ROWS, metric="return", per_task=True)
    assert [t.name for t in fig.data] == ["lake", "pop"]
    assert fig.data[1].x == (1, 2, 3) and fig.data[1].y == (100.0, 110.0, 120.0)
    with pytest.raises(ValueError, match="metric must be one of"):
        attempt_plot(ROWS, metric="normalized_return")


def test_attempt_plot_warns_when_no_task_has_success():
    row = eval_row(1, 10, [None, None, None], [1.0, 1.0, 1.0], 1.0, 1.0)
    with pytest.warns(RuntimeWarning, match="metric='return'"):
        attempt_plot(row, metric="success")


def test_loss_curves_two_panels_against_updates():
    fig = loss_curves(ROWS)
    critic, actor = fig.data
    assert critic.x == (1, 3) and critic.y == (4.0, 3.0) and critic.xaxis == "x"
    assert actor.x == (1, 3) and actor.y == (-1.0, -2.0) and actor.xaxis == "x2"
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "gradient updates"


def test_compare_runs_one_line_per_run_and_per_task():
    other = [eval_row(2, 100, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], 0.5, 100.0)]
    fig = compare_runs({"AMAGO-2": ROWS, "AMAGO-1": other}, metric="return", x="env_steps")
    assert [t.name for t in fig.data] == ["AMAGO-2", "AMAGO-1"]
    assert fig.data[0].x == (100, 200) and fig.data[0].y == (6.0, 9.0)
    assert fig.data[1].x == (100,) and fig.data[1].y == (3.0,)
    fig = compare_runs({"AMAGO-2": ROWS, "AMAGO-1": other}, metric="return", task="lake")
    assert fig.data[0].y == (3.0, 6.0) and fig.data[1].y == (0.5,)
    with pytest.raises(KeyError, match=r"\['lake', 'pop'\]"):
        compare_runs({"a": ROWS}, task="missing")


def test_variant_bars_one_bar_per_variant_labelled_with_the_scale():
    rows = [{"variant": "a", "task": "popgym/X", "reward_scale": "0.1", "normalized_return_mean": "0.5",
             "normalized_return_std": "0.25"},
            {"variant": "a", "task": "popgym/Y", "reward_scale": "100.0", "normalized_return_mean": "-0.5",
             "normalized_return_std": ""},  # one seed: the CSV leaves the std empty
            {"variant": "random", "task": "popgym/X", "reward_scale": 0.1, "normalized_return_mean": 0.0,
             "normalized_return_std": math.nan}]
    fig = plotting.variant_bars(rows)
    a, rand = fig.data
    assert list(a.x) == ["X (x0.1)", "Y (x100)"] and list(a.y) == [0.5, -0.5]
    assert list(a.error_y.array) == [0.25, 0.0] and a.marker.pattern.shape == ""
    assert list(rand.y) == [0.0, None] and list(rand.error_y.array) == [0.0, 0.0]  # random never played Y
    assert rand.marker.pattern.shape == "/" and fig.layout.barmode == "group"
    with pytest.raises(ValueError, match="empty"):
        plotting.variant_bars([])


def test_summary_table_contains_the_numbers():
    table = summary_table(ROWS[3])
    lines = table.splitlines()
    assert lines[0] == "eval at update 4, env steps 200"
    assert lines[1].split() == ["task", "trials", "metric", "attempt", "1", "attempt", "2", "attempt", "3", "trial"]
    assert lines[2].split() == ["all", "tasks", "6", "return", "2.00", "3.00", "4.00", "9.00"]
    assert lines[3].split() == ["all", "tasks", "6", "success", "0.250", "0.500", "1.000", "-"]
    assert lines[6].split() == ["pop", "2", "return", "100.00", "110.00", "120.00", "330.00"]
    assert lines[7].split() == ["pop", "2", "success", "-", "-", "-", "-"]
    with pytest.raises(ValueError, match="eval row"):
        summary_table(ROWS[0])


# --------------------------------------------------------------------------- LiveCurve
def test_live_curve_static_records_rows_and_shows_one_figure(monkeypatch):
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda fig, *a, **k: shown.append(fig))
    curve = LiveCurve(metric="success", x="update", live=False)
    for row in ROWS:
        (curve.on_eval if row["kind"] == "eval" else curve.on_train_log)(row)
    assert curve.eval_rows == [ROWS[1], ROWS[3]] and curve.train_rows == [ROWS[0], ROWS[2]]
    assert not shown and curve.figure is None
    fig = curve.on_end(ROWS)
    assert shown == [fig] and type(fig) is go.Figure
    evals, critic, actor = fig.data
    assert evals.x == (2, 4) and evals.y == (0.5, 1.0)
    assert critic.x == (1, 3) and critic.y == (4.0, 3.0) and actor.y == (-1.0, -2.0)
    assert actor.yaxis != critic.yaxis  # actor loss on its own (secondary) axis


def test_live_curve_on_end_history_replaces_recorded_rows(monkeypatch):
    monkeypatch.setattr(go.Figure, "show", lambda fig, *a, **k: None)
    curve = LiveCurve(live=False)
    curve.on_eval(ROWS[1])
    fig = curve.on_end(ROWS)
    assert fig.data[0].y == (6.0, 9.0)


def test_live_curve_auto_mode_needs_a_kernel_and_no_headless_flag(monkeypatch):
    import IPython

    assert widget_frontend_available() is False  # plain pytest process: no IPython kernel
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": object()})())
    assert LiveCurve(live="auto").live is False  # AMAGO_EDU_HEADLESS=1 (the autouse fixture)
    monkeypatch.setenv("AMAGO_EDU_HEADLESS", "0")
    assert LiveCurve(live="auto").live is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": None})())
    assert LiveCurve(live="auto").live is False  # a terminal IPython has no widget front-end


def test_live_curve_live_mode_updates_one_widget_in_place(monkeypatch):
    displayed, batches = [], []
    monkeypatch.setattr(plotting, "_display", displayed.append)
    batch_update = go.FigureWidget.batch_update
    monkeypatch.setattr(go.FigureWidget, "batch_update", lambda fig: batches.append(1) or batch_update(fig))
    curve = LiveCurve(live=True)
    curve.on_train_log(ROWS[0])
    widget = curve.figure
    assert displayed == [widget] and isinstance(widget, go.FigureWidget)
    curve.on_eval(ROWS[1])
    curve.on_train_log(ROWS[2])
    assert curve.figure is widget and len(displayed) == 1
    assert widget.data[0].x == (100,) and widget.data[0].y == (6.0,)
    assert widget.data[1].x == (1, 3) and widget.data[1].y == (4.0, 3.0)
    assert curve.on_end(ROWS) is widget and widget.data[0].y == (6.0, 9.0)
    assert len(batches) == 4  # every update went through one batch_update()


def test_live_curve_malformed_rows_warn_instead_of_raising(monkeypatch):
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda fig, *a, **k: shown.append(fig))
    curve = LiveCurve(live=False)
    with pytest.warns(RuntimeWarning, match="malformed eval row"):
        curve.on_eval({"kind": "eval", "update": 1})
    with pytest.warns(RuntimeWarning, match="malformed train row"):
        curve.on_train_log({"kind": "train", "update": "one", "critic_loss": 1.0, "actor_loss": 1.0})
    with pytest.warns(RuntimeWarning, match="malformed train row"):
        curve.on_train_log(None)
    curve.on_eval(ROWS[1])
    assert curve.eval_rows == [ROWS[1]] and curve.train_rows == []
    assert curve.on_end().data[0].y == (6.0,)
    # a None metric (no success notion) is a value, not a malformed row
    curve = LiveCurve(metric="success", live=False)
    curve.on_eval(eval_row(1, 10, [None, None, None], [1.0, 1.0, 1.0], 1.0, 1.0))
    assert len(curve.eval_rows) == 1


def test_live_curve_falls_back_to_static_when_the_widget_breaks(monkeypatch):
    def broken(widget):
        raise RuntimeError("no front-end")

    monkeypatch.setattr(plotting, "_display", broken)
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda fig, *a, **k: shown.append(fig))
    curve = LiveCurve(live=True)
    with pytest.warns(RuntimeWarning, match="falling back"):
        curve.on_eval(ROWS[1])
    assert curve.live is False
    fig = curve.on_end()
    assert shown == [fig] and fig.data[0].y == (6.0,)


def test_live_curve_bad_arguments():
    with pytest.raises(ValueError, match="live must be"):
        LiveCurve(live="yes")
    with pytest.raises(ValueError, match="x must be one of"):
        LiveCurve(x="time")


def test_scored_attempt_bars_show_the_last_attempt_with_standard_errors():
    from amago_edu.course.plotting import scored_attempt_bars

    results = {"AMAGO-2": {"popgym/A": {"attempt_return": [0.1, 0.9], "attempt_return_se": [0.02, 0.03]},
                           "popgym/B": {"attempt_return": [0.0, 0.4], "attempt_return_se": [0.05, None]}},
               "random": {"popgym/A": {"attempt_return": [0.0, -0.1], "attempt_return_se": [0.01, 0.04]}}}
    fig = scored_attempt_bars(results)
    agent, random = fig.data
    assert list(agent.x) == ["A", "B"] and list(agent.y) == [0.9, 0.4]
    assert list(agent.error_y.array) == [0.03, 0.0]  # a missing standard error draws no bar
    assert list(random.y) == [-0.1, None] and random.marker.pattern.shape == "/"
    with pytest.raises(ValueError, match="metric"):
        scored_attempt_bars(results, metric="loss")


def test_imbalance_numbers_by_hand():
    import math

    from amago_edu.course.plotting import imbalance_figure, imbalance_numbers

    # +r and -r sit at +-symlog(r) in symlog space; bins are 2 symlog(1e5) / (num_bins - 1) apart
    numbers = imbalance_numbers(0.01, reward_multiplier=10.0, num_bins=64)
    width = 2 * math.log1p(1e5) / 63
    assert numbers["reward"] == pytest.approx(0.1)
    assert numbers["label_distance"] == pytest.approx(2 * math.log1p(0.1) / width, rel=1e-5)
    assert numbers["label_distance"] < 1  # the smaller task's +-0.1 fall inside one bin
    assert imbalance_numbers(0.01, reward_multiplier=100.0, num_bins=64)["label_distance"] > 1
    # MSE hands the larger task more and more of the gradient; the two-hot critic keeps both near half
    mse_large = [imbalance_numbers(s)["mse"][1] for s in (1.0, 10.0, 100.0, 1e4)]
    assert mse_large == sorted(mse_large) and mse_large[-1] > 0.99
    for s in (0.01, 1.0, 100.0, 1e4):
        assert all(0.3 < share < 0.7 for share in imbalance_numbers(s)["two_hot"])
        assert sum(imbalance_numbers(s)["mse"]) == pytest.approx(1.0)
    assert imbalance_figure(100.0, 10.0, 32).layout.title.text == "scale x100, reward multiplier 10, 32 bins"
    with pytest.raises(ValueError, match="scale and reward_multiplier must be > 0"):
        imbalance_numbers(0.0)
