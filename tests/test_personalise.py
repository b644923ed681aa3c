"""Few-shot personalisation: what adapts, what it sees, and online equals the protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_online import (
    TINY,
    TINY_MAMBA,
    corpus,  # noqa: F401  (the tiny corpus's first fold: a fixture)
    trained,
    trial_data,
)

import bench.personalise.trial as personalise_module
from bench.audio import load_audio
from bench.errors import BenchError
from bench.model import StreamingModel
from bench.model.config import ModelConfig
from bench.online import StreamingPredictor
from bench.personalise.adapt import Enrolment, adapt, adapt_many, adapted_parameters
from bench.personalise.config import PersonaliseConfig
from bench.personalise.enrolment import plan_enrolment
from bench.personalise.trial import personalise_trial
from bench.train.checkpoint import load_checkpoint

CONFIG = PersonaliseConfig(k=(0, 2, 4), steps=10, lr=3e-3)


def tiny_model(**changes) -> StreamingModel:
    torch.manual_seed(0)
    return StreamingModel(ModelConfig(**TINY, **changes), 6, 5, 4)


def enrolment(k: int, seed: int = 0) -> Enrolment:
    generator = torch.Generator().manual_seed(seed)
    features = {
        role: torch.randn(k, d, generator=generator)
        for role, d in (("speech", 6), ("prosody", 5), ("speaker", 4))
    }
    return Enrolment(features, torch.rand(k, 2, generator=generator))


def test_each_mode_names_its_parameters() -> None:
    model = tiny_model()
    assert set(adapted_parameters(model, "head_bias")) == {"head.out.bias"}
    film = set(adapted_parameters(model, "film"))
    assert film == {
        name for name, _ in model.named_parameters() if name.startswith("observe.film.")
    }
    assert set(adapted_parameters(model, "film_last")) == {
        "observe.film.net.2.weight",
        "observe.film.net.2.bias",
    }
    with pytest.raises(BenchError, match="needs FiLM"):
        adapted_parameters(tiny_model(film=False), "film")


@pytest.mark.parametrize("mode", ["film", "film_last", "head_bias"])
def test_adaptation_moves_only_its_parameters_and_fits_the_turns(mode) -> None:
    model = tiny_model()
    before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    turns = enrolment(6)
    adapted = adapt(model, mode, turns, PersonaliseConfig(steps=30, lr=1e-2), mse_weight=0.1)
    declared = set(adapted_parameters(adapted, mode))
    for name, value in adapted.state_dict().items():
        assert torch.equal(model.state_dict()[name], before[name]), f"{name}: original changed"
        moved = not torch.equal(value, before[name])
        assert moved == (name in declared), f"{name}: moved {moved}, declared {name in declared}"

    def loss(m: StreamingModel) -> float:
        with torch.no_grad():
            x = {role: v[None] for role, v in turns.features.items()}
            y, _ = m.run_chunk(m.observe(x["speech"], x["prosody"], x["speaker"]), None)
            return float(((y[0] - turns.labels) ** 2).mean())

    assert loss(adapted) < loss(model)


def test_adaptation_is_deterministic_and_k0_is_the_model() -> None:
    model = tiny_model()
    first = adapt(model, "film", enrolment(5), CONFIG, 0.1).state_dict()
    again = adapt(model, "film", enrolment(5), CONFIG, 0.1).state_dict()
    assert all(torch.equal(first[name], again[name]) for name in first)
    unadapted = adapt(model, "film", enrolment(0), CONFIG, 0.1).state_dict()
    assert all(torch.equal(unadapted[name], model.state_dict()[name]) for name in unadapted)


@pytest.mark.parametrize("mode", ["film", "film_last", "head_bias"])
@pytest.mark.parametrize("feedback", ["scheduled", "none"])
def test_adaptations_run_together_equal_each_run_alone(mode, feedback) -> None:
    model = tiny_model(feedback=feedback)
    turns = [enrolment(6, seed=1), enrolment(0), enrolment(2, seed=2), enrolment(4, seed=3)]
    config = PersonaliseConfig(steps=20, lr=1e-2, weight_decay=0.01)
    together = adapt_many(model, mode, turns, config, mse_weight=0.1)
    for one, alone in zip(turns, together, strict=True):
        single = adapt(model, mode, one, config, mse_weight=0.1).state_dict()
        for name, value in alone.state_dict().items():
            torch.testing.assert_close(value, single[name], atol=1e-5, rtol=1e-4, msg=name)
    first, third = together[0].state_dict(), together[2].state_dict()
    assert any(not torch.equal(first[name], third[name]) for name in first)  # rows differ


def test_config_refuses_a_plan_without_its_baseline() -> None:
    with pytest.raises(BenchError, match="include 0"):
        PersonaliseConfig(k=(5, 10))
    with pytest.raises(BenchError, match="film_first"):
        PersonaliseConfig(adapt=("film_first",))


def captured_adaptations(monkeypatch) -> dict[tuple[int, str, int], dict[str, torch.Tensor]]:
    """Record every model the protocol adapts, by (enrolment size, mode, order)."""
    seen = {}

    def recording(model, mode, enrolments, config, mse_weight):
        adapted = adapt_many(model, mode, enrolments, config, mse_weight)
        for turns, one in zip(enrolments, adapted, strict=True):
            seen[(len(turns), mode, len(seen))] = one.state_dict()
        return adapted

    monkeypatch.setattr(personalise_module, "adapt_many", recording)
    return seen


def test_scored_turns_labels_never_reach_the_adaptation(corpus, tmp_path, monkeypatch) -> None:  # noqa: F811
    _, path = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    checkpoint = load_checkpoint(path)
    data = trial_data(corpus, "utterance")
    seen = captured_adaptations(monkeypatch)
    clean = personalise_trial(checkpoint, data, CONFIG)
    plan = plan_enrolment(data.table, data.splits["test"], CONFIG.k_max)
    scored = np.concatenate([speaker.scored for speaker in plan.speakers])
    poisoned = data.table.copy()
    poisoned.loc[poisoned.index[scored], ["valence", "arousal"]] = np.random.default_rng(0).random(
        (len(scored), 2)
    )
    data.table = poisoned
    clean_weights = dict(seen)
    seen.clear()
    dirty = personalise_trial(checkpoint, data, CONFIG)
    assert clean_weights.keys() == seen.keys() and len(seen) == 2 * 3 * len(plan.speakers)
    for key, weights in clean_weights.items():
        assert all(torch.equal(weights[name], seen[key][name]) for name in weights), key
    assert len(clean.predictions) == len(dirty.predictions) > 0
    for column in ("valence_pred", "arousal_pred"):
        np.testing.assert_array_equal(clean.predictions[column], dirty.predictions[column])
    assert not np.allclose(clean.predictions["valence_true"], dirty.predictions["valence_true"])


def test_every_k_scores_the_same_turns_and_k0_is_the_trained_model(corpus, tmp_path) -> None:  # noqa: F811
    result, path = trained(corpus, tmp_path, "utterance", TINY | {"feedback": "none"})
    out = personalise_trial(load_checkpoint(path), trial_data(corpus, "utterance"), CONFIG)
    groups = out.predictions.groupby(["adapt", "k"])["utt_id"].apply(list)
    assert len(groups) == 3 * 3 and all(ids == groups.iloc[0] for ids in groups)
    base = out.predictions[out.predictions["k"] == 0].drop_duplicates("utt_id")
    trial = result.predictions.set_index("utt_id").loc[base["utt_id"]]
    np.testing.assert_allclose(base["valence_pred"], trial["valence_pred"], atol=1e-5)
    adapted = out.predictions[(out.predictions["k"] == 4) & (out.predictions["adapt"] == "film")]
    assert not np.allclose(adapted["valence_pred"], base["valence_pred"])


def test_a_model_without_film_runs_head_bias_only(corpus, tmp_path) -> None:  # noqa: F811
    _, path = trained(corpus, tmp_path, "utterance", TINY | {"film": False})
    out = personalise_trial(load_checkpoint(path), trial_data(corpus, "utterance"), CONFIG)
    assert out.unsupported == ["film", "film_last"]
    assert set(out.predictions["adapt"]) == {"head_bias"}


def test_online_personalisation_equals_the_protocol(corpus, tmp_path, monkeypatch) -> None:  # noqa: F811
    table = corpus[0]
    _, path = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    data = trial_data(corpus, "utterance")
    seen = captured_adaptations(monkeypatch)
    config = PersonaliseConfig(k=(0, 4), adapt=("film",), steps=10, lr=3e-3)
    out = personalise_trial(load_checkpoint(path), data, config)
    speaker = plan_enrolment(data.table, data.splits["test"], config.k_max).speakers[0]
    protocol_weights = next(iter(seen.values()))  # the first speaker's adaptation

    predictor = StreamingPredictor.from_checkpoint(Path(path))
    enrol = table.iloc[speaker.enrol]
    lo, hi = predictor.label_scale
    labels = lo + enrol[["valence", "arousal"]].to_numpy() * (hi - lo)
    predictor.personalise([load_audio(p) for p in enrol["audio_path"]], labels, "film", config)
    online_weights = predictor.model.state_dict()
    for name, value in protocol_weights.items():
        torch.testing.assert_close(online_weights[name], value, atol=1e-4, rtol=1e-4)

    mine = out.predictions[
        (out.predictions["speaker"] == speaker.speaker) & (out.predictions["k"] == 4)
    ]
    dialog_id = mine["dialog"].iloc[0]
    dialog = table[table["dialog"] == dialog_id].sort_values("start")
    got = {
        utt: predictor.step(load_audio(p))
        for utt, p in zip(dialog["utt_id"], dialog["audio_path"], strict=True)
    }
    want = mine[mine["dialog"] == dialog_id].set_index("utt_id")
    online = np.array([got[utt] for utt in want.index])
    np.testing.assert_allclose(online, want[["valence_pred", "arousal_pred"]], atol=1e-4)


def test_online_personalisation_refuses_mismatched_labels(corpus, tmp_path) -> None:  # noqa: F811
    _, path = trained(corpus, tmp_path, "utterance", TINY_MAMBA)
    predictor = StreamingPredictor.from_checkpoint(path)
    wave = np.zeros(16_000, dtype=np.float32)
    with pytest.raises(BenchError, match="one \\(valence, arousal\\) pair"):
        predictor.personalise([wave, wave], [[3.0, 3.0]])
    with pytest.raises(BenchError, match="scale"):
        predictor.personalise([wave], [[9.0, 3.0]])
