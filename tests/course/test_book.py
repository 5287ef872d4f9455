"""The executed book (`make book`): built once for this module, two of its pages opened in headless Chromium.

The ``book`` fixture runs ``python -m tools.dev book`` into a temporary folder (every notebook executed in
FAST mode by papermill, then ``jupyter-book build``; one to two minutes on two idle cores), checks that the
notebook sources in notebooks/ did not change (they stay output-free), and serves the site on 127.0.0.1. The
browser tests open the README page and notebook 02 and assert no JavaScript errors, nothing fetched from outside
the site but linked badge images (it must work offline), drawn plotly figures and typeset equations; screenshots
go to each test's temporary folder. These tests are marked ``browser`` (deselect with ``-m "not browser"``);
``make test`` installs chromium, playwright and requirements-book.txt. One unmarked test checks, without a build,
what the book makes of figures and widgets.
"""

import functools
import hashlib
import http.server
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tools import dev
from browser import CHROMIUM, CHROMIUM_FLAGS
from conftest import NOTEBOOKS, ROOT

# what a page may not fetch from outside the site: the book must work offline (linked badge images may fail)
EXTERNAL_FORBIDDEN = {"script", "stylesheet", "font", "fetch", "xhr", "document"}


def widget(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def test_widgets_and_figures_become_static_outputs():
    """No browser, no build: what the book makes of an executed notebook's figures and widgets (tools.dev)."""
    figure = {"data": [{"type": "bar", "x": [1, 2], "y": [0.3, 0.7]}], "layout": {"title": {"text": "y = 10"},
                                                                                   "width": 1000}}
    figure_output = {"output_type": "display_data", "metadata": {}, "data": {dev.PLOTLY_JSON: figure,
                     "text/html": ['<script src="https://cdn.plot.ly/plotly-4.1.1.min.js"></script>']}}
    loader = {"output_type": "display_data", "metadata": {},
              "data": {"text/html": ['<script type="module">import "https://cdn.plot.ly/plotly-4.1.1.min"</script>']}}
    state = {
        "box": widget("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_box2", "IPY_MODEL_out"]),
        "box2": widget("HBoxModel", children=["IPY_MODEL_tick"]),
        "slider": widget("FloatLogSliderModel", description="|y|", value=10.0),
        "tick": widget("CheckboxModel", description="negative", value=False),
        "out": widget("OutputModel", outputs=[figure_output]),
        "bar": widget("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]),
        "left": widget("HTMLModel", value="updates: 100%"),
        "progress": widget("FloatProgressModel", value=40, min=0, max=40),
        "right": widget("HTMLModel", value="&nbsp;40/40 [00:01&lt;00:00]"),
    }
    views = [{"output_type": "display_data", "metadata": {}, "data": {
        dev.WIDGET_VIEW: {"model_id": model, "version_major": 2, "version_minor": 0}, "text/plain": ["..."]}}
        for model in ("box", "bar")]
    outputs = dev._static_outputs([loader, *views], state)
    note, drawn, bar = outputs
    assert "".join(note["data"]["text/html"]) == \
        "<p><em>Interactive in JupyterLab; shown here at |y| = 10, negative = False.</em></p>"
    html = drawn["data"]["text/html"]
    assert "cdn.plot.ly" not in html and "Plotly.newPlot" in html and '"width":1000' not in html, html[:500]
    assert bar == {"output_type": "stream", "name": "stdout",
                   "text": "updates: 100% |####################| 40/40 [00:01<00:00]\n"}


def notebook_digests() -> dict:
    return {nb.name: hashlib.sha256(nb.read_bytes()).hexdigest() for nb in NOTEBOOKS}


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    pytest.importorskip("jupyter_book", reason="`make test` installs requirements-book.txt")
    # AMAGO_EDU_BOOK_DIR=build/book reuses the build folder of `make book`: only changed notebooks execute again
    out = Path(os.environ["AMAGO_EDU_BOOK_DIR"]).resolve() if os.environ.get("AMAGO_EDU_BOOK_DIR") else \
        tmp_path_factory.mktemp("book")
    before = notebook_digests()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "tools.dev", "book", "--out", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1200)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert notebook_digests() == before, "building the book changed a notebook source in notebooks/"
    html = out / "_build" / "html"
    assert (html / "index.html").is_file()
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", html
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.browser
def test_every_notebook_is_a_page_with_its_outputs(book):
    """Cheap, without a browser: one page per notebook, in file order after the README, each with outputs."""
    _, html = book
    for notebook in NOTEBOOKS:
        page = (html / "notebooks" / f"{notebook.stem}.html").read_text()
        assert page.count('class="cell_output') >= 1, f"{notebook.name}: its page shows no outputs"
        assert "Traceback (most recent call last)" not in page, f"{notebook.name}: a cell raised"
        assert "cdn.plot.ly" not in page, f"{notebook.name}: a figure still loads plotly.js from its CDN"
    readme = (html / "README.html").read_text()
    links = re.findall(r'href="(notebooks/[0-9][0-9]_[^"#]+\.html)', readme)
    assert links, "the README page links no notebook page"
    assert all((html / link).is_file() for link in links)
    sidebar = readme.split('class="bd-links', 1)[1].split("</nav>", 1)[0]
    navigation = re.findall(r'href="notebooks/([0-9][0-9])_[^"#]+\.html"', sidebar)
    assert navigation == [nb.name[:2] for nb in NOTEBOOKS], f"the book's table of contents: {navigation}"


def open_page(browser, url: str):
    """Open ``url``, recording JavaScript errors and what it asked of other hosts; returns (page, problems)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems, external = [], []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))

    def on_console(message):
        location = message.location.get("url", "") if isinstance(message.location, dict) else ""
        if message.type == "error" and not any(location.startswith(u) for u in external):
            problems.append(f"console error: {message.text} ({location})")

    page.on("console", on_console)

    def route(route):
        request = route.request
        if urlparse(request.url).hostname in ("127.0.0.1", None):
            return route.continue_()
        external.append(request.url)
        if request.resource_type in EXTERNAL_FORBIDDEN:
            problems.append(f"loads {request.resource_type} from outside the site: {request.url}")
        route.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load", timeout=60_000)
    return page, problems


@pytest.fixture
def browser():
    pytest.importorskip("playwright", reason="playwright is installed by `make test`")
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs chromium and playwright)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_readme_page_renders(book, browser, tmp_path):
    url, _ = book
    page, problems = open_page(browser, f"{url}/index.html")  # redirects to README.html
    page.wait_for_url("**/README.html", timeout=30_000)
    page.wait_for_load_state("load")
    try:
        assert "amago_edu" in page.locator("main h1").first.inner_text()
        images = page.locator("main img[src*='_images']")
        assert images.count() >= 1, "the README's figures are missing"
        assert all(page.evaluate("(img) => img.complete && img.naturalWidth > 0", images.nth(i).element_handle())
                   for i in range(images.count())), "a README figure did not load"
        assert page.locator("main a[href^='notebooks/']").count() >= len(NOTEBOOKS) - 1
    finally:
        page.screenshot(path=str(tmp_path / "readme.png"))
        print(f"screenshot: {tmp_path / 'readme.png'}")
    assert not problems, problems


@pytest.mark.browser
def test_notebook_02_page_shows_figures_and_math(book, browser, tmp_path):
    url, _ = book
    page, problems = open_page(browser, f"{url}/notebooks/02_two_hot_critic.html")
    try:
        figures = page.locator(".cell_output .plotly-graph-div")
        figures.first.wait_for(timeout=30_000)
        page.wait_for_function("() => [...document.querySelectorAll('.cell_output .plotly-graph-div')]"
                               ".every(div => div.querySelector('svg.main-svg'))", timeout=30_000)
        assert figures.count() >= 3, f"only {figures.count()} plotly figures on the page"
        assert page.locator("mjx-container").first.is_visible(timeout=30_000), "no typeset equation"
        assert not page.locator("mjx-merror").count(), "MathJax could not typeset an equation"
        # the slider cells (the two-hot explorer, the imbalance widget): a static page has no kernel, so each figure
        # is the one at its sliders' initial values
        notes = page.locator(".cell_output :text('Interactive in JupyterLab')")
        assert notes.count() == 2
        notes.first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "02_slider_cell.png"))
        titles = [t.text_content() for t in page.locator(".cell_output .plotly-graph-div .gtitle").all()]  # SVG <text>
        assert titles[0].startswith("y = 10,"), titles
        assert any(t.startswith("scale x100, reward multiplier 10, 64 bins") for t in titles), titles
    finally:
        page.screenshot(path=str(tmp_path / "02_full.png"), full_page=True)
        print(f"screenshots: {tmp_path}")
    assert not problems, problems
