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
    if argv[:1] not in (["clean-notebooks"], ["add-badges"]):
        print("usage: python -m amago_edu.dev {clean-notebooks|add-badges} [NOTEBOOK ...]", file=sys.stderr)
        return 2
    paths = [Path(p) for p in argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for path in paths:
        if argv[0] == "add-badges":
            add_badges(path)
        if clean_notebook(path):
            print(f"cleaned {path}")
    return 0



# -- badges and the Colab install cell, inserted at the top of every notebook ----------------------
REPO = "amago-edu/amago_edu"
BADGE_MARK = "<!-- amago_edu:badges -->"
COLAB_MARK = "# amago_edu:colab-install"
COLAB_INSTALL = f'''{COLAB_MARK} (runs only on Google Colab; does nothing elsewhere)
import sys

if "google.colab" in sys.modules:
    import subprocess
    from importlib.metadata import version

    # pin Colab's own torch and numpy so nothing here reinstalls them (that breaks the runtime)
    keep = [f"torch=={{version('torch')}}", f"numpy=={{version('numpy')}}"]
    packages = ["gymnasium==1.4.0", "minigrid==3.2.0", "popgym==1.0.7", "plotly==7.1.0",
                "anywidget==0.11.0", "tqdm"]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages, *keep], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "git+https://github.com/{REPO}"], check=True)'''


def badge_markdown(name: str) -> str:
    colab = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}"
    binder = f"https://mybinder.org/v2/gh/{REPO}/HEAD?labpath=notebooks%2F{name}"
    return (f"{BADGE_MARK}\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def add_badges(path: Path) -> bool:
    """Insert (or refresh) the badge cell and the guarded Colab install cell at the top."""
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if BADGE_MARK not in "".join(c["source"]) and COLAB_MARK not in "".join(c["source"])]
    badge = {"cell_type": "markdown", "metadata": {}, "source": badge_markdown(path.name)}
    install = {"cell_type": "code", "metadata": {}, "source": COLAB_INSTALL, "outputs": [], "execution_count": None}
    nb["cells"] = [badge, install, *cells]
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)  # no cell ids needed
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
