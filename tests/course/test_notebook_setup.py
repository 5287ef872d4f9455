"""FAST by default where a notebook is hosted (Binder sets AMAGO_EDU_FAST=1, Colab is detected), with a switch back."""

from __future__ import annotations

import sys
import types

import pytest

from amago_edu.course.notebook import notebook_setup


@pytest.mark.parametrize("param, flag, colab, expected", [
    (False, None, False, False),  # a local JupyterLab: what the parameters cell says
    (True, None, False, True),
    (False, "1", False, True),  # Binder (binder/start), nbval, papermill in the suite
    (False, None, True, True),  # Colab: FAST unless switched off
    (False, "0", True, False),  # ... the switch
    (True, "0", True, True),  # an explicit FAST = True stays
])
def test_fast_flag(monkeypatch, capsys, param, flag, colab, expected):
    if flag is None:
        monkeypatch.delenv("AMAGO_EDU_FAST", raising=False)
    else:
        monkeypatch.setenv("AMAGO_EDU_FAST", flag)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert notebook_setup(param, seed=0) is expected
    said = capsys.readouterr().out
    assert ("%env AMAGO_EDU_FAST=0" in said) == (expected and not param)


def test_binder_sets_fast_mode():
    from pathlib import Path

    start = Path(__file__).resolve().parents[2] / "binder" / "start"
    assert "export AMAGO_EDU_FAST=1" in start.read_text() and start.stat().st_mode & 0o111
