"""One call at the top of every notebook: FAST mode, seeding and plotly rendering."""

from __future__ import annotations

import os
import sys

from ..utils import seed_everything


def notebook_setup(fast: bool, seed: int) -> bool:
    """Return the effective FAST flag and seed everything.

    FAST is on when the ``parameters`` cell says so, when the environment variable ``AMAGO_EDU_FAST=1`` is set
    (nbval, plain ``jupyter execute`` and Binder, whose ``binder/start`` sets it), and by default on Colab, so "Run
    all" on a hosted notebook takes minutes. ``AMAGO_EDU_FAST=0`` (``%env AMAGO_EDU_FAST=0`` in a cell) switches a
    hosted notebook to the full settings.
    Outside Colab, plotly figures are emitted as the plotly mimetype (rendered by JupyterLab and
    VS Code) plus a small HTML fallback that loads plotly.js from its CDN, which keeps executed
    notebooks small instead of embedding 3 MB of JavaScript in each.
    """
    flag = os.environ.get("AMAGO_EDU_FAST")
    hosted = "google.colab" in sys.modules
    chosen = bool(fast) or flag == "1" or (hosted and flag != "0")
    if chosen and not fast:
        where = "AMAGO_EDU_FAST=1 is set" if flag == "1" else "this is Colab"
        print(f"FAST mode ({where}): small live runs beside the committed results. For the full settings run "
              "`%env AMAGO_EDU_FAST=0` in a cell, then run all cells again.")
    fast = chosen
    seed_everything(seed)
    if "google.colab" not in sys.modules:
        import plotly.io as pio

        pio.renderers.default = "plotly_mimetype+notebook_connected"
    return fast
