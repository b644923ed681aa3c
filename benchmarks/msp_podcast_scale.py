"""MSP-Podcast at the release's scale: reading its labels, and the feature store's memory.

Measured in one run, on a generated release (``bench.testing.msp_podcast``'s layout) of
``--utterances`` label rows, one sixth of them Test3 (skipped by the reader, as in the
release), every audio file a hard link to one 0.5 s tone (the audio can be short; the
reader still checks that every file exists):

1. reading the labels into the utterance table (``read_msp_podcast``, audio check
   included) and building the predefined folds: wall seconds, and the peak of Python
   allocations while reading (``tracemalloc``);
2. the feature store's memory: log-Mel extraction of the speech role (``bench features``'
   code, two worker processes) of the first ``n / 8`` and of all ``n`` utterances, each in a
   fresh process: that process's peak resident memory (``VmHWM``), and the ratio. A store
   that streams has a ratio near 1: its shards go to disk, and finishing joins them one at a
   time;
3. the trainer at that scale: one ``mamba_ema`` trial of fold 1 (Train trains, Development
   selects, Test1 is streamed) for ``--epochs`` epochs, on random features of IEMOCAP's
   default sizes (768-d speech, 88-d prosody, 192-d speaker; the numbers are not the point),
   on the CPU: wall seconds of training and of streaming the validation and test dialogs,
   and the process's peak resident memory.

    python benchmarks/msp_podcast_scale.py                    # 150,000 rows
    python benchmarks/msp_podcast_scale.py --utterances 12000 --extract-fraction 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.corpus.msp_podcast import read_msp_podcast
from bench.protocol import load_protocol, make_folds
from bench.testing.msp_podcast import write_msp_podcast
from bench.testing.tones import write_tone
from bench.train.data import TrialData
from bench.train.trial import run_trial
from bench.variants import resolve_variant

SEGMENTS = 50  # per podcast
DIMS = {"speech": 768, "prosody": 88, "speaker": 192}  # IEMOCAP's default extractors
LINKS_PER_FILE = 50_000  # ext4 allows 65,000 hard links to one file


def write_release(root: Path, utterances: int) -> None:
    """The labels of ``utterances`` rows; every audio file a hard link to one tone."""
    podcasts = max(1, utterances // (6 * SEGMENTS))  # per split, of six splits
    write_msp_podcast(root, podcasts=podcasts, segments=SEGMENTS, audio=False)
    with open(root / "Labels" / "labels_consensus.csv") as handle:
        names = [line.split(",", 1)[0] for line in handle.readlines()[1:]]
    rng = np.random.default_rng(0)
    for start in range(0, len(names), LINKS_PER_FILE):  # a file system caps links per file
        tone = root / f"tone{start}.wav"
        write_tone(tone, rng)
        for name in names[start : start + LINKS_PER_FILE]:
            os.link(tone, root / "Audios" / name)


def extract_peak(root: Path, cache: Path, rows: int) -> dict[str, float]:
    """Extract log-Mel features of the first ``rows`` utterances in a fresh process: its
    wall seconds and peak resident memory (MiB)."""
    code = f"""
import dataclasses, json, time
from bench.corpus.msp_podcast import read_msp_podcast
from bench.features.extract import extract_features
from bench.protocol import load_protocol
overrides = ["features.speech.extractor=logmel", "features.cache_dir={cache}"]
features = load_protocol("msp_podcast", overrides).features
speech = dataclasses.replace(features, extractors={{"speech": features.extractors["speech"]}})
table = read_msp_podcast({str(root)!r}).table.iloc[:{rows}]
began = time.perf_counter()
extract_features(table, speech, workers=2, progress=False)
seconds = time.perf_counter() - began
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) / 1024  # kB -> MiB (ru_maxrss would carry the parent's over exec)
print(json.dumps({{"seconds": seconds, "peak_mib": peak}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_at_scale(table, fold, epochs: int, device: str = "cpu") -> dict[str, float]:
    """One mamba_ema trial on random features for every row of ``table`` (see item 3), on
    ``device`` (``gpu_check.py`` runs it on CUDA too)."""
    rng = np.random.default_rng(0)
    features = {role: rng.standard_normal((len(table), dim), dtype=np.float32)
                for role, dim in DIMS.items()}  # fmt: skip
    splits = {"train": fold.train, "val": fold.val, "test": fold.test}
    data = TrialData(table, features, splits, label_scale=(1.0, 7.0))
    config = resolve_variant("mamba_ema", load_protocol("msp_podcast"), [f"train.epochs={epochs}"])
    spec = replace(config, seed=0, device=device)
    result = run_trial(spec, data)
    timings, counts = result.outcome.timings, result.outcome.counts
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
    return {"train_s": timings["train_s"], "evaluate_s": timings["evaluate_s"],
            "steps": counts["steps"], "train_utterances": counts["train_utterances"],
            "peak_mib": int(status.split()[0]) / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=150_000, help="label rows (150000)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the trial (1)")
    parser.add_argument("--extract-fraction", type=float, default=1.0,
                        help="the large extraction: this share of the rows (1)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-msp-scale-") as tmp:
        root = Path(tmp) / "MSP-Podcast"
        began = time.perf_counter()
        write_release(root, args.utterances)
        print(f"wrote {args.utterances} label rows and audio links in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip

        tracemalloc.start()
        began = time.perf_counter()
        corpus = read_msp_podcast(root)
        read_seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        began = time.perf_counter()
        folds = make_folds(corpus.table, load_protocol("msp_podcast", [f"corpus.root={root}"]))
        fold_seconds = time.perf_counter() - began
        n = len(corpus.table)
        print(f"read {n} utterances ({sum(corpus.skipped.values())} rows skipped) in "
              f"{read_seconds:.2f} s, peak Python allocations {peak:.0f} MiB; "
              f"{len(folds)} predefined folds in {fold_seconds:.2f} s")  # fmt: skip

        large = int(n * args.extract_fraction)
        small = max(1, large // 8)
        figures = {size: extract_peak(root, Path(tmp) / f"cache{size}", size)
                   for size in (small, large)}  # fmt: skip
        for size, figure in figures.items():
            print(f"extract {size:7d} utterances (log-Mel, 2 workers): "
                  f"{figure['seconds']:7.1f} s, peak RSS {figure['peak_mib']:.0f} MiB")  # fmt: skip
        ratio = figures[large]["peak_mib"] / figures[small]["peak_mib"]
        print(f"peak RSS ratio {large} / {small} utterances: {ratio:.2f} "
              f"(utterances x{large / small:.0f})")  # fmt: skip

        trained = train_at_scale(corpus.table, folds[0], args.epochs)
        print(f"one mamba_ema trial, {args.epochs} epoch(s) on {trained['train_utterances']} "
              f"training utterances ({trained['steps']} steps): trained in "
              f"{trained['train_s']:.1f} s, validation and Test1 streamed in "
              f"{trained['evaluate_s']:.1f} s; peak RSS of this process "
              f"{trained['peak_mib']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
