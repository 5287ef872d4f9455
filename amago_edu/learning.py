"""One gradient update of the agent: AdamW with warm-up, gradient clipping, Polyak targets.

Kept apart from the training loop so benchmarks and notebooks run exactly the update that
``amago_edu.train`` runs.
"""

from __future__ import annotations

import contextlib

import torch

from . import distributed
from .agent import Agent


def make_optimizer(agent: Agent, lr: float = 1e-4, weight_decay: float = 1e-3, warmup_updates: int = 500):
    """AdamW on everything but the target heads, with a linear warm-up then a constant rate (App. A, Table 1)."""
    optimizer = torch.optim.AdamW(agent.trainable_parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, int(warmup_updates))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    return optimizer, scheduler


def autocast_context(device: torch.device, mixed_precision: str = "auto"):
    """bf16 autocast on CUDA ("auto") or wherever asked ("bf16"); plain fp32 otherwise."""
    if mixed_precision == "bf16" or (mixed_precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def update_step(agent: Agent, optimizer, scheduler, batch: dict, grad_clip: float = 1.0,
                autocast=contextlib.nullcontext) -> dict[str, float]:
    """loss -> backward -> clip -> AdamW step -> Polyak target update. Returns float diagnostics.

    A non-finite loss skips the update (no step, no target move) and reports ``skipped=1`` with the
    names of the non-finite terms, so a single bad batch cannot poison the weights. Under torchrun the
    gradients are averaged over processes before clipping (amago_edu.distributed).
    """
    with autocast():
        out = agent.loss(batch)
    stats = {k: float(v.detach()) for k, v in out.items()}
    bad = [k for k in ("critic_loss", "actor_loss") if not torch.isfinite(out[k])]
    finite = not bad and bool(torch.isfinite(out["loss"]))
    if not distributed.all_true(finite):  # under torchrun every process skips together
        optimizer.zero_grad(set_to_none=True)
        return {**stats, "skipped": 1.0, "nonfinite_terms": ",".join(bad) or ("loss" if not finite else "other process")}
    optimizer.zero_grad(set_to_none=True)
    out["loss"].backward()
    distributed.average_gradients(agent.trainable_parameters())
    grad_norm = torch.nn.utils.clip_grad_norm_(agent.trainable_parameters(), grad_clip)
    stats["grad_norm"] = float(grad_norm)
    if not torch.isfinite(grad_norm):  # a finite loss can still overflow in backward (same in every process)
        optimizer.zero_grad(set_to_none=True)
        return {**stats, "skipped": 1.0, "nonfinite_terms": "grad_norm"}
    optimizer.step()
    scheduler.step()
    agent.update_targets()
    stats["lr"] = scheduler.get_last_lr()[0]
    stats["skipped"] = 0.0
    return stats
