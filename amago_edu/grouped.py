"""The critic's speed path: outputs for chosen (row, action, gamma) triples without scoring every action.

A discrete critic (``amago_edu.agent.CriticEnsemble``) has one output block per action, and per discount factor
inside it. The plain way to read Q_g(s, a) is to compute every block and pick one (``critic_outputs="gather"``):
clear, but A times the output layer's cost for an A-action env (27 in the POPGym mixture). This module sorts the
rows by the block they need and runs one batched matmul per block used (``critic_outputs="grouped"``, the
default): the update's cost then hardly grows with the action count (``benchmarks/update_speed.py``). Both give
the same values and gradients (``tests/test_grouped.py``); nothing here changes what is learned.
"""

from __future__ import annotations

import torch


class _PermuteRows(torch.autograd.Function):
    """x[:, perm] for a permutation ``perm`` of dim 1, whose backward is the gather grad[:, inverse]. Plain
    indexing would scatter-add the gradient back (index_put with accumulate), a costly scatter on a CPU."""

    @staticmethod
    def forward(ctx, x, perm, inverse):
        ctx.save_for_backward(inverse)
        return x.index_select(1, perm)

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        return grad.index_select(1, inverse), None, None


def permute_rows(x: torch.Tensor, perm: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """x[:, perm] where ``perm`` is a permutation of x's dim 1 and ``inverse`` its inverse (inverse[perm] = arange)."""
    if x.requires_grad:
        return _PermuteRows.apply(x, perm, inverse)
    return x.index_select(1, perm)


def grouped_outputs(weight: torch.Tensor, bias: torch.Tensor, hidden: torch.Tensor, keys: torch.Tensor, block: int,
                    source: torch.Tensor | None = None, reduce=None) -> torch.Tensor:
    """Output r of an ensemble linear layer (weight (C, h, out), bias (C, 1, out)) restricted to columns
    [keys[r] * block, (keys[r] + 1) * block), read from hidden row ``source[r]`` (default r):
    (C, N, h) -> (C, R, block) with R = len(keys), or (C, R) with ``reduce(outputs (C, R', block), their keys (R',))
    -> (C, R')``, applied to each group of rows that share a key as soon as it is computed (only the reduced values
    are concatenated and moved)."""
    order = torch.argsort(keys)
    counts = torch.bincount(keys, minlength=weight.shape[-1] // block).tolist()
    # split, not sliced per key: the backward of one split is one concatenation of the used blocks' gradients,
    # where a slice per key would write a zero-filled gradient of the whole layer for every key (cost ~ A^2)
    weights, biases = weight.split(block, dim=-1), bias.split(block, dim=-1)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    # one gather, then views; with source None it is a permutation, whose backward is the inverse gather
    gathered = permute_rows(hidden, order, inverse) if source is None else hidden.index_select(1, source[order])
    chunks = []
    for key, rows in enumerate(gathered.split(counts, dim=1)):
        if rows.shape[1]:
            out = torch.baddbmm(biases[key], rows, weights[key])
            if reduce is not None:
                out = reduce(out, torch.full((rows.shape[1],), key, device=keys.device))
            chunks.append(out)
    return permute_rows(torch.cat(chunks, dim=1), inverse, order)
