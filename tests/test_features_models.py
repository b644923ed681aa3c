"""The hub-model paths (transformers, speechbrain) with tiny random models saved locally.

Each model is saved the way a downloaded one is laid out, then loaded offline through
the same spec a protocol names (a local folder in place of a hub id).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import numpy as np
import pytest
import torch
from transformers import AutoModel, Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

from bench.audio import SAMPLE_RATE
from bench.cli import main
from bench.errors import BenchError
from bench.features.hub import HubModel, locate
from bench.features.speaker import EcapaSpec
from bench.features.ssl import FILES, TransformersSpec
from bench.testing.ecapa_folder import write_random_ecapa
from bench.testing.tones import write_tone

TINY_ECAPA = {
    "n_mels": 20, "channels": [16, 16, 16, 16, 48], "attention_channels": 8,
    "res2net_scale": 2, "se_channels": 8, "lin_neurons": 12,
}  # fmt: skip


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub access: the environment variable and the constant read at import time."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def save_tiny_wavlm(folder: Path, norm: str) -> Path:
    """A ~10k-parameter random WavLM with its feature extractor, as ``save_pretrained``."""
    torch.manual_seed(0)
    config = WavLMConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_buckets=16,
        feat_extract_norm=norm,
        do_stable_layer_norm=norm == "layer",
    )
    WavLMModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_wavlm(tmp_path_factory.mktemp("wavlm"), "group")


def noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)


def naive_pooled(folder: Path, waves: list[np.ndarray], layer: int | str) -> np.ndarray:
    """Reference: each wave alone through the model, frames of all pieces averaged."""
    processor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    frames = []
    for wave in waves:
        inputs = processor(wave, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        with torch.no_grad():
            states = model(**inputs, output_hidden_states=True).hidden_states
        chosen = torch.stack(states[1:]).mean(0) if layer == "mean" else states[layer]
        frames.append(chosen[0])  # [T, D]
    return torch.cat(frames).mean(dim=0).numpy()  # [D]


@pytest.mark.parametrize("layer", [-1, 1, "mean"])
def test_transformers_pools_the_chosen_layer(wavlm_dir: Path, layer: int | str) -> None:
    runner = TransformersSpec(model=str(wavlm_dir), layer=layer, device="cpu").build()
    waves = [noise(0.6, 1), noise(0.9, 2)]
    features = runner(waves)  # [2, 16]
    assert runner.dim == 16 and features.shape == (2, 16)
    for wave, row in zip(waves, features, strict=True):
        np.testing.assert_allclose(row, naive_pooled(wavlm_dir, [wave], layer), atol=1e-5)


def test_transformers_chunks_long_utterances(wavlm_dir: Path) -> None:
    runner = TransformersSpec(model=str(wavlm_dir), chunk_seconds=0.5, device="cpu").build()
    wave = noise(1.3, 3)  # 3 chunks of ~0.43 s
    pieces = np.array_split(wave, 3)
    np.testing.assert_allclose(runner([wave])[0], naive_pooled(wavlm_dir, pieces, -1), atol=1e-5)


def test_transformers_batches_exactly_when_padding_is_exact(tmp_path: Path) -> None:
    folder = save_tiny_wavlm(tmp_path / "layer_norm", "layer")
    waves = [noise(0.5, 4), noise(0.8, 5), noise(0.6, 6)]
    batched = TransformersSpec(model=str(folder), device="cpu").build()
    single = TransformersSpec(model=str(folder), device="cpu", batch_seconds=0.01).build()
    assert batched.batchable
    np.testing.assert_allclose(batched(waves), single(waves), atol=1e-5)


def test_group_norm_models_run_one_utterance_per_forward(wavlm_dir: Path) -> None:
    assert not TransformersSpec(model=str(wavlm_dir), device="cpu").build().batchable


def test_transformers_errors_are_clear(wavlm_dir: Path) -> None:
    with pytest.raises(BenchError, match="has no layer 5"):
        TransformersSpec(model=str(wavlm_dir), layer=5, device="cpu").build()
    with pytest.raises(BenchError, match="cannot load the transformers model"):
        TransformersSpec(model="nobody/no-such-model", device="cpu").build()


def save_tiny_ecapa(folder: Path) -> Path:
    """``hyperparams.yaml`` + ``embedding_model.ckpt``: the released model's layout."""
    folder.mkdir(parents=True)
    return write_random_ecapa(folder, **TINY_ECAPA)


def test_ecapa_loads_the_saved_weights_and_normalises(tmp_path: Path) -> None:
    folder = save_tiny_ecapa(tmp_path / "ecapa")
    first = EcapaSpec(model=str(folder), device="cpu").build()
    second = EcapaSpec(model=str(folder), device="cpu").build()  # a fresh random init...
    waves = [noise(0.7, 7), noise(1.1, 8)]
    embeddings = first(waves)  # [2, 12]
    assert first.dim == 12 and embeddings.shape == (2, 12)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(second(waves), embeddings, atol=1e-6)  # ...overwritten by the ckpt
    assert not any(folder.parent.glob("pretrained_models"))


def test_ecapa_identity_follows_the_weight_files(tmp_path: Path) -> None:
    folder = save_tiny_ecapa(tmp_path / "ecapa")
    before = EcapaSpec(model=str(folder)).model_identity()
    torch.save({}, folder / "embedding_model.ckpt")
    assert EcapaSpec(model=str(folder)).model_identity() != before


def test_ecapa_offline_without_a_cached_model_is_a_clear_error() -> None:
    with pytest.raises(BenchError, match="cannot load the ECAPA model"):
        EcapaSpec(model="nobody/no-such-ecapa", device="cpu").build()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Offline mode off and an empty hub cache; returns the hub ids asked of the hub."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    asked: list[str] = []
    model_info = huggingface_hub.model_info

    def counted(repo_id: str, **kwargs: object) -> object:
        asked.append(repo_id)
        return model_info(repo_id, **kwargs)  # the real request (no network here: it fails)

    monkeypatch.setattr(huggingface_hub, "model_info", counted)
    return asked


def cache_as_hub_model(folder: Path, hub_id: str) -> None:
    """Lay ``folder``'s files out as the hub cache holds a downloaded ``hub_id``."""
    repo = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{hub_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")


def jsonl_corpus(folder: Path) -> Path:
    records = [
        {"utt_id": f"u{k}", "session_id": f"d{k}", "speaker_id": "s", "audio_path": f"u{k}.wav"}
        | {"valence": 3, "arousal": 2}
        for k in range(2)
    ]
    for record in records:
        write_tone(folder / record["audio_path"])
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    return manifest


def test_models_that_cannot_load_fail_once_before_any_extraction(
    online: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, cache = jsonl_corpus(tmp_path), tmp_path / "features"
    overrides = [f"corpus.manifest={manifest}", f"features.cache_dir={cache}"]
    speech = "features.speech.model=nonexistent-org/nonexistent-model"
    code = main(["features", "--protocol", "jsonl", "--quiet", *overrides, speech])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("bench features: error: cannot load 2")
    assert "features.speech.model 'nonexistent-org/nonexistent-model' is not" in err
    assert "features.speaker.model 'speechbrain/spkrec-ecapa-voxceleb' is not" in err
    assert "Set features.speech.model=/local/folder features.speaker.model=/local/folder" in err
    assert sorted(online) == [
        "nonexistent-org/nonexistent-model",
        "speechbrain/spkrec-ecapa-voxceleb",
    ]
    assert not list(cache.rglob("*"))  # nothing was extracted (the folder is checked first)


def test_offline_mode_fails_without_asking_the_hub(
    online: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    located = locate(HubModel("org/absent", FILES))
    assert located.problem == "is not in the Hugging Face cache and HF_HUB_OFFLINE is set"
    assert online == []


def test_a_cached_hub_model_loads_from_its_snapshot_without_asking_the_hub(
    online: list[str], wavlm_dir: Path, tmp_path: Path
) -> None:
    cache_as_hub_model(wavlm_dir, "org/tiny-wavlm")
    cache_as_hub_model(save_tiny_ecapa(tmp_path / "ecapa"), "org/tiny-ecapa")
    waves = [noise(0.7, 9)]
    cached = TransformersSpec(model="org/tiny-wavlm", device="cpu").build()
    local = TransformersSpec(model=str(wavlm_dir), device="cpu").build()
    np.testing.assert_allclose(cached(waves), local(waves), atol=1e-6)
    ecapa = EcapaSpec(model="org/tiny-ecapa", device="cpu").build()
    np.testing.assert_allclose(
        ecapa(waves),
        EcapaSpec(model=str(tmp_path / "ecapa"), device="cpu").build()(waves),
        atol=1e-6,
    )
    assert online == []


def test_a_folder_must_hold_the_files_the_loader_reads(wavlm_dir: Path, tmp_path: Path) -> None:
    partial = shutil.copytree(wavlm_dir, tmp_path / "partial")
    (partial / "preprocessor_config.json").unlink()
    assert locate(HubModel(str(partial), FILES)).problem == (
        "is a folder without preprocessor_config.json"
    )
    assert locate(HubModel(str(wavlm_dir), FILES)).folder == wavlm_dir.resolve()
    absent = locate(HubModel(str(tmp_path / "absent"), FILES))
    assert absent.problem == "is neither a folder nor a hub id"
    with pytest.raises(BenchError, match=r"cannot load the ECAPA model '/.*absent': it is neither"):
        EcapaSpec(model=str(tmp_path / "absent"), device="cpu").build()
