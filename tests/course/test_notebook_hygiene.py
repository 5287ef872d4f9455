"""Notebooks are committed clean: no outputs, one `parameters` cell, kernel python3, badges; exercises take
an answer and call a checker; nothing cites documents a learner does not have."""

import json
import re

import pytest

from conftest import NOTEBOOKS, ROOT


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(notebook):
    nb = json.loads(notebook.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "saved widget state: clear it before committing"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        assert cell["outputs"] == [], f"{notebook.name}: committed with outputs; run `make clean-notebooks`"
        assert cell["execution_count"] is None
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name}: needs exactly one cell tagged 'parameters'"
    assert tagged[0]["cell_type"] == "code"
    source = "".join(tagged[0]["source"])
    assert "FAST" in source and "SEED" in source
    for line in source.splitlines():
        line = line.split("#")[0].strip()
        if line:
            # literals only: papermill injects values after this cell, so derived values belong later
            assert "=" in line and "(" not in line, f"{notebook.name}: parameters must be literals: {line!r}"
    assert any("exercise" in "".join(c["source"]).lower() for c in nb["cells"] if c["cell_type"] == "markdown")


def test_binder_requirements_match_root():
    def pins(path):
        lines = [l.strip() for l in path.read_text().splitlines()]
        return sorted(l for l in lines if l and not l.startswith(("#", "-")))

    assert pins(ROOT / "binder" / "requirements.txt") == pins(ROOT / "requirements.txt")
    assert "python-3.11" in (ROOT / "binder" / "runtime.txt").read_text()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_badges_and_guarded_colab_install(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    badges = "".join(cells[0]["source"])
    assert "colab.research.google.com/github/" in badges and notebook.name in badges
    assert "mybinder.org/v2/gh/" in badges
    install = "".join(cells[1]["source"])
    assert 'if "google.colab" in sys.modules:' in install
    # Colab's torch and numpy are pinned to what is already installed: never reinstalled there
    assert "version('torch')" in install and "version('numpy')" in install
    assert "--no-deps" in install


def test_colab_install_cell_does_nothing_outside_colab():
    import sys

    cell = "".join(json.loads(NOTEBOOKS[0].read_text())["cells"][1]["source"])
    assert "google.colab" not in sys.modules
    exec(compile(cell, "colab-install", "exec"), {})  # must not try to install anything here


# "the brief", "method brief D.3", "brief I.2", "method notes H.1": internal documents a learner never sees.
# Cite the paper (section, equation, figure, appendix table) or the authors' code by file instead.
INTERNAL_CITATION = re.compile(r"\bbrief\b|\bmethod notes\b", re.IGNORECASE)


def _cited_files():
    files = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "amago_edu").rglob("*.py"))
    files += sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "tools").glob("*.py")) + [ROOT / "README.md"]
    return [path for path in files if path.is_file()]


@pytest.mark.parametrize("path", _cited_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_citations_of_internal_notes(path):
    if path.suffix == ".ipynb":
        lines = [(f"cell {i}", line) for i, cell in enumerate(json.loads(path.read_text())["cells"])
                 for line in "".join(cell["source"]).splitlines()]
    else:
        lines = [(f"line {n}", line) for n, line in enumerate(path.read_text().splitlines(), start=1)]
    hits = [f"{where}: {line.strip()}" for where, line in lines if INTERNAL_CITATION.search(line)]
    assert not hits, f"{path.name} cites internal notes; cite the paper or the authors' code instead:\n" + "\n".join(hits)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_take_an_answer_and_call_a_checker(notebook):
    """An exercise cell holds the learner's answer (``answer = None`` until filled in) and calls a checker from
    amago_edu.course.exercises; it does not compute the answer and assert against it in the open. An exercise that asks
    for a function holds a stub instead (``def f(...)`` whose body is ``return None  # your code here``) and calls
    the checker on that function."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    for cell in cells:
        source = "".join(cell["source"])
        assert not re.search(r"^my_\w+ = None", source, re.MULTILINE), (
            f"{notebook.name}: an answer variable checked in the open; use `answer = None` and a check_* function "
            f"from amago_edu.course.exercises:\n{source}")
        if "from amago_edu.course.exercises import" not in source:
            continue
        functions = re.findall(r"^def (\w+)\(", source, re.MULTILINE)
        if functions:  # write-a-function exercise: one stub, then the checker on it
            assert len(functions) == 1, f"{notebook.name}: one function stub per exercise cell"
            assert re.search(r"^    return None  # your code here$", source, re.MULTILINE), (
                f"{notebook.name}: the stub must `return None  # your code here`")
            assert re.search(rf"^check_\w+\({functions[0]}\)$", source, re.MULTILINE), (
                f"{notebook.name}: checker not called on `{functions[0]}`")
        else:
            assert re.search(r"^answer = None  # ", source, re.MULTILINE), f"{notebook.name}: no `answer = None` placeholder"
            assert re.search(r"^check_\w+\(answer\b", source, re.MULTILINE), f"{notebook.name}: checker not called on `answer`"
        assert "assert" not in source and "correct!" not in source, f"{notebook.name}: the cell checks in the open"
