"""JupyterLab in a real browser: the two-hot and imbalance widgets of notebook 02 and the live curve of the quickstart.

Starts JupyterLab on 127.0.0.1 (random free port, random token) over a temporary folder holding the
cells under test (the notebook's own cells, from its parameters cell down to the cell under test, in
FAST mode), opens each notebook with Playwright driving Debian's Chromium, runs its cells one after the
other with Shift+Enter, and asserts that the widget and the plotly figures render with no JavaScript
errors. The two-hot widget is then used as a reader would: its |y| slider is dragged and its "negative"
box ticked, and the figure must follow (its title shows the slider's value, its bars move); the imbalance widget's
scale slider is dragged to about 0.01 and its figure must mark the small task's labels as less than one bin apart. Screenshots
go to the test's temporary folder. ``make test`` installs chromium (Debian) and playwright (PyPI, no
browser download). Deselect with ``-m "not browser"``.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from browser import CHROMIUM, CHROMIUM_FLAGS
from conftest import ROOT

pytestmark = pytest.mark.browser

# (notebook, index of the cell under test, CSS selectors that must appear in its output)
CASES = {
    "two_hot_widget": ("02_two_hot_critic.ipynb", "explorer = widgets.interactive(",
                       [".widget-slider", ".widget-checkbox", ".js-plotly-plot"]),
    "live_curve": ("00_quickstart.ipynb", "live = LiveCurve(", [".js-plotly-plot"]),
    "imbalance_widget": ("02_two_hot_critic.ipynb", "imbalance = widgets.interactive(",
                         [".widget-slider", ".js-plotly-plot"]),
}


def cells_up_to(notebook: str, marker: str) -> dict:
    """The notebook cut after the cell containing ``marker`` (Colab install cell and markdown dropped)."""
    nb = json.loads((ROOT / "notebooks" / notebook).read_text())
    cells = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "amago_edu:colab-install" in source:
            continue
        cells.append({**cell, "outputs": [], "execution_count": None})
        if marker in source:
            break
    else:
        raise AssertionError(f"{notebook}: no cell contains {marker!r}")
    return {**nb, "cells": cells}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs chromium and playwright)")
    pytest.importorskip("playwright", reason="playwright is installed by `make test`")
    root = tmp_path_factory.mktemp("lab")
    for name, (notebook, marker, _) in CASES.items():
        (root / f"{name}.ipynb").write_text(json.dumps(cells_up_to(notebook, marker)))
    port, token = free_port(), uuid.uuid4().hex
    # a private settings/workspace folder: a user's saved JupyterLab layout must not reopen other notebooks
    env = {**os.environ, "AMAGO_EDU_FAST": "1", "OMP_NUM_THREADS": "1",
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings")}
    env.pop("AMAGO_EDU_HEADLESS", None)  # a real front-end: the live curve must go live
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError((root / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not start within 60 s:\n" + (root / "jupyterlab.log").read_text()[-3000:])
        yield url, token, root
    finally:
        if server.poll() is None:  # stop the server (and its kernels) by its PID
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()


def title_value(widget) -> float:
    """The y of the two-hot figure's title, "y = 10,  symlog(y) = 2.3979,  decoded = 10" (notebook 02)."""
    title = widget.locator(".js-plotly-plot .gtitle").first.text_content()  # an SVG <text>
    match = re.match(r"y = (-?[0-9.e+-]+),", title)
    assert match, f"unexpected figure title: {title!r}"
    return float(match.group(1))


def bar_bins(widget) -> list:
    """The bin indices the two-hot figure draws bars at (the plotly div keeps its data)."""
    return widget.locator(".js-plotly-plot").first.evaluate("(gd) => Array.from(gd.data[0].x)")


def wait_for_title(page, widget, predicate, what: str) -> float:
    for _ in range(100):  # the kernel redraws the figure after each change: up to 20 s
        try:
            value = title_value(widget)
            if predicate(value):
                return value
        except Exception:  # noqa: BLE001 - the Output widget is between clear_output and the new figure
            pass
        page.wait_for_timeout(200)
    raise AssertionError(f"the figure did not follow the widget ({what}); its title says y = {title_value(widget)}")


def use_two_hot_widget(page, widget) -> None:
    """Drag the |y| slider to the right and tick "negative": the figure's title must show the slider's value."""
    readout = widget.locator(".widget-slider .widget-readout").first
    assert wait_for_title(page, widget, lambda y: True, "initial figure") == pytest.approx(float(readout.inner_text()))
    bins_before = bar_bins(widget)
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    box, track = handle.bounding_box(), widget.locator(".widget-slider .noUi-target").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()  # from 10 (exponent 1 of -3..6) to three quarters of the track: about 10^3.75
    page.mouse.move(track["x"] + 0.75 * track["width"], y, steps=12)
    page.mouse.up()
    shown = float(readout.inner_text())
    assert 100 < shown < 1e5, f"the dragged slider shows |y| = {shown}, expected about 10^3.75"
    moved = wait_for_title(page, widget, lambda y: y == pytest.approx(shown, rel=1e-2), f"slider at {shown}")
    assert bar_bins(widget) != bins_before, "the title followed the slider but the bars did not move"
    widget.locator(".widget-checkbox input[type=checkbox]").first.check()
    wait_for_title(page, widget, lambda y: y == pytest.approx(-moved, rel=1e-6), "negative ticked")


def use_imbalance_widget(page, widget) -> None:
    """Drag the scale slider from 100 down to about 0.01: the title must show the new scale and the smaller task's
    +r / -r label distance must fall below one bin (its bar's text says so)."""
    plot = widget.locator(".js-plotly-plot").first

    def title() -> str:
        return plot.locator(".gtitle").first.text_content() or ""

    for _ in range(100):
        if title().startswith("scale x100,"):
            break
        page.wait_for_timeout(200)
    assert title().startswith("scale x100,"), f"unexpected first title {title()!r}"
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    box, track = handle.bounding_box(), widget.locator(".widget-slider .noUi-target").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()  # exponent 2 of -3..4 to a seventh of the track: about 10^-2
    page.mouse.move(track["x"] + track["width"] / 7, y, steps=12)
    page.mouse.up()
    shown = float(widget.locator(".widget-slider .widget-readout").first.inner_text())
    assert shown < 0.1, f"the dragged slider shows scale {shown}, expected about 0.01"
    for _ in range(100):
        if title().startswith(f"scale x{shown:.3g},"):
            break
        page.wait_for_timeout(200)
    assert title().startswith(f"scale x{shown:.3g},"), f"the figure did not follow the slider: {title()!r}"
    texts = plot.evaluate("(gd) => gd.data.map((trace) => (trace.text || []).join(' '))")
    assert any("below one bin" in text for text in texts), texts


@pytest.mark.parametrize("case", sorted(CASES))
def test_notebook_renders_in_jupyterlab(jupyterlab, case, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token, _ = jupyterlab
    _, _, selectors = CASES[case]
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda err: errors.append(str(err)))
        # ?reset: open only this notebook, whatever layout an earlier session left behind
        page.goto(f"{url}/lab/tree/{case}.ipynb?reset&token={token}", timeout=90_000)
        notebook = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
        notebook.locator(".jp-Cell").first.wait_for(timeout=90_000)
        page.wait_for_selector("text=Python 3 | Idle", timeout=90_000)  # the kernel is up
        cells = notebook.locator(".jp-Cell")
        cells.first.click()  # select the first cell, then run the cells one by one like a reader would
        page.keyboard.press("Escape")
        for _ in range(cells.count()):
            page.keyboard.press("Shift+Enter")
        try:
            for selector in selectors:
                notebook.locator(f".jp-OutputArea {selector}").first.wait_for(timeout=120_000)
            page.wait_for_timeout(1500)  # let plotly finish drawing before the screenshot
        finally:
            page.screenshot(path=str(tmp_path / f"{case}.png"), full_page=True)
            print(f"screenshot: {tmp_path / f'{case}.png'}")
        assert not notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                    ":text('Traceback')").count(), "a cell raised"
        use = {"two_hot_widget": use_two_hot_widget, "imbalance_widget": use_imbalance_widget}.get(case)
        if use is not None:
            try:
                use(page, notebook.locator(".jp-OutputArea .widget-interact").last)
            finally:
                page.screenshot(path=str(tmp_path / f"{case}_used.png"), full_page=True)
        browser.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert (tmp_path / f"{case}.png").stat().st_size > 10_000
