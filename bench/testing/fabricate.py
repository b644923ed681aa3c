"""Fabricated grids with named variance components, for calibrating the report's tests.

A grid is one variant and the reference, each trained with ``seeds`` seeds on each of
``folds`` folds, scored on the fold's test session of ``dialogs x utterances`` utterances.
Every quantity a test must see through has its own named component (:class:`Components`):

- labels (valence and arousal alike): a dialog mood ``N(0, 0.6^2)`` plus an utterance
  deviation ``N(0, 0.6^2)``, with ``V_y`` the session's (population) label variance;
- a trial's level of agreement, in CCC units, for model ``m`` (variant or reference) on
  session ``k`` with seed ``s``:

      c_mks = ccc + a_k + [m = variant] (delta + u_k) + b_mks,
      a_k ~ N(0, session_sd^2),  u_k ~ N(0, tau^2),  b_mks ~ N(0, seed_sd^2),

  clipped to ``[0.05, 0.95]``: ``a_k`` the session's difficulty (shared by both models),
  ``u_k`` the variant x session interaction, ``b_mks`` the training seed's luck;
- predictions ``y + e`` with ``Var(e) = 2 V_y (1 - c) / c``, the error variance at which
  the population CCC ``2 V_y / (2 V_y + Var(e))`` equals ``c``. The error is
  ``sqrt(rho) h + sqrt(1 - rho) z``: ``h`` a difficulty common to every trial of the session
  (so the two models' errors correlate with ``rho``), ``z`` the trial's own; each of them is
  ``sqrt(dialog_share)`` per-dialog noise plus ``sqrt(1 - dialog_share)`` utterance noise.

The planted difference ``delta`` is in CCC units on both dimensions, so CCC-avg differs by
``delta`` up to the finite-sample bias of CCC (equal for both models under the null, which
is then exact by symmetry). ``fixed_test_sets`` is the MSP-Podcast shape: the folds are a
release's test sets scored by the same training run per seed (so ``b_ms`` is shared by the
folds), and the interactions ``u_k`` are centred over them, so that ``delta`` is the
difference on these test sets, which is all a fixed test set can speak for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bench.report.bootstrap import MOMENTS, moments

LABEL_SD = 0.6  # sd of a dialog's mood and of an utterance around it, per dimension
CCC_RANGE = (0.05, 0.95)  # a trial's planted CCC is clipped to this range


@dataclass(frozen=True)
class Components:
    """The design and the variance components of a fabricated grid (CCC units for the
    levels; see the module docstring)."""

    folds: int = 5
    seeds: int = 3
    dialogs: int = 20
    utterances: int = 20
    ccc: float = 0.5  # the reference's expected CCC, per dimension
    session_sd: float = 0.05  # a_k: session difficulty, shared by both models
    seed_sd: float = 0.005  # b_mks: a trial's training luck
    tau: float = 0.0  # u_k: the variant x session interaction
    dialog_share: float = 0.3  # share of the error variance that is per dialog
    rho: float = 0.0  # correlation of the two models' errors (common difficulty)
    fixed_test_sets: bool = False  # MSP-Podcast shape: one training run per seed

    def but(self, **changes: float | int | bool) -> Components:
        """A copy with some components changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Grid:
    """One fabricated grid: per fold, the labels ``[N, 2]``, the utterances' dialog index
    ``[N]`` and the predictions ``[S seeds, 2 (variant, reference), N, 2]``."""

    true: list[np.ndarray]
    dialog: list[np.ndarray]
    pred: list[np.ndarray]


def _error(rng: np.random.Generator, c: Components, size: tuple[int, ...]) -> np.ndarray:
    """Standard normal errors ``[*size, N, 2]``: per-dialog noise with variance
    ``dialog_share`` plus utterance noise with the rest."""
    per_dialog = rng.standard_normal((*size, c.dialogs, 1, 2))
    per_utt = rng.standard_normal((*size, c.dialogs, c.utterances, 2))
    error = np.sqrt(c.dialog_share) * per_dialog + np.sqrt(1 - c.dialog_share) * per_utt
    return error.reshape(*size, c.dialogs * c.utterances, 2)


def fabricate_grid(c: Components, delta: float, rng: np.random.Generator) -> Grid:
    """Draw one grid with a planted CCC difference ``delta`` (variant minus reference)."""
    session = rng.normal(0.0, c.session_sd, c.folds)  # a_k
    interaction = rng.normal(0.0, c.tau, c.folds)  # u_k
    if c.fixed_test_sets:
        interaction -= interaction.mean()
    shared_luck = rng.normal(0.0, c.seed_sd, (c.seeds, 2))  # b_ms of one run per seed
    true, dialog, pred = [], [], []
    for k in range(c.folds):
        mood = rng.normal(0.0, LABEL_SD, (c.dialogs, 1, 2))
        y = (mood + rng.normal(0.0, LABEL_SD, (c.dialogs, c.utterances, 2))).reshape(-1, 2)
        luck = shared_luck if c.fixed_test_sets else rng.normal(0.0, c.seed_sd, (c.seeds, 2))
        level = c.ccc + session[k] + np.array([delta + interaction[k], 0.0]) + luck  # [S, 2]
        level = np.clip(level, *CCC_RANGE)
        sd = np.sqrt(2 * y.var(axis=0) * (1 - level[..., None]) / level[..., None])  # [S,2,2]
        common = _error(rng, c, ())  # [N, 2]: the session's difficulty
        own = _error(rng, c, (c.seeds, 2))  # [S, 2, N, 2]
        error = np.sqrt(c.rho) * common + np.sqrt(1 - c.rho) * own
        true.append(y)
        dialog.append(np.repeat(np.arange(c.dialogs), c.utterances))
        pred.append(y + sd[:, :, None, :] * error)
    return Grid(true, dialog, pred)


def fold_arrays(grid: Grid) -> list[np.ndarray]:
    """The bootstrap's input, per fold ``[D, S, 2 (variant, reference), 2 dims, 6]``, as
    :func:`bench.report.stats.compare_to_reference` builds it from
    :func:`predictions_frame` (labels and predictions centred by the fold's label mean per
    dimension, moments summed per (dialog, seed)); a test checks that both agree."""
    folds = []
    for true, dialog, pred in zip(grid.true, grid.dialog, grid.pred, strict=True):
        n_seeds, n_dialogs = pred.shape[0], int(dialog.max()) + 1
        centre = true.mean(axis=0)  # [2]
        groups = dialog[None, :] * n_seeds + np.arange(n_seeds)[:, None]  # [S, N]
        array = np.empty((n_dialogs, n_seeds, 2, 2, MOMENTS))
        for j in range(2):
            t = np.broadcast_to(true[:, j] - centre[j], groups.shape).ravel()
            for side in range(2):
                m = moments(t, pred[:, side, :, j].ravel() - centre[j], groups.ravel(),
                            n_dialogs * n_seeds)  # fmt: skip
                array[:, :, side, j] = m.reshape(n_dialogs, n_seeds, MOMENTS)
        folds.append(array)
    return folds


def predictions_frame(
    grid: Grid, variant: str = "variant", reference: str = "reference"
) -> pd.DataFrame:
    """The grid as stored predictions (the frame :func:`bench.report.stats.
    compare_to_reference` reads): variant, fold (from 1), seed, utt_id, dialog, speaker,
    session and the labels and predictions of valence and arousal."""
    frames = []
    for k, (true, dialog, pred) in enumerate(zip(grid.true, grid.dialog, grid.pred, strict=True)):
        fold = k + 1
        test = pd.DataFrame(
            {"utt_id": [f"S{fold}_u{i:04d}" for i in range(len(true))],
             "dialog": [f"S{fold}_d{d:03d}" for d in dialog], "speaker": f"S{fold}_F",
             "session": f"S{fold}", "valence_true": true[:, 0], "arousal_true": true[:, 1]}
        )  # fmt: skip
        for seed in range(pred.shape[0]):
            for side, name in enumerate((variant, reference)):
                frames.append(
                    test.assign(
                        valence_pred=pred[seed, side, :, 0], arousal_pred=pred[seed, side, :, 1],
                        variant=name, fold=fold, seed=seed,
                    )
                )  # fmt: skip
    return pd.concat(frames, ignore_index=True)
