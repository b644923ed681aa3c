"""Whole == TBPTT-chunked (state carried) == step by step, for every updater and EMA mode."""

from __future__ import annotations

import itertools

import pytest
import torch

from bench.model import UPDATERS, EMAConfig, MambaConfig, ModelConfig, StreamingModel, map_state

D_SPEECH, D_PROSODY, D_SPEAKER = 6, 5, 4
EMA_MODES = {
    "fixed": EMAConfig(),
    "none": EMAConfig(alpha=0.0),
    "learnable": EMAConfig(mode="learnable", alpha=0.7),
    "per_channel": EMAConfig(mode="per_channel"),
}
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-11}


def tiny_model(updater: str, ema: str, feedback: str, dtype=torch.float32) -> StreamingModel:
    config = ModelConfig(
        updater=updater, feedback=feedback, d_p2=4, d_c=5, d_model=8, film_hidden=8,
        head_hidden=8, ema=EMA_MODES[ema], mamba=MambaConfig(d_state=4, d_conv=3),
    )  # fmt: skip
    torch.manual_seed(0)
    model = StreamingModel(config, D_SPEECH, D_PROSODY, D_SPEAKER).to(dtype).eval()
    if config.ema.mode == "per_channel":  # distinct a per channel, so a mix-up would show
        model.ema.theta.data = torch.linspace(-2, 2, model.ema.channels, dtype=dtype)
    return model


def inputs(batch: int, steps: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Random speech/prosody/speaker features and fed-back labels for ``steps`` utterances."""
    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(batch, steps, d, generator=g, dtype=dtype)
             for d in (D_SPEECH, D_PROSODY, D_SPEAKER)]  # fmt: skip
    return feats, torch.rand(batch, steps, 2, generator=g, dtype=dtype)


def run_whole(model, z, y_prev):
    return model(z, None, y_prev)


def run_chunked(model, z, y_prev, sizes):
    ys, state, start = [], None, 0
    for size in sizes:
        part = slice(start, start + size)
        y, state = model(z[:, part], state, None if y_prev is None else y_prev[:, part])
        ys.append(y)
        state = map_state(torch.Tensor.detach, state)  # as TBPTT does
        start += size
    return torch.cat(ys, dim=1), state


def run_steps(model, z, y_prev):
    ys, state = [], model.initial_state(z.shape[0])
    for t in range(z.shape[1]):
        y, state = model.step(z[:, t], state, None if y_prev is None else y_prev[:, t])
        ys.append(y)
    return torch.stack(ys, dim=1), state


CASES = [  # every registered updater
    (updater, ema, feedback)
    for updater, ema, feedback in itertools.product(UPDATERS, EMA_MODES, ["none", "teacher"])
    if updater != "none" or feedback == "none"
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize(("updater", "ema", "feedback"), CASES)
def test_whole_equals_chunked_equals_steps(updater, ema, feedback, dtype) -> None:
    model = tiny_model(updater, ema, feedback, dtype)
    feats, y_true = inputs(3, 11, dtype)
    y_prev = None if feedback == "none" else y_true
    with torch.no_grad():
        z = model.observe(*feats)  # [3, 11, Dz]
        whole, whole_state = run_whole(model, z, y_prev)
        chunked, chunk_state = run_chunked(model, z, y_prev, [1, 4, 6])
        stepped, step_state = run_steps(model, z, y_prev)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(chunked, whole, atol=tol, rtol=0)
    torch.testing.assert_close(stepped, whole, atol=tol, rtol=0)
    for a, b in [(chunk_state, whole_state), (step_state, whole_state)]:
        flat_a, flat_b = [], []
        map_state(flat_a.append, a)
        map_state(flat_b.append, b)
        for x, y in zip(flat_a, flat_b, strict=True):
            torch.testing.assert_close(x, y, atol=tol, rtol=0)


@pytest.mark.parametrize("updater", ["mlp", "gru", "mamba"])
def test_single_utterance_dialog(updater) -> None:
    model = tiny_model(updater, "fixed", "teacher")
    feats, y_true = inputs(2, 1, torch.float32)
    with torch.no_grad():
        z = model.observe(*feats)  # [2, 1, Dz]
        whole, _ = model(z, None, y_true)
        step, _ = model.step(z[:, 0], None, y_true[:, 0])
    torch.testing.assert_close(step, whole[:, 0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("updater", ["gru", "mamba"])
def test_state_matters(updater) -> None:
    """Control: the updater really carries state, so the invariants above are not vacuous."""
    model = tiny_model(updater, "none", "none")
    feats, _ = inputs(2, 8, torch.float32)
    with torch.no_grad():
        z = model.observe(*feats)
        whole, _ = model(z)
        restarted, _ = model(z[:, 4:])  # the same utterances without their history
    assert (whole[:, 4:] - restarted).abs().max() > 1e-4


@pytest.mark.parametrize("updater", ["mlp", "gru", "mamba"])
def test_rollout_chunked_equals_whole_and_teacher_shortcut(updater) -> None:
    model = tiny_model(updater, "fixed", "autoregressive")
    feats, y_true = inputs(3, 9, torch.float32)
    with torch.no_grad():
        z = model.observe(*feats)
        whole, _ = model.rollout(z)
        first, state = model.rollout(z[:, :4])
        rest, _ = model.rollout(z[:, 4:], state)
        own_fed, _ = model(z, None, torch.cat([torch.full_like(whole[:, :1], 0.5),
                                               whole[:, :-1]], dim=1))  # fmt: skip
        teacher, _ = model(z, None, y_true)
        sampled, _ = model.run_chunk(z, None, y_true, p_true=1.0)
        mixed_all_true, _ = model.rollout(z, None, y_true, p_true=1.0)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(own_fed, whole, atol=1e-5, rtol=0)
    torch.testing.assert_close(sampled, teacher, atol=0, rtol=0)
    torch.testing.assert_close(mixed_all_true, teacher, atol=1e-5, rtol=0)


def test_scheduled_sampling_mixes_truth_and_predictions() -> None:
    model = tiny_model("gru", "fixed", "scheduled")
    feats, y_true = inputs(16, 6, torch.float32)
    with torch.no_grad():
        z = model.observe(*feats)
        own, _ = model.rollout(z)
        teacher, _ = model(z, None, y_true)
        half, _ = model.rollout(z, None, y_true, 0.5, torch.Generator().manual_seed(0))
        again, _ = model.rollout(z, None, y_true, 0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(half, again, atol=0, rtol=0)
    later = slice(1, None)  # step 0 sees y_{-1} = 0.5 either way... unless truth is drawn
    like_teacher = (half[:, later] - teacher[:, later]).abs().amax(dim=(1, 2)) < 1e-6
    like_own = (half[:, later] - own[:, later]).abs().amax(dim=(1, 2)) < 1e-6
    assert not like_teacher.all()
    assert not like_own.all()
