"""The cost of few-shot personalisation against the cost of training what it adapts.

Trains one ``mamba_ema`` trial of the ``synthetic`` protocol (fold 1, seed 0, its shared
recipe), then personalises it with the protocol's declared adaptation (k = 0, 5, 10, 20;
film, film_last, head_bias; 50 AdamW steps) on every test speaker, one thread, as a grid
worker runs. Prints the milliseconds of one adaptation per mode and k (adapting only), the
seconds per speaker (adapting every mode and k, and streaming the test dialogs with each
adapted model), and the ratio of the trial's personalisation to its training. A grid's
trials all have the same ratio's shape (same sizes), so it carries to the default grid.

    python benchmarks/personalise.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import bench.personalise.trial as personalise_module
from bench.personalise.adapt import adapt
from bench.personalise.trial import personalise_trial
from bench.run import select_trials
from bench.run.grid import corpus_and_folds, shared_inputs
from bench.train.checkpoint import make_checkpoint
from bench.train.trial import train_model
from bench.variants import resolve_variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="personalisation repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    selection = select_trials(variants=["mamba_ema"], seeds=[0], folds=[1])
    protocol = selection.protocol
    corpus, folds = corpus_and_folds(selection, progress=True)
    data = shared_inputs(protocol, corpus, folds, progress=True).trial_data(1)
    spec = {**resolve_variant("mamba_ema", protocol), "seed": 0, "device": "cpu"}
    began = time.perf_counter()
    trained = train_model(spec, data)
    train_seconds = time.perf_counter() - began
    checkpoint = make_checkpoint(trained.model, trained.spec, trained.standardisers, data)

    timings: dict[tuple[str, int], list[float]] = {}

    def timed(model, mode, turns, config, mse_weight):
        start = time.perf_counter()
        adapted = adapt(model, mode, turns, config, mse_weight)
        timings.setdefault((mode, len(turns)), []).append(time.perf_counter() - start)
        return adapted

    personalise_module.adapt = timed
    totals = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        out = personalise_trial(checkpoint, data, protocol.personalise)
        totals.append(time.perf_counter() - start)
    speakers = out.predictions["speaker"].nunique()
    total = statistics.median(totals)
    epochs = len(trained.fitted.history)
    print(f"one mamba_ema trial of {protocol.name}, fold 1: trained in {train_seconds:.1f} s "
          f"({epochs} epochs), 1 thread; {speakers} test speakers")  # fmt: skip
    print(f"one adaptation ({protocol.personalise.steps} steps), median of "
          f"{args.rounds * speakers} (ms):")  # fmt: skip
    print(f"{'mode':10} " + " ".join(f"{f'k={k}':>8}" for k in sorted(protocol.personalise.k)[1:]))
    for mode in protocol.personalise.adapt:
        cells = [
            f"{1000 * statistics.median(timings[(mode, k)]):8.0f}"
            for k in sorted(protocol.personalise.k)[1:]
        ]
        print(f"{mode:10} " + " ".join(cells))
    adapting = sum(sum(t) for t in timings.values()) / args.rounds
    print(f"per speaker: {total / speakers:.1f} s in all ({adapting / speakers:.1f} s adapting, "
          "the rest streaming the test dialogs with each adapted model)")  # fmt: skip
    print(f"personalising the trial: {total:.1f} s (median of {args.rounds}); training it: "
          f"{train_seconds:.1f} s; ratio {total / train_seconds:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
