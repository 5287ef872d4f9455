"""Developer commands: ``python -m amago_edu.dev clean-notebooks`` strips outputs before a commit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def clean_notebook(path: Path) -> bool:
    """Remove outputs, execution counts and widget state; pin the kernel. Returns True if changed."""
    original = path.read_text()
    nb = json.loads(original)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)
        cell.get("metadata", {}).pop("papermill", None)
    nb["metadata"].pop("widgets", None)
    nb["metadata"].pop("papermill", None)
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    cleaned = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if cleaned != original:
        path.write_text(cleaned)
        return True
    return False


def main(argv: list[str]) -> int:
    if argv[:1] != ["clean-notebooks"]:
        print("usage: python -m amago_edu.dev clean-notebooks [NOTEBOOK ...]", file=sys.stderr)
        return 2
    paths = [Path(p) for p in argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        if clean_notebook(path):
            print(f"cleaned {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
