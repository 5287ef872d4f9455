"""Plotly figures of a run's ``metrics.jsonl`` and a live learning-curve callback.

The training loop writes one JSON object per line to ``<run_dir>/metrics.jsonl`` and hands the
same dicts to its callbacks. Two kinds of rows (the loop's contract):

* ``{"kind": "train", "update", "env_steps", "wall_time", "critic_loss", "actor_loss", ...}``
* ``{"kind": "eval", "update", "env_steps", "wall_time", "return", "success",
  "attempt_return": [k], "attempt_success": [k], "tasks": {name: {"return", "normalized_return",
  "attempt_return", "attempt_success", "trials"}}}`` with k = ``episodes_per_trial``; success is
  ``None`` for tasks without a success notion (POPGym).

The figure to look at for in-context meta-RL is :func:`attempt_plot`: the metric by attempt index
within a trial. An agent that adapts in context improves from attempt 1 to attempt k without any
weight update (the "success rate by episode" figure of the authors' Meta-FrozenLake example,
``examples/00_meta_frozen_lake.py``; paper Sec. 2, Problem Setting).
The loop itself never imports plotly: this module is only used by notebooks and scripts.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from typing import Iterable, Mapping

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..metrics import read_metrics  # noqa: F401  (re-exported: plotting starts from run folders)

X_LABELS = {"env_steps": "environment steps", "update": "gradient updates", "wall_time": "wall-clock time (s)"}
METRIC_LABELS = {
    "return": "mean trial return",
    "normalized_return": "normalized trial return",
    "success": "success rate (last attempt)",
    "critic_loss": "critic loss",
    "actor_loss": "actor loss",
}
ATTEMPT_METRICS = {"success": "attempt_success", "return": "attempt_return"}
TEMPLATE = "plotly_white"
HEIGHT = 350
PROGRESS_COLORSCALE = "Viridis"


# --------------------------------------------------------------------------- reading rows
def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def _number(value) -> float:
    """Row value -> float; ``None`` (no success notion) becomes NaN so plotly leaves a gap."""
    return float("nan") if value is None else float(value)


def _eval_rows(rows: Iterable[Mapping]) -> list[Mapping]:
    evals = [row for row in rows if row.get("kind") == "eval"]
    if not evals:
        raise ValueError("rows contain no eval rows (kind == 'eval'); did the run reach its first evaluation?")
    return evals


def _task_value(task_stats: Mapping, metric: str) -> float:
    """``tasks[name][metric]``; per-task ``success`` is the success of the last attempt, as overall."""
    if metric == "success" and "success" not in task_stats:
        attempts = task_stats.get("attempt_success") or [None]
        return _number(attempts[-1])
    return _number(task_stats[metric])


def _task_names(rows: Iterable[Mapping]) -> list[str]:
    names: dict[str, None] = {}  # ordered set: first appearance order
    for row in rows:
        names.update(dict.fromkeys(row.get("tasks", {})))
    return list(names)


def _layout(fig: go.Figure, title: str, **kwargs) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, height=HEIGHT, **kwargs)
    return fig


# --------------------------------------------------------------------------- figures
def learning_curve(rows: Iterable[Mapping], metric: str = "return", x: str = "env_steps",
                   per_task: bool = False, title: str | None = None) -> go.Figure:
    """Eval ``metric`` against ``x`` ("env_steps", "update" or "wall_time"), one line overall or per task.

    ``per_task=True`` draws ``tasks[name][metric]`` (e.g. "return", "normalized_return",
    "success"), one line per task: without task labels in training, these are what show whether a
    large-return task drowns the others out (the multi-task barrier; paper Sec. 3 and Fig. 3).
    """
    _check_choice("x", x, X_LABELS)
    evals = _eval_rows(rows)
    fig = go.Figure()
    if per_task:
        names = _task_names(evals)
        if not names:
            raise ValueError("per_task=True but the eval rows have no 'tasks' entries; use per_task=False")
        for name in names:
            present = [row for row in evals if name in row.get("tasks", {})]
            fig.add_trace(go.Scatter(x=[row[x] for row in present], mode="lines+markers", name=name,
                                     y=[_task_value(row["tasks"][name], metric) for row in present]))
    else:
        if not any(metric in row for row in evals):
            raise KeyError(f"metric={metric!r} is not in the eval rows; use one of 'return', 'success' "
                           "(or per_task=True for 'normalized_return')")
        fig.add_trace(go.Scatter(x=[row[x] for row in evals], y=[_number(row.get(metric)) for row in evals],
                                 mode="lines+markers", name=metric))
    label = METRIC_LABELS.get(metric, metric)
    return _layout(fig, title or f"Evaluation: {label}", xaxis_title=X_LABELS[x], yaxis_title=label)


def attempt_plot(rows_or_row: Mapping | Iterable[Mapping], metric: str = "success", per_task: bool = False,
                 last_only: bool = False) -> go.Figure:
    """``metric`` by attempt index 1..k within a trial: the canonical in-context RL plot.

    Given one eval row, or ``last_only=True``: one line (or one per task with ``per_task``) for
    the last evaluation. Given several eval rows: one line per evaluation, coloured from dark to
    bright by training progress (env steps), so in-context improvement appearing over training is
    visible as later lines sloping upward. ``per_task`` always uses the last evaluation.
    With several evaluations the colour bar on the right says which line is which; the legend names
    only the first and the last, and sits below the plot, clear of the colour bar.
    """
    _check_choice("metric", metric, ATTEMPT_METRICS)
    key = ATTEMPT_METRICS[metric]
    rows = [rows_or_row] if isinstance(rows_or_row, Mapping) else list(rows_or_row)
    evals = _eval_rows(rows)
    fig = go.Figure()
    if per_task or last_only or len(evals) == 1:
        last = evals[-1]
        series = [(name, stats[key]) for name, stats in last.get("tasks", {}).items()] if per_task else []
        if per_task and not series:
            raise ValueError("per_task=True but the eval row has no 'tasks' entries; use per_task=False")
        for name, values in series or [(f"env steps {last['env_steps']}", last[key])]:
            values = [_number(v) for v in values]
            fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name))
    else:
        steps = [row["env_steps"] for row in evals]
        low, high = min(steps), max(steps)
        for i, row in enumerate(evals):
            progress = (row["env_steps"] - low) / (high - low) if high > low else 1.0
            values = [_number(v) for v in row[key]]
            colour = sample_colorscale(PROGRESS_COLORSCALE, [progress])[0]
            # The markers carry the colour scale so the last trace can draw one shared colour bar.
            marker = dict(color=[row["env_steps"]] * len(values), colorscale=PROGRESS_COLORSCALE, cmin=low,
                          cmax=high, showscale=i == len(evals) - 1, colorbar=dict(title="env steps"))
            fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                                     name=f"env steps {row['env_steps']}", line=dict(color=colour), marker=marker,
                                     showlegend=i in (0, len(evals) - 1)))
        fig.update_layout(legend=dict(orientation="h", x=0.0, xanchor="left", y=-0.3, yanchor="top"))
    if all(math.isnan(y) for trace in fig.data for y in trace.y):
        warnings.warn(f"attempt_plot: every {key} value is missing (tasks without a success notion, e.g. "
                      "POPGym); use metric='return'", RuntimeWarning, stacklevel=2)
    label = "success rate" if metric == "success" else "episode return"
    return _layout(fig, f"In-context adaptation: {label} by attempt within a trial",
                   xaxis=dict(title="attempt within the trial", tick0=1, dtick=1), yaxis_title=label)


def loss_curves(rows: Iterable[Mapping]) -> go.Figure:
    """Critic (left) and actor (right) loss against gradient updates, from the train rows.

    Separate panels because the two losses have unrelated scales: two-hot cross-entropy is in
    nats, an MSE critic is in squared return units, a maximise-Q actor loss is ``-Q``.
    """
    train = [row for row in rows if row.get("kind") == "train"]
    if not train:
        raise ValueError("rows contain no train rows (kind == 'train')")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("critic loss", "actor loss"))
    for col, name in enumerate(("critic_loss", "actor_loss"), start=1):
        fig.add_trace(go.Scatter(x=[row["update"] for row in train], y=[_number(row[name]) for row in train],
                                 mode="lines", name=name), row=1, col=col)
        fig.update_xaxes(title_text=X_LABELS["update"], row=1, col=col)
        fig.update_yaxes(title_text=METRIC_LABELS[name], row=1, col=col)
    return _layout(fig, "Training losses", showlegend=False)


def compare_runs(named_rows: Mapping[str, Iterable[Mapping]], metric: str = "return", x: str = "env_steps",
                 task: str | None = None, title: str | None = None) -> go.Figure:
    """One eval curve per run, e.g. ``{"AMAGO-2": rows_a, "AMAGO-1": rows_b}`` (paper Sec. 4).

    ``task`` picks ``tasks[task][metric]`` instead of the overall ``metric`` (runs without that
    task are skipped).
    """
    _check_choice("x", x, X_LABELS)
    if not isinstance(named_rows, Mapping) or not named_rows:
        raise TypeError("named_rows must be a non-empty dict {run name: list of metrics rows}")
    fig = go.Figure()
    for run_name, rows in named_rows.items():
        evals = _eval_rows(rows)
        if task is not None:
            evals = [row for row in evals if task in row.get("tasks", {})]
            y = [_task_value(row["tasks"][task], metric) for row in evals]
        else:
            y = [_number(row.get(metric)) for row in evals]
        if evals:
            fig.add_trace(go.Scatter(x=[row[x] for row in evals], y=y, mode="lines+markers", name=run_name))
    if not fig.data:
        raise KeyError(f"task={task!r} is in none of the runs; use one of {_task_names(_all_evals(named_rows))}")
    label = METRIC_LABELS.get(metric, metric)
    where = f" on {task}" if task is not None else ""
    return _layout(fig, title or f"{label}{where}", xaxis_title=X_LABELS[x], yaxis_title=label)


def variant_bars(rows: Iterable[Mapping], title: str | None = None) -> go.Figure:
    """Grouped bars: one group per task (labelled with its reward scale), one bar per variant, error bars = the
    std over seeds (none where it is NaN or empty: one seed). ``rows``: ``{"variant", "task", "reward_scale",
    "normalized_return_mean", "normalized_return_std"}`` dicts (CSV strings are fine), e.g. the rows of
    ``amago_edu.experiments.ablation_rows``; a ``random`` variant is hatched."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: nothing to plot")
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    scale = {r["task"]: float(r["reward_scale"]) for r in rows}
    fig = go.Figure()
    for variant in dict.fromkeys(r["variant"] for r in rows):
        cells = {r["task"]: r for r in rows if r["variant"] == variant}
        stds = [float(cells[t]["normalized_return_std"] or "nan") if t in cells else math.nan for t in tasks]
        fig.add_trace(go.Bar(
            name=variant, x=[f"{t.removeprefix('popgym/')} (x{scale[t]:g})" for t in tasks],
            y=[float(cells[t]["normalized_return_mean"]) if t in cells else None for t in tasks],
            error_y=dict(type="data", array=[0.0 if math.isnan(std) else std for std in stds]),
            marker_pattern_shape="/" if variant == "random" else ""))
    return _layout(fig, title or "normalized return per task (mean +- std over seeds)", barmode="group",
                   yaxis_title="normalized return (return / scale)", yaxis_range=[-1, 1])


def scored_attempt_bars(results: Mapping[str, Mapping[str, Mapping]], metric: str = "return", attempt: int = -1,
                        title: str | None = None) -> go.Figure:
    """Grouped bars: one group per task, one bar per policy, of ``metric`` ("return" or "success") in one
    attempt (default the last, the scored one), error bars = the standard error over trials.
    ``results[policy][task]`` is an evaluation summary with ``attempt_<metric>`` and ``attempt_<metric>_se``
    lists (``amago_edu.rollout.summarise_trials``; e.g. the ``results`` of ``benchmarks/multitask.py``'s JSON);
    a ``random`` policy is hatched."""
    _check_choice("metric", metric, ("return", "success"))
    if not results:
        raise ValueError("results is empty: nothing to plot")
    tasks = list(dict.fromkeys(task for per_task in results.values() for task in per_task))
    fig = go.Figure()
    for policy, per_task in results.items():
        means = [_number(per_task[t][f"attempt_{metric}"][attempt]) if t in per_task else None for t in tasks]
        errors = [_number((per_task[t].get(f"attempt_{metric}_se") or [None] * len(per_task[t][f"attempt_{metric}"]))
                          [attempt]) if t in per_task else 0.0 for t in tasks]  # no standard errors in old results
        fig.add_trace(go.Bar(name=policy, x=[t.split("/", 1)[-1] for t in tasks], y=means,
                             error_y=dict(type="data", array=[0.0 if math.isnan(e) else e for e in errors]),
                             marker_pattern_shape="/" if policy == "random" else ""))
    label = METRIC_LABELS.get(metric, metric)
    return _layout(fig, title or f"{label} of the scored attempt (mean +- standard error)", barmode="group",
                   yaxis_title=label)


def _all_evals(named_rows: Mapping[str, Iterable[Mapping]]) -> list[Mapping]:
    return [row for rows in named_rows.values() for row in rows if row.get("kind") == "eval"]


def _cell(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def summary_table(row: Mapping) -> str:
    """Plain-text table of one eval row: return and success by attempt, overall and per task.

    Columns: task, trials, metric, attempt 1..k, trial (the trial return, i.e. the sum over
    attempts). Missing success (POPGym) prints as ``-``.
    """
    if row.get("kind") != "eval":
        raise ValueError(f"summary_table needs one eval row (kind == 'eval'), got kind={row.get('kind')!r}")
    tasks = row.get("tasks", {})
    overall = next(iter(tasks)) if len(tasks) == 1 else "all tasks"
    entries = [(overall, sum(t.get("trials", 0) for t in tasks.values()) or "-", row)]
    if len(tasks) > 1:
        entries += [(name, stats.get("trials", "-"), stats) for name, stats in tasks.items()]
    k = max(len(stats.get("attempt_return", [])) for _, _, stats in entries)
    header = ["task", "trials", "metric"] + [f"attempt {i}" for i in range(1, k + 1)] + ["trial"]
    lines = []
    for name, trials, stats in entries:
        returns = list(stats.get("attempt_return", []))
        successes = list(stats.get("attempt_success") or [None] * len(returns))
        pad = ["-"] * (k - len(returns))
        lines.append([name, str(trials), "return"] + [_cell(v, 2) for v in returns] + pad
                     + [_cell(stats.get("return"), 2)])
        lines.append([name, str(trials), "success"] + [_cell(v, 3) for v in successes] + pad + ["-"])
    widths = [max(len(r[c]) for r in [header] + lines) for c in range(len(header))]
    title = f"eval at update {row.get('update')}, env steps {row.get('env_steps')}"
    body = ["  ".join(cell.ljust(w) if c < 3 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
            for r in [header] + lines]
    return "\n".join([title] + body)


# --------------------------------------------------------------------------- live callback
def widget_frontend_available() -> bool:
    """True inside an IPython kernel with ``anywidget`` + ``ipywidgets`` and ``AMAGO_EDU_HEADLESS != "1"``.

    plotly >= 6 builds ``FigureWidget`` on anywidget. Headless runners (papermill, nbval, the test
    suite) do run a kernel but have no widget front-end, so they set ``AMAGO_EDU_HEADLESS=1``.
    """
    if os.environ.get("AMAGO_EDU_HEADLESS") == "1":
        return False
    try:
        from IPython import get_ipython
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(widget) -> None:
    from IPython.display import display

    display(widget)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class LiveCurve:
    """Training-loop callback: a live eval curve + loss panel in JupyterLab, one static figure otherwise.

    Args:
        metric: eval metric to draw ("return", "success", or any numeric eval-row key).
        x: "env_steps", "update" or "wall_time" for the eval panel (the loss panel uses updates).
        live: "auto" (live iff :func:`widget_frontend_available`), True or False.
        title: figure title.

    Live: one ``go.FigureWidget`` is displayed at the first call and its traces are updated in
    place inside ``batch_update()``. Static: rows are recorded and ``on_end`` shows one
    ``go.Figure``. Plotting problems never raise out of a callback (a plot must not kill a run):
    they warn, and a broken live widget falls back to the static figure.
    """

    def __init__(self, metric: str = "return", x: str = "env_steps", live: bool | str = "auto",
                 title: str | None = None):
        _check_choice("x", x, X_LABELS)
        if live not in ("auto", True, False):
            raise ValueError(f"live must be 'auto', True or False, got {live!r}")
        self.metric, self.x = metric, x
        self.title = title or f"Training: {METRIC_LABELS.get(metric, metric)}"
        self.live = widget_frontend_available() if live == "auto" else bool(live)
        self.train_rows: list[Mapping] = []
        self.eval_rows: list[Mapping] = []
        self.figure: go.Figure | None = None  # the FigureWidget when live, the static figure after on_end

    def on_train_log(self, row: Mapping) -> None:
        self._receive(row, "train")

    def on_eval(self, row: Mapping) -> None:
        self._receive(row, "eval")

    def on_end(self, history_rows: Iterable[Mapping] | None = None) -> go.Figure | None:
        """Final redraw; ``history_rows`` (all rows of the run, if given) replace what was recorded."""
        try:
            if history_rows is not None:
                rows = list(history_rows)
                self.train_rows = [r for r in rows if r.get("kind") == "train" and self._valid(r, "train")]
                self.eval_rows = [r for r in rows if r.get("kind") == "eval" and self._valid(r, "eval")]
            if self.live and self.figure is not None:
                self._update(self.figure)
                return self.figure
            self.figure = self._fill(self._blank_figure())
            self.figure.show()
            return self.figure
        except Exception as err:  # noqa: BLE001 - a plot must never kill a training run
            warnings.warn(f"LiveCurve.on_end could not draw the figure: {err!r}", RuntimeWarning, stacklevel=2)
            return None

    # ----------------------------------------------------------------- internals
    def _needed(self, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(keys that must be numbers, keys that must be numbers or None) for a row of ``kind``."""
        if kind == "train":
            return ("update", "critic_loss", "actor_loss"), ()
        # None is a legitimate metric value (no success notion), never an axis value.
        return (self.x,), (self.metric,)

    def _valid(self, row, kind: str) -> bool:
        if not isinstance(row, Mapping):
            return False
        numbers_only, maybe_none = self._needed(kind)
        return (all(_is_real(row.get(key)) for key in numbers_only)
                and all(key in row and (row[key] is None or _is_real(row[key])) for key in maybe_none))

    def _receive(self, row, kind: str) -> None:
        try:
            if not self._valid(row, kind):
                warnings.warn(f"LiveCurve: ignoring a malformed {kind} row (needs numeric "
                              f"{sum(self._needed(kind), ())}): {row!r}", RuntimeWarning, stacklevel=3)
                return
            (self.train_rows if kind == "train" else self.eval_rows).append(row)
            if self.live:
                if self.figure is None:
                    self.figure = go.FigureWidget(self._blank_figure())
                    _display(self.figure)
                self._update(self.figure)
        except Exception as err:  # noqa: BLE001 - a plot must never kill a training run
            warnings.warn(f"LiveCurve: live plotting failed ({err!r}); falling back to one static figure at the end",
                          RuntimeWarning, stacklevel=3)
            self.live = False

    def _blank_figure(self) -> go.Figure:
        """Eval panel (left) + loss panel (right: critic on the left axis, actor on the right axis)."""
        fig = make_subplots(rows=1, cols=2, specs=[[{}, {"secondary_y": True}]],
                            subplot_titles=(f"eval {self.metric}", "losses"))
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines+markers", name=f"eval {self.metric}"), row=1, col=1)
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines", name="critic loss"), row=1, col=2, secondary_y=False)
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines", name="actor loss"), row=1, col=2, secondary_y=True)
        fig.update_xaxes(title_text=X_LABELS[self.x], row=1, col=1)
        fig.update_yaxes(title_text=METRIC_LABELS.get(self.metric, self.metric), row=1, col=1)
        fig.update_xaxes(title_text=X_LABELS["update"], row=1, col=2)
        fig.update_yaxes(title_text="critic loss", row=1, col=2, secondary_y=False)
        fig.update_yaxes(title_text="actor loss", row=1, col=2, secondary_y=True)
        return _layout(fig, self.title)

    def _fill(self, fig: go.Figure) -> go.Figure:
        eval_trace, critic_trace, actor_trace = fig.data
        eval_trace.x = [row[self.x] for row in self.eval_rows]
        eval_trace.y = [_number(row[self.metric]) for row in self.eval_rows]
        critic_trace.x = actor_trace.x = [row["update"] for row in self.train_rows]
        critic_trace.y = [_number(row["critic_loss"]) for row in self.train_rows]
        actor_trace.y = [_number(row["actor_loss"]) for row in self.train_rows]
        return fig

    def _update(self, fig: go.Figure) -> None:
        # One batched message to the front-end per call instead of one per property.
        with fig.batch_update():
            self._fill(fig)


# ----------------------------------------------------------------------------------------------
# The return-scale imbalance, as a figure a notebook's sliders redraw (notebook 02)
# ----------------------------------------------------------------------------------------------
def imbalance_numbers(scale: float, reward_multiplier: float = 10.0, num_bins: int = 64, value_range: float = 1e5,
                      seed: int = 0) -> dict:
    """Two tasks share a small network: task A's rewards are +-1, task B's +-``scale``; both are multiplied by
    ``reward_multiplier`` (inside the loss, as AMAGO does). Returns each task's share of the gradient on the shared
    layer under an MSE critic and under a two-hot cross-entropy critic (``{"mse": [a, b], "two_hot": [a, b]}``,
    measured on one batch at initialisation), and the distance in bins between the two-hot labels of +r and -r
    for the smaller task's reward r (``"label_distance"``; below 1 the critic cannot tell the two apart)."""
    import torch
    import torch.nn.functional as F

    from ..twohot import TwoHot, symlog

    if not scale > 0 or not reward_multiplier > 0 or int(num_bins) < 2:
        raise ValueError(f"scale and reward_multiplier must be > 0 and num_bins >= 2, got {scale}, "
                         f"{reward_multiplier}, {num_bins}")
    twohot = TwoHot(int(num_bins), -value_range, value_range)
    g = torch.Generator().manual_seed(seed)
    torch_state = torch.get_rng_state()
    torch.manual_seed(seed)
    trunk, mse_head, bins_head = torch.nn.Linear(4, 16), torch.nn.Linear(16, 1), torch.nn.Linear(16, int(num_bins))
    torch.set_rng_state(torch_state)
    shares = {"mse": [], "two_hot": []}
    for kind in shares:
        norms = []
        for task_scale in (1.0, scale):
            x = torch.randn(64, 4, generator=g)
            y = reward_multiplier * task_scale * (torch.randint(2, (64,), generator=g).float() * 2 - 1)
            trunk.zero_grad()
            features = torch.tanh(trunk(x))
            if kind == "mse":
                loss = (mse_head(features).squeeze(-1) - y).pow(2).mean()
            else:
                loss = -(twohot.encode(y) * F.log_softmax(bins_head(features), -1)).sum(-1).mean()
            loss.backward()
            norms.append(float(torch.cat([p.grad.flatten() for p in trunk.parameters()]).norm()))
        shares[kind] = [n / sum(norms) for n in norms]
    r = reward_multiplier * min(1.0, scale)
    width = float(twohot.bins[1] - twohot.bins[0])
    return {**shares, "label_distance": float(2 * symlog(torch.tensor(r)) / width), "reward": r}


def imbalance_figure(scale: float, reward_multiplier: float = 10.0, num_bins: int = 64) -> go.Figure:
    """Each task's share of the shared gradient (MSE vs two-hot critic) and the smaller task's +r / -r label
    distance in bins, for notebook 02's sliders (:func:`imbalance_numbers`)."""
    numbers = imbalance_numbers(scale, reward_multiplier, num_bins)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=(
        "share of the gradient on the shared layer", "two-hot labels of +r and -r, smaller task"))
    for i, name in enumerate(("task A (rewards +-1)", f"task B (rewards +-{scale:.3g})")):
        fig.add_trace(go.Bar(x=["MSE critic", "two-hot critic"], y=[numbers["mse"][i], numbers["two_hot"][i]],
                             name=name, text=[f"{numbers['mse'][i]:.0%}", f"{numbers['two_hot'][i]:.0%}"]), 1, 1)
    apart = numbers["label_distance"] >= 1
    fig.add_trace(go.Bar(x=[f"r = {numbers['reward']:.3g}"], y=[numbers["label_distance"]], showlegend=False,
                         marker_color="#54A24B" if apart else "#E45756",
                         text=[f"{numbers['label_distance']:.2f} bins" + ("" if apart else ": below one bin")]), 1, 2)
    fig.add_hline(y=1.0, line=dict(dash="dot", color="grey"), row=1, col=2)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="distance in bins", rangemode="tozero", row=1, col=2)
    fig.update_layout(title=f"scale x{scale:.3g}, reward multiplier {reward_multiplier:.3g}, {int(num_bins)} bins",
                      template=TEMPLATE, height=HEIGHT, barmode="group", legend=dict(orientation="h", y=-0.15))
    return fig
