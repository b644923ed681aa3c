"""Feature extraction speed on the synthetic corpus, and what the cache saves.

Measured in one run:

1. ``bench features`` cold (empty cache) and warm (every store cached), as subprocesses on
   the synthetic protocol with a fresh cache folder: wall times and their ratio;
2. the real-time factor of each extractor in the cold run: ``RTF = wall seconds / audio
   seconds`` with the run's worker processes, and ``RTF x workers`` (process-seconds per
   audio second, what one core would take);
3. with ``--models``: the RTF of the IEMOCAP defaults' architectures, WavLM base-plus and
   ECAPA-TDNN (C=1024), randomly initialised (no hub access here) and saved to a temporary
   folder, on the first ``--model-utts`` utterances, one process, on the GPU if there is one;
4. the planted effect: Spearman correlation of the arousal label with eGeMAPS F0 and
   loudness means and the mean log-Mel energy (all should be clearly positive).

    python benchmarks/features.py [--size small] [--workers 2] [--models]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

from bench.audio import duration_seconds, load_audio
from bench.corpus.prepare import prepare_corpus
from bench.corpus.registry import synthetic_root
from bench.features.base import resolve_device
from bench.features.config import FeaturesConfig
from bench.features.egemaps import EgemapsSpec
from bench.features.load import load_features
from bench.features.speaker import EcapaSpec
from bench.features.ssl import TransformersSpec
from bench.protocol import load_protocol
from bench.testing.ecapa_folder import write_random_ecapa


def bench_features(overrides: list[str], workers: int) -> tuple[float, list[dict]]:
    """Wall seconds of one ``bench features --json`` subprocess and its summaries."""
    command = [sys.executable, "-m", "bench.cli", "features", *overrides]
    command += ["--json", "--quiet", "--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def random_models(folder: Path) -> dict[str, TransformersSpec | EcapaSpec]:
    """WavLM base-plus and ECAPA-TDNN architectures, random weights, saved as released."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    WavLMModel(WavLMConfig()).save_pretrained(folder / "wavlm")
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder / "wavlm")
    write_random_ecapa(folder / "ecapa")
    return {
        "transformers (WavLM base-plus size)": TransformersSpec(model=str(folder / "wavlm")),
        "ecapa (C=1024)": EcapaSpec(model=str(folder / "ecapa")),
    }


def model_rtfs(paths: list[str], folder: Path) -> list[tuple[str, float, str]]:
    """(name, RTF, device) of each random-weight model on ``paths``, one process."""
    waves = [load_audio(p) for p in paths]
    seconds = sum(w.size for w in waves) / 16_000
    rows = []
    torch.set_num_threads(1)
    for name, spec in random_models(folder).items():
        runner = spec.build()
        runner(waves[:1])  # warm-up
        start = time.perf_counter()
        runner(waves)
        rows.append((name, (time.perf_counter() - start) / seconds, resolve_device("auto")))
    return rows


def arousal_correlations(table, features_cfg: FeaturesConfig) -> dict[str, float]:
    """Spearman rho of the arousal label with three features that should rise with it."""
    features = load_features(table, features_cfg)
    names = EgemapsSpec().build().names
    n_mels = features["speech"].shape[1] // 3
    columns = {
        "eGeMAPS F0 mean": features["prosody"][:, names.index("F0semitoneFrom27.5Hz_sma3nz_amean")],
        "eGeMAPS loudness mean": features["prosody"][:, names.index("loudness_sma3_amean")],
        "mean log-Mel energy": features["speech"][:, :n_mels].mean(axis=1),
    }
    return {name: float(spearmanr(x, table["arousal"])[0]) for name, x in columns.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="small", help="synthetic corpus size (default small)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--models", action="store_true", help="also time WavLM and ECAPA")
    parser.add_argument("--model-utts", type=int, default=40)
    args = parser.parse_args()

    protocol = load_protocol("synthetic", [f"corpus.synth.size={args.size}"])
    corpus = prepare_corpus(protocol.corpus)  # generated on first use, not timed
    table = corpus.table
    audio_seconds = sum(duration_seconds(p) for p in table["audio_path"])
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"corpus.root={synthetic_root(protocol.corpus)}"]
        overrides.append(f"features.cache_dir={tmp}/cache")
        cold, summaries = bench_features(overrides, args.workers)
        warm, cached = bench_features(overrides, args.workers)
        paths = table["audio_path"][: args.model_utts].tolist()
        models = model_rtfs(paths, Path(tmp)) if args.models else []
        features_cfg = load_protocol("synthetic", overrides).features
        correlations = arousal_correlations(table, features_cfg)

    print(f"synthetic corpus ({args.size}): {len(table)} utterances, {audio_seconds:.0f} s audio")
    print(
        f"\n| extractor | dim | failed | seconds | RTF ({args.workers} workers) | RTF x workers |"
    )
    print("|---|---|---|---|---|---|")
    for s in summaries:
        rtf = s["seconds"] / audio_seconds
        print(
            f"| {s['role']}: {s['name']} | {s['dim']} | {s['failed']} | {s['seconds']:.1f} "
            f"| {rtf:.4f} | {rtf * args.workers:.4f} |"
        )
    for name, rtf, device in models:
        print(f"| {name}, random weights, {device}, 1 process | | | | {rtf:.4f} | |")
    assert all(s["cached"] for s in cached), "the warm run extracted something"
    print(f"\nbench features: cold {cold:.1f} s, warm {warm:.2f} s, ratio {cold / warm:.1f}x")
    print("\narousal vs features (Spearman rho):")
    for name, rho in correlations.items():
        print(f"  {name}: {rho:+.2f}")


if __name__ == "__main__":
    main()
