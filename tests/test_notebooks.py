"""Every notebook runs headless under papermill in FAST mode (the same way CI and `make run` do)."""

import papermill as pm
import pytest

from conftest import NOTEBOOKS


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
