"""Tests for amago_edu.learning: the optimiser (AdamW, weight decay, targets excluded), the linear lr warm-up
and the global gradient-norm clip of ``update_step``, each against numbers computed by hand; ``update_step``
under bf16 autocast."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from amago_edu.config import TrainConfig
from amago_edu.learning import autocast_context, make_optimizer, update_step
from helpers import make_agent, random_batch, seeded_loss


def test_optimizer_is_adamw_on_every_parameter_but_the_targets():
    agent = make_agent()
    optimizer, _ = make_optimizer(agent, lr=1e-3)
    assert type(optimizer) is torch.optim.AdamW
    assert [group["weight_decay"] for group in optimizer.param_groups] == [1e-3]  # the default
    assert make_optimizer(agent, weight_decay=5e-3)[0].param_groups[0]["weight_decay"] == 5e-3
    assert TrainConfig().weight_decay == 1e-3

    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    names = {name for name, p in agent.named_parameters() if id(p) in optimised}
    everything = {name for name, _ in agent.named_parameters()}
    targets = {name for name in everything if name.startswith(("target_actor.", "target_critic."))}
    assert targets and names == everything - targets
    # by count: the targets are copies of the actor and critic heads, and only they are left out
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    optimised_count = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    assert optimised_count == count(agent) - count(agent.actor) - count(agent.critic)


def test_weight_decay_is_decoupled_and_applied_to_every_trainable_parameter():
    # AdamW with a zero gradient moves nothing but the decay: p <- p (1 - lr * wd), with the first update's lr/W
    agent = make_agent()
    lr, wd, W = 0.1, 0.01, 4
    optimizer, _ = make_optimizer(agent, lr=lr, weight_decay=wd, warmup_updates=W)
    before = [p.detach().clone() for p in agent.trainable_parameters()]
    targets = [p.detach().clone() for p in agent.target_critic.parameters()]
    for p in agent.trainable_parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for old, new in zip(before, agent.trainable_parameters()):
        torch.testing.assert_close(new.detach(), old * (1 - (0.1 / 4) * 0.01))
    assert all(torch.equal(old, new) for old, new in zip(targets, agent.target_critic.parameters()))


def test_lr_warms_up_linearly_then_stays_constant():
    # W = 4, lr = 0.4: the updates use 0.1, 0.2, 0.3, 0.4, then 0.4 for good (the first update's lr is lr / W)
    agent = make_agent()
    optimizer, scheduler = make_optimizer(agent, lr=0.4, warmup_updates=4)
    used = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
    batch = random_batch()
    reported = [update_step(agent, optimizer, scheduler, batch)["lr"] for _ in range(6)]
    assert used == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert reported == pytest.approx([0.2, 0.3, 0.4, 0.4, 0.4, 0.4])  # stats["lr"]: the rate of the next update
    # no warm-up (W = 0 or 1): the full rate from the first update
    for W in (0, 1):
        assert make_optimizer(agent, lr=0.4, warmup_updates=W)[0].param_groups[0]["lr"] == pytest.approx(0.4)


def loss_with_gradient_3_and_4(agent):
    """A loss whose gradient is 3 on one critic bias entry and 4 on one actor bias entry (global norm 5),
    0 elsewhere; update_step reads only these three keys."""
    def loss(batch):
        value = 3.0 * agent.critic.out.bias.view(-1)[0] + 4.0 * agent.actor.net[-1].bias[0]
        return {"loss": value, "critic_loss": value.detach(), "actor_loss": value.detach()}
    return loss


@pytest.mark.parametrize("grad_clip, scale", [(1.0, 1.0 / 5.0), (2.0, 2.0 / 5.0), (10.0, 1.0)])
def test_update_step_clips_the_global_gradient_norm(grad_clip, scale, monkeypatch):
    agent = make_agent()
    monkeypatch.setattr(agent, "loss", loss_with_gradient_3_and_4(agent))
    optimizer, scheduler = make_optimizer(agent, lr=1e-3, warmup_updates=1)
    stats = update_step(agent, optimizer, scheduler, random_batch(), grad_clip=grad_clip)
    assert stats["skipped"] == 0.0
    assert stats["grad_norm"] == pytest.approx(5.0)  # sqrt(3^2 + 4^2), before clipping
    # after clipping (the gradients stay on the parameters): (3, 4) * min(1, clip / 5)
    critic_grad, actor_grad = agent.critic.out.bias.grad.view(-1), agent.actor.net[-1].bias.grad
    assert critic_grad[0].item() == pytest.approx(3.0 * scale, rel=1e-5)
    assert actor_grad[0].item() == pytest.approx(4.0 * scale, rel=1e-5)
    assert not critic_grad[1:].any() and not actor_grad[1:].any()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in agent.trainable_parameters() if p.grad is not None))
    assert norm.item() == pytest.approx(min(grad_clip, 5.0), rel=1e-5)
    assert TrainConfig().grad_clip == 1.0


# ------------------------------------------------------------------------------------------------
# GPU readiness on a CPU: bf16 autocast
# ------------------------------------------------------------------------------------------------
def test_update_step_under_bf16_autocast():
    agent = make_agent()
    batch = random_batch()
    fp32 = seeded_loss(agent, batch)

    def bf16():
        context = autocast_context(torch.device("cpu"), "bf16")
        assert not isinstance(context, contextlib.nullcontext)
        return context

    optimizer, scheduler = make_optimizer(agent, lr=1e-3, warmup_updates=1)
    torch.manual_seed(123)
    stats = update_step(agent, optimizer, scheduler, batch, autocast=bf16)
    assert stats["skipped"] == 0.0
    for key in ("loss", "critic_loss", "actor_loss", "grad_norm"):
        assert np.isfinite(stats[key]), key
    # bf16 keeps ~3 significant digits: the loss is the fp32 loss up to rounding
    assert stats["critic_loss"] == pytest.approx(float(fp32["critic_loss"]), rel=0.05)
    assert isinstance(autocast_context(torch.device("cpu"), "auto"), contextlib.nullcontext)
