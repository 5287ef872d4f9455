"""One call at the top of every notebook: FAST mode, seeding and plotly rendering."""

from __future__ import annotations

import os
import sys

from .utils import seed_everything


def notebook_setup(fast: bool, seed: int) -> bool:
    """Return the effective FAST flag and seed everything.

    FAST is on when the ``parameters`` cell says so *or* the environment variable
    ``AMAGO_EDU_FAST=1`` is set (so nbval / plain ``jupyter execute`` runs are fast too).
    Outside Colab, plotly figures are emitted as the plotly mimetype (rendered by JupyterLab and
    VS Code) plus a small HTML fallback that loads plotly.js from its CDN, which keeps executed
    notebooks small instead of embedding 3 MB of JavaScript in each.
    """
    fast = bool(fast) or os.environ.get("AMAGO_EDU_FAST") == "1"
    seed_everything(seed)
    if "google.colab" not in sys.modules:
        import plotly.io as pio

        pio.renderers.default = "plotly_mimetype+notebook_connected"
    return fast
