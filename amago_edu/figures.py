"""Render the README's result pictures (PNG) from committed results, with Debian's Chromium.

    python -m amago_edu.experiments report      # RESULTS.md, the README's tables, and these figures
    python -m amago_edu.figures                 # the figures alone

Reads committed results only (the experiment registry's ``frozen_lake``, ``frozen_lake_short_context`` and
``ablation_*`` results under ``data/results/``), builds the figures with
``amago_edu.course.plotting``, and screenshots them headless (playwright + chromium, as in the browser test)
into ``data/figures/``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from .course.plotting import learning_curve, variant_bars

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "figures"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def save_png(fig: go.Figure, path: Path, width: int = 900, height: int = 380) -> None:
    from playwright.sync_api import sync_playwright

    fig.update_layout(width=width, height=height, margin=dict(l=60, r=20, t=60, b=50))
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "figure.html"
        fig.write_html(html, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(html.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg")
            page.locator(".js-plotly-plot").first.screenshot(path=str(path))
            browser.close()
    print(f"wrote {path.relative_to(ROOT)}")


def pooled(records: list[dict]) -> tuple[list[float], list[float]]:
    """Mean by attempt over seeds, and the standard error of that mean from each seed's trials."""
    means = [sum(col) / len(col) for col in zip(*(r["attempt"] for r in records))]
    ses = [sum(se ** 2 for se in col) ** 0.5 / len(col) for col in zip(*(r["attempt_se"] for r in records))]
    return means, ses


def context_curves() -> dict[str, tuple[str, list[float], list[float]]]:
    """The committed context experiment as curves, keyed "whole" (the registry's `make run` agents), "short" (its
    4-step-context control, ``frozen_lake_short_context``) and "untrained" (the same architecture, measured beside
    each `make run` agent): (legend label, success by attempt averaged over the seeds, its standard error). A key is
    missing when nothing of it is committed. The README's hero figure and notebook 05 plot these."""
    from .experiments import load_results

    whole, short = load_results("frozen_lake"), load_results("frozen_lake_short_context")
    untrained = [r["untrained"] for r in whole if "untrained" in r]
    curves = {}
    if whole:
        curves["whole"] = (f"whole trial in context (mean of {len(whole)} seeds, {whole[0]['updates']:,} updates)",
                           *pooled(whole))
    if short:
        curves["short"] = (f"context = {short[0]['config']['context_length']} steps (mean of {len(short)} seeds)",
                           *pooled(short))
    if untrained:
        curves["untrained"] = ("untrained (same architecture)", *pooled(untrained))
    return curves


def frozen_lake() -> None:
    """The README's hero figure from committed results only: :func:`context_curves` and the authors' code as run on
    a CPU (their AMAGO-1 ``Agent``; data/reference/authors_cpu_runs.json)."""
    from .experiments import load_results

    records = load_results("frozen_lake")
    if not records:
        print("no data/results/frozen_lake/seed*.json yet: run `python -m amago_edu.experiments run frozen_lake --seed 0`")
        return
    authors = json.loads((ROOT / "data" / "reference" / "authors_cpu_runs.json").read_text())["toy/meta_frozen_lake"]
    fig = go.Figure()
    for label, means, ses in context_curves().values():
        fig.add_scatter(x=list(range(1, len(means) + 1)), y=means, error_y=dict(array=ses), mode="lines+markers",
                        name=label)
    x = list(range(1, len(records[0]["attempt"]) + 1))
    fig.add_scatter(x=x, y=authors["success_by_attempt"], mode="lines+markers", line=dict(dash="dash", color="gray"),
                    name="authors' code, their AMAGO-1 Agent, on a CPU (reference)")
    fig.update_layout(title="Meta frozen lake (held-out 4x4 maps, 5 attempts): success by attempt within a trial",
                      xaxis_title="attempt within the trial", yaxis_title="success rate", yaxis_range=[0, 1],
                      template="plotly_white", legend=dict(orientation="h", y=-0.25), xaxis=dict(dtick=1))
    save_png(fig, OUT / "frozen_lake_attempts.png", height=460)
    save_png(learning_curve(records[0]["curve"], metric="success",
                            title=f"Meta frozen lake: last-attempt success while training (seed {records[0]['seed']})"),
             OUT / "frozen_lake_curve.png")


def scale_ablation() -> None:
    """The registry's return-scale ablation: each variant rescaled, and at equal scales (the control)."""
    for prefix, name, what in (("ablation", "scale_ablation.png", "games rescaled x0.1 / x1 / x100"),
                               ("ablation_equal", "scale_ablation_equal.png", "every game x1 (the control)")):
        from .experiments import ablation_rows

        rows = ablation_rows(prefix)
        if rows:
            save_png(variant_bars(rows, title=f"Return-scale ablation, {what}: normalised return per game "
                                  "(mean +- std over seeds)"), OUT / name, width=1000)


def render_all() -> bool:
    """Every figure; False (and nothing written) where no headless Chromium with playwright is installed."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        playwright = None
    if playwright is None or shutil.which("chromium") is None:
        print("figures skipped: they need Chromium and playwright (`make test` installs both)")
        return False
    OUT.mkdir(parents=True, exist_ok=True)
    frozen_lake()
    scale_ablation()
    return True


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    render_all()


if __name__ == "__main__":
    main()
