"""convbook.nets.causal (causal layers, the next-sample predictors and baselines) and convbook.nets.wavenet (mu-law,
WaveNet and its two generators)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convbook import causal_conv1d, receptive_field
from convbook.nets.causal import (
    CausalConv1d,
    causal_stack,
    fit_autoregressive,
    predict_autoregressive,
    prediction_mse,
    train_predictor,
)
from convbook.nets.wavenet import (
    WaveNet,
    generate_cached,
    generate_naive,
    generation_macs,
    mu_law_decode,
    mu_law_encode,
    train_wavenet,
)

# ---------------------------------------------------------------- causal layers


@pytest.mark.parametrize("k, d", [(2, 1), (2, 4), (3, 2), (5, 3)])
def test_causal_conv1d_module_matches_the_numpy_oracle(k, d):
    rng = np.random.default_rng(k * 10 + d)
    x = rng.normal(size=(2, 3, 40))
    conv = CausalConv1d(3, 4, k, dilation=d).double()
    with torch.no_grad():
        ours = conv(torch.from_numpy(x)).numpy()  # (2, 4, 40)
    oracle = causal_conv1d(x, conv.weight.detach().numpy(), conv.bias.detach().numpy(), dilation=d)
    assert ours.shape == (2, 4, 40) and conv.left_padding == d * (k - 1)
    np.testing.assert_allclose(ours, oracle, atol=1e-10)


def test_causal_stack_never_reads_the_future_and_sees_its_receptive_field():
    torch.manual_seed(0)
    dils = [1, 2, 4, 8, 16, 32]
    model = causal_stack(dils).double()
    x = torch.randn(1, 1, 300, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 150] += 1.0
    with torch.no_grad():
        changed = torch.nonzero(model(x)[0, 0] != model(x2)[0, 0]).ravel()
    assert changed.min().item() == 150  # nothing before the change moves
    assert changed.max().item() - 150 + 1 == receptive_field([(2, 1, d) for d in dils]) == 64


def test_plain_and_dilated_stacks_have_the_same_weights():
    count = [sum(p.numel() for p in causal_stack(d).parameters()) for d in ([1] * 6, [2**i for i in range(6)])]
    assert count == [713, 713]


# ---------------------------------------------------------------- prediction and baselines


def test_fit_autoregressive_recovers_a_known_process():
    rng = np.random.default_rng(0)
    x = np.zeros(20000)
    for t in range(2, len(x)):
        x[t] = 1.6 * x[t - 1] - 0.8 * x[t - 2] + 0.3 + rng.normal(0, 0.1)
    coef = fit_autoregressive(x.reshape(4, 1, -1), 2)
    np.testing.assert_allclose(coef, [-0.8, 1.6, 0.3], atol=0.02)  # oldest sample first, then the intercept
    pred, mse = predict_autoregressive(coef, x.reshape(4, 1, -1))
    assert pred.shape == (4, 5000 - 2) and mse == pytest.approx(0.01, rel=0.05)


def test_autoregressive_fit_equals_a_direct_least_squares_solve():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 1, 50))
    coef = fit_autoregressive(x, 3, skip=5)
    rows = [np.r_[seq[t - 2 : t + 1], 1.0] for seq in x[:, 0] for t in range(5, 49)]
    target = [seq[t + 1] for seq in x[:, 0] for t in range(5, 49)]
    direct, *_ = np.linalg.lstsq(np.array(rows), np.array(target), rcond=None)
    np.testing.assert_allclose(coef, direct, atol=1e-10)
    _, mse = predict_autoregressive(coef, x, skip=5)
    assert mse == pytest.approx(np.mean((np.array(rows) @ direct - target) ** 2), abs=1e-12)


def test_prediction_mse_and_train_predictor():
    rng = np.random.default_rng(2)
    t = np.arange(600)
    x = (np.sin(2 * np.pi * t / 12) + 0.05 * rng.normal(size=600)).reshape(2, 1, 300)
    torch.manual_seed(0)
    model = causal_stack([1, 2, 4])
    before = prediction_mse(model, x, skip=8)
    history = train_predictor(model, x, {"same": x}, steps=60, lr=1e-2, skip=8, eval_at=(30,), device="cpu")
    assert [h["step"] for h in history] == [30, 60] and set(history[0]) == {"step", "train_mse", "same_mse"}
    assert history[-1]["train_mse"] == pytest.approx(history[-1]["same_mse"])
    assert history[-1]["train_mse"] < 0.2 * before


def test_prediction_errors_name_the_argument():
    x = np.zeros((2, 1, 50))
    model = causal_stack([1])
    with pytest.raises(ValueError, match=r"prediction_mse: x must have shape \(N, 1, L\)"):
        prediction_mse(model, np.zeros((2, 50)))
    with pytest.raises(TypeError, match="train_predictor: train must be a NumPy array, got a torch tensor"):
        train_predictor(model, torch.zeros(2, 1, 50))
    with pytest.raises(ValueError, match="train_predictor: skip must leave at least one scored sample"):
        train_predictor(model, x, skip=49)
    with pytest.raises(ValueError, match="train_predictor: lr must be a positive number, got 0"):
        train_predictor(model, x, lr=0)
    with pytest.raises(TypeError, match="train_predictor: lr must be a number, got str"):
        train_predictor(model, x, lr="0.01")
    with pytest.raises(ValueError, match="fit_autoregressive: skip must be at least order - 1 = 6"):
        fit_autoregressive(x, 7, skip=3)
    with pytest.raises(TypeError, match="fit_autoregressive: train must have a floating-point dtype"):
        fit_autoregressive(np.zeros((2, 1, 50), dtype=int), 2)
    with pytest.raises(ValueError, match="causal_stack: dilations must name at least one layer, got an empty sequence"):
        causal_stack([])
    with pytest.raises(ValueError, match=r"causal_stack: dilations\[1\] must be a positive int, got 0"):
        causal_stack([1, 0])
    with pytest.raises(TypeError, match="causal_stack: dilations must be a sequence of ints, got int"):
        causal_stack(4)


def test_prediction_mse_restores_the_training_mode():
    model = causal_stack([1, 2]).train()
    prediction_mse(model, np.zeros((2, 1, 20)))
    assert model.training
    with pytest.raises(RuntimeError):  # no such device: fails inside the block, after the switch to eval mode
        prediction_mse(model, np.zeros((2, 1, 20)), device="no-such-device")
    assert model.training


# ---------------------------------------------------------------- mu-law


def test_mu_law_round_trip_and_range():
    x = np.linspace(-1, 1, 1001)
    q = mu_law_encode(x, 256)
    assert q.min() == 0 and q.max() == 255 and np.all(np.diff(q) >= 0)
    back = mu_law_decode(q, 256)
    assert np.abs(back - x).max() < 0.035  # the coarsest step is near +-1
    assert np.abs(back - x)[np.abs(x) < 0.01].max() < 1e-3  # fine steps near 0: companding
    with pytest.raises(ValueError, match=r"mu_law_decode: levels must lie in 0 \.\. 255"):
        mu_law_decode(np.array([256]), 256)
    with pytest.raises(TypeError, match="mu_law_decode: q must hold integer levels"):
        mu_law_decode(np.array([0.5]), 256)


# ---------------------------------------------------------------- WaveNet


def _model(dilations=(1, 2, 4, 8), k=2, dtype=torch.float64, seed=0, classes=16):
    torch.manual_seed(seed)
    m = WaveNet(classes, residual_channels=6, gate_channels=5, skip_channels=7, dilations=dilations, kernel_size=k)
    return m.to(dtype).eval()


def test_wavenet_is_causal_and_its_receptive_field_is_measured():
    model = _model((1, 2, 4, 8, 1, 2), k=3)
    assert model.receptive_field == 2 + 2 * (1 + 2 + 4 + 8 + 1 + 2) == 38
    q = torch.randint(0, 16, (1, 120), generator=torch.Generator().manual_seed(0))
    q2 = q.clone()
    q2[0, 50] = (q[0, 50] + 1) % 16
    with torch.no_grad():
        a, b = model(model.one_hot(q)), model(model.one_hot(q2))
    changed = torch.nonzero((a != b).any(dim=1)[0]).ravel()
    assert changed.min().item() == 50 and changed.max().item() - 50 + 1 == model.receptive_field


@pytest.mark.parametrize(
    "dilations, k, prime_len, temperature",
    [((1, 2, 4, 8), 2, 1, 1.0), ((1, 2, 4, 8), 2, 40, 1.0), ((1, 2, 4, 1, 2, 4), 3, 7, 0.7), ((1, 3, 9), 2, 30, 0)],
)
def test_cached_generation_draws_exactly_the_naive_samples(dilations, k, prime_len, temperature):
    model = _model(dilations, k)
    prime = torch.randint(0, 16, (3, prime_len), generator=torch.Generator().manual_seed(5))
    a, la = generate_naive(model, 50, prime, temperature=temperature, seed=11, return_logits=True)
    b, lb = generate_cached(model, 50, prime, temperature=temperature, seed=11, return_logits=True)
    assert a.shape == b.shape == (3, 50) and a.dtype == torch.int64
    assert torch.equal(a, b)
    assert (la - lb).abs().max().item() < 1e-10


def test_cached_generation_agrees_in_float32_too():
    model = _model((1, 2, 4, 8, 16), dtype=torch.float32)
    prime = torch.randint(0, 16, (2, 31), generator=torch.Generator().manual_seed(2))
    a, la = generate_naive(model, 40, prime, seed=3, return_logits=True)
    b, lb = generate_cached(model, 40, prime, seed=3, return_logits=True)
    assert torch.equal(a, b) and (la - lb).abs().max().item() < 1e-4


def test_generated_logits_equal_a_teacher_forced_forward_pass():
    """An oracle independent of both generators: one forward pass over the prime and the generated samples."""
    model = _model((1, 2, 4, 8, 16, 1), k=2)
    prime = torch.randint(0, 16, (2, 9), generator=torch.Generator().manual_seed(4))
    samples, logits = generate_cached(model, 30, prime, seed=1, return_logits=True)
    full = torch.cat([prime, samples], dim=1)  # (2, 39)
    with torch.no_grad():
        forward = model(model.one_hot(full))[:, :, 8:38].transpose(1, 2)  # (2, 30, classes)
    assert (forward - logits).abs().max().item() < 1e-10


def test_same_seed_same_samples_other_seed_other_samples():
    model = _model()
    prime = torch.zeros(1, 1, dtype=torch.int64)
    assert torch.equal(generate_cached(model, 30, prime, seed=1), generate_cached(model, 30, prime, seed=1))
    assert not torch.equal(generate_cached(model, 30, prime, seed=1), generate_cached(model, 30, prime, seed=2))


def test_sampling_never_asks_mps_for_float64():
    from convbook.nets.wavenet import _sample_dtype

    assert _sample_dtype(torch.device("cpu")) == torch.float64
    assert _sample_dtype(torch.device("mps")) == torch.float32  # MPS has no float64: both generators use float32 there


def test_generation_macs_ratio_is_the_receptive_field():
    model = _model((1, 2, 4, 8))
    macs = generation_macs(model)
    per = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Conv1d))
    assert macs == {"per_position": per, "naive": per * 17, "cached": per, "ratio": 17}


def test_train_wavenet_lowers_the_loss():
    model = _model((1, 2, 4), dtype=torch.float32)
    levels = (np.arange(400) % 8).reshape(2, 200)  # a sawtooth of 8 levels: perfectly predictable
    losses = train_wavenet(model, levels, steps=80, lr=1e-2, device="cpu")
    assert len(losses) == 80 and losses[-1] < 0.2 * losses[0]


def test_wavenet_and_generator_errors():
    model = _model()
    with pytest.raises(ValueError, match="WaveNet: kernel_size must be an int >= 2, got 1"):
        WaveNet(16, dilations=(1, 2), kernel_size=1)
    with pytest.raises(ValueError, match="WaveNet: classes must be an int >= 2"):
        WaveNet(1)
    with pytest.raises(TypeError, match=r"generate_cached: prime must be an int64 tensor of shape \(N, T0\)"):
        generate_cached(model, 5, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"generate_naive: prime levels must lie in 0 \.\. 15"):
        generate_naive(model, 5, torch.full((1, 3), 16, dtype=torch.int64))
    with pytest.raises(ValueError, match="generate_naive: temperature must be a non-negative number"):
        generate_naive(model, 5, torch.zeros(1, 3, dtype=torch.int64), temperature=-1)
    with pytest.raises(TypeError, match="generate_naive: temperature must be a number, got str"):
        generate_naive(model, 5, torch.zeros(1, 3, dtype=torch.int64), temperature="hot")
    with pytest.raises(ValueError, match="generate_cached: steps must be a positive int, got 0"):
        generate_cached(model, 0, torch.zeros(1, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="generation_macs: model must be a WaveNet"):
        generation_macs(causal_stack([1]))
    with pytest.raises(ValueError, match=r"train_wavenet: levels must lie in 0 \.\. 15"):
        train_wavenet(model, np.full((1, 10), 20))
