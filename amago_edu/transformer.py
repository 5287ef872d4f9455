"""Causal Transformer over a trial, with a key/value cache for acting one step at a time.

AMAGO (Grigsby et al. 2024, Sec. 3 and Fig. 2; the authors' ``amago/nets/transformer.py``)
feeds one token per timestep of the whole trial (k episodes) to a causal Transformer; its output
is the agent's memory. Training runs :meth:`CausalTransformer.forward` over sampled windows of at
most ``context_length`` steps; acting runs :meth:`CausalTransformer.step` in many environments at
once and reuses the keys and values of earlier steps stored in a :class:`KVCache`.

What we kept from the authors: pre-LayerNorm blocks, a final LayerNorm, leaky-ReLU
feed-forward, dropout on embeddings and feed-forward, position embeddings indexed by the
absolute step within the trial (fixed sinusoidal, the authors' current default).
What we left out, because this is CPU-first teaching code and they are refinements, not the
idea: NormFormer's extra LayerNorms and per-head scales, sigma-Reparam linear layers, and
FlashAttention-2's bf16 kernel (``scaled_dot_product_attention`` picks a fused kernel on GPU
by itself; use bf16 autocast there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Fixed sinusoidal position embedding (Vaswani et al. 2017) for any integer position.

    positions (...) long -> (..., d_model) float32. Computed on the fly, so there is no table
    and no upper limit: a trial may be longer than the context.
    """
    half = (d_model + 1) // 2
    freqs = torch.exp(
        torch.arange(half, device=positions.device, dtype=torch.float32) * (-2.0 * math.log(10000.0) / d_model)
    )
    angles = positions.to(torch.float32).unsqueeze(-1) * freqs  # (..., half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)[..., :d_model]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with one fused QKV projection."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> q, k, v, each (B, nh, T, hs)."""
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B, nh, T, hs)
        return q, k, v

    def attend(self, q, k, v, attn_mask=None, is_causal=False) -> torch.Tensor:
        """q (B, nh, Tq, hs), k/v (B, nh, Tk, hs) -> (B, Tq, C)."""
        y = F.scaled_dot_product_attention(
            q, k.to(q.dtype), v.to(q.dtype), attn_mask=attn_mask, is_causal=is_causal,
        )  # (B, nh, Tq, hs)
        B, nh, Tq, hs = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, Tq, nh * hs))


class Block(nn.Module):
    """Pre-LayerNorm block: x <- x + Attn(LN(x)); x <- x + FF(LN(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)  # no dropout in attention, as the authors' defaults
        self.ln_ff = nn.LayerNorm(d_model)
        # Leaky ReLU as in the authors' ``amago/nets/transformer.py``.
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.LeakyReLU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor):
        """Full causal pass. x (B, T, C) -> (x (B, T, C), k (B, nh, T, hs), v (B, nh, T, hs))."""
        q, k, v = self.attn.project(self.ln_attn(x))
        x = x + self.attn.attend(q, k, v, is_causal=True)
        return x + self.ff(self.ln_ff(x)), k, v


class KVCache:
    """Per-environment memory of the last ``context_length`` steps, for :meth:`CausalTransformer.step`.

    Holds, for each layer, keys and values (B, nh, context_length, hs), the embedded input tokens
    (B, context_length, d_model) and a validity mask ``valid`` (B, context_length). New steps are
    written at the end after shifting everything left by one slot, so the valid slots of an
    environment are always a contiguous block at the end and the oldest step falls off when the
    trial is longer than the context (a sliding window). Tensors are allocated at the first step,
    in ``dtype`` if given, else in the dtype of that step's input.
    """

    def __init__(self, batch_size: int, context_length: int, n_layers: int, n_heads: int, d_model: int,
                 device: torch.device, dtype: torch.dtype | None = None, exact_window: bool = True):
        self.batch_size = batch_size
        self.context_length = context_length
        self.n_layers, self.n_heads, self.d_model = n_layers, n_heads, d_model
        self.device, self.dtype = device, dtype
        self.exact_window = exact_window
        self.valid = torch.zeros(batch_size, context_length, dtype=torch.bool, device=device)
        self.tokens: torch.Tensor | None = None
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def reset(self, env_mask) -> None:
        """env_mask (B,) bool: forget the context of those environments (a new trial starts)."""
        env_mask = torch.as_tensor(env_mask, device=self.device)
        if env_mask.shape != (self.batch_size,) or env_mask.dtype != torch.bool:
            raise ValueError(
                f"env_mask must be a bool tensor of shape ({self.batch_size},), "
                f"got dtype {env_mask.dtype} and shape {tuple(env_mask.shape)}"
            )
        self.valid[env_mask] = False

    def _allocate(self, like: torch.Tensor) -> None:
        dtype = self.dtype if self.dtype is not None else like.dtype
        B, L, C, nh = self.batch_size, self.context_length, self.d_model, self.n_heads
        self.tokens = torch.zeros(B, L, C, dtype=dtype, device=self.device)
        self.keys = [torch.zeros(B, nh, L, C // nh, dtype=dtype, device=self.device) for _ in range(self.n_layers)]
        self.values = [torch.zeros_like(k) for k in self.keys]

    def push_token(self, h: torch.Tensor) -> torch.Tensor:
        """h (B, C): append an embedded token. Returns (B,) bool: environments whose oldest step fell off."""
        if self.tokens is None:
            self._allocate(h)
        overflow = self.valid[:, 0].clone()  # valid slots are a suffix, so slot 0 valid = window full
        self.tokens = torch.cat([self.tokens[:, 1:], h.to(self.tokens.dtype)[:, None]], dim=1)
        self.valid = torch.cat([self.valid[:, 1:], torch.ones_like(self.valid[:, :1])], dim=1)
        return overflow

    def push_kv(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k, v (B, nh, 1, hs): append to ``layer``; return the layer's keys and values (B, nh, L, hs)."""
        self.keys[layer] = torch.cat([self.keys[layer][:, :, 1:], k.to(self.keys[layer].dtype)], dim=2)
        self.values[layer] = torch.cat([self.values[layer][:, :, 1:], v.to(self.values[layer].dtype)], dim=2)
        return self.keys[layer], self.values[layer]


class CausalTransformer(nn.Module):
    """AMAGO's trajectory encoder: a causal pre-LN Transformer.

    Grigsby et al. 2024, Sec. 3 and App. A, Model Architectures; the authors' ``amago/nets/transformer.py``.

    Args:
        d_model: token width C; must be divisible by ``n_heads``.
        n_layers: number of blocks.
        n_heads: attention heads nh; head size hs = d_model // n_heads.
        context_length: the most steps one forward pass (and the acting cache) looks at.
        d_ff: feed-forward width, default 4 * d_model.
        dropout: on the input embeddings and on each feed-forward output, in training only (the authors'
            ``TformerTrajEncoder`` defaults: ``dropout_emb``, ``dropout_ff``; none on attention).
    """

    def __init__(self, d_model: int, n_layers: int, n_heads: int, context_length: int,
                 d_ff: int | None = None, dropout: float = 0.0):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        for name, value in [("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads),
                            ("context_length", context_length), ("d_ff", d_ff)]:
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.d_model, self.n_layers, self.n_heads = d_model, n_layers, n_heads
        self.context_length = context_length
        self.embed_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.ln_final = nn.LayerNorm(d_model)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        # The position is the step within the trial, not within the window, as in the authors' code.
        return self.embed_dropout(x + sinusoidal_embedding(positions, self.d_model).to(x.dtype))

    def _run_blocks(self, h: torch.Tensor):
        """h (B, T, C) embedded tokens -> (out (B, T, C), per-layer [(k, v)] each (B, nh, T, hs))."""
        kv = []
        for block in self.blocks:
            h, k, v = block(h)
            kv.append((k, v))
        return self.ln_final(h), kv

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) float, positions (B, T) long step-in-trial -> (B, T, d_model).

        Step t sees steps <= t only. Sequences are right-padded by the caller: by causality no
        valid step sees the padding, so no key mask is needed.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, d_model={self.d_model}), got {tuple(x.shape)}")
        if x.shape[1] > self.context_length or x.shape[1] == 0:
            raise ValueError(
                f"x has T={x.shape[1]} steps; T must be in [1, context_length={self.context_length}]: "
                "slice the trial into windows or build the model with a longer context_length"
            )
        if positions.shape != x.shape[:2] or positions.is_floating_point():
            raise ValueError(
                f"positions must be an integer tensor of shape (B, T)={tuple(x.shape[:2])}, "
                f"got dtype {positions.dtype} and shape {tuple(positions.shape)}"
            )
        out, _ = self._run_blocks(self._embed(x, positions))
        return out

    def init_cache(self, batch_size: int, device=None, dtype=None, exact_window: bool = True) -> KVCache:
        """An empty cache for ``batch_size`` parallel environments (all slots invalid).

        exact_window=True (default): once a trial is longer than the context, each step recomputes
        the window of the last ``context_length`` tokens, because dropping the oldest token changes
        what every later token saw in layers >= 2; acting then matches ``forward`` on that window
        exactly (as in training), at O(context_length^2) per step for those environments.
        exact_window=False keeps the stale keys/values and just rolls them (the authors' cache):
        O(context_length) per step, but layers >= 2 still carry information from dropped steps.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if device is None:
            device = next(self.parameters()).device
        return KVCache(batch_size, self.context_length, self.n_layers, self.n_heads, self.d_model,
                       torch.device(device), dtype, exact_window)

    def step(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One step in every environment. x (B, d_model), positions (B,) long -> (B, d_model).

        Appends the step to ``cache``. Equals ``forward`` over the last <= context_length steps
        since the cache was last reset, taking the output at the newest step. Call it under
        ``torch.no_grad()`` or ``torch.inference_mode()``: the cache would otherwise keep the graph.
        """
        if x.dim() != 2 or x.shape != (cache.batch_size, self.d_model):
            raise ValueError(
                f"x must have shape (B={cache.batch_size}, d_model={self.d_model}), got {tuple(x.shape)}"
            )
        if positions.shape != (cache.batch_size,) or positions.is_floating_point():
            raise ValueError(
                f"positions must be an integer tensor of shape ({cache.batch_size},), "
                f"got dtype {positions.dtype} and shape {tuple(positions.shape)}"
            )
        h = self._embed(x, positions)  # (B, C)
        overflow = cache.push_token(h)
        attn_mask = cache.valid[:, None, None, :]  # (B, 1, 1, L): attend to this trial's steps only
        h = h[:, None]  # (B, 1, C)
        for layer, block in enumerate(self.blocks):
            q, k, v = block.attn.project(block.ln_attn(h))  # (B, nh, 1, hs)
            keys, values = cache.push_kv(layer, k, v)  # (B, nh, L, hs)
            h = h + block.attn.attend(q, keys, values, attn_mask=attn_mask)
            h = h + block.ff(block.ln_ff(h))
        out = self.ln_final(h[:, 0])  # (B, C)

        if cache.exact_window and bool(overflow.any()):
            # Recompute the full window for environments whose oldest step just fell off.
            idx = overflow.nonzero().squeeze(1)
            window, kv = self._run_blocks(cache.tokens[idx].to(h.dtype))  # (n, L, C)
            for layer, (k, v) in enumerate(kv):
                cache.keys[layer][idx] = k.to(cache.keys[layer].dtype)
                cache.values[layer][idx] = v.to(cache.values[layer].dtype)
            out = out.clone()
            out[idx] = window[:, -1].to(out.dtype)
        return out
