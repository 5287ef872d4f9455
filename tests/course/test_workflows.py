"""The book's GitHub Actions workflow (build every notebook in FAST mode, deploy to GitHub Pages) passes actionlint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint() -> str:
    found = Path(sys.executable).with_name("actionlint")  # installed into the venv by requirements-test.txt
    path = str(found) if found.exists() else shutil.which("actionlint")
    assert path, "actionlint is not installed: `make test` installs requirements-test.txt"
    return path


def test_the_book_workflow_builds_and_deploys_the_book():
    book = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "make book" in book and "actions/deploy-pages" in book and "build/book/_build/html" in book


def test_workflows_pass_actionlint():
    assert WORKFLOWS
    result = subprocess.run([actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
