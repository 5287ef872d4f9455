"""Every notebook runs headless under papermill in FAST mode (the same way CI and `make run` do)."""

import os
import subprocess
import sys

import papermill as pm
import pytest

from tools.dev import poll_kernel_replies_in_short_steps
from conftest import NOTEBOOKS, ROOT

poll_kernel_replies_in_short_steps()  # papermill's client could wait forever on a widget cell's reply (see there)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("AMAGO_EDU_FAST", "1")
    params = pm.inspect_notebook(str(notebook))
    assert "FAST" in params, f"{notebook.name}: the parameters cell lost its FAST flag"
    parameters = {"FAST": True}
    if "OUT_DIR" in params:
        parameters["OUT_DIR"] = str(tmp_path / "run")
    pm.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(notebook.parent),
        progress_bar=False,
        execution_timeout=600,
    )


@pytest.mark.notebook
def test_nbval_runs_a_notebook_fast_from_the_environment_variable_alone(tmp_path):
    """nbval's job: run a notebook cell by cell in a plain kernel, *without* papermill's parameter injection.

    Papermill sets ``FAST = True`` in the notebook; Binder users, ``jupyter execute`` and nbval only have the
    environment variable ``AMAGO_EDU_FAST=1``, which ``notebook_setup`` must honour. Notebook 01 is the cheap
    one (about 10 s). ``--nbval-lax`` checks that every cell runs; outputs are not compared (none are committed).
    """
    notebook = ROOT / "notebooks" / "01_return_scale_imbalance.ipynb"
    env = {**os.environ, "AMAGO_EDU_FAST": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                             "--nbval-cell-timeout=120", str(notebook)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout, result.stdout[-2000:]
