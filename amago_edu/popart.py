"""PopArt: one global running normalisation of the TD targets per discount factor.

The paper's scale-dependent ("Dep.") critic is scalar regression with a *global* PopArt layer
(AMAGO-2 App. A, Base RL Details; van Hasselt et al. 2016, "Learning values across many orders of
magnitude"; the authors' ``PopArtLayer`` in ``amago/nets/actor_critic.py``). The network predicts a
normalised value x; the value is ``Q = sigma * x + mu``, where mu and sigma are running statistics
of the TD targets y:

    beta_t = beta / (1 - (1 - beta)^t)                      bias-corrected step (t = update count)
    mu    <- (1 - beta_t) mu + beta_t mean(y)               nu <- (1 - beta_t) nu + beta_t mean(y^2)
    sigma  = clamp(sqrt(nu - mu^2), 1e-4, 1e6)

When mu and sigma move, the last linear layer is rescaled so that every output Q stays the same
("preserving outputs precisely"):  w <- w sigma / sigma',  b <- (sigma b + mu - mu') / sigma'.
The regression then runs on normalised targets (y - mu) / sigma, and the maximise-Q actor term is
divided by sigma.

Why this does not fix multi-task scale imbalance: the statistics are *global* (one mu, sigma per
discount factor, pooled over every task), because a per-task PopArt would need task labels
(Sec. 2, Multi-Task Optimization). A mixture whose returns span x0.1 to x100 gets one sigma set by
the large task, and the small task's errors stay tiny after normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from . import distributed


class PopArt(nn.Module):
    """Running mean and second moment of TD targets, one pair per discount factor.

    Args:
        num_gammas: G, the number of discount factors (statistics are kept per gamma).
        step: beta, the exponential moving-average step (5e-4 in the authors' code).
        init_second_moment: nu before the first update (100 in the authors' code; the bias
            correction makes the first update replace it).
        sigma_range: sigma is clamped to this range.

    Buffers (saved in the checkpoint): ``mean`` (G,), ``second_moment`` (G,), ``updates`` ().
    ``normalize`` / ``denormalize`` act on tensors whose *last* dimension is G.
    """

    def __init__(self, num_gammas: int, step: float = 5e-4, init_second_moment: float = 100.0,
                 sigma_range: tuple[float, float] = (1e-4, 1e6)):
        super().__init__()
        self.step, self.sigma_range = float(step), sigma_range
        self.register_buffer("mean", torch.zeros(num_gammas))
        self.register_buffer("second_moment", torch.full((num_gammas,), float(init_second_moment)))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @property
    def sigma(self) -> torch.Tensor:
        """(G,) standard deviation of the TD targets."""
        variance = (self.second_moment - self.mean.pow(2)).clamp(min=0.0)
        return variance.sqrt().clamp(*self.sigma_range)

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        """(..., G) values -> (..., G) normalised values (y - mu) / sigma."""
        return (values - self.mean) / self.sigma

    def denormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        """(..., G) network outputs -> (..., G) values sigma * x + mu."""
        return normalized * self.sigma + self.mean

    @torch.no_grad()
    def update(self, targets: torch.Tensor, valid: torch.Tensor,
               layers: tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...] = ()) -> None:
        """Move the statistics toward the batch's TD targets and rescale ``layers`` to preserve outputs.

        Args:
            targets: (N, G) TD targets y (denormalised, i.e. in reward units).
            valid: (N,) bool, the rows that are real steps (padding is ignored).
            layers: (weight (..., out), bias (..., out), gamma_of_output (out,) long) triples; output
                column j of each layer is the normalised value of discount factor gamma_of_output[j].
                They are changed in place so that denormalize(layer output) does not change.
        Under torchrun the batch moments are averaged over processes, so every copy stays identical.
        """
        rows = targets[valid].double()
        count = torch.tensor([float(rows.shape[0])], dtype=torch.float64, device=targets.device)
        moments = torch.cat([rows.sum(0), rows.pow(2).sum(0), count])
        moments = distributed.all_reduce_sum(moments)
        G = targets.shape[-1]
        if moments[-1] == 0:
            return
        batch_mean, batch_square = (moments[:G] / moments[-1]).float(), (moments[G:2 * G] / moments[-1]).float()
        old_mean, old_sigma = self.mean.clone(), self.sigma
        self.updates += 1
        beta = self.step / (1.0 - (1.0 - self.step) ** int(self.updates))
        self.mean.mul_(1.0 - beta).add_(beta * batch_mean)
        self.second_moment.mul_(1.0 - beta).add_(beta * batch_square)
        new_mean, new_sigma = self.mean, self.sigma
        for weight, bias, gamma_of_output in layers:
            scale = (old_sigma / new_sigma)[gamma_of_output]  # (out,)
            shift = ((old_mean - new_mean) / new_sigma)[gamma_of_output]
            weight.mul_(scale)
            bias.mul_(scale).add_(shift)
