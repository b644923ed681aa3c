"""Batches of whole dialogs, padded to a common length and cut into TBPTT chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from bench.model.model import INITIAL_Y
from bench.train.data import DialogSet


@dataclass
class Batch:
    """``B`` dialogs from their first utterance, padded at the end (``mask`` is False there)."""

    speech: Tensor  # [B, L, Dh]
    prosody: Tensor  # [B, L, Dp]
    speaker: Tensor  # [B, L, Ds]
    labels: Tensor  # [B, L, 2]
    labels_prev: Tensor  # [B, L, 2] ground-truth y_{t-1}; INITIAL_Y at t = 0
    mask: Tensor  # [B, L] bool
    positions: Tensor  # [B, L] position in the DialogSet; the padding row where masked

    def chunks(self, length: int) -> Iterator[Batch]:
        """Consecutive time slices of at most ``length`` utterances."""
        for start in range(0, self.mask.shape[1], length):
            part = slice(start, start + length)
            yield Batch(*(getattr(self, f.name)[:, part] for f in fields(self)))

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


def make_batch(dialogs: DialogSet, ids: Sequence[int]) -> Batch:
    """Gather dialogs ``ids`` of ``dialogs`` into one padded batch."""
    members = [dialogs.dialogs[i] for i in ids]
    longest = max(len(m) for m in members)
    positions = np.full((len(members), longest), dialogs.padding)  # [B, L]
    for row, member in enumerate(members):
        positions[row, : len(member)] = member
    index = torch.from_numpy(positions)  # [B, L]
    labels = dialogs.labels[index]  # [B, L, 2]
    first = torch.full_like(labels[:, :1], INITIAL_Y)  # [B, 1, 2]
    return Batch(
        speech=dialogs.features["speech"][index],
        prosody=dialogs.features["prosody"][index],
        speaker=dialogs.features["speaker"][index],
        labels=labels,
        labels_prev=torch.cat([first, labels[:, :-1]], dim=1),
        mask=index != dialogs.padding,
        positions=index,
    )


def shuffled_groups(lengths: Sequence[int], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Random groups of ``size`` dialogs with similar lengths (little padding).

    Dialogs are shuffled, sorted by length within pools of ``4 size``, cut into groups,
    and the groups shuffled.
    """
    order = rng.permutation(len(lengths))
    pools = [order[i : i + 4 * size] for i in range(0, len(order), 4 * size)]
    groups = []
    for pool in pools:
        pool = sorted(pool, key=lambda i: lengths[i])
        groups += [[int(i) for i in pool[j : j + size]] for j in range(0, len(pool), size)]
    return [groups[i] for i in rng.permutation(len(groups))]


def length_groups(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Deterministic groups of ``size`` dialogs sorted by length (for evaluation)."""
    order = np.argsort(lengths, kind="stable")
    return [[int(i) for i in order[j : j + size]] for j in range(0, len(order), size)]
