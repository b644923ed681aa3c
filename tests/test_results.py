"""The trial record's schema, and how the store treats a result.json that is not one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_report_fabricate import fabricate, fake_record, write_results

from bench.errors import BenchError
from bench.results import (
    RESULT_FILE,
    SCHEMA,
    TrialKey,
    TrialRecord,
    claim,
    read_record,
    stored_trials,
)

KEY = TrialKey("synthetic", "mamba_ema", 1, 0)
# Every kind of bad result.json, by name: its bytes.
CORRUPT = {
    "garbage": b"{'not': json",
    "random bytes": bytes(range(256)) * 4,
    "JSON list": b"[1, 2, 3]",
    "empty object": b"{}",
    "other schema": None,  # a valid record, with schema bench.trial/0 (filled in below)
}


def record_json() -> dict:
    """The JSON values of a valid record."""
    return json.loads(json.dumps(fake_record(KEY, "abc123", 0.5).to_json()))


def write_one(root: Path) -> TrialRecord:
    """A fabricated trial of KEY stored under ``root``; its record."""
    predictions = fabricate({KEY.variant: 0.6}, seeds=(KEY.seed,))
    write_results(root, predictions[predictions["fold"] == KEY.fold], {KEY.variant: "abc123"})
    return read_record(KEY.folder(root))


def corrupt_bytes(kind: str) -> bytes:
    if kind == "other schema":
        return json.dumps(record_json() | {"schema": "bench.trial/0"}).encode()
    return CORRUPT[kind]


def test_a_record_round_trips_through_json(tmp_path: Path) -> None:
    record = write_one(tmp_path)
    text = (KEY.folder(tmp_path) / RESULT_FILE).read_text()
    assert json.loads(text)["schema"] == SCHEMA
    assert TrialRecord.from_json(json.loads(text)) == record
    assert record.key == KEY and record.config_hash == "abc123"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": None}, "schema is none, not 'bench.trial/1'"),
        ({"schema": "bench.trial/2"}, "schema is 'bench.trial/2', not 'bench.trial/1'"),
        ({"fold": "1"}, "fold must be int, not str '1'"),
        ({"seed": True}, "seed must be int, not bool True"),
        ({"config": []}, "config must be dict"),
        ({"variant": None}, "missing key(s) variant"),
        (
            {"outcome": {"best_epoch": 0}},
            "missing key(s) outcome.metrics, outcome.teacher_probability",
        ),
        ({"outcome": 3}, "outcome must be a mapping"),
        ({"extra": 1}, "unknown key(s) extra"),
    ],
)
def test_from_json_rejects_a_wrong_schema_or_type(change: dict, message: str) -> None:
    values = record_json() | change
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(BenchError) as error:
        TrialRecord.from_json(values)
    assert message in str(error.value)


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_a_corrupt_record_is_moved_aside_and_counts_as_missing(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    write_one(tmp_path)
    path = KEY.folder(tmp_path) / RESULT_FILE
    path.write_bytes(corrupt_bytes(kind))
    with caplog.at_level(logging.WARNING):
        assert read_record(KEY.folder(tmp_path)) is None
    [aside] = KEY.folder(tmp_path).glob(f"{RESULT_FILE}.corrupt-*")
    assert aside.read_bytes() == corrupt_bytes(kind) and not path.exists()  # kept, not deleted
    [warning] = caplog.records
    assert str(path) in warning.getMessage() and aside.name in warning.getMessage()
    assert "counts as missing" in warning.getMessage()
    assert list(stored_trials(tmp_path, "synthetic")) == []


def test_a_record_without_predictions_is_not_complete(tmp_path: Path) -> None:
    write_one(tmp_path)
    (KEY.folder(tmp_path) / "predictions.parquet").unlink()
    assert read_record(KEY.folder(tmp_path)) is None
    assert (KEY.folder(tmp_path) / RESULT_FILE).exists()  # valid: left in place


def test_claiming_a_trial_removes_a_killed_writers_temporary_files(tmp_path: Path) -> None:
    key = TrialKey("synthetic", "stateless", 1, 0)
    folder = key.folder(tmp_path)
    folder.mkdir(parents=True)
    orphan = folder / ".predictions.parquet.tmp-99999"  # left by a writer killed mid-write
    orphan.write_bytes(b"half a parquet file")
    kept = folder / "notes.txt"  # anything else in the folder is not the store's to remove
    kept.write_text("a user's file")
    with claim(tmp_path, key):
        assert not orphan.exists()
    assert kept.read_text() == "a user's file"
