"""Re-derive the README's planted-effects and personalisation claims from the committed
summaries of the studies' trial records with the report's current verdict test; nothing is
trained.

``benchmarks/summaries/planted_effects.parquet`` and ``personalise_effects.parquet`` hold
each trial's per-dialog sufficient statistics (``summarise_records.py`` makes them from
the raw records, which stay out of the repository; their records predate the data identity
in the config hash, so ``bench report`` and the benchmark scripts would call them stale and
train again). This script applies the report's tests to every trial of a summary, with no
hash check, exactly as a current run of ``planted_effects.py`` / ``personalise_effects.py``
would (it imports their table code, and :mod:`summary_stats` computes the report's
comparisons from the moments):

1. **Planted effects**, per corpus (``seed<g>-context-<true|false>``) and method (``old``,
   ``session``, ``new``, ``ramp``, where stored): the three planned CCC-avg tests
   (mamba_ema - stateless, gru_ema - stateless, no_prosody - mamba_ema), Holm over the
   three (:func:`planted_effects.family_table`). The verdict is the HKSJ random-effects
   test over the 5 test sessions, "across sessions"; the paired hierarchical bootstrap's
   estimate and p_Holm stand beside it, "these sessions" (other dialogs and seeds of these
   test sessions). Counts per method and group of generator seeds (``--seed-groups``: the
   README's two measurements, made by different commits) under each test: planted effects
   detected (12 on three generator seeds: three on each context corpus, no_prosody's on
   each null one) and two-sided significant stateful - stateless differences on the null
   corpora (of 6). On a null corpus the previous label carries no
   information, but the models need not have equal expected CCC there: such a count is a
   property of the models, not a type-I error rate (``docs/calibration.md`` measures that).
2. **Where the null deficit comes from**: on each null corpus whose ``old`` folder holds
   ``no_feedback`` trials, no_feedback - stateless and mamba_ema - stateless as one family
   of two, and the share of mamba_ema's deficit that no_feedback does not have,
   ``1 - mu_no_feedback / mu_mamba_ema`` (HKSJ estimates).
3. **old against ramp**, on every corpus with both: (a) each variant trained under ``ramp``
   against itself under ``old``, paired on (fold, seed, utterance) as any comparison,
   Holm over the four variants of a corpus; (b) each planned contrast under ``ramp``
   against the same contrast under ``old`` (:func:`gain_contrasts`; e.g. is ramp's
   mamba_ema - stateless larger than old's?), HKSJ over sessions on the per-session
   difference of the two contrasts, Holm over the three.
4. **Personalisation**, per corpus of ``personalise_effects``: the comparisons of the
   report's personalisation section (:func:`summary_stats.personalisation_comparisons`,
   Holm over the section), its planned CCC-A gains at k = 10 over k = 0 under both tests,
   and the closed-form offsets of ``personalise_effects.offset_gains``; counts of "better"
   and "equivalent" per corpus design. With ``--unadjusted``, the planned gains' HKSJ tests
   before Holm (estimate, 95% interval, p, TOST p) follow.

Prints Markdown. With the default 4,000 bootstrap replicates (as the README's runs used) it
took 2 minutes on a 2-core machine with another job beside it; the bootstrap only feeds the
"these sessions" columns (``--bootstrap 1000`` is faster), the HKSJ verdict does not depend
on it.

    python benchmarks/rederive_claims.py > /tmp/claims.md
    python benchmarks/rederive_claims.py --bootstrap 1000 --personalise ''   # planted only
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from personalise_effects import (
    LEGEND,
    PLANNED,
    K,
    cell,
    corpus_name,
    offset_gains,
    planned_statements,
    table_header,
)
from planted_effects import (
    METHODS,
    PLANNED_PAIRS,
    TESTS,
    VARIANTS,
    PlannedTest,
    Statement,
    family_table,
    planned_tests,
    statements,
    summary,
)
from summarise_records import file_name
from summary_stats import fold_arrays, pair_dialogs, personalisation_comparisons

from bench.errors import BenchError
from bench.report.bootstrap import DIMENSIONS, MARGIN
from bench.report.meta import ACROSS, HKSJ, random_effects_hksj, session_effects
from bench.report.stats import FAMILIES, columns, corrected

SUMMARIES = Path("benchmarks/summaries")
PLANTED_CORPUS = re.compile(r"seed(\d+)-context-(true|false)")
PERSONALISE_CORPUS = re.compile(r"seed(\d+)(-nocontext)?-speaker-(true|false)(?:x([\d.]+))?")
DIAGNOSTIC = [("no_feedback", "stateless"), ("mamba_ema", "stateless")]
COMPARED = ("ramp", "old")  # the methods tested against each other, where both are stored

Outcomes = dict[str, dict[str, list[PlannedTest]]]  # corpus -> method -> planned tests


def session_contrast(
    moments: pd.DataFrame, variant: str, reference: str
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The folds, and per fold the seed-averaged difference ``d_k`` of ``variant`` minus
    ``reference`` with its within-session variance ``v_k`` (``[K, 3]`` each, v, a, avg):
    :func:`bench.report.meta.session_effects` of the pair's trials, paired on (fold, seed,
    dialog) from their moments (:func:`summary_stats.pair_dialogs`)."""
    side = moments["variant"]
    paired, _ = pair_dialogs(moments[side == variant], moments[side == reference])
    if paired.empty:
        raise BenchError(f"{variant} and {reference} share no trial")
    d, v = session_effects(fold_arrays(paired))
    return sorted(int(f) for f in paired["fold"].unique()), d, v


def gain_contrasts(
    first: pd.DataFrame,
    second: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    margin: float = MARGIN,
    names: tuple[str, str] = COMPARED,
) -> pd.DataFrame:
    """Each (variant, reference) contrast of the trials ``first`` against the same contrast
    of ``second`` (two trainings scored on the same test sessions), across sessions.

    Per test session ``k`` and dimension, with ``d_k`` and ``v_k`` of
    :func:`session_contrast` for each side, the HKSJ random-effects test
    (:func:`bench.report.meta.random_effects_hksj`) of

        c_k = d_k(first) - d_k(second),    var_k = v_k(first) + v_k(second),

    i.e. of ``mu_first - mu_second``, the difference of the two contrasts across sessions
    like these. ``var_k`` leaves out the covariance of the two sides (both are scored on
    the session's same dialogs, so it is positive and ``var_k`` errs high); it sets only the
    weights, the HKSJ scale rests on the spread of the ``c_k``. Rows in
    :func:`bench.report.stats.columns`' layout (``variant`` names the contrast, ``reference``
    the two methods; the bootstrap's columns NaN), Holm over the pairs and verdicts by
    :func:`bench.report.stats.corrected`.

    Raises:
        BenchError: a pair has no trial on a side, or the two sides cover other folds.
    """
    rows = []
    for variant, reference in pairs:
        folds, d1, v1 = session_contrast(first, variant, reference)
        other, d2, v2 = session_contrast(second, variant, reference)
        if folds != other:
            raise BenchError(f"{variant} - {reference}: folds {folds} against {other}")
        base = {"variant": f"{variant} - {reference}", "reference": " - ".join(names),
                "test": HKSJ.name, "scope": HKSJ.scopes["resampled"], "n_folds": len(folds),
                "margin": margin}  # fmt: skip
        for j, dimension in enumerate(DIMENSIONS):
            r = random_effects_hksj(d1[:, j] - d2[:, j], v1[:, j] + v2[:, j], margin=margin)
            values = (r.estimate, r.ci_low, r.ci_high, r.se, r.df, r.tau2, r.p, r.p_tost)
            rows.append(base | {"dimension": dimension, "family": FAMILIES[dimension]}
                        | dict(zip(ACROSS, values, strict=True)))  # fmt: skip
    return corrected(pd.DataFrame(rows, columns=columns()))


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def said_cells(said: dict[str, Statement]) -> list[str]:
    """The two statements of a row as two cells: across sessions (verdict), these sessions."""
    return [said["across"].cell, said["these"].short]


def seed_groups(text: str) -> list[list[int]]:
    """``4,5,6;7,8,9`` -> [[4, 5, 6], [7, 8, 9]]."""
    try:
        return [[int(s) for s in group.split(",")] for group in text.split(";") if group]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"seed groups like 4,5,6;7,8,9, not {text!r}") from error


def group_label(generator: int, groups: list[list[int]]) -> str:
    """``generator seeds 4, 5, 6``: the group of ``groups`` that holds ``generator``."""
    group = next((g for g in groups if generator in g), [generator])
    return "generator seed" + ("s " if len(group) > 1 else " ") + ", ".join(map(str, group))


def planted_section(moments: pd.DataFrame, args: argparse.Namespace) -> list[str]:
    """The planted-effects tables, the no_feedback diagnostic and old against ramp, from the
    study's summary (every corpus ``seed<g>-context-<true|false>`` and method in it)."""
    corpora = sorted(
        ((int(m[1]), m[2] == "true", name) for name in moments["corpus"].unique()
         if (m := PLANTED_CORPUS.fullmatch(name))),
        key=lambda c: (c[0], not c[1]),
    )  # fmt: skip
    outcomes: dict[str, Outcomes] = {}
    diagnostic, per_variant, contrasts = [], [], []
    for generator, context, name in corpora:
        corpus = f"{'context' if context else 'null'}, seed {generator}"
        trials = moments[moments["corpus"] == name]
        stored = {m: trials[trials["method"] == m] for m in METHODS}
        stored = {m: rows for m, rows in stored.items() if not rows.empty}
        group = outcomes.setdefault(group_label(generator, args.seed_groups), {})
        for method, predictions in stored.items():
            planned = predictions[predictions["variant"].isin(VARIANTS)]
            table = family_table(planned, PLANNED_PAIRS, args.bootstrap, args.seed, args.margin)
            group.setdefault(corpus, {})[method] = planned_tests(table, context)
        old = stored.get("old")
        if not context and old is not None and (old["variant"] == "no_feedback").any():
            table = family_table(old, DIAGNOSTIC, args.bootstrap, args.seed, args.margin)
            said = [statements(table.loc[(*pair, "avg")]) for pair in DIAGNOSTIC]
            share = 1 - said[0]["across"].delta / said[1]["across"].delta
            diagnostic.append([corpus, *said_cells(said[0]), *said_cells(said[1]), f"{share:.0%}"])
        if all(m in stored for m in COMPARED):
            per_variant += methods_rows(corpus, stored, args)
            table = gain_contrasts(*(stored[m] for m in COMPARED), PLANNED_PAIRS, args.margin)
            avg = table[table["dimension"] == "avg"]
            contrasts.append([corpus, *(verdict_cell(row) for _, row in avg.iterrows())])
    lines = []
    for label, group_outcomes in outcomes.items():
        lines += [f"### Planted effects, {label}", "", summary(group_outcomes), ""]
    if diagnostic:
        lines += ["### Where the null deficit comes from (`old`, null corpora)", "",
                  *markdown(["corpus", "no_feedback - stateless, across sessions",
                             "these sessions", "mamba_ema - stateless, across sessions",
                             "these sessions", "share of the deficit not in no_feedback"],
                            diagnostic),
                  "", "CCC-avg; Holm over these two comparisons of each corpus; the share is "
                  "1 - mu(no_feedback) / mu(mamba_ema), HKSJ estimates.", ""]  # fmt: skip
    if per_variant:
        a, b = COMPARED
        lines += [f"### `{a}` against `{b}`: each variant", "",
                  *markdown(["corpus", "variant", f"{a} - {b}, across sessions",
                             "these sessions"], per_variant),
                  "", f"CCC-avg of each variant trained under `{a}` minus under `{b}`, paired on "
                  "(fold, seed, utterance); Holm over the four variants of a corpus.", "",
                  f"### `{a}` against `{b}`: the planned contrasts", "",
                  *markdown(["corpus", *(f"{v} - {r}" for v, r in PLANNED_PAIRS)], contrasts),
                  "", f"CCC-avg: the contrast under `{a}` minus the same contrast under `{b}` "
                  "(better: larger under ramp), HKSJ over the test sessions, its interval at "
                  "the level Holm over the three gives the row, p_Holm.", ""]  # fmt: skip
    return lines


def methods_rows(corpus: str, stored: dict[str, pd.DataFrame], args: argparse.Namespace) -> list:
    """Rows of each variant under one compared method against itself under the other."""
    both = pd.concat(
        [stored[m].assign(variant=stored[m]["variant"] + f"@{m}") for m in COMPARED],
        ignore_index=True,
    )
    pairs = [tuple(f"{v}@{m}" for m in COMPARED) for v in VARIANTS]
    table = family_table(both, pairs, args.bootstrap, args.seed, args.margin)
    rows = []
    for variant, reference in pairs:
        said = statements(table.loc[(variant, reference, "avg")])
        rows.append([corpus, variant.split("@")[0], *said_cells(said)])
    return rows


def verdict_cell(row: pd.Series) -> str:
    """``+0.031 † better [+0.004, +0.058] (p 0.021)``: a row's verdict, its interval at the
    level Holm gives the row, and its p_Holm."""
    said = Statement(row["verdict_delta"], row["re_p_holm"], row["verdict"])
    interval = f" [{row['verdict_low']:+.3f}, {row['verdict_high']:+.3f}]"
    return said.cell.replace(" (p", f"{interval} (p", 1)


def personalisation_section(moments: pd.DataFrame, args: argparse.Namespace) -> list[str]:
    """The planned personalisation gains of every corpus of the study's summary, one table
    per design (context or not, training seeds), and their counts; with ``--unadjusted``,
    the planned gains' HKSJ tests before Holm."""
    tables: dict[tuple[bool, str], list[tuple[tuple, list[str]]]] = {}
    said_by: dict[tuple[str, str], list[tuple[int, list[dict[str, Statement]]]]] = {}
    unadjusted: list[tuple[tuple, list[list[str]]]] = []
    for corpus in sorted(moments["corpus"].unique()):
        match = PERSONALISE_CORPUS.fullmatch(corpus)
        rows = moments[moments["corpus"] == corpus]
        scored = rows[rows["part"] == "scored"]
        if match is None or scored.empty:
            continue
        generator, context, effect = int(match[1]), match[2] is None, match[3] == "true"
        scale = float(match[4] or 1)
        comparisons = personalisation_comparisons(rows, args.bootstrap, args.seed, args.margin)
        said = planned_statements(comparisons)
        name = corpus_name(generator, effect, scale, context)
        seeds = ", ".join(map(str, sorted(scored["seed"].unique())))
        cells = [cell(s) for s in said] + [f"{gain:+.3f}" for gain in offset_gains(rows)]
        position = (generator, not effect, scale)
        tables.setdefault((context, seeds), []).append((position, [name, *cells]))
        design = name.split(", ", 1)[1]
        said_by.setdefault((design, seeds), []).append((generator, said))
        unadjusted.append(((not context, *position), unadjusted_rows(name, comparisons)))
    lines = []
    order = sorted(tables, key=lambda key: (-key[1].count(","), not key[0]))  # most seeds first
    for context, seeds in order:
        entries = tables[context, seeds]
        moods = "persistent dialog moods" if context else "independent dialog moods"
        lines += [f"### Personalisation, {moods}, training seeds {seeds}", "", *table_header(),
                  *("| " + " | ".join(row) + " |" for _, row in sorted(entries)), ""]  # fmt: skip
    lines += [LEGEND, "", "How often each planned gain is better, worse, and equivalent to 0 "
              "within the margin, per corpus design (across sessions / these sessions):",
              ""]  # fmt: skip
    counted = []
    for design, seeds in sorted(said_by, key=lambda key: (-key[1].count(","), key[0])):
        entries = said_by[design, seeds]
        generators = ", ".join(str(g) for g, _ in sorted(entries, key=lambda e: e[0]))
        counted.append([design, generators, seeds, *(tally([s[j] for _, s in entries])
                                                     for j in range(len(PLANNED)))])  # fmt: skip
    header = ["design", "generator seeds", "training seeds"]
    lines += markdown([*header, *(f"{m} {a}" for m, a in PLANNED)], counted)
    if args.unadjusted:
        header = ["corpus", "gain", "estimate", "95% interval", "p", "TOST p"]
        rows = [row for _, found in sorted(unadjusted) for row in found]
        lines += ["", f"### The planned gains' HKSJ tests before Holm (CCC-A, k={K})", "",
                  *markdown(header, rows)]  # fmt: skip
    return lines


def unadjusted_rows(name: str, comparisons: pd.DataFrame) -> list[list[str]]:
    """The planned gains of one corpus's section with their HKSJ test before Holm: estimate,
    95% interval, p and TOST p (two significant digits)."""
    table = comparisons.set_index(["model", "adapt", "k", "dimension"])
    rows = []
    for model, adapt in PLANNED:
        r = table.loc[(model, adapt, K, "a")]
        rows.append([name, f"{model} {adapt}", f"{r['re_delta']:+.3f}",
                     f"[{r['re_ci_low']:+.3f}, {r['re_ci_high']:+.3f}]", f"{r['re_p']:#.2g}",
                     f"{r['re_p_tost']:#.2g}"])  # fmt: skip
    return rows


def tally(said: Sequence[dict[str, Statement]]) -> str:
    """``better 0/2, worse 0/0, equivalent 0/0 of 3``: how many statements of each test say
    better, worse and equivalent, across sessions / these sessions."""
    words = ("better", "worse", "equivalent")
    found = ["/".join(str(sum(s[test].verdict == word for s in said)) for test in TESTS)
             for word in words]  # fmt: skip
    return ", ".join(f"{w} {n}" for w, n in zip(words, found, strict=True)) + f" of {len(said)}"


def summary_file(text: str) -> Path | None:
    """A study's summary file; None for ``''`` (skip that part)."""
    return Path(text) if text else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, study in (("planted", "planted_effects"), ("personalise", "personalise_effects")):
        default = SUMMARIES / file_name(study, "moments")
        what = f"{study}.py's summary ({default}); '' skips it"
        parser.add_argument(f"--{name}", type=summary_file, default=default, help=what)
    parser.add_argument("--bootstrap", type=int, default=4000,
                        help="bootstrap replicates, 'these sessions' columns (4000)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seeds the bootstrap (0)")
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help=f"equivalence margin in CCC ({MARGIN})")  # fmt: skip
    parser.add_argument("--seed-groups", type=seed_groups, default=seed_groups("4,5,6;7,8,9"),
                        help="generator seeds counted together, ';' between groups "
                        "(4,5,6;7,8,9: the README's two measurements)")  # fmt: skip
    parser.add_argument(
        "--unadjusted",
        action="store_true",
        help="also the planned personalisation gains' tests before Holm",
    )
    args = parser.parse_args()
    lines = ["# The README's claims, re-derived from the stored records", "",
             f"HKSJ over the test sessions is the verdict (across sessions); the paired "
             f"hierarchical bootstrap ({args.bootstrap} replicates, seed {args.seed}) speaks "
             f"for these sessions. Equivalence margin {args.margin}.", ""]  # fmt: skip
    for path, section in ((args.planted, planted_section),
                          (args.personalise, personalisation_section)):  # fmt: skip
        if path is None:
            continue
        if not path.is_file():
            sys.exit(f"no summary at {path}: benchmarks/summarise_records.py makes it")
        lines += [f"## {path}", "", *section(pd.read_parquet(path), args)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
