"""Training throughput: the batched TBPTT trainer against the seed's naive loop (section 9.3).

For each updater and feedback mode, prints training utterance-steps per second (forward,
backward and optimiser step) of

- fast: the trainer's loop, ``B`` dialogs per batch, chunks of ``T`` run in parallel where
  the fed-back values are known in advance, else step by step batched across dialogs;
- naive: seed section 9.3 literally, one dialog at a time and one utterance per step
  (``z_t``, scheduled-sampling draw, updater step, EMA, head), the same loss on each chunk,

with the same model and math, measured in one run. Then the Mamba updater's forward +
backward time at ``(B, T, d) = (16, 30, 128)`` against mambapy's parallel scan.

    python benchmarks/trainer.py [--threads 1]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import torch
from mambapy.mamba import MambaBlock as MambapyBlock
from mambapy.mamba import MambaConfig as MambapyConfig

from bench.model import ModelConfig, StreamingModel, map_state
from bench.model.mamba import MambaBlock
from bench.model.model import INITIAL_Y
from bench.train.batching import Batch, make_batch
from bench.train.data import DialogSet, dialog_set, fit_standardisers
from bench.train.evaluate import observe
from bench.train.loss import va_loss
from bench.train.toy import toy_trial_data

DIMS = (768, 88, 192)  # WavLM-base, eGeMAPS, ECAPA
CHUNK = 30
TARGETS = {"none": 20, "teacher": 20, "scheduled": 5, "autoregressive": 5}
P_TRUE = 0.5  # scheduled sampling mid-schedule: the step-by-step case


def fast_epoch(model: StreamingModel, batch: Batch, optimizer, feedback: str) -> int:
    """The trainer's inner loop over one batch; returns the utterances trained on."""
    p_true = {"teacher": 1.0, "scheduled": P_TRUE}.get(feedback, 0.0)
    state = None
    for chunk in batch.chunks(CHUNK):
        y, state = model.run_chunk(observe(model, chunk), state, chunk.labels_prev, p_true)
        loss = va_loss(y, chunk.labels, chunk.mask)  # [B, T, 2] -> []
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state = map_state(torch.Tensor.detach, state)
    return int(batch.mask.sum())


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
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            count += len(preds)
    return count


def rate(run: Callable[..., int], repeats: int, *args) -> float:
    """Utterance-steps per second of ``run(*args)`` (after one warm-up call)."""
    run(*args)
    began, count = time.perf_counter(), 0
    for _ in range(repeats):
        count += run(*args)
    return count / (time.perf_counter() - began)


def throughput(batch_dialogs: int) -> None:
    data = toy_trial_data(
        sessions=2, dialogs_per_session=batch_dialogs + 1, utterances=(30, 60), dims=DIMS
    )
    train = dialog_set(data, "train", fit_standardisers(data))
    few = DialogSet(train.features, train.labels, train.rows, train.dialogs[:2])
    batch = make_batch(train, list(range(batch_dialogs)))
    print(f"training utterance-steps/s: fast = {batch_dialogs} dialogs per batch, T = {CHUNK}")
    print(f"{'updater':8} {'feedback':15} {'fast':>9} {'naive':>8} {'ratio':>7}  target")
    cases = [("none", "none")] + [
        (u, f) for u in ("mlp", "gru", "mamba") for f in ("none", "teacher", "scheduled",
                                                           "autoregressive")
    ]  # fmt: skip
    for updater, feedback in cases:
        torch.manual_seed(0)
        model = StreamingModel(ModelConfig(updater=updater, feedback=feedback), *DIMS)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        fast = rate(fast_epoch, 2, model, batch, optimizer, feedback)
        naive = rate(naive_epoch, 1, model, few, optimizer, feedback)
        ratio = fast / naive
        mark = "ok" if ratio >= TARGETS[feedback] else "BELOW"
        print(f"{updater:8} {feedback:15} {fast:9.0f} {naive:8.0f} {ratio:6.1f}x  "
              f">= {TARGETS[feedback]}x {mark}")  # fmt: skip


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
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-dialogs", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(0)
    throughput(args.batch_dialogs)
    mamba_fwd_bwd()


if __name__ == "__main__":
    main()
