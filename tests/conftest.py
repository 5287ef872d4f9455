import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Live widgets need a browser front-end; tests (and the kernels papermill starts) are headless.
os.environ["AMAGO_EDU_HEADLESS"] = "1"

# Two cores: keep torch from oversubscribing them in tests (and make CPU runs repeatable).
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
