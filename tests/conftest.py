import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Live widgets need a browser front-end; tests (and the kernels papermill starts) are headless.
os.environ["AMAGO_EDU_HEADLESS"] = "1"

# One thread: the tiny models in tests gain nothing from more, and two OpenMP threads spin-waiting
# next to a notebook kernel or a training subprocess on two cores slow everything down ~10x.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """A finished 20-update run of the "fast" preset: (config, History); one per test module that uses it."""
    from amago_edu.train import train
    from helpers import small_config

    run_dir = tmp_path_factory.mktemp("fast") / "run"
    config = small_config(run_dir)
    return config, train(config)
