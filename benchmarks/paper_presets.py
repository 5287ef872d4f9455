"""Each paper preset at the paper's network size, for a few updates: does it run here, and how much host memory.

    python benchmarks/paper_presets.py                      # all five (about 2 minutes on 2 CPU cores)
    python benchmarks/paper_presets.py --presets paper_atari --device cuda --updates 50

Every preset keeps its network, context, batch, bins and losses; only what a smoke run needs is cut: 2 parallel
envs (so no env per game), 40-step episodes, 2 updates and 2 evaluation trials. Each preset runs in its
own process, so the printed peak RSS (host memory, from ``resource``) is that preset's alone. On a GPU this also
gives a first updates/s; GPU memory is ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SHORT = {"metaworld": {"max_episode_steps": 40}, "atari": {"max_episode_steps": 40},
         "procgen": {"max_episode_steps": 40}, "babyai": {"max_steps": 40}}


def run_one(name: str, updates: int, device: str, threads: int) -> dict:
    import torch

    from amago_edu.config import TrainConfig
    from amago_edu.train import train

    torch.set_num_threads(threads)
    base = TrainConfig.preset(name)
    family = base.env.split("/")[0].split("-")[0]
    config = TrainConfig.preset(name, run_dir=f"runs/paper_presets/{name}", overwrite=True, device=device,
                                total_updates=updates, num_envs=2, task_per_env=False, learning_starts=2,
                                eval_interval=updates, eval_trials=2, checkpoint_interval=updates,
                                env_kwargs={**base.env_kwargs, **SHORT.get(family, {})})
    start = time.time()
    history = train(config)
    row = {"preset": name, "updates": history.final_eval["update"], "wall_s": round(time.time() - start, 1),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    if torch.cuda.is_available() and config.device != "cpu":
        row["gpu_peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return row


def main(argv=None) -> int:
    from amago_edu.config import PAPER_PRESETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(PAPER_PRESETS), choices=list(PAPER_PRESETS))
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one preset, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.updates, args.device, args.threads)))
        return 0
    for name in args.presets:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--updates", str(args.updates), "--device",
                              args.device, "--threads", str(args.threads)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: FAILED\n{out.stderr[-2000:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        gpu = f", GPU peak {row['gpu_peak_gb']} GB" if "gpu_peak_gb" in row else ""
        print(f"{name:>22}: {row['updates']} updates at the paper's network size in {row['wall_s']} s (collection and "
              f"evaluation included), peak host memory {row['peak_rss_gb']} GB{gpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
