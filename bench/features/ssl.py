"""``transformers``: a self-supervised speech encoder (WavLM, HuBERT, wav2vec 2.0), pooled.

One code path for every model that ``AutoModel`` / ``AutoFeatureExtractor`` load from a
hub id or a local folder saved with ``save_pretrained``. A folder, or a hub id already in
the Hugging Face cache, loads with ``local_files_only`` (no network access).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.audio import SAMPLE_RATE
from bench.errors import BenchError
from bench.features.base import ExtractorSpec, local_model_identity, resolve_device, runtime_field
from bench.features.hub import HubModel, load_source

if TYPE_CHECKING:
    import torch

FILES = (  # what AutoModel / AutoFeatureExtractor read from a save_pretrained folder
    ("config.json",),
    ("preprocessor_config.json",),
    ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"),
)


@dataclass(frozen=True)
class TransformersSpec(ExtractorSpec):
    """Mean-pooled hidden states of a self-supervised speech encoder.

    With hidden states ``H^(0..L)`` (``H^(0)`` is the transformer's input, ``H^(l)`` the
    output of layer ``l``), each ``[T, D]`` over the ``T`` valid frames of the attention
    mask::

        layer = l (int, negative counts from the end):  h = mean_t H^(l)_t
        layer = "mean":                                  h = mean_t (1/L) sum_{l=1..L} H^(l)_t

    Utterances longer than ``chunk_seconds`` are cut into ``ceil(len / chunk)`` equal
    chunks run separately (attention memory grows with the square of the length); the
    mean then runs over the frames of all chunks.

    Batches group utterances of similar length, up to ``batch_seconds`` of padded audio,
    only for models whose padding is exact: layer-normalised feature encoders with an
    attention mask. Group-normalised ones (WavLM/HuBERT/wav2vec 2.0 base) normalise over
    time, where padding would change the numbers, so they run one utterance per forward.
    """

    name = "transformers"
    packages = ("transformers", "torch")

    model: str = "microsoft/wavlm-base-plus"
    layer: int | str = -1
    chunk_seconds: float = 20.0
    device: str = runtime_field("auto")
    batch_seconds: float = runtime_field(120.0)

    def __post_init__(self) -> None:
        if not isinstance(self.layer, int) and self.layer != "mean":
            raise BenchError(f"transformers: layer must be an int or 'mean', not {self.layer!r}")

    def model_identity(self) -> str:
        return local_model_identity(self.model)

    def weights(self) -> HubModel:
        return HubModel(self.model, FILES)

    def wants_gpu(self) -> bool:
        return resolve_device(self.device) == "cuda"

    def build(self) -> SelfSupervised:
        return SelfSupervised(self)


def split_chunks(wave: np.ndarray, max_samples: int) -> list[np.ndarray]:
    """Cut ``wave`` ``[t]`` into ``ceil(t / max_samples)`` near-equal consecutive chunks."""
    return np.array_split(wave, max(1, math.ceil(wave.size / max_samples)))


def length_batches(lengths: list[int], max_samples: int, batchable: bool) -> list[list[int]]:
    """Group indices sorted by length so that ``len(batch) * longest <= max_samples``.

    A single item longer than ``max_samples`` forms its own batch; with ``batchable``
    false every item does.
    """
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        batch = batches[-1] if batches else None
        if batchable and batch and (len(batch) + 1) * lengths[i] <= max_samples:
            batch.append(i)
        else:
            batches.append([i])
    return batches


class SelfSupervised:
    """Runner for :class:`TransformersSpec`."""

    def __init__(self, spec: TransformersSpec):
        from transformers import AutoFeatureExtractor, AutoModel

        self.spec = spec
        self.device = resolve_device(spec.device)
        source, local = load_source(spec.weights(), "transformers")
        try:
            self.processor = AutoFeatureExtractor.from_pretrained(source, local_files_only=local)
            model = AutoModel.from_pretrained(source, local_files_only=local)
            self.model = model.to(self.device).eval()
        except OSError as exc:
            raise BenchError(
                f"cannot load the transformers model {spec.model!r} ({exc}); without network "
                "access give a local folder or a model already in the Hugging Face cache"
            ) from exc
        config = self.model.config
        layers = config.num_hidden_layers
        if isinstance(spec.layer, int) and not -(layers + 1) <= spec.layer <= layers:
            raise BenchError(f"transformers: {spec.model} has no layer {spec.layer} (0..{layers})")
        self.dim = config.hidden_size
        masked = bool(getattr(self.processor, "return_attention_mask", False))
        self.batchable = masked and getattr(config, "feat_extract_norm", "") == "layer"

    def __call__(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        max_samples = round(self.spec.chunk_seconds * SAMPLE_RATE)
        owners, chunks = [], []
        for i, wave in enumerate(waves):
            for chunk in split_chunks(wave, max_samples):
                owners.append(i)
                chunks.append(chunk)
        sums = torch.zeros(len(waves), self.dim, dtype=torch.float64)  # [n, D]
        counts = torch.zeros(len(waves), dtype=torch.float64)  # [n]
        budget = round(self.spec.batch_seconds * SAMPLE_RATE)
        for batch in length_batches([c.size for c in chunks], budget, self.batchable):
            hidden, frames = self.forward([chunks[j] for j in batch])  # [B, T, D], [B]
            mask = torch.arange(hidden.shape[1])[None] < frames[:, None]  # [B, T]
            pooled = (hidden * mask[..., None]).sum(dim=1)  # [B, D]
            for row, j in enumerate(batch):
                sums[owners[j]] += pooled[row]
                counts[owners[j]] += frames[row]
        return (sums / counts[:, None]).float().numpy()  # [n, D]

    def forward(self, chunks: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Selected hidden states ``[B, T, D]`` (CPU float64) and valid frames ``[B]``."""
        import torch

        inputs = self.processor(
            chunks,
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=self.batchable,  # only batches have padding to mask
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            states = self.model(**inputs, output_hidden_states=True).hidden_states  # L+1 x [B,T,D]
        if self.spec.layer == "mean":
            hidden = torch.stack(states[1:]).mean(dim=0)  # [B, T, D]
        else:
            hidden = states[self.spec.layer]  # [B, T, D]
        lengths = torch.tensor([c.size for c in chunks])  # [B]
        frames = self.model._get_feat_extract_output_lengths(lengths)  # [B] (conv arithmetic)
        return hidden.double().cpu(), frames.cpu()
