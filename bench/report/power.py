"""Power of the report's verdict test for the grid at hand, from its own variances.

Where the folds leave one session out, the verdict test is the across-session one below;
where they are fixed test sets, it is the t-test over the training runs (last section).

The across-session test chosen by calibration (``docs/calibration.md``) is the
random-effects meta-analysis over test sessions with the Hartung-Knapp-Sidik-Jonkman
variance, :func:`bench.report.meta.random_effects_hksj`, on the session inputs of
:func:`bench.report.meta.session_effects`. Its model for one comparison (variant minus
reference, one dimension) over ``K`` sessions is

    d_k = mu + u_k + e_k,    u_k ~ N(0, tau^2),    e_k ~ N(0, v_k),

and its statistic ``t = mu_hat / se_HKSJ`` is referred to Student's t with ``K - 1``
degrees of freedom. This module reads the grid's variance components off its stored trials:

- ``v_k``, the within-session variance, split as :func:`session_effects` builds it,
  ``v_k = s_seed^2 / S_k + J_k``: the seed variance ``s_seed^2`` pooled over sessions over
  the ``S_k`` seeds of session ``k``, plus ``J_k``, the delete-one-dialog jackknife variance
  over the session's test dialogs (the "dialog part");
- ``tau^2``, the variant x session interaction, by REML as the test estimates it.

**Power.** With ``sigma^2 = tau^2 + mean_k v_k``, the test of ``mu = 0`` is approximated by
the one-sample t-test over ``K`` sessions whose differences are ``N(delta, sigma^2)``: its
statistic is non-central t with ``K - 1`` degrees of freedom and non-centrality
``lambda = delta / sqrt(sigma^2 / K)``, so at two-sided level ``alpha``, with
``c = t_{K-1, 1 - alpha/2}``,

    power(delta) = P(T'_{K-1, lambda} > c) + P(T'_{K-1, lambda} < -c)

(:func:`t_power`). Where every ``v_k`` is equal this is exact: HKSJ then *is* the one-sample
t-test over the ``d_k``, whatever ``tau^2`` is estimated. Where they differ, the HKSJ weights
``1 / (v_k + tau^2)`` differ and the formula, with the mean ``v``, is an approximation that
errs low, since HKSJ weights the precise sessions up (the tests measure it against simulated
HKSJ rejections). The smallest detectable difference is
the ``delta > 0`` with ``power(delta) = 0.8`` (:func:`detectable_difference`).

**Extrapolation.** To other numbers of seeds ``S'`` (sessions fixed), each part of ``v_k``
scales as it would: ``s_seed^2 / S_k`` becomes ``s_seed^2 / S'``. ``J_k`` holds two parts: what the
seeds share (``c_k``, how the test dialogs happen to favour one variant whatever the seed),
which more seeds cannot shrink, and the seed x dialog part, which they can. With ``J_ks`` the
jackknife variance of seed ``s``'s difference alone and ``J1_k = mean_s J_ks``, the jackknife
covariances of the seeds give ``J_k = c_k + e_k / S_k`` and ``J1_k = c_k + e_k``, so

    c_k = (S_k J_k - J1_k) / (S_k - 1)    (truncated to [0, J_k]; c_k = J_k with one seed)

and ``J_k(S') = c_k + (J_k - c_k) S_k / S'``. Hence

    sigma^2(S') = tau^2 + (s_seed^2 + mean_k (J_k - c_k) S_k) / S' + mean_k c_k,

which equals ``tau^2 + mean v`` at the grid's own seeds. ``tau^2 + mean_k c_k`` stays however
many seeds are trained: a target whose power at that limit is at most 80% is "not reachable with
any number of seeds" (:func:`seeds_needed`). The seed x dialog part is counted twice, in
``s_seed^2`` (seeds differ on the whole test set) and in ``J_k``, as :func:`session_effects`
counts it (the test's own ``v_k`` errs high the same way), so the seeds needed err high. To
other numbers of sessions ``K'`` (seeds fixed): new sessions like these, the same ``sigma^2``
and ``K' - 1`` degrees of freedom (:func:`replicates_needed`).

**What this leaves out, said so.** Holm's correction is not included: the report's primary
family tests every variant, and Holm's first step tests at ``alpha / m``, which needs a larger
difference. The variance components are point estimates from the grid's own ``K`` sessions;
with five sessions ``tau^2`` is imprecise and often estimated 0, and then the detectable
difference is optimistic. Sessions are treated as independent, as the test treats them
(leave-one-session-out folds share training sessions; see the calibration's limits). The
``d_k`` are taken as normal.

**Fixed test sets.** There the verdict is :func:`bench.report.runs_t.runs_t_test`: with
``D_s`` run ``s``'s CCC difference averaged over the ``K`` test sets (only seeds that every
test set has), the one-sample t-test of ``mean_s D_s = 0`` over the ``S`` runs, ``S - 1``
degrees of freedom. With ``sigma^2 = var(D_s)`` (ddof 1, the grid's own runs) its power is
:func:`t_power` with ``n = S``: the same non-central t as above, and exact, not an
approximation, where the ``D_s`` are normal. The detectable difference is
:func:`detectable_difference` at ``(sigma^2, S)``, and the runs a target needs are the
smallest ``S'`` with ``t_power(target, sigma^2, S') >= power`` (:func:`replicates_needed`),
new runs having the same ``sigma^2``: ``sigma^2 / S' -> 0``, so more runs always reach a
target, and with infinitely many the detectable difference is 0. What is sized is what the
test covers, other training runs scored on these test sets: what the test sets themselves
happen to favour is part of the difference tested, no noise, and no number of runs speaks
for other test sets, dialogs or speakers. There are no sessions to add. ``sigma^2`` is a
point estimate on ``S - 1`` degrees of freedom (with three runs, two: the true ``sigma`` lies
within 0.52-6.3 times the estimate at 95%), and Holm is not included.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import nct
from scipy.stats import t as student_t

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN, trial_deltas, weighted_deltas
from bench.report.meta import HKSJ, pooled_seed_variance, random_effects_hksj, session_effects
from bench.report.runs_t import RUNS_T, runs_t_test
from bench.report.stats import ALPHA, fold_arrays, pair_trials
from bench.report.summary import trial_pairs

POWER = 0.8  # the power a detectable difference is detected with
TARGET = 0.02  # default target difference (CCC-avg) whose seeds and sessions are sized
COLUMNS = [
    "variant", "reference", "dimension", "test", "n_sessions", "seeds", "n_runs", "estimate",
    "tau2", "seed_variance", "dialog_variance", "dialog_common", "dialog_by_seed", "mean_v",
    "runs_variance", "detectable", "detectable_seed_limit",
    "target", "power_at_target", "seeds_needed", "seeds_reachable", "sessions_needed",
]  # fmt: skip


@dataclass(frozen=True)
class VarianceComponents:
    """What the HKSJ test of one comparison sees, read off the grid's trials (module docstring).

    seeds: ``S_k`` per session used; seed_variance: ``s_seed^2`` pooled over sessions (NaN
    where no session has two seeds: the seed part cannot be told from the rest);
    dialog_variance: ``mean_k J_k``, the test dialogs' part of ``v_k`` at the grid's seeds
    (``v_k - s_seed^2 / S_k``); dialog_common: ``mean_k c_k``, the share of it that more seeds
    do not shrink; dialog_by_seed: ``mean_k (J_k - c_k) S_k``, the rest times the seeds;
    tau2: REML ``tau^2``; mean_v: ``mean_k v_k``; estimate: the HKSJ ``mu_hat`` (NaN where the
    test is undefined, see :func:`random_effects_hksj`).
    """

    seeds: tuple[int, ...]
    seed_variance: float
    dialog_variance: float
    dialog_common: float
    dialog_by_seed: float
    tau2: float
    mean_v: float
    estimate: float

    @property
    def n_sessions(self) -> int:
        """``K``, the sessions the test uses."""
        return len(self.seeds)

    def sigma2(self, seeds: float | None = None) -> float:
        """``tau^2 + mean v`` as the grid has it (``seeds`` None), or with ``seeds`` seeds per
        session: ``tau^2 + (s_seed^2 + dialog_by_seed) / seeds + dialog_common`` (``seeds``
        may be ``math.inf``; NaN where the seed variance is unknown)."""
        if seeds is None:
            return self.tau2 + self.mean_v
        return self.tau2 + (self.seed_variance + self.dialog_by_seed) / seeds + self.dialog_common


def per_seed_jackknife(folds: list[np.ndarray]) -> np.ndarray:
    """Per session and dimension, ``J1_k = mean_s J_ks``: the delete-one-dialog jackknife
    variance ``(D - 1) / D sum_i (theta_s(i) - mean_i theta_s(i))^2`` of each seed's own
    difference (``theta_s(i)``: seed ``s``'s difference without test dialog ``i``), averaged
    over the seeds. ``[K, 3]``."""
    out = np.empty((len(folds), len(DIMENSIONS)))
    for k, fold in enumerate(folds):
        n_dialogs = fold.shape[0]
        theta = weighted_deltas(fold, 1.0 - np.eye(n_dialogs))  # [D, S, 3] leave one out
        spread = ((theta - theta.mean(axis=0)) ** 2).sum(axis=0)  # [S, 3]
        out[k] = ((n_dialogs - 1) / n_dialogs * spread).mean(axis=0)
    return out


def variance_components(folds: list[np.ndarray], dimension: str = "avg") -> VarianceComponents:
    """The grid's variance components of one dimension (see the module docstring), from the
    bootstrap's per-fold moment arrays ``[dialogs, seeds, 2 sides, 2 dims, 6]``. Sessions
    whose ``d_k`` or ``v_k`` is not finite are left out, as the test leaves them out."""
    j = DIMENSIONS.index(dimension)
    d, v = session_effects(folds)
    keep = np.isfinite(d[:, j]) & np.isfinite(v[:, j])
    d, v = d[keep, j], v[keep, j]
    seeds = np.array([fold.shape[1] for fold in folds])[keep]
    seed_variance = float(pooled_seed_variance(folds)[j])
    seed_part = (seed_variance if math.isfinite(seed_variance) else 0.0) / seeds
    dialog = np.maximum(v - seed_part, 0.0)  # J_k, up to rounding
    one_seed = per_seed_jackknife(folds)[keep, j]  # J1_k
    with np.errstate(divide="ignore", invalid="ignore"):  # S_k = 1: c_k = J_k below
        common = (seeds * dialog - one_seed) / (seeds - 1)
    common = np.where(seeds > 1, np.clip(common, 0.0, dialog), dialog)
    meta = random_effects_hksj(d, v)

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if values.size else math.nan

    return VarianceComponents(
        seeds=tuple(int(s) for s in seeds), seed_variance=seed_variance,
        dialog_variance=mean(dialog), dialog_common=mean(common),
        dialog_by_seed=mean((dialog - common) * seeds), tau2=meta.tau2, mean_v=mean(v),
        estimate=meta.estimate,
    )  # fmt: skip


def _power_at(noncentrality: float, df: int, alpha: float) -> float:
    """``P(T' > c) + P(T' < -c)`` for ``T'`` non-central t (``df``, ``noncentrality``) and
    ``c = t_{df, 1 - alpha/2}``; the lower tail as ``P(T'' > c)`` with non-centrality
    ``-noncentrality`` (the same by symmetry; scipy's ``cdf`` is NaN far in that tail)."""
    c = float(student_t.isf(alpha / 2, df))
    return float(nct.sf(c, df, noncentrality) + nct.sf(c, df, -noncentrality))


def t_power(delta: float, sigma2: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided one-sample t-test at level ``alpha`` over ``n`` replicates whose
    differences are ``N(delta, sigma2)``: ``T`` non-central t with ``n - 1`` df and
    non-centrality ``delta / sqrt(sigma2 / n)``. Generic in ``(sigma2, n)``: the HKSJ test
    over ``K = n`` sessions with ``sigma2 = tau^2 + v`` (the approximation of the module
    docstring) and the runs' t-test over ``S = n`` runs with ``sigma2 = var(D_s)`` (exact for
    normal ``D_s``). No Holm. NaN with fewer than two replicates or a ``sigma2`` that is not
    positive.

    >>> round(t_power(0.0, 1e-4, 5), 4)  # no difference: the level
    0.05
    >>> round(t_power(0.02, 2e-4, 5), 3)  # lambda = 0.02 / sqrt(2e-4 / 5) = 3.16, 4 df
    0.663
    """
    if n < 2 or not sigma2 > 0:
        return math.nan
    return _power_at(delta / math.sqrt(sigma2 / n), n - 1, alpha)


def detectable_difference(
    sigma2: float, n: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """The smallest difference ``delta > 0`` that the one-sample t-test over ``n`` replicates
    of variance ``sigma2`` (sessions for HKSJ, runs for the runs' t-test; :func:`t_power`)
    detects with probability ``power``: ``lambda* sqrt(sigma2 / n)``, with ``lambda*`` the
    non-centrality at which :func:`t_power` reaches ``power`` (Brent's method on a bracket
    doubled until it holds the root). NaN where :func:`t_power` is.

    >>> round(detectable_difference(2e-4, 5), 4)  # above 0.02, which has 66% (t_power)
    0.0238
    """
    if n < 2 or not sigma2 > 0:
        return math.nan
    df = n - 1

    def short(noncentrality: float) -> float:
        return _power_at(noncentrality, df, alpha) - power

    hi = 1.0
    while short(hi) < 0:
        hi *= 2.0
    return brentq(short, 0.0, hi, xtol=1e-10) * math.sqrt(sigma2 / n)


def _smallest(start: int, reaches: Callable[[int], bool]) -> int:
    """The smallest integer ``n >= start`` with ``reaches(n)``, for a ``reaches`` that is
    monotone in ``n`` and true from some ``n`` on: doubling, then bisection."""
    if reaches(start):
        return start
    low, high = start, 2 * start
    while not reaches(high):
        low, high = high, 2 * high
    while high - low > 1:  # reaches(high), not reaches(low)
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def seeds_needed(
    target: float, components: VarianceComponents, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """The fewest seeds per session (sessions fixed at ``K``) at which the HKSJ test detects
    ``target`` with probability ``power``, from :meth:`VarianceComponents.sigma2`; None where
    even infinitely many seeds fall short (``tau^2 + mean_k c_k`` alone keeps the power at or
    below ``power``: more seeds remove neither the interaction nor the test dialogs' noise
    that every seed shares).

    Raises:
        ValueError: the seed variance is unknown (one seed per session): no extrapolation.
    """
    if not math.isfinite(components.seed_variance):
        raise ValueError("the seed variance is unknown with one seed per session")
    k = components.n_sessions
    limit = components.sigma2(math.inf)
    if limit > 0 and t_power(target, limit, k, alpha) <= power:
        return None
    return _smallest(1, lambda s: t_power(target, components.sigma2(s), k, alpha) >= power)


def replicates_needed(
    target: float, sigma2: float, alpha: float = ALPHA, power: float = POWER
) -> int:
    """The fewest replicates ``n >= 2``, each of variance ``sigma2``, at which the one-sample
    t-test (:func:`t_power`) detects ``target`` with probability ``power``: the sessions
    HKSJ needs (new sessions like these, the seeds fixed), or the runs the runs' t-test needs
    (new runs like these, each scoring every test set). Power rises with ``n`` (larger
    non-centrality, more degrees of freedom), so it is reached.

    >>> replicates_needed(0.02, 2e-4)  # 5: 66.3% (see t_power), 6: 78.9%, 7: 87.4%
    7
    """
    return _smallest(2, lambda n: t_power(target, sigma2, n, alpha) >= power)


def power_row(
    components: VarianceComponents, target: float, alpha: float = ALPHA, power: float = POWER
) -> dict[str, object]:
    """One comparison's power analysis: the detectable difference now and with infinitely
    many seeds, the power at ``target`` now, and the seeds and sessions ``target`` needs
    (``seeds_needed`` None with ``seeds_reachable`` False where no number of seeds reaches
    it, None with ``seeds_reachable`` None where the seed variance is unknown)."""
    k, sigma2 = components.n_sessions, components.sigma2()
    row: dict[str, object] = {
        "test": HKSJ.name, "n_sessions": k, "seeds": list(components.seeds),
        "estimate": components.estimate,
        "tau2": components.tau2, "seed_variance": components.seed_variance,
        "dialog_variance": components.dialog_variance,
        "dialog_common": components.dialog_common,
        "dialog_by_seed": components.dialog_by_seed, "mean_v": components.mean_v,
        "detectable": detectable_difference(sigma2, k, alpha, power),
        "detectable_seed_limit": detectable_difference(components.sigma2(math.inf), k, alpha,
                                                       power),
        "target": target, "power_at_target": t_power(target, sigma2, k, alpha),
        "seeds_needed": None, "seeds_reachable": None, "sessions_needed": None,
    }  # fmt: skip
    if not (k >= 2 and sigma2 > 0):  # the test is undefined: nothing to size
        return row
    if math.isfinite(components.seed_variance):
        needed = seeds_needed(target, components, alpha, power)
        row |= {"seeds_needed": needed, "seeds_reachable": needed is not None}
    return row | {"sessions_needed": replicates_needed(target, sigma2, alpha, power)}


def runs_of(paired: pd.DataFrame, dimension: str = "avg") -> dict[str, float]:
    """The runs' t-test of one comparison on ``dimension``, as the report computes it: each
    paired (fold, seed) trial's CCC difference over its test set, indexed by (fold, seed),
    into :func:`bench.report.runs_t.runs_t_test` (``runs_n`` the runs ``S`` it uses,
    ``runs_se = sd(D) / sqrt(S)``; the margin, which only its TOST uses, is the default)."""
    deltas = trial_deltas(fold_arrays(paired))[:, DIMENSIONS.index(dimension)]  # [J]
    keys = pd.MultiIndex.from_tuples(sorted(trial_pairs(paired)))  # by fold, seeds sorted
    return runs_t_test(pd.Series(deltas, index=keys), MARGIN)


def runs_power_row(
    runs: dict[str, float],
    seeds: list[int],
    target: float,
    alpha: float = ALPHA,
    power: float = POWER,
) -> dict[str, object]:
    """One comparison's power analysis on fixed test sets (module docstring): with
    ``sigma^2 = var(D_s) = S runs_se^2`` over the ``S = runs_n`` runs, the detectable
    difference, the power at ``target`` and the runs (seeds, each scoring every test set)
    ``target`` needs; ``seeds`` are the seeds per test set. No sessions to add
    (``sessions_needed`` None); with infinitely many runs the detectable difference is 0.
    NaN/None where the test is undefined (fewer than two runs, or no spread between them)."""
    n = int(runs["runs_n"])
    sigma2 = runs["runs_se"] ** 2 * n
    defined = n >= 2 and sigma2 > 0
    row: dict[str, object] = {
        "test": RUNS_T.name, "n_sessions": len(seeds), "seeds": seeds, "n_runs": n,
        "estimate": runs["runs_delta"], "runs_variance": sigma2,
        "detectable": detectable_difference(sigma2, n, alpha, power),
        "detectable_seed_limit": 0.0 if defined else math.nan,
        "target": target, "power_at_target": t_power(target, sigma2, n, alpha),
        "seeds_needed": None, "seeds_reachable": None, "sessions_needed": None,
    }  # fmt: skip
    if not defined:
        return row
    needed = replicates_needed(target, sigma2, alpha, power)
    return row | {"seeds_needed": needed, "seeds_reachable": True}


def power_table(
    predictions: pd.DataFrame,
    reference: str,
    target: float = TARGET,
    dimension: str = "avg",
    alpha: float = ALPHA,
    power: float = POWER,
    resampled_folds: bool = True,
) -> pd.DataFrame:
    """One row per variant against ``reference`` on ``dimension`` sizing the report's verdict
    test: :func:`power_row` (HKSJ across sessions) where the folds leave one session out,
    :func:`runs_power_row` (the runs' t-test, these test sets) where ``resampled_folds`` is
    False (fixed test sets). From the per-utterance predictions of the selected trials,
    paired on (fold, seed, utt_id) exactly as :func:`bench.report.stats.compare_to_reference`
    pairs them. Columns ``COLUMNS`` (``test`` names the test sized); a variant with no trial
    in common with the reference has NaN/None everywhere.

    Raises:
        BenchError: ``reference`` has no predictions.
    """
    ref_preds = predictions[predictions["variant"] == reference]
    if ref_preds.empty:
        have = sorted(predictions["variant"].unique())
        raise BenchError(f"reference variant {reference!r} has no results; have {have}")
    rows = []
    for variant in sorted(set(predictions["variant"]) - {reference}):
        paired, _ = pair_trials(predictions[predictions["variant"] == variant], ref_preds)
        base = {"variant": variant, "reference": reference, "dimension": dimension}
        base["test"] = HKSJ.name if resampled_folds else RUNS_T.name
        if paired.empty:
            rows.append(base | {"target": target, "seeds": []})
        elif resampled_folds:
            components = variance_components(fold_arrays(paired), dimension)
            rows.append(base | power_row(components, target, alpha, power))
        else:
            seeds = paired.groupby("fold", sort=True)["seed"].nunique().tolist()
            rows.append(base | runs_power_row(runs_of(paired, dimension), seeds, target,
                                              alpha, power))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # counts stay int beside None
