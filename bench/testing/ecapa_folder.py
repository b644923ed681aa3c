"""An ECAPA-TDNN model folder in the layout speechbrain releases it, with random weights.

``hyperparams.yaml`` plus ``embedding_model.ckpt``: what ``EncoderClassifier.from_hparams``
reads for ``speechbrain/spkrec-ecapa-voxceleb``. Hub weights cannot be downloaded on every
machine, so tests (tiny sizes) and benchmarks (the released sizes) write one of these and
load it through the same code path as a user's pretrained model.
"""

from __future__ import annotations

from pathlib import Path

import torch

HPARAMS = """\
n_mels: {n_mels}
pretrained_path: speechbrain/spkrec-ecapa-voxceleb   # as in the released model
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: {attention_channels}
    res2net_scale: {res2net_scale}
    se_channels: {se_channels}
    lin_neurons: {lin_neurons}
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
"""
RELEASED = {  # the sizes of speechbrain/spkrec-ecapa-voxceleb (192-dimensional output)
    "n_mels": 80, "channels": [1024, 1024, 1024, 1024, 3072], "attention_channels": 128,
    "res2net_scale": 8, "se_channels": 128, "lin_neurons": 192,
}  # fmt: skip


def write_random_ecapa(folder: Path, seed: int = 0, **sizes: object) -> Path:
    """Write ``hyperparams.yaml`` and random ``embedding_model.ckpt`` weights to ``folder``.

    ``sizes`` override :data:`RELEASED` (e.g. ``channels=[16, 16, 16, 16, 48]``).
    """
    from hyperpyyaml import load_hyperpyyaml  # speechbrain's YAML dialect

    text = HPARAMS.format(**{**RELEASED, **sizes})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hyperparams.yaml").write_text(text)
    torch.manual_seed(seed)
    model = load_hyperpyyaml(text)["embedding_model"]
    torch.save(model.state_dict(), folder / "embedding_model.ckpt")
    return folder
