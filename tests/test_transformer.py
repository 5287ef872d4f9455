"""Tests for amago_edu.transformer: causality, cache == full forward, sliding window, errors, gradients."""

import math

import pytest
import torch

from amago_edu.transformer import CausalTransformer, sinusoidal_embedding

D, LAYERS, HEADS = 32, 2, 4


def make_model(context_length=8, seed=0, **kwargs):
    torch.manual_seed(seed)
    return CausalTransformer(D, LAYERS, HEADS, context_length, **kwargs).eval()


def arange_positions(B, T, start=0):
    return torch.arange(start, start + T).expand(B, T)


def test_sinusoidal_embedding_hand_values():
    # d=4: freqs = [1, 10000^(-1/2) = 0.01]; layout [sin(p f0), sin(p f1), cos(p f0), cos(p f1)].
    emb = sinusoidal_embedding(torch.tensor([0, 2]), 4)
    expected = torch.tensor([[0.0, 0.0, 1.0, 1.0],
                             [math.sin(2), math.sin(0.02), math.cos(2), math.cos(0.02)]])
    torch.testing.assert_close(emb, expected)
    # No table limit: positions far past any context work, odd widths are truncated.
    assert sinusoidal_embedding(torch.tensor([10**6]), 5).shape == (1, 5)


def test_output_shape_and_position_matters():
    model = make_model()
    x = torch.randn(2, 5, D)
    out = model(x, arange_positions(2, 5))
    assert out.shape == (2, 5, D)
    shifted = model(x, arange_positions(2, 5, start=100))
    assert not torch.allclose(out, shifted, atol=1e-3)


def test_causality():
    model = make_model()
    x = torch.randn(3, 8, D)
    changed = x.clone()
    changed[:, 5:] = torch.randn(3, 3, D)
    pos = arange_positions(3, 8)
    out, out_changed = model(x, pos), model(changed, pos)
    torch.testing.assert_close(out[:, :5], out_changed[:, :5], atol=1e-6, rtol=0)
    assert not torch.allclose(out[:, 5:], out_changed[:, 5:], atol=1e-3)


@torch.no_grad()
def test_step_matches_forward_several_envs():
    model = make_model(context_length=8)
    B, T = 3, 8
    x = torch.randn(B, T, D)
    # Different trial offsets per environment (positions can start anywhere).
    pos = torch.stack([torch.arange(T) + s for s in (0, 4, 50)])
    full = model(x, pos)
    cache = model.init_cache(B)
    steps = torch.stack([model.step(x[:, t], pos[:, t], cache) for t in range(T)], dim=1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=0)


def test_step_works_under_inference_mode():
    model = make_model(context_length=4)
    x = torch.randn(2, 6, D)
    with torch.inference_mode():
        cache = model.init_cache(2)
        outs = [model.step(x[:, t], torch.full((2,), t), cache) for t in range(6)]
        reference = model(x[:, 2:6], arange_positions(2, 4, start=2))[:, -1]
    torch.testing.assert_close(outs[-1], reference, atol=1e-5, rtol=0)


@torch.no_grad()
def test_reset_one_env_among_several():
    model = make_model(context_length=8)
    B = 3
    x = torch.randn(B, 7, D)
    cache = model.init_cache(B)
    for t in range(3):
        model.step(x[:, t], torch.full((B,), t), cache)
    cache.reset(torch.tensor([False, True, False]))
    # Env 1 starts a new trial at position 0 at step 3; envs 0 and 2 carry on.
    pos = torch.stack([torch.arange(3, 7), torch.arange(0, 4), torch.arange(3, 7)])
    outs = torch.stack([model.step(x[:, t], pos[:, t - 3], cache) for t in range(3, 7)], dim=1)

    unaffected = model(x[[0, 2]], arange_positions(2, 7))[:, 3:]
    torch.testing.assert_close(outs[[0, 2]], unaffected, atol=1e-5, rtol=0)
    fresh = model(x[1:2, 3:], arange_positions(1, 4))
    torch.testing.assert_close(outs[1:2], fresh, atol=1e-5, rtol=0)


@torch.no_grad()
def test_sliding_window_past_context_length():
    L, T, B = 4, 11, 2
    model = make_model(context_length=L)
    x = torch.randn(B, T, D)
    pos = arange_positions(B, T)
    cache = model.init_cache(B)
    for t in range(T):
        out = model.step(x[:, t], pos[:, t], cache)
        start = max(0, t - L + 1)  # the last <= L tokens ending at t, with absolute positions
        reference = model(x[:, start:t + 1], pos[:, start:t + 1])[:, -1]
        torch.testing.assert_close(out, reference, atol=1e-5, rtol=0, msg=f"step {t}")


@torch.no_grad()
def test_sliding_window_with_one_env_overflowing():
    # Env 0 overflows the window while env 1 was reset and has not: both must stay exact.
    L = 4
    model = make_model(context_length=L)
    x = torch.randn(2, 7, D)
    cache = model.init_cache(2)
    for t in range(3):
        model.step(x[:, t], torch.full((2,), t), cache)
    cache.reset(torch.tensor([False, True]))
    for t in range(3, 7):
        out = model.step(x[:, t], torch.tensor([t, t - 3]), cache)
    torch.testing.assert_close(out[0], model(x[:1, 3:7], arange_positions(1, 4, start=3))[0, -1], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1], model(x[1:, 3:7], arange_positions(1, 4))[0, -1], atol=1e-5, rtol=0)


@torch.no_grad()
def test_rolling_cache_is_exact_until_the_window_overflows():
    # exact_window=False is the authors' rolling cache: exact until the first step falls off,
    # afterwards layer-2 keys still carry the dropped steps, so it drifts from the window forward.
    L = 4
    model = make_model(context_length=L)
    x = torch.randn(1, 6, D)
    pos = arange_positions(1, 6)
    cache = model.init_cache(1, exact_window=False)
    outs = [model.step(x[:, t], pos[:, t], cache) for t in range(6)]
    torch.testing.assert_close(outs[L - 1], model(x[:, :L], pos[:, :L])[:, -1], atol=1e-5, rtol=0)
    window = model(x[:, 6 - L:], pos[:, 6 - L:])[:, -1]
    assert (outs[-1] - window).abs().max() > 1e-4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d_model=30, n_layers=2, n_heads=4, context_length=8), "divisible by n_heads"),
        (dict(d_model=0, n_layers=2, n_heads=4, context_length=8), "d_model"),
        (dict(d_model=32, n_layers=0, n_heads=4, context_length=8), "n_layers"),
        (dict(d_model=32, n_layers=2, n_heads=-1, context_length=8), "n_heads"),
        (dict(d_model=32, n_layers=2, n_heads=4, context_length=0), "context_length"),
        (dict(d_model=32, n_layers=2, n_heads=4, context_length=8, d_ff=0), "d_ff"),
        (dict(d_model=32, n_layers=2, n_heads=4, context_length=8, dropout=1.0), "dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CausalTransformer(**kwargs)


def test_bad_call_arguments():
    model = make_model(context_length=4)
    with pytest.raises(ValueError, match="context_length=4"):
        model(torch.randn(1, 5, D), arange_positions(1, 5))
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(1, 3, D + 1), arange_positions(1, 3))
    with pytest.raises(ValueError, match="positions"):
        model(torch.randn(1, 3, D), arange_positions(1, 2))
    with pytest.raises(ValueError, match="positions"):
        model(torch.randn(1, 3, D), arange_positions(1, 3).float())
    cache = model.init_cache(2)
    with pytest.raises(ValueError, match="x must have shape"):
        model.step(torch.randn(3, D), torch.zeros(3, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="positions"):
        model.step(torch.randn(2, D), torch.zeros(2, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="env_mask"):
        cache.reset(torch.tensor([True, False, True]))
    with pytest.raises(ValueError, match="batch_size"):
        model.init_cache(0)


def test_gradients_reach_every_parameter():
    model = make_model(dropout=0.1).train()
    x = torch.randn(2, 6, D, requires_grad=True)
    model(x, arange_positions(2, 6)).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0
    # Per block: 2 LayerNorms 2*64, qkv 32*96+96, proj 32*32+32, FF 32*128+128 + 128*32+32; final LN 64.
    assert model.num_parameters() == 2 * (128 + 3168 + 1056 + 4224 + 4128) + 64


def test_dropout_acts_on_embeddings_and_feed_forward_only():
    """As the authors' TformerTrajEncoder defaults: dropout on the input embeddings and each block's feed-forward
    output, none in attention. With those modules' rates set to 0, training mode gives eval mode's output exactly."""
    model = make_model(dropout=0.5).train()
    x, positions = torch.randn(2, 6, D), arange_positions(2, 6)
    assert not torch.equal(model(x, positions), model(x, positions))  # dropout is active in training
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 1 + LAYERS and dropouts[0] is model.embed_dropout
    assert all(block.ff[-1] in dropouts for block in model.blocks)
    for module in dropouts:
        module.p = 0.0
    torch.testing.assert_close(model(x, positions), model.eval()(x, positions), rtol=0, atol=0)
