"""Training throughput: the batched TBPTT trainer against the seed's naive loop (section 9.3).

For each updater and feedback mode, prints training utterance-steps per second (forward,
backward and optimiser step) of

- fast: the trainer's loop, ``B`` dialogs of similar length per batch, chunks of ``T`` run
  in parallel where the fed-back values are known in advance, else step by step batched
  across dialogs;
- naive: seed section 9.3 literally, one dialog at a time and one utterance per step
  (``z_t``, scheduled-sampling draw, updater step, EMA, head), the same loss on each chunk,

with the same model and math, measured in one run, alternating, at 1 thread (what a grid
trial gets) and at all cores (a lone run). ``ceiling`` is the roofline bound on the ratio.
Then the Mamba updater's forward + backward time at ``(B, T, d) = (16, 30, 128)`` against
mambapy's parallel scan.

    python benchmarks/trainer.py [--threads 1,2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from mambapy.mamba import MambaBlock as MambapyBlock
from mambapy.mamba import MambaConfig as MambapyConfig
from torch.utils.flop_counter import FlopCounterMode

from bench.cli_args import int_list
from bench.model import ModelConfig, StreamingModel, map_state
from bench.model.mamba import MambaBlock
from bench.model.model import INITIAL_Y
from bench.testing.toy import toy_trial_data
from bench.train.batching import Batch, make_batch, shuffled_groups
from bench.train.config import TrainConfig
from bench.train.data import DialogSet, dialog_set, fit_standardisers
from bench.train.loss import va_loss
from bench.train.optim import make_optimizer
from bench.train.step import train_batch

DIMS = (768, 88, 192)  # WavLM-base, eGeMAPS, ECAPA
CHUNK = 30
CONFIG = TrainConfig(chunk_len=CHUNK, lr=1e-4)  # the trainer's clip (1.0) and MSE weight (0.1)
TARGETS = {"none": 20, "teacher": 20, "scheduled": 5, "autoregressive": 5}
P_TRUE = 0.5  # scheduled sampling mid-schedule: the step-by-step case


def fast_epoch(model: StreamingModel, batches: list[Batch], optimizer, feedback: str) -> int:
    """The trainer's inner loop (``train_batch``) over its batches; returns the utterances
    trained on."""
    p_true = {"teacher": 1.0, "scheduled": P_TRUE}.get(feedback, 0.0)
    for batch in batches:
        train_batch(model, batch, optimizer, lambda k: p_true, CONFIG)
    return sum(int(batch.mask.sum()) for batch in batches)


def naive_epoch(model: StreamingModel, dialogs: DialogSet, optimizer, feedback: str) -> int:
    """Seed section 9.3, literally: per dialog, per chunk, per utterance."""
    p_true = {"teacher": 1.0, "scheduled": P_TRUE}.get(feedback, 0.0)
    count = 0
    for positions in dialogs.dialogs:
        state = model.initial_state(1)
        y_prev = torch.full((1, 2), INITIAL_Y)  # [1, 2]
        y_gt_prev = torch.full((1, 2), INITIAL_Y)  # [1, 2]
        for start in range(0, len(positions), CHUNK):
            state = map_state(torch.Tensor.detach, state)
            y_prev = y_prev.detach()
            preds, gts = [], []
            for t in positions[start : start + CHUNK]:
                x = {name: f[t : t + 1] for name, f in dialogs.features.items()}  # [1, D]
                z_t = model.observe(x["speech"], x["prosody"], x["speaker"])  # [1, Dz]
                y_in = y_gt_prev if random.random() < p_true else y_prev  # [1, 2]
                y_pred, state = model.step(z_t, state, y_in)  # [1, 2]
                y_gt = dialogs.labels[t : t + 1]  # [1, 2]
                preds.append(y_pred)
                gts.append(y_gt)
                y_prev, y_gt_prev = y_pred, y_gt
            pred, gt = torch.stack(preds, dim=1), torch.stack(gts, dim=1)  # [1, T, 2]
            loss = va_loss(pred, gt, torch.ones(pred.shape[:2], dtype=torch.bool))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CONFIG.grad_clip)
            optimizer.step()
            optimizer.zero_grad()
            count += len(preds)
    return count


def seconds_per_utterance(run: Callable[..., int], *args) -> float:
    """Wall seconds per utterance-step of one ``run(*args)`` call."""
    began = time.perf_counter()
    count = run(*args)
    return (time.perf_counter() - began) / count


def sgemm_peak(size: int = 1024, repeats: int = 10) -> float:
    """This machine's fp32 matmul rate (FLOP/s) at the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    began = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - began)


def flops_per_utterance(
    model: StreamingModel, batches: list[Batch], optimizer, feedback: str
) -> float:
    """Matmul/conv FLOPs of one fast training pass per utterance (torch's flop counter)."""
    with FlopCounterMode(display=False) as counter:
        count = fast_epoch(model, batches, optimizer, feedback)
    return counter.get_total_flops() / count


def throughput(batch_dialogs: int, rounds: int) -> None:
    """Alternate fast and naive passes ``rounds`` times; report median rates and ratio.

    ``ceiling`` is the ratio the fast path would reach running its counted FLOPs at this
    machine's matmul peak with zero other cost: a bound no implementation of the same
    math on this CPU can beat.
    """
    data = toy_trial_data(
        sessions=5, dialogs_per_session=batch_dialogs + 1, utterances=(30, 60), dims=DIMS
    )
    train = dialog_set(data, "train", fit_standardisers(data))
    few = DialogSet(train.features, train.labels, train.rows, train.dialogs[:4])
    lengths = [len(dialog) for dialog in train.dialogs]
    groups = shuffled_groups(lengths, batch_dialogs, np.random.default_rng(0))
    batches = [make_batch(train, ids) for ids in groups]  # the trainer's length-sorted batches
    peak = sgemm_peak()
    print(f"fp32 matmul peak: {peak / 1e9:.0f} GFLOP/s on {torch.get_num_threads()} thread(s)")
    print(f"training utterance-steps/s, median of {rounds} alternating rounds: "
          f"fast = {batch_dialogs} dialogs per batch, T = {CHUNK}")  # fmt: skip
    print(f"{'updater':8} {'feedback':15} {'fast':>7} {'naive':>6} {'ratio':>6} "
          f"{'ceiling':>8}  target")  # fmt: skip
    cases = [("none", "none")] + [
        (u, f) for u in ("mlp", "gru", "mamba") for f in ("none", "teacher", "scheduled",
                                                           "autoregressive")
    ]  # fmt: skip
    for updater, feedback in cases:
        torch.manual_seed(0)
        model = StreamingModel(ModelConfig(updater=updater, feedback=feedback), *DIMS)
        optimizer = make_optimizer(model, CONFIG)
        flops = flops_per_utterance(model, batches, optimizer, feedback)  # also the warm-up
        naive_epoch(model, few, optimizer, feedback)
        fast, naive = [], []
        for _ in range(rounds):
            fast.append(seconds_per_utterance(fast_epoch, model, batches, optimizer, feedback))
            naive.append(seconds_per_utterance(naive_epoch, model, few, optimizer, feedback))
        fast_s, naive_s = statistics.median(fast), statistics.median(naive)
        ratio, ceiling = naive_s / fast_s, naive_s * peak / flops
        mark = "ok" if ratio >= TARGETS[feedback] else "BELOW"
        print(f"{updater:8} {feedback:15} {1 / fast_s:7.0f} {1 / naive_s:6.0f} {ratio:5.1f}x "
              f"{ceiling:7.1f}x  >= {TARGETS[feedback]}x {mark}")  # fmt: skip


def mamba_fwd_bwd(repeats: int = 20) -> None:
    torch.manual_seed(0)
    ours = MambaBlock(128)
    theirs = MambapyBlock(MambapyConfig(d_model=128, n_layers=1, pscan=True))
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(16, 30, 128, requires_grad=True)  # [B, T, d]

    def timed(block: Callable[[torch.Tensor], torch.Tensor]) -> float:
        for _ in range(3):
            block(x).sum().backward()
        began = time.perf_counter()
        for _ in range(repeats):
            block(x).sum().backward()
        return (time.perf_counter() - began) / repeats * 1e3

    mine = timed(lambda v: ours(v)[0])
    reference = timed(theirs)
    print(f"\nMamba block fwd+bwd (B=16, T=30, d=128): bench {mine:.1f} ms, "
          f"mambapy pscan {reference:.1f} ms, speed-up {reference / mine:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int_list,
        default=sorted({1, os.cpu_count() or 1}),
        help="comma-separated torch thread counts, one table each (default: 1 and all cores; "
        "a grid trial gets 1 thread, a lone run the machine)",
    )
    parser.add_argument("--batch-dialogs", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    args = parser.parse_args()
    for threads in args.threads:
        torch.set_num_threads(threads)
        random.seed(0)
        throughput(args.batch_dialogs, args.rounds)
        mamba_fwd_bwd()
        print()


if __name__ == "__main__":
    main()
