"""Exact tests of symlog / symexp and the two-hot encoding (numbers computed by hand from
the paper's App. A, Value Classification Details, Eqs. 5-8)."""

import math

import pytest
import torch

from amago_edu.twohot import TwoHot, symexp, symlog


def log_grid() -> torch.Tensor:
    """0 and +-10^k for k in [-3, 5], in float64 so the inverse can be checked tightly."""
    magnitudes = torch.logspace(-3, 5, 33, dtype=torch.float64)
    return torch.cat([-magnitudes.flip(0), torch.zeros(1, dtype=torch.float64), magnitudes])


def test_symlog_known_values():
    x = torch.tensor([0.0, 1.0, -1.0, 1e5], dtype=torch.float64)
    expected = torch.tensor([0.0, math.log(2), -math.log(2), math.log(100001)], dtype=torch.float64)
    torch.testing.assert_close(symlog(x), expected, rtol=0, atol=1e-12)
    assert symlog(torch.tensor(1e5)).item() == pytest.approx(11.512935, abs=1e-6)


def test_symlog_symexp_are_inverse_on_log_grid():
    x = log_grid()
    torch.testing.assert_close(symexp(symlog(x)), x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(symlog(symexp(symlog(x))), symlog(x), rtol=1e-12, atol=1e-12)


def test_symlog_is_odd_with_unit_slope_at_zero():
    x = log_grid()
    torch.testing.assert_close(symlog(-x), -symlog(x))
    h = torch.tensor(1e-6, dtype=torch.float64)
    assert ((symlog(h) - symlog(-h)) / (2 * h)).item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "num_bins, low, high, spacing",
    [(128, -1e5, 1e5, 0.181306), (64, -1e5, 1e5, 0.365490), (32, -1.0, 1.0, 0.044719)],
)
def test_bin_spacing(num_bins, low, high, spacing):
    twohot = TwoHot(num_bins, low, high)
    gaps = twohot.bins.diff()
    assert twohot.bins.shape == (num_bins,) and twohot.bins.dtype == torch.float32
    torch.testing.assert_close(gaps, torch.full_like(gaps, spacing), rtol=0, atol=2e-6)
    assert twohot.bin_spacing == pytest.approx(spacing, abs=1e-6)
    assert twohot.bins[0].item() == pytest.approx(-twohot.bins[-1].item())


def test_default_bins_straddle_zero():
    bins = TwoHot().bins
    assert bins[0].item() == pytest.approx(-11.512935, abs=1e-5)
    assert bins[63].item() == pytest.approx(-0.0906530, abs=1e-6)
    assert bins[64].item() == pytest.approx(0.0906530, abs=1e-6)


@pytest.mark.parametrize(
    "value, expected",
    [
        (10.0, {76: 0.274324, 77: 0.725676}),
        (1.0, {67: 0.676922, 68: 0.323078}),
        (0.0, {63: 0.5, 64: 0.5}),
        (-3.0, {55: 0.146155, 56: 0.853845}),
        (250.0, {93: 0.024170, 94: 0.975830}),
        (1e6, {127: 1.0}),
        (-1e6, {0: 1.0}),
    ],
)
def test_encode_table(value, expected):
    probs = TwoHot().encode(torch.tensor(value))
    assert probs.shape == (128,)
    nonzero = {i: probs[i].item() for i in probs.nonzero().flatten().tolist()}
    assert nonzero.keys() == expected.keys()
    for i, weight in expected.items():
        assert nonzero[i] == pytest.approx(weight, abs=2e-6)


def test_encode_puts_mass_on_at_most_two_adjacent_bins():
    twohot = TwoHot()
    values = torch.cat([log_grid().float(), torch.tensor([3e5, -7e7])])
    probs = twohot.encode(values)  # (V, 128)
    assert probs.shape == (values.numel(), 128)
    torch.testing.assert_close(probs.sum(-1), torch.ones(values.numel()))
    assert (probs >= 0).all()
    for row in probs:
        support = row.nonzero().flatten()
        assert 1 <= support.numel() <= 2
        assert support.numel() == 1 or support[1] - support[0] == 1


def test_value_on_a_bin_is_one_hot():
    twohot = TwoHot(32, -1.0, 1.0)
    probs = twohot.encode(symexp(twohot.bins[[0, 5, 20, 31]].double()))
    # symexp/symlog in float32 moves the value by ~1 ulp, so allow a negligible second bin
    assert (probs.max(-1).values > 1 - 1e-4).all()
    assert probs.argmax(-1).tolist() == [0, 5, 20, 31]


def test_decode_inverts_encode_inside_range_and_clips_outside():
    twohot = TwoHot()
    values = log_grid()[log_grid().abs() >= 1e-2].float()
    decoded = twohot.decode(twohot.encode(values).log())  # log(0) = -inf -> probability 0
    assert ((decoded - values).abs() / values.abs()).max().item() < 1e-4
    torch.testing.assert_close(twohot.decode_probs(twohot.encode(values)), decoded, rtol=1e-5, atol=0)
    outside = twohot.decode(twohot.encode(torch.tensor([1e6, -1e6, 1e9])).log())
    torch.testing.assert_close(outside, torch.tensor([1e5, -1e5, 1e5]), rtol=1e-5, atol=0)
    assert twohot.decode(twohot.encode(torch.tensor(0.0)).log()).item() == 0.0


def test_decode_uniform_logits_and_shapes():
    twohot = TwoHot(64, -1e5, 1e5)
    # symmetric bins: the mean of the uniform distribution is 0
    assert twohot.decode(torch.zeros(64)).abs().item() < 1e-4
    assert twohot.decode(torch.randn(2, 3, 5, 64)).shape == (2, 3, 5)
    assert twohot.encode(torch.randn(2, 3, 5)).shape == (2, 3, 5, 64)


def test_decode_ignores_autocast():
    # under bf16 autocast (the GPU default) a matmul would round the value to ~3 significant digits
    twohot = TwoHot(num_bins=64, low=-1e5, high=1e5)
    logits = torch.randn(50, 64, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = twohot.decode(logits)
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, twohot.decode(logits), rtol=1e-6, atol=1e-6)


def test_bf16_inputs_are_computed_in_float32():
    twohot = TwoHot()
    logits = torch.randn(4, 128)
    decoded = twohot.decode(logits.bfloat16())
    assert decoded.dtype == torch.float32
    torch.testing.assert_close(decoded, twohot.decode(logits.bfloat16().float()))
    probs_bf16 = torch.softmax(logits, -1).bfloat16()
    torch.testing.assert_close(twohot.decode_probs(probs_bf16), twohot.decode_probs(probs_bf16.float()))
    probs = twohot.encode(torch.tensor([10.0]).bfloat16())
    assert probs.dtype == torch.float32 and probs[0, 77].item() == pytest.approx(0.725676, abs=2e-6)


def test_module_casts_keep_float32_bins_and_skip_state_dict():
    twohot = TwoHot().to(torch.bfloat16)
    assert twohot.bins.dtype == torch.float32
    torch.testing.assert_close(twohot.bins, TwoHot().bins, rtol=0, atol=0)
    assert "bins" not in twohot.state_dict()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_bins": 1}, "num_bins"),
        ({"num_bins": 64.0}, "num_bins"),
        ({"num_bins": True}, "num_bins"),
        ({"low": 5.0, "high": 5.0}, "low"),
        ({"low": 1.0, "high": -1.0}, "low"),
        ({"low": float("-inf")}, "low"),
        ({"high": float("nan")}, "high"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        TwoHot(**kwargs)


def test_encode_rejects_non_finite_targets():
    twohot = TwoHot()
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="targets must be finite"):
            twohot.encode(torch.tensor([1.0, bad]))


def test_decode_rejects_wrong_number_of_bins():
    with pytest.raises(ValueError, match="num_bins=128"):
        TwoHot().decode(torch.zeros(3, 64))
