"""Support for the benchmark scripts: the package as it was at an earlier commit, to compare with today's."""

from __future__ import annotations

import atexit
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def reference_package(ref: str):
    """The ``amago_edu`` package as it was at git commit ``ref``, imported as ``amago_edu_ref``."""
    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="amago_edu_ref_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # imported lazily until the end, so removed at exit
    try:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "amago_edu"], check=True,
                                 capture_output=True).stdout
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"--against {ref}: git archive failed: {err.stderr.decode().strip()}") from err
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "amago_edu").rename(folder / "amago_edu_ref")
    sys.path.insert(0, str(folder))
    return (importlib.import_module("amago_edu_ref.agent"), importlib.import_module("amago_edu_ref.learning"))
