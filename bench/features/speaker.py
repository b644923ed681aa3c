"""Speaker embeddings: ``resemblyzer`` (GE2E, 256, weights in its wheel) and ``ecapa``.

Both are L2-normalised per utterance, ``s = e / (||e||_2 + 1e-8)``. Whether a trial sees
the utterance's own embedding or its speaker's mean is a loading choice (the speaker
role's ``level``, see :mod:`bench.features.load`), so one cached store serves both.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bench.audio import SAMPLE_RATE
from bench.errors import BenchError
from bench.features.base import ExtractorSpec, local_model_identity, resolve_device, runtime_field
from bench.features.hub import HubModel, load_source
from bench.features.torch_versions import check_torchaudio

MIN_TRIMMED_SECONDS = 0.1
ECAPA_FILES = (("hyperparams.yaml",), ("embedding_model.ckpt",))  # + what the hparams name


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``[n, d]`` divided by their Euclidean norm: ``x / (||x||_2 + 1e-8)``."""
    return (x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-8)).astype(np.float32)


@dataclass(frozen=True)
class ResemblyzerSpec(ExtractorSpec):
    """Resemblyzer's GE2E speaker encoder (Wan et al. 2018), 256 dimensions, on the CPU.

    Each waveform is volume-normalised to -30 dBFS and has silences longer than 0.18 s
    trimmed by webrtcvad (``resemblyzer.preprocess_wav``); if the VAD keeps less than
    0.1 s, the untrimmed volume-normalised waveform is embedded instead. The embedding is
    the normalised mean of the encoder's outputs on 1.6 s windows at 1.3 windows/s.
    """

    name = "resemblyzer"
    packages = ("resemblyzer", "torch", "webrtcvad")

    def build(self) -> Resemblyzer:
        return Resemblyzer()


class Resemblyzer:
    """Runner for :class:`ResemblyzerSpec`."""

    dim = 256

    def __init__(self) -> None:
        with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
            warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
            from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device="cpu", verbose=False)

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        from resemblyzer import audio, preprocess_wav  # imported by __init__ already

        rows = []
        for wave in waves:
            trimmed = preprocess_wav(wave)  # [t'] 16 kHz, silences trimmed
            if trimmed.size < MIN_TRIMMED_SECONDS * SAMPLE_RATE:
                trimmed = audio.normalize_volume(wave, audio.audio_norm_target_dBFS, True)
            rows.append(self.encoder.embed_utterance(trimmed))  # [256]
        return l2_normalise(np.stack(rows))  # [n, 256]


@dataclass(frozen=True)
class EcapaSpec(ExtractorSpec):
    """speechbrain's ECAPA-TDNN speaker encoder (Desplanques et al. 2020), 192 dims.

    ``model`` is a Hugging Face id or a folder in the same layout (``hyperparams.yaml`` +
    ``embedding_model.ckpt``). A folder, or a hub id already in the Hugging Face cache (its
    cached snapshot folder), loads with no network access, ``pretrained_path`` pointed at
    the folder itself; an uncached hub id is downloaded. Each utterance runs alone (no
    padding), so batching never changes the numbers.
    """

    name = "ecapa"
    packages = ("speechbrain", "torch")

    model: str = "speechbrain/spkrec-ecapa-voxceleb"
    device: str = runtime_field("auto")

    def model_identity(self) -> str:
        return local_model_identity(self.model)

    def weights(self) -> HubModel:
        return HubModel(self.model, ECAPA_FILES)

    def wants_gpu(self) -> bool:
        return resolve_device(self.device) == "cuda"

    def build(self) -> Ecapa:
        return Ecapa(self)


class Ecapa:
    """Runner for :class:`EcapaSpec`."""

    def __init__(self, spec: EcapaSpec):
        check_torchaudio()  # speechbrain imports torchaudio
        from speechbrain.inference.classifiers import EncoderClassifier

        self.device = resolve_device(spec.device)
        source, local = load_source(spec.weights(), "ECAPA")
        try:
            self.model = EncoderClassifier.from_hparams(
                source=source,
                savedir=None,  # read in place (or from the hub cache): write nothing
                overrides={"pretrained_path": source} if local else {},
                overrides_must_match=False,
                run_opts={"device": self.device},
            )
        except (OSError, ValueError) as exc:
            raise BenchError(
                f"cannot load the ECAPA model {spec.model!r} ({exc}); without network "
                "access give a local folder or a model already in the Hugging Face cache"
            ) from exc
        self.model.eval()
        self.dim = self.embed(np.zeros(SAMPLE_RATE, dtype=np.float32)).size

    def embed(self, wave: np.ndarray) -> np.ndarray:
        """Raw embedding of one waveform ``[t]`` -> ``[d]``."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(wave).to(self.device)[None]  # [1, t]
            return self.model.encode_batch(x).reshape(-1).float().cpu().numpy()  # [d]

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        return l2_normalise(np.stack([self.embed(wave) for wave in waves]))  # [n, d]
