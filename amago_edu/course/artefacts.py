"""Small trained agents committed under ``data/checkpoints/``, so that FAST notebooks show trained behaviour.

A run's own checkpoint (``runs/<run>/checkpoints/latest.pt``) holds the optimiser, the target heads and float32
weights: tens of MB for the multi-task agents. An *artefact* keeps only what a notebook needs, in float16:

* the parts named in ``parts`` (``encoder``, ``transformer``, ``actor``: enough to act; add ``critic`` for
  values), never the target heads (a copy of the online ones, used only by training);
* the run's config, and ``meta``: the command that made the run and the figures it printed.

``python -m amago_edu.artefacts export <run_dir> <name> --command "..."`` writes one; ``load_trained(name)``
reads it back as an agent in eval mode. Which command made each committed artefact is in
``data/checkpoints/README.md`` and in the artefact's own ``meta``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from ..config import TrainConfig
from ..results import DATA_DIR, git_commit
from ..utils import atomic_path

CHECKPOINT_DIR = DATA_DIR / "checkpoints"
PARTS = ("encoder", "transformer", "actor", "critic")
FORMAT = 1


def artefact_path(name: str | Path) -> Path:
    """``data/checkpoints/<name>.pt`` for a bare name, else the path itself."""
    path = Path(name)
    return path if path.suffix == ".pt" or path.parent != Path(".") else CHECKPOINT_DIR / f"{name}.pt"


def export_agent(run_dir: str | Path, name: str | Path, *, parts=PARTS, meta: dict | None = None) -> Path:
    """Write the agent of ``run_dir`` (its latest checkpoint) as an artefact with only ``parts``, in float16."""
    from ..evaluation import load_agent

    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {list(parts)}")
    agent, config = load_agent(run_dir)
    state = {key: (value.half() if value.is_floating_point() else value)
             for key, value in agent.state_dict().items() if key.split(".")[0] in parts}
    meta = {"run_dir": str(run_dir), "exported": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "export_commit": git_commit(), "torch": torch.__version__, "python": platform.python_version(), **(meta or {})}
    path = artefact_path(name)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "config": config.to_dict(), "parts": list(parts), "agent": state,
                    "meta": json.loads(json.dumps(meta))}, tmp)
    return path


def load_trained(name: str | Path, device: str | torch.device = "cpu"):
    """``(agent, config, meta)`` of a committed artefact; the agent is float32, in eval mode, on ``device``.

    Parts the artefact leaves out (e.g. the critic of a policy-only artefact) keep their random initialisation;
    ``agent.loaded_parts`` says which parts are trained.
    """
    from ..evaluation import agent_for
    from ..utils import resolve_device

    path = artefact_path(name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is not there: the committed artefacts are in data/checkpoints/ (see its "
                                "README.md for the command that makes each); on Colab run the notebook's first cell")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a non-checkpoint file
        raise ValueError(f"{path} is not a readable amago_edu artefact ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT or not {"config", "parts", "agent"} <= set(data):
        raise ValueError(f"{path} is not an amago_edu artefact of format {FORMAT} (python -m amago_edu.artefacts "
                         "export writes them)")
    config = TrainConfig(**data["config"])
    agent = agent_for(config)
    state = {key: value.float() if value.is_floating_point() else value for key, value in data["agent"].items()}
    missing, unexpected = agent.load_state_dict(state, strict=False)
    stray = [key for key in missing if key.split(".")[0] in data["parts"]]
    if unexpected or stray:
        raise ValueError(f"{path} does not fit the agent its config builds (unexpected {unexpected[:3]}, missing "
                         f"{stray[:3]}): it was exported by another version of amago_edu; re-export it")
    if "critic" in data["parts"]:  # target heads are not stored: copies of the online ones keep the agent whole
        agent.target_critic.load_state_dict(agent.critic.state_dict())
    agent.target_actor.load_state_dict(agent.actor.state_dict())
    agent.loaded_parts = tuple(data["parts"])
    return agent.to(resolve_device(device)).eval(), config, data.get("meta", {})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amago_edu.artefacts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write a run's agent as data/checkpoints/<name>.pt")
    export.add_argument("run_dir")
    export.add_argument("name")
    export.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    export.add_argument("--command", required=True, help="the command that made the run (stored in meta)")
    export.add_argument("--meta", default="{}", help="extra JSON for meta, e.g. the figures the run printed")
    show = sub.add_parser("show", help="print an artefact's meta and size")
    show.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.action == "export":
            path = export_agent(args.run_dir, args.name, parts=args.parts,
                                meta={"command": args.command, **json.loads(args.meta)})
        else:
            path = artefact_path(args.name)
            _, config, meta = load_trained(path)
            print(json.dumps(meta, indent=1))
    except (ValueError, FileNotFoundError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
