"""Label-direction checks: mean ratings per category, and a warning where a direction
contradicts the literature (arousal of angry and happy above sad; valence of happy above
angry and sad)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from bench.corpus.describe import describe, format_description
from bench.corpus.directions import MIN_UTTERANCES, category_means, direction_warnings
from bench.corpus.iemocap import read_iemocap
from bench.corpus.jsonl import read_jsonl
from bench.corpus.table import Corpus
from bench.testing.tones import write_tone


@pytest.fixture(scope="module")
def synthetic(tiny_corpus_root: Path) -> Corpus:
    return read_iemocap(tiny_corpus_root, name="synthetic")


def flipped(corpus: Corpus, label: str) -> Corpus:
    """``corpus`` with ``label`` read upside down: ``lo + hi - x``, i.e. ``1 - y`` normalised."""
    return replace(corpus, table=corpus.table.assign(**{label: 1 - corpus.table[label]}))


def test_the_synthetic_corpus_carries_categories_that_agree_with_the_literature(synthetic):
    means = {row["category"]: row for row in category_means(synthetic)}
    assert {"ang", "sad", "neu"} <= set(means)
    assert means["ang"]["basic"] == "angry" and means["exc"]["basic"] == "happy"
    # the angry/sad comparison is made, not skipped for want of utterances
    assert min(means["ang"]["utterances"], means["sad"]["utterances"]) >= MIN_UTTERANCES
    assert direction_warnings(synthetic) == []


def test_arousal_read_upside_down_is_warned_about_and_valence_is_not(synthetic):
    warnings = direction_warnings(flipped(synthetic, "arousal"))
    assert [w.split(" (")[0] for w in warnings] == [
        "synthetic: mean arousal of angry", "synthetic: mean arousal of happy"]  # fmt: skip
    assert all("is not above sad" in w for w in warnings)
    assert "corpus.arousal_reversed" in warnings[0]
    valence = direction_warnings(flipped(synthetic, "valence"))
    assert [w.split(" (")[0] for w in valence] == [
        "synthetic: mean valence of happy", "synthetic: mean valence of happy"]  # fmt: skip


def test_describe_prints_the_means_per_category_and_counts_contradictions(synthetic):
    summary = {**describe(flipped(synthetic, "arousal")), "audio": {"hours": 0}}
    assert summary["direction_warnings"] and set(summary["direction_warnings"]) <= set(
        summary["problems"]
    )
    text = format_description(summary)
    assert "label directions: 2 contradiction(s)" in text
    ang = next(row for row in summary["categories"] if row["category"] == "ang")
    raw = synthetic.table[synthetic.table["category"] == "ang"]["arousal"]
    assert ang["arousal"] == pytest.approx(1 + 4 * (1 - raw.mean()), abs=1e-3)  # on 1..5


def test_categories_of_too_few_utterances_are_not_compared(synthetic):
    table = synthetic.table
    few = pd.concat([table[table["category"] != "sad"], table[table["category"] == "sad"][:4]])
    corpus = flipped(replace(synthetic, table=few), "arousal")
    assert direction_warnings(corpus) == []  # 4 sad utterances: below MIN_UTTERANCES


def test_a_manifest_category_is_read_and_checked(tmp_path: Path):
    write_tone(tmp_path / "a.wav", seconds=0.1)
    rows = [
        {"utt_id": f"u{k}", "session_id": "d", "speaker_id": "s", "audio_path": "a.wav",
         "category": category, "valence": valence, "arousal": arousal}
        for k, (category, valence, arousal) in enumerate(
            [("angry", 1.5, 4.5), ("happy", 4.5, 4.0), ("sad", 1.5, 1.5)] * MIN_UTTERANCES)
    ]  # fmt: skip
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    corpus = read_jsonl(path)
    assert sorted(corpus.table["category"].unique()) == ["angry", "happy", "sad"]
    assert direction_warnings(corpus) == []
    assert len(direction_warnings(flipped(corpus, "arousal"))) == 2
