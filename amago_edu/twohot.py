"""Symlog transform and two-hot value encoding for the classification critic (AMAGO-2 Sec. 3, Scale-Resistant Critics; App. A, Value Classification Details, Eqs. 5-8).

AMAGO-2 turns critic regression into classification: a scalar value ``y`` is represented as a
categorical distribution over ``num_bins`` fixed bin values ``b_i`` spaced evenly in *symlog*
space, and the TD target becomes a "two-hot" label on the two bins around ``symlog(y)``
(DreamerV3-style, Hafner et al. 2023). The cross-entropy against that label has the same scale
for every task, whatever its return scale.

    symlog(x) = sign(x) * ln(1 + |x|)          symexp(x) = sign(x) * (exp(|x|) - 1)
    value     = symexp( sum_i p_i * b_i )      (expectation in symlog space, then mapped back)
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F


def symlog(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) * log1p(|x|)``, elementwise; any shape. Compresses large magnitudes, ~identity near 0."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) * expm1(|x|)``, elementwise; the inverse of :func:`symlog`."""
    return torch.sign(x) * torch.expm1(torch.abs(x))


def _check_real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


class TwoHot(torch.nn.Module):
    """Bins evenly spaced in symlog space, with two-hot ``encode`` and expectation ``decode``.

    Args:
        num_bins: number of bins N (>= 2). The default 128 follows the paper's code; the paper's
            POPGym and BabyAI runs used 64. Fewer bins are wider (spacing grows as 1/N), so the
            critic head has fewer logits and is cheaper, at the price of a coarser value grid
            (decoding still interpolates between bins, so precision degrades gracefully).
        low, high: value range ``[low, high]`` covered by the bins, in units of reward *after*
            ``reward_multiplier`` (the paper leaves it "wide open" at +-1e5 so no domain needs
            tuning). Targets outside the range are clipped to the edge bin.

    Buffer ``bins``: (N,) float32, ``linspace(symlog(low), symlog(high), N)``. It is not saved in
    ``state_dict`` (it is fully determined by the arguments) and it stays float32 even if the module
    is cast to half precision, because bf16 cannot resolve neighbouring bins at large ``|b|``.
    With the defaults the spacing is 0.181306 and 0 is *not* a bin (b_63 = -b_64 = -0.090653).
    """

    bins: torch.Tensor

    def __init__(self, num_bins: int = 128, low: float = -1e5, high: float = 1e5):
        super().__init__()
        if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 2:
            raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}")
        low, high = _check_real("low", low), _check_real("high", high)
        if low >= high:
            raise ValueError(f"low must be smaller than high, got low={low!r}, high={high!r}")
        self.num_bins, self.low, self.high = int(num_bins), low, high
        self.register_buffer("bins", self._make_bins(torch.device("cpu")), persistent=False)

    def _make_bins(self, device: torch.device) -> torch.Tensor:
        # float64 linspace, then float32: the bins are exactly symmetric and match numpy to ~1e-7
        edges = symlog(torch.tensor([self.low, self.high], dtype=torch.float64))
        bins = torch.linspace(edges[0].item(), edges[1].item(), self.num_bins, dtype=torch.float64)
        return bins.to(device=device, dtype=torch.float32)

    def _apply(self, fn, *args, **kwargs):
        # Keep `bins` float32 under `.half()` / `.to(torch.bfloat16)`; only follow device moves.
        super()._apply(fn, *args, **kwargs)
        if self.bins.dtype != torch.float32:
            self.bins = self._make_bins(self.bins.device)
        return self

    @property
    def bin_spacing(self) -> float:
        """Distance between neighbouring bins in symlog space."""
        return (math.copysign(math.log1p(abs(self.high)), self.high)
                - math.copysign(math.log1p(abs(self.low)), self.low)) / (self.num_bins - 1)

    def extra_repr(self) -> str:
        return f"num_bins={self.num_bins}, low={self.low:g}, high={self.high:g}"

    def neighbour_bins(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two bins around each value and the weight of the upper one (the sparse two-hot).

        values (...) -> (index_below (...) int64 in [0, N-2], weight_above (...) float32 in [0, 1]);
        the label is ``(1 - weight_above)`` on bin ``index_below`` and ``weight_above`` on
        ``index_below + 1``. With s = symlog(y) clipped to [b_0, b_{N-1}] and b_k <= s <= b_{k+1}:
            label_k = (b_{k+1} - s) / (b_{k+1} - b_k),   label_{k+1} = (s - b_k) / (b_{k+1} - b_k).
        Raises ValueError on NaN or infinite values.
        """
        bins = self.bins
        s = symlog(torch.as_tensor(values, device=bins.device).float())
        if not bool(torch.isfinite(s).all()):
            raise ValueError("targets must be finite: got NaN or inf values to encode")
        s = s.clamp(bins[0], bins[-1])
        # bucketize counts the bins <= s; clamp so that k + 1 is still a bin at the top edge
        index_below = (torch.bucketize(s, bins, right=True) - 1).clamp(0, self.num_bins - 2)
        b_below, b_above = bins[index_below], bins[index_below + 1]
        weight_above = ((s - b_below) / (b_above - b_below)).clamp(0.0, 1.0)
        return index_below, weight_above

    def encode(self, values: torch.Tensor) -> torch.Tensor:
        """Two-hot label of each value: (...) -> (..., num_bins) float32 probabilities.

        Mass sits on at most two neighbouring bins (see :meth:`neighbour_bins`) and
        sum_i label_i * b_i = symlog(y) exactly, so decoding a label gives the value back;
        a value on a bin gives a one-hot label. Raises ValueError on NaN or infinite values.
        """
        index_below, weight_above = self.neighbour_bins(values)
        labels = torch.zeros(*index_below.shape, self.num_bins, device=self.bins.device)
        labels.scatter_(-1, index_below.unsqueeze(-1), (1.0 - weight_above).unsqueeze(-1))
        labels.scatter_(-1, index_below.unsqueeze(-1) + 1, weight_above.unsqueeze(-1))
        return labels

    def decode_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """Value of a categorical distribution: (..., num_bins) probabilities -> (...) float32.

        value = symexp( sum_i p_i * b_i ): the expectation is taken in symlog space (DreamerV3
        convention), so it is *not* E[return] when the distribution is wide (Jensen).
        """
        self._check_last_dim("probs", probs)
        # outside autocast: a bf16 matmul here keeps ~3 digits of the value, and advantages are
        # differences of nearby values (their sign picks the actions filtered BC imitates)
        with torch.autocast(probs.device.type, enabled=False):
            return symexp(probs.float() @ self.bins)

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Value predicted by critic logits: (..., num_bins) -> (...) float32; softmax then
        :meth:`decode_probs`. bf16 logits (autocast) are upcast first."""
        self._check_last_dim("logits", logits)
        return self.decode_probs(F.softmax(logits.float(), dim=-1))

    def _check_last_dim(self, name: str, x: torch.Tensor) -> None:
        if x.dim() == 0 or x.shape[-1] != self.num_bins:
            raise ValueError(
                f"{name} must have a last dimension of num_bins={self.num_bins}, got shape {tuple(x.shape)}"
            )
