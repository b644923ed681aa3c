"""The cost of few-shot personalisation against the cost of training what it adapts.

Trains one ``mamba_ema`` trial of the ``synthetic`` protocol (fold 1, seed 0, its shared
recipe), then personalises it with the protocol's declared adaptation (k = 0, 5, 10, 20;
film, film_last, head_bias; 50 AdamW steps) on every test speaker, one thread, as a grid
worker runs. Prints, per mode, the time to adapt every speaker and k together (one batched
rollout, as ``bench personalise`` does) against the same adaptations one at a time, the
seconds per speaker (adapting, and streaming the test dialogs with each adapted model),
and the ratio of the trial's personalisation to its training. The default grid's
``mamba_ema`` trials have the same sizes, so the ratio carries to them.

    python benchmarks/personalise.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

import bench.personalise.trial as personalise_module
from bench.personalise.adapt import adapt, adapt_many
from bench.personalise.trial import personalise_trial
from bench.run import select_trials
from bench.run.inputs import shared_inputs
from bench.run.selection import corpus_and_folds
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
    spec = replace(resolve_variant("mamba_ema", protocol), seed=0, device="cpu")
    began = time.perf_counter()
    trained = train_model(spec, data)
    train_seconds = time.perf_counter() - began
    checkpoint = make_checkpoint(trained.model, trained.spec, trained.standardisers, data)

    together: dict[str, list[float]] = {}  # mode -> seconds of adapt_many, per round
    alone: dict[str, float] = {}  # mode -> seconds of the same adaptations one at a time
    count: dict[str, int] = {}

    def timed(model, mode, enrolments, config, mse_weight):
        start = time.perf_counter()
        adapted = adapt_many(model, mode, enrolments, config, mse_weight)
        together.setdefault(mode, []).append(time.perf_counter() - start)
        if mode not in alone:
            start = time.perf_counter()
            for enrolment in enrolments:
                adapt(model, mode, enrolment, config, mse_weight)
            alone[mode] = time.perf_counter() - start
        count[mode] = len(enrolments)
        return adapted

    personalise_module.adapt_many = timed
    totals = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        out = personalise_trial(checkpoint, data, protocol.personalise)
        totals.append(time.perf_counter() - start - sum(alone.values()) * (len(totals) == 0))
    speakers = out.predictions["speaker"].nunique()
    total = statistics.median(totals)
    epochs = len(trained.fitted.history)
    print(f"one mamba_ema trial of {protocol.name}, fold 1: trained in {train_seconds:.1f} s "
          f"({epochs} epochs), 1 thread; {speakers} test speakers")  # fmt: skip
    steps = protocol.personalise.steps
    print(f"adapting every speaker and k > 0 ({steps} steps each), median of {args.rounds}:")
    print(f"{'mode':10} {'adaptations':>11} {'together':>9} {'one by one':>11} {'ratio':>6}")
    for mode in protocol.personalise.adapt:
        batched = statistics.median(together[mode])
        print(f"{mode:10} {count[mode]:11d} {batched:8.2f}s {alone[mode]:10.2f}s "
              f"{alone[mode] / batched:5.1f}x")  # fmt: skip
    adapting = sum(statistics.median(t) for t in together.values())
    print(f"per speaker: {total / speakers:.2f} s in all ({adapting / speakers:.2f} s adapting, "
          "the rest streaming the test dialogs with each adapted model)")  # fmt: skip
    print(f"personalising the trial: {total:.1f} s (median of {args.rounds}); training it: "
          f"{train_seconds:.1f} s; ratio {total / train_seconds:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
