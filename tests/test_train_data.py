"""Trial data checks, training-only standardisers, dialog order, padded batches and chunks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.model.model import INITIAL_Y
from bench.testing.toy import toy_trial_data
from bench.train.batching import length_groups, make_batch, shuffled_groups
from bench.train.data import dialog_set, fit_standardisers


@pytest.fixture(scope="module")
def data():
    return toy_trial_data(sessions=3, dialogs_per_session=3, utterances=(3, 9), seed=1)


def test_toy_data_is_valid(data) -> None:
    data.validate()


def test_validate_lists_problems(data) -> None:
    bad = toy_trial_data(sessions=3, dialogs_per_session=3, utterances=(3, 9), seed=1)
    bad.features["speaker"] = bad.features["speaker"][:-1]
    bad.splits["val"] = bad.splits["train"][:2]
    with pytest.raises(BenchError, match=r"features\['speaker'\].*shares rows"):
        bad.validate()


def test_standardisers_use_training_rows_only(data) -> None:
    standardisers = fit_standardisers(data)
    train = data.features["speech"][data.splits["train"]]
    np.testing.assert_allclose(standardisers["speech"].mean, train.mean(axis=0), rtol=1e-5)
    whole = data.features["speech"]
    assert not np.allclose(standardisers["speech"].mean, whole.mean(axis=0), rtol=1e-3)
    scaled = standardisers["speech"](train)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-4)


def test_fallback_rows_neither_shift_the_standardiser_nor_reach_the_model() -> None:
    data = toy_trial_data(sessions=3, dialogs_per_session=3, utterances=(3, 9), seed=1)
    train, test = data.splits["train"], data.splits["test"]
    bad = [train[0], test[0]]
    data.features["prosody"][bad] = 0.0  # an extractor's zero fallback
    data.valid = {"prosody": np.ones(len(data.table), dtype=bool)}
    data.valid["prosody"][bad] = False
    fitted = fit_standardisers(data)["prosody"]
    expected = data.features["prosody"][train[1:]].mean(axis=0)
    np.testing.assert_allclose(fitted.mean, expected, rtol=1e-5)  # fitted without the fallback
    split = dialog_set(data, "test", fit_standardisers(data))
    position = int(np.flatnonzero(split.rows == test[0])[0])
    assert not split.features["prosody"][position].any()  # the training mean: 0 after z-scoring
    assert split.features["prosody"][:-1].abs().sum(dim=1).gt(0).sum() == len(split.rows) - 1


def test_dialog_set_orders_by_dialog_and_start(data) -> None:
    shuffled = data.splits["test"][::-1].copy()
    data.splits["test"] = shuffled
    dialogs = dialog_set(data, "test", fit_standardisers(data))
    table = data.table.iloc[dialogs.rows]
    keys = table[["dialog", "start"]]
    assert keys.equals(keys.sort_values(["dialog", "start"]))
    for member in dialogs.dialogs:
        assert table.iloc[member]["dialog"].nunique() == 1
    assert sum(len(m) for m in dialogs.dialogs) == len(shuffled)
    assert torch.equal(dialogs.features["speech"][-1], torch.zeros(16))


def test_batch_pads_masks_and_shifts_labels(data) -> None:
    dialogs = dialog_set(data, "train", fit_standardisers(data))
    ids = [0, 1, 2]
    lengths = [len(dialogs.dialogs[i]) for i in ids]
    batch = make_batch(dialogs, ids)
    assert batch.mask.shape == (3, max(lengths))
    assert batch.mask.sum(dim=1).tolist() == lengths
    for row, i in enumerate(ids):
        n = lengths[row]
        assert torch.equal(batch.labels[row, :n], dialogs.labels[dialogs.dialogs[i]])
        assert torch.equal(batch.labels_prev[row, 1:n], batch.labels[row, : n - 1])
        assert torch.all(batch.labels_prev[row, 0] == INITIAL_Y)
        assert torch.all(batch.speech[row, n:] == 0)
    chunks = list(batch.chunks(2))
    assert [c.mask.shape[1] for c in chunks][:-1] == [2] * (len(chunks) - 1)
    assert torch.equal(torch.cat([c.labels for c in chunks], dim=1), batch.labels)


def test_groups_cover_every_dialog_once() -> None:
    lengths = [5, 1, 9, 3, 7, 2, 8]
    rng = np.random.default_rng(0)
    groups = shuffled_groups(lengths, 3, rng)
    assert sorted(i for g in groups for i in g) == list(range(7))
    assert max(len(g) for g in groups) == 3
    assert shuffled_groups(lengths, 3, np.random.default_rng(0)) == groups
    ordered = length_groups(lengths, 3)
    assert ordered == [[1, 5, 3], [0, 4, 6], [2]]
