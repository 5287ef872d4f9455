"""Render the README's result pictures (PNG) from real run folders, with Debian's Chromium.

    python benchmarks/figures.py            # after benchmarks/learn.py (and scale_ablation.py)
    python benchmarks/figures.py --frozen-lake-run runs/main-<stamp>   # the picture from a `make run` folder

Reads ``runs/learn/*`` and ``data/results/scale_ablation.csv``, builds the figures with
``amago_edu.plotting``, and screenshots them headless (playwright + chromium, as in the browser test)
into ``data/figures/``.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from amago_edu.metrics import read_metrics
from amago_edu.plotting import learning_curve, variant_bars, variant_curves

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


def frozen_lake(run: Path) -> None:
    evals = [r for r in read_metrics(run) if r["kind"] == "eval"]
    authors = json.loads((ROOT / "data" / "reference" / "authors_cpu_runs.json").read_text())["toy/meta_frozen_lake"]
    best = max(evals, key=lambda r: r["attempt_success"][-1])
    fig = go.Figure()
    k = len(authors["success_by_attempt"])
    fig.add_scatter(x=list(range(1, k + 1)), y=authors["success_by_attempt"], name="authors' code, 14 min (reference)",
                    mode="lines+markers", line=dict(dash="dash", color="gray"))
    for row, name in ((best, f"amago_edu, best eval ({best['wall_time'] / 60:.1f} min)"),
                      (evals[-1], f"amago_edu, last eval ({evals[-1]['wall_time'] / 60:.1f} min)")):
        fig.add_scatter(x=list(range(1, k + 1)), y=row["attempt_success"], name=name, mode="lines+markers")
    fig.update_layout(title="Meta frozen lake (4x4, 5 attempts): success by attempt within a trial",
                      xaxis_title="attempt within the trial", yaxis_title="success rate", yaxis_range=[0, 1],
                      template="plotly_white")
    save_png(fig, OUT / "frozen_lake_attempts.png")
    save_png(learning_curve(evals, metric="success", title="Meta frozen lake: last-attempt success while training"),
             OUT / "frozen_lake_curve.png")


def scale_ablation(path: Path) -> None:
    save_png(variant_bars(list(csv.DictReader(open(path))), title="Return-scale ablation: normalised return per "
                          "task (mean +- std over seeds)"), OUT / "scale_ablation.png", width=1000)
    curves = path.with_name(path.stem + "_curves.csv")
    if curves.exists():
        save_png(variant_curves(list(csv.DictReader(open(curves))), title="Return-scale ablation: normalised "
                                "return per task during training (mean over seeds)"),
                 OUT / "scale_ablation_curves.png", width=1000)


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frozen-lake-run", default=None,
                        help="the run folder of the frozen-lake picture (default: runs/learn/frozen_lake-seed*; "
                             "e.g. make run's runs/main-<stamp>)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    runs = [Path(args.frozen_lake_run)] if args.frozen_lake_run else sorted((ROOT / "runs" / "learn").glob("frozen_lake-seed*"))
    if runs:
        frozen_lake(runs[0])
    ablation = ROOT / "data" / "results" / "scale_ablation.csv"
    if ablation.exists():
        scale_ablation(ablation)


if __name__ == "__main__":
    main()
