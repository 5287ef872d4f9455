"""The in-context agent: timestep encoder -> causal Transformer -> actor and critic heads.

One token per timestep (observation, previous action, previous reward, reset flag, trial progress)
goes through one shared causal Transformer over the whole trial; small actor and critic heads read
its output and both losses train it (AMAGO-2 Sec. 3, Transformers and RL via Supervised Learning;
Fig. 2).

Variants are switches, not copies (Sec. 3; Eqs. 1-4):

    critic = "two_hot"  classification over symlog bins, cross-entropy (Eq. 3)   (scale-independent)
             "popart"   scalar regression on PopArt-normalised targets (Eq. 1)   (the paper's Dep. critic)
             "mse"      raw scalar regression, no normalisation (Eq. 1)          (bare scale dependence)
    actor  = "filtered_bc"  -1[A(s, a_replay) > thr] * log pi(a_replay | s) (Eq. 4)  (scale-independent)
             "max_q"        -E_{a ~ pi}[Q(s, a)] (Eq. 2; divided by sigma under PopArt) (scale-dependent)

AMAGO-2 is (two_hot, filtered_bc); the paper's Dep./Dep. baseline is (popart, max_q); (mse, max_q)
is kept as a teaching variant that shows the raw scale dependence without any normalisation.

V(s) in the filtered-BC advantage (``state_value``): the authors' agent (``MultiTaskAgent`` in
``amago/agent.py``) averages Q over K = 3 actions sampled from the policy, so the critic's cost does
not grow with the number of actions. For discrete actions this package can also take the exact sum
V(s) = sum_a pi(a|s) Q(s, a), which scores every action; "auto" uses the exact sum for at most
``EXACT_VALUE_MAX_ACTIONS`` actions (cheap, and free of sampling noise) and samples above it.

Where we differ from the authors' code, and why:
- The sampled V(s) of the advantage draws its K actions from the policy without the replay action (see
  ``state_values``): the sign of the advantage then compares the replay action with the others, and a confident
  policy's own choice is judged by the critic instead of tying with itself (the authors' critic reads a softened
  one-hot replay action, which breaks such ties at random).
- Discrete critic: by default one output block per action (the action picks a block instead of being an input);
  ``critic_action="input"`` feeds a one-hot action to the first layer instead, as the authors' ``MultiTaskAgent``.
  Reading the blocks of chosen actions only is a speed path of its own (``amago_edu.grouped``, ``critic_outputs``).
- The discount factor picks an output block of the critic (multi-head) instead of being an input.
- The max-Q actor term for discrete actions uses the exact sum over actions (as the authors' ``Agent``).

Invalid actions of a multi-task mixture (``amago_edu.envs.multitask``): with ``invalid_actions="mask"``
the observation carries ``action_mask`` (the current game's valid actions). It is never an input of
the network (no task label reaches the Transformer); it only masks the policy's distribution when
acting, in the BC log-likelihood, in V(s) and in the TD target's next action.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from torch.autograd.profiler import record_function

from .losses import filtered_bc_actor_loss, masked_mean, max_q_actor_loss, mse_critic_loss, two_hot_critic_loss
from .pixels import PIXEL_KEY, ImpalaCNN, pixel_shape, shift_part_of_batch
from .grouped import grouped_outputs
from .popart import PopArt
from .transformer import CausalTransformer
from .twohot import TwoHot, symlog

CRITICS = ("two_hot", "popart", "mse")
CRITIC_ACTIONS = ("blocks", "input")
CRITIC_OUTPUTS = ("grouped", "gather")
BC_LOG_PROBS = ("clamped", "softmax")
ACTORS = ("filtered_bc", "max_q")
STATE_VALUES = ("auto", "exact", "sampled")
#: "auto" takes the exact V(s) = sum_a pi(a|s) Q(s, a) up to this many discrete actions, samples above
EXACT_VALUE_MAX_ACTIONS = 4
#: observation key of the valid-action mask (never a network input)
ACTION_MASK_KEY = "action_mask"


@dataclass
class AgentConfig:
    """Settings of the agent (network sizes and loss). Defaults: AMAGO-2 at a CPU-friendly size."""

    critic: str = "two_hot"
    """Critic loss: "two_hot" (AMAGO-2, classification), "popart" (the paper's Dep. critic: regression on
    PopArt-normalised targets) or "mse" (raw regression, the bare scale dependence)."""
    actor: str = "filtered_bc"
    """Actor loss: "filtered_bc" (AMAGO-2, imitate replay actions with A > threshold) or "max_q"."""
    d_model: int = 128
    """Width of the Transformer (and of every token)."""
    n_layers: int = 2
    """Number of Transformer blocks."""
    n_heads: int = 8
    """Attention heads; must divide d_model."""
    context_length: int = 128
    """Timesteps the Transformer sees; training windows hold context_length - 1 transitions."""
    dropout: float = 0.0
    """Dropout in the Transformer (the authors use 0.05 for long GPU runs)."""
    tstep_hidden: int = 128
    """Hidden width of the timestep encoder MLP."""
    head_hidden: int = 128
    """Hidden width of the actor and critic MLPs (two hidden layers each)."""
    num_critics: int = 4
    """Critic ensemble size (REDQ-style; the TD target averages a random pair)."""
    num_critics_td: int = 2
    """Critics averaged in each TD target, drawn with replacement per (batch, time, gamma)."""
    gammas: tuple[float, ...] = (0.1, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999)
    """Discount factors trained in parallel; the last one is used for acting."""
    num_bins: int = 64
    """Two-hot bins (paper: 64 for POPGym and BabyAI, 128 elsewhere)."""
    value_low: float = -1e5
    """Lowest value the two-hot bins cover (after reward_multiplier)."""
    value_high: float = 1e5
    """Highest value the two-hot bins cover (after reward_multiplier)."""
    reward_multiplier: float = 10.0
    """Rewards are multiplied by this inside the loss only (paper: 10 default, 100 POPGym)."""
    tau: float = 0.003
    """Polyak rate of the target actor and critic heads."""
    critic_loss_weight: float = 10.0
    """Total loss = actor loss + critic_loss_weight * critic loss."""
    filter_threshold: float = -1e-4
    """Filtered BC imitates replay actions with advantage > this. Slightly negative, as in the paper's runs
    (``binary_filter`` in the authors' ``amago/agent.py`` with threshold -1e-4), so an exact tie (A = 0: a state
    with one valid action, or actions the critic cannot yet tell apart) is imitated rather than dropped."""
    critic_action: str = "blocks"
    """Discrete critic's action: "blocks" (one output block per action; the action picks the block, so rows only
    train their own action's outputs) or "input" (a one-hot action enters the first layer beside the state, as in the
    authors' ``MultiTaskAgent``: every action shares the layers; V(s) and the TD target cost one critic pass per
    sampled action). Continuous actions are always an input."""
    critic_outputs: str = "grouped"
    """How a discrete critic reads Q(s, a) for chosen actions: "grouped" (rows sorted by action, one matmul per
    action's output block: cost of the blocks used; ``amago_edu.grouped``) or "gather" (every action's outputs, then
    pick: the plain way, A times the output layer's cost). Same values and gradients either way."""
    bc_log_prob: str = "clamped"
    """Discrete log pi(a_replay|s) in the filtered-BC loss: "clamped" (the log of the probabilities clamped to
    [0.001, 0.99] and renormalised, as the authors' ``Discrete`` in ``amago/nets/policy_dists.py``; where the policy
    saturates, the clamp passes no gradient, so BC can no longer move it) or "softmax" (log_softmax of the logits:
    the gradient always flows). Acting uses the clamped probabilities either way."""
    num_policy_samples: int = 3
    """K: actions sampled from the policy for V(s) = mean_k Q(s, a_k) in the advantage (authors' code: 3)."""
    state_value: str = "auto"
    """Discrete V(s) in the filtered-BC advantage: "sampled" (mean Q of num_policy_samples policy samples,
    the authors' way; cost independent of the action count), "exact" (sum_a pi(a|s) Q(s, a), scores every
    action) or "auto" (exact up to 4 actions, sampled above). Continuous actions always sample."""
    cnn_channels: tuple[int, ...] = (16, 32, 32)
    """Channels of each IMPALA CNN stage for a "pixels" observation (App. A, Table 2: [16, 32, 32] for
    Procgen-easy and Atari, [20, 36, 64] for Procgen memory-hard); unused by envs without pixels."""
    random_shift: bool = False
    """DrQ-v2 augmentation of "pixels" (pad 4, replicate, random crop; amago_edu.pixels.random_shift), in training
    forward passes only (never when acting), on the last 75% of each batch's sequences with a shift per frame, as
    the authors' CNNTstepEncoder(drqv2_aug=True). Needs a "pixels" observation."""

    def validate(self) -> None:
        """Raise ValueError naming the field for any invalid setting."""
        if self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {CRITICS}, got {self.critic!r}")
        if self.actor not in ACTORS:
            raise ValueError(f"actor must be one of {ACTORS}, got {self.actor!r}")
        if self.bc_log_prob not in BC_LOG_PROBS:
            raise ValueError(f"bc_log_prob must be one of {BC_LOG_PROBS}, got {self.bc_log_prob!r}")
        if self.critic_outputs not in CRITIC_OUTPUTS:
            raise ValueError(f"critic_outputs must be one of {CRITIC_OUTPUTS}, got {self.critic_outputs!r}")
        if self.critic_action not in CRITIC_ACTIONS:
            raise ValueError(f"critic_action must be one of {CRITIC_ACTIONS}, got {self.critic_action!r}")
        if self.state_value not in STATE_VALUES:
            raise ValueError(f"state_value must be one of {STATE_VALUES}, got {self.state_value!r}")
        for name in ("d_model", "n_layers", "n_heads", "tstep_hidden", "head_hidden", "num_bins",
                     "num_critics_td", "num_policy_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads must divide d_model, got d_model={self.d_model}, n_heads={self.n_heads}")
        if isinstance(self.context_length, bool) or not isinstance(self.context_length, int) or self.context_length < 2:
            raise ValueError(f"context_length must be an integer >= 2, got {self.context_length!r}")
        if isinstance(self.num_critics, bool) or not isinstance(self.num_critics, int) or self.num_critics < 2:
            raise ValueError(f"num_critics must be an integer >= 2 (an ensemble), got {self.num_critics!r}")
        gammas = tuple(self.gammas)
        if not gammas:
            raise ValueError("gammas must be a non-empty list of discount factors in (0, 1)")
        for g in gammas:
            if not isinstance(g, (int, float)) or not (0.0 < g < 1.0):
                raise ValueError(f"gammas must all lie in (0, 1), got {g!r} in {gammas}")
        channels = tuple(self.cnn_channels) if isinstance(self.cnn_channels, (tuple, list)) else None
        if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"cnn_channels must be a non-empty list of positive integers (one per IMPALA stage, "
                             f"e.g. [16, 32, 32]), got {self.cnn_channels!r}")
        if not isinstance(self.random_shift, bool):
            raise ValueError(f"random_shift must be true or false, got {self.random_shift!r}")
        for name in ("dropout",):
            value = getattr(self, name)
            if not (0.0 <= value < 1.0):
                raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
        for name in ("reward_multiplier", "tau", "critic_loss_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite positive number, got {value!r}")
        if self.tau > 1:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau!r}")
        if not math.isfinite(self.filter_threshold):
            raise ValueError(f"filter_threshold must be finite, got {self.filter_threshold!r}")
        TwoHot(self.num_bins, self.value_low, self.value_high)  # validates the bin range


# ----------------------------------------------------------------------------------------------
# Timestep encoder: observation dict -> one token
# ----------------------------------------------------------------------------------------------
class TimestepEncoder(nn.Module):
    """Observation dict (B, T, ...) -> tokens (B, T, d_model).

    Flat float keys ("observation", "prev_action", "prev_reward", "reset", "progress", "direction", ...) are
    concatenated, the previous reward through symlog so large return scales stay bounded. With flat keys only,
    one MLP and a LayerNorm make the token (the authors' ``FFTstepEncoder``, ``amago/nets/tstep_encoders.py``).

    With a structured key, every input gets its own embedding and LayerNorm before they are fused, so a large
    block cannot drown a small one (a 7x7 grid's CNN features outnumber a mission's 9 words 50 to 1):

    - "image" (BabyAI's 7x7x3 grid codes): a small CNN with 2x2 kernels, a linear layer, LayerNorm;
    - "mission" (word ids, 0 = padding): an embedding, a GRU over the words, a linear layer, LayerNorm
      (the authors' ``TokenGoalEmb`` in ``amago/nets/goal_embedders.py``, with a GRU for their plain RNN);
    - "pixels" (uint8 (C, H, W) frames of Atari or Procgen): the IMPALA CNN (amago_edu.pixels; App. A, Model
      Architectures), LayerNorm;
    - the flat keys together: an MLP and LayerNorm (the authors' ``extras_processor``);

    then one linear layer and a LayerNorm fuse them (``BabyTstepEncoder`` in the authors' ``examples/10_babyai.py``).
    """

    MISSION_DIM, MISSION_HIDDEN, FLAT_DIM = 32, 64, 32

    def __init__(self, obs_space: spaces.Dict, d_model: int, hidden: int, cnn_channels: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        if not isinstance(obs_space, spaces.Dict):
            raise ValueError(f"the agent needs a Dict observation space (see amago_edu.envs), got {obs_space}")
        # the valid-action mask is never an input: it would tell the network which game it plays
        special = ("image", "mission", PIXEL_KEY, ACTION_MASK_KEY)
        self.flat_keys = sorted(k for k in obs_space.spaces if k not in special)
        for key in self.flat_keys:
            if not isinstance(obs_space[key], spaces.Box):
                raise ValueError(f"observation key {key!r} must be a Box space, got {obs_space[key]}")
        flat_width = sum(int(math.prod(obs_space[k].shape)) for k in self.flat_keys)
        self.structured = any(k in obs_space.spaces for k in ("image", "mission", PIXEL_KEY))
        self.flat = self.image = self.mission = self.pixels = None
        if not self.structured:
            if flat_width == 0:
                raise ValueError(f"the observation space has no key the encoder reads: {obs_space}")
            self.mlp = nn.Sequential(nn.Linear(flat_width, hidden), nn.LeakyReLU(), nn.Linear(hidden, d_model),
                                     nn.LayerNorm(d_model))
            return
        width = 0
        if flat_width:
            self.flat = nn.Sequential(nn.Linear(flat_width, hidden), nn.LeakyReLU(), nn.Linear(hidden, self.FLAT_DIM),
                                      nn.LayerNorm(self.FLAT_DIM))
            width += self.FLAT_DIM
        if "image" in obs_space.spaces:
            channels, side = obs_space["image"].shape[-1], obs_space["image"].shape[0] - 3
            self.image = nn.Sequential(  # GridworldCNN-like: tiny kernels on a 7x7 grid of codes
                nn.Conv2d(channels, 16, 2), nn.LeakyReLU(), nn.Conv2d(16, 32, 2), nn.LeakyReLU(),
                nn.Conv2d(32, 48, 2), nn.LeakyReLU(), nn.Flatten(), nn.Linear(48 * side * side, hidden),
                nn.LayerNorm(hidden),
            )
            width += hidden
        if "mission" in obs_space.spaces:
            vocab = int(obs_space["mission"].high.max()) + 1
            self.mission = nn.ModuleDict({
                "embed": nn.Embedding(vocab, self.MISSION_DIM, padding_idx=0),
                "gru": nn.GRU(self.MISSION_DIM, self.MISSION_HIDDEN, batch_first=True),
                "out": nn.Sequential(nn.Linear(self.MISSION_HIDDEN, self.MISSION_DIM), nn.LayerNorm(self.MISSION_DIM)),
            })
            width += self.MISSION_DIM
        if PIXEL_KEY in obs_space.spaces:
            C, H, W = pixel_shape(obs_space[PIXEL_KEY])
            self.pixels = nn.ModuleDict({"cnn": ImpalaCNN(C, tuple(cnn_channels), out_features=hidden, image_size=(H, W)),
                                         "norm": nn.LayerNorm(hidden)})
            width += hidden
        self.fuse = nn.Sequential(nn.Linear(width, d_model), nn.LayerNorm(d_model))

    def parts(self, obs: dict[str, torch.Tensor], augment: bool = False) -> dict[str, torch.Tensor]:
        """Each input's embedding before the fusion: {"flat" | "image" | "mission" | "pixels": (B, T, width)}
        (with flat keys only, {"flat": the concatenated keys}); :meth:`forward` fuses them into the token."""
        B, T = next(obs[k] for k in (*self.flat_keys, "image", "mission", PIXEL_KEY) if k in obs).shape[:2]
        out = {}
        if self.flat_keys:
            flat = torch.cat([symlog(obs[k].float().reshape(B, T, -1)) if k == "prev_reward"
                              else obs[k].float().reshape(B, T, -1) for k in self.flat_keys], dim=-1)
            out["flat"] = flat if self.flat is None else self.flat(flat)
        if self.image is not None:
            grid = obs["image"].float().reshape(B * T, *obs["image"].shape[2:]).permute(0, 3, 1, 2)  # (BT, C, 7, 7)
            out["image"] = self.image(grid / 10.0).reshape(B, T, -1)
        if self.mission is not None:
            tokens = obs["mission"].long().reshape(B * T, -1)  # (BT, W) word ids
            # a mission is fixed for a whole trial: embed each distinct one once (a batch holds a few dozen, not B*T)
            missions, which = torch.unique(tokens, dim=0, return_inverse=True)
            _, last = self.mission["gru"](self.mission["embed"](missions))  # (1, distinct, hidden)
            out["mission"] = self.mission["out"](last[0])[which].reshape(B, T, -1)
        if self.pixels is not None:
            frames = obs[PIXEL_KEY]  # (B, T, C, H, W) uint8: shifted (if at all) as uint8, scaled inside the CNN
            if augment:
                frames = shift_part_of_batch(frames)
            # the leaky ReLU plays the authors' activation on [image features, rl2 features] (CNNTstepEncoder)
            features = F.leaky_relu(self.pixels["cnn"](frames.reshape(B * T, *frames.shape[2:])))
            out["pixels"] = self.pixels["norm"](features).reshape(B, T, -1)
        return out

    def forward(self, obs: dict[str, torch.Tensor], augment: bool = False) -> torch.Tensor:
        """obs {key: (B, T, ...)} -> (B, T, d_model). ``augment``: random-shift part of the "pixels" batch
        (amago_edu.pixels.shift_part_of_batch); the agent asks for it in training forward passes only."""
        parts = self.parts(obs, augment=augment)
        if not self.structured:
            return self.mlp(parts["flat"])
        return self.fuse(torch.cat(list(parts.values()), dim=-1))


# ----------------------------------------------------------------------------------------------
# Heads
# ----------------------------------------------------------------------------------------------
class EnsembleLinear(nn.Module):
    """C independent linear layers applied as one batched matmul: (C, N, in) -> (C, N, out)."""

    def __init__(self, ensemble: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(ensemble, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(ensemble, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class CriticEnsemble(nn.Module):
    """C critics x G discount factors, each an MLP (2 hidden layers, leaky ReLU).

    Discrete actions: input s; one output block per action a holding G x K numbers (K = num_bins for
    two_hot, 1 for mse); weight (C, h, A*G*K). Continuous actions: input [s, a]; one block (A=1).
    """

    def __init__(self, state_dim: int, action_dim: int, discrete: bool, ensemble: int, hidden: int,
                 num_gammas: int, out_per_gamma: int, grouped: bool = True):
        super().__init__()
        self.discrete, self.G, self.K = discrete, num_gammas, out_per_gamma
        self.grouped = grouped  # chosen actions' outputs by amago_edu.grouped (same values, cost of the blocks used)
        in_features = state_dim if discrete else state_dim + action_dim
        self.blocks = action_dim if discrete else 1
        self.layer1 = EnsembleLinear(ensemble, in_features, hidden)
        self.layer2 = EnsembleLinear(ensemble, hidden, hidden)
        self.out = EnsembleLinear(ensemble, hidden, self.blocks * num_gammas * out_per_gamma)
        with torch.no_grad():
            self.out.bias.zero_()

    def hidden(self, state: torch.Tensor, action: torch.Tensor | None = None) -> torch.Tensor:
        """state (N, d) [, continuous action (N, D)] -> (C, N, h)."""
        x = state if self.discrete else torch.cat([state, action], dim=-1)
        x = x.unsqueeze(0).expand(self.layer1.weight.shape[0], -1, -1)
        return F.leaky_relu(self.layer2(F.leaky_relu(self.layer1(x))))

    def all_actions(self, hidden: torch.Tensor) -> torch.Tensor:
        """Discrete: outputs for every action, (C, N, h) -> (C, N, A, G, K)."""
        C, N, _ = hidden.shape
        return self.out(hidden).view(C, N, self.blocks, self.G, self.K)

    def chosen_action(self, hidden: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs for one action per row, (C, N, h), actions (N,) -> (C, N, G, K). ``grouped``: rows are grouped by
        action, one batched matmul per action's block of the output layer (the cost of one action's outputs instead
        of all A); otherwise every action's outputs are computed and the chosen one gathered."""
        C, N, _ = hidden.shape
        if self.blocks == 1:
            return self.out(hidden).view(C, N, self.G, self.K)
        if not self.grouped:  # every action's outputs, then the chosen one's
            return self.all_actions(hidden)[:, torch.arange(N, device=actions.device), actions]
        return grouped_outputs(self.out.weight, self.out.bias, hidden, actions, self.G * self.K).view(C, N, self.G, self.K)

    def chosen_action_per_gamma(self, hidden: torch.Tensor, actions: torch.Tensor, reduce=None) -> torch.Tensor:
        """Discrete: gamma g read with its own action a_g; (C, N, h), actions (N, G) -> (C, N, G, K),
        or M actions per gamma, (N, M, G) -> (C, N, M, G, K). Costs M x G output blocks per row, not A x G.

        ``reduce(outputs (C, R, K), gamma (R,) long) -> (C, R)`` (e.g. the two-hot decode) is applied to each
        group of outputs as it is computed, before the rows are put back in order, so only the reduced values are
        moved: -> (C, N, [M,] G).
        """
        C, N, _ = hidden.shape
        per_row = actions[0].numel()  # M * G
        source = torch.arange(N, device=actions.device).repeat_interleave(per_row)  # hidden row of each output
        gamma = torch.arange(self.G, device=actions.device).repeat(N * per_row // self.G)
        out = self.pairs(hidden, source, actions.reshape(-1), gamma, reduce=reduce)
        return out.view(C, *actions.shape) if reduce is not None else out.view(C, *actions.shape, self.K)

    def pairs(self, hidden: torch.Tensor, rows: torch.Tensor, actions: torch.Tensor, gammas: torch.Tensor,
              reduce=None) -> torch.Tensor:
        """Discrete: output r is Q_{gammas[r]}(s_{rows[r]}, actions[r]); (C, N, h), three (R,) long tensors
        -> (C, R, K), or (C, R) with ``reduce`` as in :meth:`chosen_action_per_gamma`."""
        if not self.grouped:  # every action's outputs, then the chosen (row, action, gamma) triples
            out = self.all_actions(hidden)[:, rows, actions, gammas]  # (C, R, K)
            return out if reduce is None else reduce(out, gammas)
        keys = actions * self.G + gammas  # output block of (a, g) pairs, K numbers each
        group_reduce = None if reduce is None else (lambda out, group_keys: reduce(out, group_keys % self.G))
        return grouped_outputs(self.out.weight, self.out.bias, hidden, keys, self.K, source=rows, reduce=group_reduce)

    def per_gamma_actions(self, state: torch.Tensor, actions: torch.Tensor, detach_params: bool = False) -> torch.Tensor:
        """Continuous: Q_g(s, a_g), each gamma read with its own action; state (N, d), actions (N, G, D)
        -> (C, N, G, K). ``detach_params`` freezes the critic so a max-Q actor gradient cannot move it."""
        N, G, D = actions.shape
        x = torch.cat([state.repeat_interleave(G, 0), actions.reshape(N * G, D)], dim=-1)  # (N*G, d+D)
        x = x.unsqueeze(0).expand(self.layer1.weight.shape[0], -1, -1)
        params = [self.layer1.weight, self.layer1.bias, self.layer2.weight, self.layer2.bias,
                  self.out.weight, self.out.bias]
        if detach_params:
            params = [p.detach() for p in params]
        w1, b1, w2, b2, w3, b3 = params
        x = F.leaky_relu(torch.baddbmm(b2, F.leaky_relu(torch.baddbmm(b1, x, w1)), w2))  # (C, N*G, h)
        C, h = x.shape[0], x.shape[-1]
        # row (n, g) needs only gamma g's K outputs: one (h, K) block per gamma, not all G x K columns
        out = torch.einsum("cngh,chgk->cngk", x.view(C, N, G, h), w3.view(C, h, G, self.K))
        return out + b3.view(C, 1, G, self.K)  # (C, N, G, K)


class Actor(nn.Module):
    """MLP -> one action distribution per discount factor.

    Discrete: probabilities clamped to [0.001, 0.99] and renormalised (as the authors' discrete actor
    in ``amago/nets/policy_dists.py``) so log pi of replay actions stays bounded; an ``action_mask``
    gives invalid actions probability exactly 0. Continuous: tanh-Gaussian with log std in [-5, 2].
    """

    def __init__(self, state_dim: int, action_space: spaces.Space, hidden: int, num_gammas: int):
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.A = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.G = num_gammas
        out = num_gammas * self.A * (1 if self.discrete else 2)
        self.net = nn.Sequential(nn.Linear(state_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(), nn.Linear(hidden, out))

    def forward(self, state: torch.Tensor, action_mask: torch.Tensor | None = None, log_softmax: bool = False):
        """state (..., d) [, discrete action_mask (..., A) bool, True = valid] -> discrete probs (..., G, A),
        or continuous (mean, std) each (..., G, D). ``log_softmax``: discrete only, also return the unclamped
        log-probabilities (..., G, A)."""
        out = self.net(state).float().unflatten(-1, (self.G, -1))
        if self.discrete:
            valid = None
            if action_mask is not None:
                valid = action_mask.bool()
                valid = (valid | ~valid.any(-1, keepdim=True)).unsqueeze(-2)  # (..., 1, A); padding (none valid): all
                out = out.masked_fill(~valid, float("-inf"))
            probs = F.softmax(out, dim=-1).clamp(0.001, 0.99)
            if valid is not None:
                probs = torch.where(valid, probs, torch.zeros((), device=probs.device))
            probs = probs / probs.sum(-1, keepdim=True)
            return (probs, F.log_softmax(out, dim=-1)) if log_softmax else probs
        mean, log_std = out.chunk(2, dim=-1)
        log_std = -5.0 + 3.5 * (torch.tanh(log_std) + 1.0)
        return mean, log_std.exp()


def tanh_gaussian_log_prob(mean, std, action):
    """log pi(a|s) of a tanh-squashed Gaussian; action (..., D) in (-1, 1) -> (...)."""
    action = action.clamp(-0.995, 0.995)
    z = torch.atanh(action)
    log_prob = torch.distributions.Normal(mean, std).log_prob(z) - torch.log1p(-action.pow(2) + 1e-6)
    return log_prob.sum(-1).clamp(-1e3, 1e3)


# ----------------------------------------------------------------------------------------------
# The agent
# ----------------------------------------------------------------------------------------------
class Agent(nn.Module):
    """Timestep encoder + causal Transformer + actor + critic ensemble, with target heads.

    The sequence model is shared and trained by both losses; only the actor and critic heads have
    Polyak-averaged target copies (as in the authors' ``amago/agent.py``). TD targets use the *online* (detached) Transformer
    output of the next step from the same forward pass.
    """

    def __init__(self, obs_space: spaces.Dict, action_space: spaces.Space, config: AgentConfig | None = None):
        super().__init__()
        config = config or AgentConfig()
        config.validate()
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise ValueError(f"action space must be Discrete or Box, got {action_space}")
        if isinstance(action_space, spaces.Box) and (action_space.low.min() < -1 or action_space.high.max() > 1):
            raise ValueError("continuous actions must lie in [-1, 1]; rescale the env's action space first")
        self.config, self.obs_space, self.action_space = config, obs_space, action_space
        self.discrete = isinstance(action_space, spaces.Discrete)
        d = config.d_model
        self.encoder = TimestepEncoder(obs_space, d, config.tstep_hidden, config.cnn_channels)
        if config.random_shift and self.encoder.pixels is None:
            raise ValueError(f"random_shift=True augments a {PIXEL_KEY!r} observation, and this env has none "
                             f"(keys {sorted(obs_space.spaces)}); set random_shift=False")
        self.transformer = CausalTransformer(d, config.n_layers, config.n_heads, config.context_length,
                                             dropout=config.dropout)
        self.actor = Actor(d, action_space, config.head_hidden, len(config.gammas))
        out_per_gamma = config.num_bins if config.critic == "two_hot" else 1
        #: discrete actions fed to the critic as one-hot inputs (critic_action="input") instead of picking a block
        self.action_input = self.discrete and config.critic_action == "input"
        self.critic = CriticEnsemble(d, self.actor.A, self.discrete and not self.action_input, config.num_critics,
                                     config.head_hidden, len(config.gammas), out_per_gamma,
                                     grouped=config.critic_outputs == "grouped")
        self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.twohot = TwoHot(config.num_bins, config.value_low, config.value_high)
        self.popart = PopArt(len(config.gammas)) if config.critic == "popart" else None
        self.register_buffer("gammas", torch.tensor(config.gammas, dtype=torch.float32), persistent=False)
        # the critic's output columns are laid out (action, gamma, K): the gamma of each column (PopArt rescale)
        self.register_buffer("_gamma_of_output", torch.arange(self.critic.blocks * len(config.gammas))
                             .remainder(len(config.gammas)), persistent=False)
        if self.discrete and config.state_value == "exact":
            self.exact_state_value = True
        elif self.discrete and config.state_value == "auto":
            self.exact_state_value = self.actor.A <= EXACT_VALUE_MAX_ACTIONS
        else:
            self.exact_state_value = False

    # -- helpers -------------------------------------------------------------------------------
    def trainable_parameters(self):
        """Everything but the target heads (they move only by Polyak averaging)."""
        return [p for name, p in self.named_parameters() if not name.startswith("target_")]

    @torch.no_grad()
    def update_targets(self) -> None:
        """theta_target <- (1 - tau) * theta_target + tau * theta (App. A, Table 1: tau = 0.003)."""
        for online, target in ((self.actor, self.target_actor), (self.critic, self.target_critic)):
            torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), self.config.tau)

    def values(self, outputs: torch.Tensor) -> torch.Tensor:
        """Critic outputs (..., G, K) -> scalar values (..., G): two-hot decode, PopArt denormalisation
        (sigma_g * x + mu_g), or a plain squeeze for mse."""
        if self.config.critic == "two_hot":
            return self.twohot.decode(outputs)
        values = outputs.squeeze(-1).float()
        return self.popart.denormalize(values) if self.popart is not None else values

    def values_of_gamma(self, outputs: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """Critic outputs (C, R, K) whose rows belong to discount factors ``gamma`` (R,) (indices) -> values (C, R)."""
        if self.config.critic == "two_hot":
            return self.twohot.decode(outputs)
        values = outputs.squeeze(-1).float()
        if self.popart is None:
            return values
        return values * self.popart.sigma[gamma] + self.popart.mean[gamma]

    def one_hot(self, actions: torch.Tensor) -> torch.Tensor:
        """Discrete action indices (...) -> one-hot float vectors (..., A), the critic's input with critic_action="input"."""
        return F.one_hot(actions, self.actor.A).float()

    def q_per_gamma(self, critic: CriticEnsemble, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Discrete: Q_g(s, a_g) of every critic, gamma g read with its own action: state (N, d), actions (N, G)
        -> values (C, N, G). The cost of G actions' outputs, not A's, whichever way the action enters."""
        if self.action_input:
            return self.values(critic.per_gamma_actions(state, self.one_hot(actions)))
        return critic.chosen_action_per_gamma(critic.hidden(state), actions, reduce=self.values_of_gamma)

    def all_action_values(self, hidden: torch.Tensor | None, state: torch.Tensor | None = None) -> torch.Tensor:
        """Discrete: Q(s, a) of every action, averaged over the critics -> (N, G, A). Output blocks: from the critic
        hidden (C, N, h); action input: from the state (N, d), one critic pass per action."""
        if not self.action_input:
            return self.values(self.critic.all_actions(hidden)).mean(0).transpose(1, 2)
        every = torch.eye(self.actor.A, device=state.device)
        return torch.stack([self.values(self.critic.chosen_action(self.critic.hidden(state, a.expand(len(state), -1))))
                            .mean(0) for a in every], dim=-1)

    def state_values(self, hidden: torch.Tensor | None, probs: torch.Tensor, state: torch.Tensor | None = None,
                     replay: torch.Tensor | None = None) -> torch.Tensor:
        """Discrete V(s): critic hidden (C, N, h) (output blocks) or the state (N, d) (action input), policy probs
        (N, G, A) -> (N, G), without gradient.

        With the replay actions ``replay`` (N,), the sampled estimate draws from the policy *without* the replay
        action (renormalised; rows with no other valid action keep it). The exact advantage is
        A = Q(a) - sum_b pi(b) Q(b) = (1 - pi(a)) (Q(a) - E_{b ~ pi, b != a} Q(b)): its sign is the sign of Q(a)
        against the other actions' mean, which these draws estimate. Draws of a itself only add exact zeros:
        a confident policy (pi(a) near 0.99) draws its own action K times nearly always, and the filter would then
        keep (threshold < 0) or drop (threshold 0) its choice whatever the critic says of it.

        Exact: sum_a pi(a|s) Q(s, a) (scores all A actions). Sampled: mean over K = num_policy_samples
        actions a_k ~ pi_g(.|s) of Q(s, a_k), averaged over the critics (the authors' estimate; at most K x G
        output blocks per row whatever A is, see :meth:`sampled_state_values`). Both have the same expectation.
        """
        with torch.no_grad():
            if self.exact_state_value:
                return (self.all_action_values(hidden, state) * probs).sum(-1)
            N, G, A = probs.shape
            K = self.config.num_policy_samples
            if replay is not None:
                others = probs.scatter(-1, replay.view(N, 1, 1).expand(N, G, 1), 0.0)
                alone = others.sum(-1, keepdim=True) <= 0  # no other action has probability: keep a (A = 0)
                probs = torch.where(alone, probs, others)
            samples = torch.multinomial(probs.reshape(N * G, A), K, replacement=True).view(N, G, K)
            if self.action_input:  # one critic pass per draw, each gamma with its own action
                return torch.stack([self.q_per_gamma(self.critic, state, samples[..., k]).mean(0)
                                    for k in range(K)]).mean(0)
            return self.sampled_state_values(hidden, samples)

    def sampled_state_values(self, hidden: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """mean_k mean_c Q_c,g(s_n, a_ngk) for sampled actions (N, G, K) -> (N, G), without gradient.

        A distinct (state, gamma, action) is scored once and weighted by how often it was drawn: the same
        value as scoring all K draws, at the cost of the distinct ones (a confident policy draws one action
        K times, so late in training this is close to one output block per gamma instead of K).
        """
        with torch.no_grad():
            N, G, K = samples.shape
            counts = F.one_hot(samples, self.actor.A).sum(2)  # (N, G, A)
            n, g, a = counts.nonzero(as_tuple=True)
            q = self.critic.pairs(hidden, n, a, g, reduce=self.values_of_gamma).mean(0)  # (R,), mean of critics
            weighted = q * (counts[n, g, a].float() / K)
            return torch.zeros(N, G, device=q.device).index_put_((n, g), weighted, accumulate=True)

    def action_mask(self, obs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The valid-action mask of the observations, (..., A) bool, or None when the env has none."""
        mask = obs.get(ACTION_MASK_KEY)
        return None if mask is None else mask > 0.5

    def sequence(self, obs: dict[str, torch.Tensor], time: torch.Tensor, augment: bool = False) -> torch.Tensor:
        """obs (B, T, ...), time (B, T) -> Transformer states (B, T, d_model); ``augment``: random-shift pixels."""
        return self.transformer(self.encoder(obs, augment=augment), time)

    # -- the loss, in named steps --------------------------------------------------------------------
    def loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """One AMAGO-2 update's loss on a batch of windows (see amago_edu.replay.sample_batch):
        ``actor loss + critic_loss_weight * critic loss``, every step a method below, in this order.

        batch: obs {key: (B, L+1, ...)}, time (B, L+1), actions (B, L) long or (B, L, D),
        rewards (B, L), terminals (B, L), mask (B, L) (transition t exists).
        Returns {"loss": scalar to minimise, plus detached diagnostics}.
        """
        step = self.unpack(batch)  # s_t (gradient), s_t+1 (detached), actions, rewards, masks; N = B x L rows
        y = self.td_target(step)  # (N, G): R r + gamma (1 - d) Q_target(s', a' ~ pi_target)
        self.move_popart_statistics(y, step)  # the Dep. baseline only: mu, sigma move toward y; outputs unchanged
        q_out, hidden = self.replay_q_outputs(step)  # critic outputs of Q(s_t, a_t): (C, N, G, K)
        critic_loss = self.critic_loss(q_out, y, step)  # two-hot cross-entropy (Eq. 3), or (PopArt-)MSE
        policy = self.policy_of(step)  # log pi(a_t | s_t) and what the actor loss and V(s) need
        v = self.state_value(step, hidden, policy)  # (N, G): V(s_t), no gradient
        q_replay = self.values(q_out.detach()).mean(0)  # (N, G): Q(s_t, a_t), mean of the critics
        advantage = q_replay - v  # (N, G): A = Q(s_t, a_t) - V(s_t)
        actor_loss = self.actor_loss(step, policy, advantage, hidden)  # filtered BC (Eq. 4), or max-Q (Eq. 2)
        return self.diagnostics(step, actor_loss + self.config.critic_loss_weight * critic_loss, critic_loss,
                                actor_loss, y, q_replay, advantage, policy)

    def unpack(self, batch: dict) -> dict:
        """The Transformer over the windows, and the batch flattened to N = B x L rows."""
        with record_function("sequence_model"):  # named scopes: benchmarks/update_speed.py splits the cost
            # DrQ-v2 shifts in training forward passes only (the authors' CNNTstepEncoder); s_{t+1} comes from the same pass
            augment = self.config.random_shift and self.training
            states = self.sequence(batch["obs"], batch["time"], augment=augment)  # (B, L+1, d)
        B, L = batch["rewards"].shape
        valid_actions = self.action_mask(batch["obs"])  # (B, L+1, A) bool or None
        return {
            "B": B, "L": L, "mask": batch["mask"],
            "s": states[:, :-1].reshape(B * L, -1),  # (N, d) state at t, with gradient
            "s_next": states[:, 1:].reshape(B * L, -1).detach(),  # (N, d) state at t+1; no target encoder
            "actions": batch["actions"].reshape(B * L, *batch["actions"].shape[2:]),
            "rewards": batch["rewards"].reshape(B * L, 1).float(),
            "not_done": 1.0 - batch["terminals"].reshape(B * L, 1).float(),
            "valid_now": None if valid_actions is None else valid_actions[:, :-1].reshape(B * L, -1),
            "valid_next": None if valid_actions is None else valid_actions[:, 1:].reshape(B * L, -1),
        }

    @torch.no_grad()
    def td_target(self, step: dict) -> torch.Tensor:
        """y_g = R_mult * r + gamma_g * (1 - done) * mean of a random pair of target critics' Q_g(s', a'_g), with
        a'_g ~ pi_target,g(.|s') one draw per discount factor -> (N, G)."""
        cfg, s_next, G = self.config, step["s_next"], len(self.config.gammas)
        with record_function("td_target"):
            if self.discrete:
                policy = self.target_actor(s_next, step["valid_next"])
                a_next = torch.multinomial(policy.reshape(-1, self.actor.A), 1).view(len(s_next), G)
                q_next = self.q_per_gamma(self.target_critic, s_next, a_next)  # (C, N, G)
            else:
                mean, std = self.target_actor(s_next)
                a_next = torch.tanh(mean + std * torch.randn_like(mean))  # (N, G, D): one sample per gamma
                q_next = self.values(self.target_critic.per_gamma_actions(s_next, a_next))  # (C, N, G)
            pick = torch.randint(cfg.num_critics, (cfg.num_critics_td, len(s_next), G), device=s_next.device)
            q_next = q_next.gather(0, pick).mean(0)  # (N, G)
            return cfg.reward_multiplier * step["rewards"] + self.gammas.view(1, G) * step["not_done"] * q_next

    def move_popart_statistics(self, y: torch.Tensor, step: dict) -> None:
        """PopArt (the paper's Dep. critic, App. A) in training: mu and sigma move toward this batch's targets y, and
        the online and target critics' output layers are rescaled so their values do not change. It comes before
        the critic loss normalises y, as in the authors' ``Agent`` (statistics first, then the loss), so the first
        batch is already normalised by its own statistics. A no-op for the other critics and in eval mode."""
        if self.popart is not None and self.training:
            self.popart.update(y, step["mask"].reshape(-1), layers=[
                (head.out.weight, head.out.bias, self._gamma_of_output) for head in (self.critic, self.target_critic)])

    def replay_q_outputs(self, step: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics' outputs for the replay action, (C, N, G, K) with gradient, and their hidden layer (C, N, h)."""
        s, actions = step["s"], step["actions"]
        with record_function("critic_loss"):
            if self.action_input:  # the action is an input: one block of outputs
                hidden, pick = self.critic.hidden(s, self.one_hot(actions)), None
            else:  # discrete: the action picks its block; continuous: the action is an input
                hidden, pick = self.critic.hidden(s, None if self.discrete else actions), actions if self.discrete else None
            return self.critic.chosen_action(hidden, pick), hidden

    def critic_loss(self, q_out: torch.Tensor, y: torch.Tensor, step: dict) -> torch.Tensor:
        """Every critic and discount factor against the same target: two-hot cross-entropy (Eq. 3), MSE on
        PopArt-normalised targets, or raw MSE (Eq. 1); a masked mean over real steps."""
        C, B, L, G = self.config.num_critics, step["B"], step["L"], len(self.config.gammas)
        with record_function("critic_loss"):
            per_critic = q_out.view(C * B, L, G, -1)  # the critics as C x B sequences (a view, no copy)
            targets = y.view(1, B, L, G).expand(C, B, L, G).reshape(C * B, L, G)
            mask = step["mask"].repeat(C, 1)
            if self.config.critic == "two_hot":
                return two_hot_critic_loss(per_critic, targets, self.twohot, mask)
            if self.config.critic == "popart":  # regression in normalised space (the network predicts (Q - mu) / sigma)
                return mse_critic_loss(per_critic.squeeze(-1).float(), self.popart.normalize(targets), mask)
            return mse_critic_loss(per_critic.squeeze(-1).float(), targets, mask)

    def policy_of(self, step: dict) -> dict:
        """pi(.|s_t) for every discount factor: "log_prob" of the replay action (N, G) with gradient, "entropy"
        (diagnostic), and "probs" (N, G, A) (discrete) or "mean", "std" (N, G, D) (continuous)."""
        s, actions, G = step["s"], step["actions"], len(self.config.gammas)
        with record_function("actor_loss"):
            if self.discrete:
                chosen = actions.view(-1, 1, 1).expand(-1, G, 1)
                if self.config.bc_log_prob == "softmax":
                    probs, log_softmax = self.actor(s, step["valid_now"], log_softmax=True)  # (N, G, A) each
                    log_prob = log_softmax.gather(-1, chosen).squeeze(-1)
                else:
                    probs = self.actor(s, step["valid_now"])  # (N, G, A)
                    log_prob = torch.log(probs.gather(-1, chosen)).squeeze(-1)
                entropy = -torch.special.xlogy(probs.detach(), probs.detach()).sum(-1)
                return {"probs": probs, "log_prob": log_prob, "entropy": entropy}
            mean, std = self.actor(s)
            log_prob = tanh_gaussian_log_prob(mean, std, actions.unsqueeze(1).expand(-1, G, -1))
            entropy = (torch.log(std.detach()) + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
            return {"mean": mean, "std": std, "log_prob": log_prob, "entropy": entropy}

    @torch.no_grad()
    def q_every_action(self, step: dict, hidden: torch.Tensor) -> torch.Tensor:
        """Discrete: Q(s_t, a) of every action, mean of the critics, (N, G, A), no gradient; computed once per batch
        (the max-Q actor needs it for V(s) and for its loss)."""
        if "q_every" not in step:
            step["q_every"] = self.all_action_values(hidden.detach(), step["s"].detach())
        return step["q_every"]

    @torch.no_grad()
    def state_value(self, step: dict, hidden: torch.Tensor, policy: dict) -> torch.Tensor:
        """V(s_t) for the advantage -> (N, G). Discrete: exact sum_a pi(a|s) Q(s, a), or the mean Q of K policy
        draws without the replay action (``state_values``); continuous: the mean Q of K policy samples."""
        s = step["s"].detach()
        with record_function("actor_loss"):
            if self.discrete:
                if self.config.actor == "max_q":  # the max-Q term scores every action anyway: exact at no extra cost
                    return (self.q_every_action(step, hidden) * policy["probs"]).sum(-1)
                return self.state_values(hidden.detach(), policy["probs"].detach(), s, replay=step["actions"])
            mean, std = policy["mean"].detach(), policy["std"].detach()
            samples = torch.tanh(mean.unsqueeze(0) + std.unsqueeze(0) * torch.randn(
                self.config.num_policy_samples, *mean.shape, device=mean.device))  # (K, N, G, D)
            return torch.stack([self.values(self.critic.per_gamma_actions(s, a)).mean(0) for a in samples]).mean(0)

    def actor_loss(self, step: dict, policy: dict, advantage: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """filtered_bc: -1[A > threshold] log pi(a_t|s_t) (Eq. 4). max_q: -E_{a~pi}[Q(s_t, a)] through a frozen
        critic (Eq. 2; divided by sigma under PopArt, App. A, Base RL Details). Masked means over real steps."""
        B, L, G, mask = step["B"], step["L"], len(self.config.gammas), step["mask"]
        with record_function("actor_loss"):
            if self.config.actor == "filtered_bc":
                return filtered_bc_actor_loss(policy["log_prob"].reshape(B, L, G), advantage.reshape(B, L, G), mask,
                                              threshold=self.config.filter_threshold)
            s = step["s"].detach()
            if self.discrete:  # the gradient flows only through pi: Q of every action is a constant
                q_policy = (self.q_every_action(step, hidden) * policy["probs"]).sum(-1)
            else:  # a reparameterised sample through a frozen critic on a detached state
                rsample = torch.tanh(policy["mean"] + policy["std"] * torch.randn_like(policy["mean"]))
                q_policy = self.values(self.critic.per_gamma_actions(s, rsample, detach_params=True)).mean(0)
            if self.popart is not None:
                q_policy = q_policy / self.popart.sigma
            return max_q_actor_loss(q_policy.reshape(B, L, G), mask)

    @torch.no_grad()
    def diagnostics(self, step, total, critic_loss, actor_loss, y, q_replay, advantage, policy) -> dict:
        """The loss and detached diagnostics over real steps; the acting (last) gamma where one is shown."""
        B, L, mask = step["B"], step["L"], step["mask"]
        return {
            "loss": total,
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "q_mean": masked_mean(q_replay[:, -1].view(B, L), mask),
            "td_target_mean": masked_mean(y[:, -1].view(B, L), mask),
            "advantage_positive": masked_mean((advantage > self.config.filter_threshold).float().view(B, L, -1), mask),
            "entropy": masked_mean(policy["entropy"][:, -1].view(B, L), mask),
        }

    # -- acting --------------------------------------------------------------------------------
    def init_cache(self, num_envs: int, device=None):
        """A fresh key/value cache for ``num_envs`` parallel environments."""
        device = device or next(self.parameters()).device
        return self.transformer.init_cache(num_envs, device=device)

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], time: torch.Tensor, cache, sample: bool = True) -> torch.Tensor:
        """One step in N parallel envs with the cache: obs {key: (N, ...)}, time (N,) -> actions.

        Discrete -> (N,) long; continuous -> (N, D) in [-1, 1]. Uses the last (acting) gamma head.
        Call ``cache.reset(done_mask)`` when a trial ends so the next trial starts a fresh context.
        Pixels come as (N, C, H, W) uint8 and are never shifted here (random_shift is a training augmentation).
        """
        token = self.encoder({k: v.unsqueeze(1) for k, v in obs.items()}).squeeze(1)  # (N, d)
        state = self.transformer.step(token, time, cache)
        if self.discrete:
            policy = self.actor(state, self.action_mask(obs))
            probs = policy[:, -1]  # (N, A)
            return torch.multinomial(probs, 1).squeeze(-1) if sample else probs.argmax(-1)
        mean, std = self.actor(state)
        mean, std = mean[:, -1], std[:, -1]
        return torch.tanh(mean + std * torch.randn_like(mean)) if sample else torch.tanh(mean)
