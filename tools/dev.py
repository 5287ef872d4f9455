"""Developer commands.

    python -m tools.dev clean-notebooks      # strip outputs before a commit
    python -m tools.dev add-badges           # (re)insert the Colab/Binder badges and the Colab install cell
    python -m tools.dev book [--only 01 02]  # the executed book: `make book` (see build_book)
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def clean_notebook(path: Path) -> bool:
    """Remove outputs, execution counts and widget state; pin the kernel. Returns True if changed."""
    original = path.read_text()
    nb = json.loads(original)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)
        cell.get("metadata", {}).pop("papermill", None)
    nb["metadata"].pop("widgets", None)
    nb["metadata"].pop("papermill", None)
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    cleaned = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if cleaned != original:
        path.write_text(cleaned)
        return True
    return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["book"]:
        return book_main(argv[1:])
    if argv[:1] not in (["clean-notebooks"], ["add-badges"]):
        print("usage: python -m tools.dev {clean-notebooks|add-badges} [NOTEBOOK ...]\n"
              "       python -m tools.dev book [--out DIR] [--only NN ...]", file=sys.stderr)
        return 2
    paths = [Path(p) for p in argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        if argv[0] == "add-badges":
            add_badges(path)
        if clean_notebook(path):
            print(f"cleaned {path}")
    return 0



# -- badges and the Colab install cell, inserted at the top of every notebook ----------------------
REPO = "amago-edu/amago_edu"
BADGE_MARK = "<!-- amago_edu:badges -->"
COLAB_MARK = "# amago_edu:colab-install"
COLAB_INSTALL = f'''{COLAB_MARK} (runs only on Google Colab; does nothing elsewhere)
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess
    from importlib.metadata import version

    # the whole repository, so that ../data (committed results and trained checkpoints) is here as in a clone
    if not os.path.isdir("/content/amago_edu"):
        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/{REPO}", "/content/amago_edu"], check=True)
    # pin Colab's own torch and numpy so nothing here reinstalls them (that breaks the runtime)
    keep = [f"torch=={{version('torch')}}", f"numpy=={{version('numpy')}}"]
    packages = ["gymnasium==1.4.0", "minigrid==3.2.0", "popgym==1.0.7", "plotly==7.1.0",
                "anywidget==0.11.0", "tqdm"]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages, *keep], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "/content/amago_edu"], check=True)
    sys.path.insert(0, "/content/amago_edu")  # an editable install made in a running kernel is not on its path yet
    os.chdir("/content/amago_edu/notebooks")  # relative paths (../data, runs/) as in the repository'''


def badge_markdown(name: str) -> str:
    colab = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}"
    binder = f"https://mybinder.org/v2/gh/{REPO}/HEAD?labpath=notebooks%2F{name}"
    return (f"{BADGE_MARK}\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def add_badges(path: Path) -> bool:
    """Insert (or refresh) the badge cell and the guarded Colab install cell at the top."""
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if BADGE_MARK not in "".join(c["source"]) and COLAB_MARK not in "".join(c["source"])]
    badge = {"cell_type": "markdown", "metadata": {}, "source": badge_markdown(path.name)}
    install = {"cell_type": "code", "metadata": {}, "source": COLAB_INSTALL, "outputs": [], "execution_count": None}
    nb["cells"] = [badge, install, *cells]
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)  # no cell ids needed
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


# -- the executed book: `make book` ---------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
BOOK_CONFIG = ROOT / "book"  # _config.yml, _toc.yml and _ext/ (a Sphinx extension)
BOOK_MARK = "amago_edu_book"  # notebook metadata key of an executed copy: the hash of what it was executed from
MATHJAX_PARTS = ["tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors"]  # what the pages load
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY_JSON = "application/vnd.plotly.v1+json"
BOOK_COLUMN_PX = 760  # a figure wider than the book's text column fills the column instead


def book_main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.dev book", description=build_book.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "build" / "book"), help="build folder (default: build/book)")
    parser.add_argument("--only", nargs="+", metavar="NN", default=None,
                        help="only the notebooks whose names start with these prefixes (e.g. 01 02), for a quick look")
    args = parser.parse_args(argv)
    try:
        index = build_book(Path(args.out), only=args.only)
    except BookError as err:
        print(f"make book: {err}", file=sys.stderr)
        return 1
    print(f"the book is at {index}")
    return 0


class BookError(RuntimeError):
    pass


def book_notebooks(only: list[str] | None = None) -> list[Path]:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if nb.name.startswith(tuple(only))]
        if not notebooks:
            raise BookError(f"no notebook in notebooks/ starts with any of {only}")
    return notebooks


def build_book(out: Path, only: list[str] | None = None) -> Path:
    """Build the static site: the README, then every notebook executed in FAST mode, with its outputs.

    1. Each notebook is executed by papermill (``FAST = True``, ``AMAGO_EDU_FAST=1``, headless, run folders under
       ``OUT/runs/``) into ``OUT/executed/``; a copy whose notebook, package and ``data/`` are unchanged is reused.
       A notebook that raises stops the build (after the others have run) with its name.
    2. The copies are made readable without a kernel into ``OUT/src/notebooks/``: plotly figures draw with the
       site's own plotly.js (no CDN), and each widget becomes what it showed (the outputs captured at its initial
       values, or a progress bar's last line), because a static page has no kernel to move a slider.
    3. ``jupyter-book build`` (configured by book/; it executes nothing) writes ``OUT/_build/html``.
    Returns the path of the site's index.html.
    """
    out = out.resolve()
    notebooks = book_notebooks(only)
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(BOOK_CONFIG, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "notebooks").mkdir()
    shutil.copy(ROOT / "README.md", src / "README.md")
    _copy_static(src / "static")  # not `_static`: Jupyter Book would load every .js file in that one on every page

    failed = []
    for notebook in notebooks:
        executed = out / "executed" / notebook.name
        try:
            _execute_fast(notebook, executed, out / "runs" / notebook.stem)
        except Exception as err:  # noqa: BLE001 - run every notebook, then name each one that failed
            print("FAILED", flush=True)
            failed.append(f"{notebook.name}: {type(err).__name__}: {str(err).strip().splitlines()[-1:] or ''}")
            continue
        (src / "notebooks" / notebook.name).write_text(json.dumps(_readable_without_kernel(json.loads(
            executed.read_text())), indent=1, ensure_ascii=False))
    if failed:
        raise BookError("these notebooks raised in FAST mode (the executed copies, with the error, are "
                        f"{out / 'executed'}/NAME.part.ipynb):\n  " + "\n  ".join(failed))
    markdown = [(ROOT / "README.md").read_text(), *("".join(c["source"]) for nb in notebooks
                for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")]
    _copy_local_images(markdown, [ROOT, ROOT / "notebooks"], src)

    print("jupyter-book build ...", flush=True)
    start = time.time()
    jupyter_book = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]  # its `jupyter-book` command
    result = subprocess.run([*jupyter_book, "build", str(src), "--path-output", str(out)],
                            capture_output=True, text=True)
    (out / "jupyter-book.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BookError(f"jupyter-book build failed ({out / 'jupyter-book.log'}):\n{(result.stdout + result.stderr)[-3000:]}")
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if "WARNING" in line]
    for line in warnings:
        print(f"  {line}")
    print(f"  site written in {time.time() - start:.0f} s, {len(warnings)} warnings ({out / 'jupyter-book.log'})")
    return out / "_build" / "html" / "index.html"


def _sources_hash(notebook: Path) -> str:
    """What an executed copy depends on: the notebook, the package and the committed data."""
    digest = hashlib.sha256(notebook.read_bytes())
    for path in sorted([*(ROOT / "amago_edu").rglob("*.py"), *(ROOT / "data").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def poll_kernel_replies_in_short_steps(step: float = 1.0) -> None:
    """Work around a lost wake-up when a headless client (papermill / nbclient) waits for a kernel's reply.

    nbclient waits for a cell's ``execute_reply`` with one long ``poll`` of the shell socket. With cells that
    open widgets (notebook 02's slider) that poll sometimes never wakes although the reply has arrived: the
    kernel sits idle and the cell "runs" forever (jupyter/nbclient#312; seen here in about one run in three
    of notebook 02). Polling in steps of ``step`` seconds until the same deadline sees the waiting message on
    the next step. Patches ``jupyter_client``'s async channel class once, in this process only.
    """
    from queue import Empty
    from time import monotonic

    from jupyter_client.channels import AsyncZMQSocketChannel

    if getattr(AsyncZMQSocketChannel.get_msg, "_amago_edu_short_steps", False):
        return
    original = AsyncZMQSocketChannel.get_msg

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            wait = step if deadline is None else min(step, max(0.0, deadline - monotonic()))
            try:
                return await original(self, timeout=wait)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    get_msg._amago_edu_short_steps = True
    AsyncZMQSocketChannel.get_msg = get_msg


def _execute_fast(notebook: Path, executed: Path, run_dir: Path) -> None:
    import papermill as pm

    poll_kernel_replies_in_short_steps()

    sources = _sources_hash(notebook)
    if executed.exists() and json.loads(executed.read_text())["metadata"].get(BOOK_MARK, {}).get("sources") == sources:
        print(f"{notebook.name}: unchanged, executed copy reused", flush=True)
        return
    print(f"executing {notebook.name} (FAST) ...", end=" ", flush=True)
    os.environ.update(AMAGO_EDU_FAST="1", AMAGO_EDU_HEADLESS="1")  # the kernels inherit them
    params = pm.inspect_notebook(str(notebook))
    parameters = {"FAST": True}
    if "OUT_DIR" in params:  # relative to the notebook's folder, so printed paths do not name this machine
        shutil.rmtree(run_dir, ignore_errors=True)
        parameters["OUT_DIR"] = os.path.relpath(run_dir, notebook.parent)
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.unlink(missing_ok=True)
    start = time.time()
    part = executed.with_suffix(".part.ipynb")  # papermill wants the .ipynb suffix
    for attempt in (1, 2):  # a FAST cell takes seconds; a kernel seen idle with a cell never finishing is retried once
        try:
            pm.execute_notebook(str(notebook), str(part), parameters=parameters, kernel_name="python3",
                                cwd=str(notebook.parent), progress_bar=False, execution_timeout=300)
            break
        except Exception as err:  # noqa: BLE001 - nbclient's CellTimeoutError (or papermill's wrapper of it)
            if attempt == 2 or "timeout" not in f"{type(err).__name__} {err}".lower():
                raise
            print(f"a cell timed out ({type(err).__name__}); executing {notebook.name} again ...", end=" ", flush=True)
    nb = json.loads(part.read_text())
    nb["metadata"][BOOK_MARK] = {"sources": sources}
    executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    part.unlink()
    print(f"{time.time() - start:.0f} s", flush=True)


def _readable_without_kernel(nb: dict) -> dict:
    """The executed notebook as a static page shows it (see build_book, step 2)."""
    state = nb["metadata"].pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    cells = []
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell["source"])
        if "injected-parameters" in tags:
            cells.append({"cell_type": "markdown", "metadata": {}, "id": f"book-note-{len(cells)}", "source":
                          "*This page was executed by `make book` with `FAST = True`: every run on it is the small "
                          "FAST one. Run the notebook yourself (JupyterLab, Binder or Colab) for the full settings "
                          "and the interactive widgets.*"})
            continue
        if COLAB_MARK in source:  # does nothing outside Colab
            continue
        if cell["cell_type"] == "code":
            cell["outputs"] = _static_outputs(cell["outputs"], state)
        cells.append(cell)
    nb["cells"] = cells
    if (nb["nbformat"], nb["nbformat_minor"]) < (4, 5):
        for cell in cells:
            cell.pop("id", None)
    return nb


def _static_outputs(outputs: list[dict], state: dict) -> list[dict]:
    import plotly.io as pio

    result = []
    for output in outputs:
        data = output.get("data", {})
        if PLOTLY_JSON in data:  # the figure again, drawn by the page's plotly.js instead of one from a CDN
            figure = json.loads(json.dumps(data[PLOTLY_JSON]))
            if figure.get("layout", {}).get("width", 0) > BOOK_COLUMN_PX:  # JupyterLab is wider than a book page
                del figure["layout"]["width"]
            data["text/html"] = pio.to_html(figure, include_plotlyjs=False, include_mathjax=False, full_html=False,
                                            default_height="525px", validate=False, config={"responsive": True})
        elif "cdn.plot.ly" in "".join(data.get("text/html", "")):
            continue  # plotly's notebook_connected loader; the page loads plotly.js itself
        elif WIDGET_VIEW in data:
            result.extend(_widget_as_outputs(data[WIDGET_VIEW]["model_id"], state))
            continue
        result.append(output)
    return result


def _widget_as_outputs(model_id: str, state: dict) -> list[dict]:
    """A widget as a reader without a kernel sees it: for ``interactive``, a line naming its controls' values and
    the outputs captured at those values; for anything else (tqdm's bar), its text as last drawn."""
    controls, captured, text = [], [], []

    def walk(ref: str) -> None:
        model = state.get(ref.removeprefix("IPY_MODEL_"))
        if model is None:
            return
        name, values = model["model_name"], model["state"]
        if name == "OutputModel":
            captured.extend(values.get("outputs", []))
        elif name in ("HTMLModel", "HTMLMathModel", "LabelModel"):
            text.append(html.unescape(re.sub(r"<[^>]+>", "", values.get("value", ""))).strip())
        elif name in ("FloatProgressModel", "IntProgressModel"):
            share = (values.get("value", 0) - values.get("min", 0)) / max(values.get("max", 1) - values.get("min", 0), 1e-9)
            text.append("|" + "#" * round(20 * min(max(share, 0), 1)) + " " * (20 - round(20 * min(max(share, 0), 1))) + "|")
        elif "value" in values and values.get("description"):
            controls.append(f"{values['description']} = {values['value']:g}" if isinstance(values["value"], float)
                            else f"{values['description']} = {values['value']}")
        for child in values.get("children", []):
            walk(child)

    walk(model_id)
    if controls or captured:
        note = ("<p><em>Interactive in JupyterLab; shown here at " + html.escape(", ".join(controls)) + ".</em></p>"
                if controls else "")
        return ([{"output_type": "display_data", "metadata": {}, "data": {"text/html": note}}] if note else []) + \
            _static_outputs(captured, state)
    line = " ".join(part for part in text if part)
    return [{"output_type": "stream", "name": "stdout", "text": line + "\n"}] if line else []


def _copy_static(static: Path) -> None:
    """plotly.js from the plotly wheel and MathJax 3 from django-static-mathjax: the site needs no CDN.

    Sphinx copies the folder into the site's ``_static/`` (``html_static_path`` in book/_config.yml)."""
    import plotly

    static.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")
    try:
        import mathjax  # django-static-mathjax: MathJax's own files in a wheel (requirements-book.txt)
    except ImportError as err:
        raise BookError("MathJax is missing: run `make book` (it installs requirements-book.txt)") from err
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        source, target = es5 / part, static / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)


def _copy_local_images(markdown: list[str], bases: list[Path], src: Path) -> None:
    """Copy the repository's images that the README and the notebooks' markdown show into the book's source."""
    for text in markdown:
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r"<img [^>]*src=\"([^\"]+)\"", text):
            if "://" in link:
                continue
            for base in bases:
                path = (base / link).resolve()
                if path.is_file() and ROOT in path.parents:
                    target = src / path.relative_to(ROOT)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, target)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
