"""Data-parallel training under ``torchrun`` (NCCL on GPUs, gloo on CPU).

    torchrun --nproc_per_node 2 -m amago_edu.train --preset frozen_lake --run-dir runs/ddp

Every process collects its own experience into its own replay folder and computes the loss on its own
batches; gradients are averaged across processes before each optimizer step, so the weights stay
identical everywhere (they start identical: same seed, then a broadcast from rank 0). Only rank 0
writes config, metrics and checkpoints and runs the evaluations. Decisions that must agree across
processes (enough data to start, a non-finite loss, the time budget, Ctrl-C) are reduced first.
Without ``torchrun`` (WORLD_SIZE unset or 1) every function here is a no-op.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .utils import resolve_device


def setup(device_request: str) -> tuple[int, int, torch.device]:
    """(rank, world_size, device); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_request)
    if world <= 1:
        return 0, 1, device
    if device.type == "cuda":  # one GPU per process
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _reduce_flag(flag: bool, op) -> bool:
    if not active():
        return bool(flag)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=op)
    return bool(value.item() > 0.5)


def all_true(flag: bool) -> bool:
    """True only if ``flag`` is true in every process."""
    return _reduce_flag(flag, dist.ReduceOp.MIN)


def any_true(flag: bool) -> bool:
    """True if ``flag`` is true in any process."""
    return _reduce_flag(flag, dist.ReduceOp.MAX)


def average_gradients(parameters) -> None:
    """grad <- mean of grad over processes (a missing grad counts as zeros), one flat all-reduce."""
    if not active():
        return
    parameters = [p for p in parameters if p.requires_grad]
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in parameters])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in parameters:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
        offset += p.numel()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The elementwise sum of ``tensor`` over processes (a new tensor; ``tensor`` itself without torchrun)."""
    if not active():
        return tensor
    total = tensor.clone()
    dist.all_reduce(total)
    return total


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if active():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def parameters_in_sync(module: torch.nn.Module) -> bool:
    """Whether every process holds exactly the same parameters (compares float64 checksums)."""
    if not active():
        return True
    with torch.no_grad():
        local = torch.stack([torch.cat([p.detach().double().reshape(-1) for p in module.parameters()]).sum(),
                             torch.cat([p.detach().double().abs().reshape(-1) for p in module.parameters()]).sum()])
    gathered = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, local)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def barrier() -> None:
    if active():
        dist.barrier()


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
