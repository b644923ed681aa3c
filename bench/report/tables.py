"""The ablation and per-fold tables, each rendered as GitHub Markdown or as booktabs LaTeX.

A table is built once, as cells that know their numbers, boldness and significance marker;
:func:`render` turns it into either format. Text may hold the tokens ``{pm} {dagger}
{Delta} {times}``, which become the symbol in Markdown and the math command in LaTeX; all
other text is escaped for LaTeX, so names like ``no_film`` are safe and the output is ASCII.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd
from tabulate import tabulate

from bench.report.analysis import Report
from bench.report.comparisons import secondary, verdict_test

Format = Literal["md", "tex"]
Kind = Literal["text", "pm", "ci", "num"]
DIGITS = 3
TOKENS = {
    "pm": ("±", r"$\pm$"),
    "dagger": ("†", r"$^\dagger$"),
    "Delta": ("Δ", r"$\Delta$"),
    "times": ("×", r"$\times$"),
}
METRIC_COLUMNS = [  # summary metric, header, dimension whose test marks the cell
    ("ccc_v", "CCC-V", "v"), ("ccc_a", "CCC-A", "a"), ("ccc_avg", "CCC-avg", "avg"),
    ("rmse_v", "RMSE-V", None), ("rmse_a", "RMSE-A", None),
    ("dialog_ccc_avg", "Dialog\nCCC-avg", None),
]  # fmt: skip
STACKS = {"header": r"[b]{@{}c@{}}", "cell": r"[t]{@{}l@{}}"}  # LaTeX lines: how they stack
AA_MARK = "(A/A control)"  # after the name of a variant that is the reference with other seeds
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One table entry: text, ``mean ± std``, ``estimate [low, high]``, a p-value or a number.

    For the numeric kinds, ``text`` is a note shown after the number.
    """

    kind: Kind
    text: str = ""
    numbers: tuple[float, ...] = ()
    bold: bool = False
    marker: bool = False  # significant after correction


@dataclass(frozen=True)
class Table:
    headers: list[str]
    align: list[str]  # "left" or "right", per column
    rows: list[list[Cell]]
    legend: str
    label: str  # LaTeX label suffix


def latex_escape(text: str) -> str:
    r"""Escape LaTeX's special characters.

    >>> print(latex_escape("no_film & 50% {x}"))
    no\_film \& 50\% \{x\}
    """
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def _text(text: str, fmt: Format) -> str:
    """Text with ``{token}`` symbols, escaped for LaTeX outside the tokens."""
    parts = re.split(r"\{(" + "|".join(TOKENS) + r")\}", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a token name
            out.append(TOKENS[part][fmt == "tex"])
        else:
            out.append(part if fmt == "md" else latex_escape(part))
    return "".join(out)


def _number(x: float, signed: bool = False) -> str:
    return f"{x:+.{DIGITS}f}" if signed else f"{x:.{DIGITS}f}"


def _md_numbers(cell: Cell) -> str:
    """``0.704 ± 0.052``, ``-0.116 [-0.154, -0.087]`` or ``0.704``."""
    x = cell.numbers
    if cell.kind == "pm":
        return _number(x[0]) + (f" ± {_number(x[1])}" if math.isfinite(x[1]) else "")
    if cell.kind == "ci":
        return f"{_number(x[0], True)} [{_number(x[1])}, {_number(x[2])}]"
    return _number(x[0])


def _tex_numbers(cell: Cell) -> str:
    """The same in LaTeX math mode, compact for a paper: the std as a subscript (a CI is
    drawn by :func:`_tex_ci`)."""
    x = cell.numbers
    if cell.kind == "pm":
        return _number(x[0]) + (f"_{{\\pm {_number(x[1])}}}" if math.isfinite(x[1]) else "")
    return _number(x[0])


def _tex_ci(cell: Cell) -> str:
    """An estimate with its CI in two lines, the CI small below it, so the ablation table
    with its verdict column fits a two-column paper's text width."""
    x = cell.numbers
    estimate = _number(x[0], True)
    estimate = f"\\mathbf{{{estimate}}}" if cell.bold else f"{{{estimate}}}"
    marker = r"^\dagger" if cell.marker else ""
    ci = f"[{_number(x[1])},\\,{_number(x[2])}]"
    return (
        f"\\begin{{tabular}}[t]{{@{{}}r@{{}}}}${estimate}{marker}$ \\\\ "
        f"$\\scriptstyle {ci}$\\end{{tabular}}{_text(cell.text, 'tex')}"
    )


def _cell(cell: Cell, fmt: Format) -> str:
    """One cell in Markdown or LaTeX (numbers in math mode there, so minus signs are right)."""
    if cell.kind == "text":
        body = _lines(cell.text, fmt, "cell")
        if not cell.bold:
            return body
        return f"**{body}**" if fmt == "md" else f"\\textbf{{{body}}}"
    if not cell.numbers or not math.isfinite(cell.numbers[0]):
        return "–" if fmt == "md" else "--"
    note = _text(cell.text, fmt)
    if fmt == "md":
        body = _md_numbers(cell)
        return (f"**{body}**" if cell.bold else body) + ("†" if cell.marker else "") + note
    if cell.kind == "ci":
        return _tex_ci(cell)
    body = _tex_numbers(cell)
    body = f"\\mathbf{{{body}}}" if cell.bold else f"{{{body}}}"
    marker = r"^\dagger" if cell.marker else ""
    return f"${body}{marker}${note}"


def _lines(text: str, fmt: Format, stack: Literal["header", "cell"]) -> str:
    """Text whose newlines break the line in LaTeX (``STACKS``: a header's lines centred on
    its bottom line, a cell's left-aligned from its top line, on the row's baseline) and are
    spaces in Markdown."""
    lines = [_text(line, fmt) for line in text.split("\n")]
    if fmt == "md" or len(lines) == 1:
        return " ".join(lines)
    braced = (f"{{{line}}}" for line in lines)  # so "\\" never reads a "[" as its argument
    return r"\begin{tabular}" + STACKS[stack] + r" \\ ".join(braced) + r"\end{tabular}"


def _header(text: str, fmt: Format) -> str:
    """A column header; a newline in it breaks the line in LaTeX (a space in Markdown)."""
    return _lines(text, fmt, "header")


def render(table: Table, fmt: Format) -> str:
    """The table as a GitHub Markdown table plus legend, or a booktabs LaTeX ``table*``.

    The LaTeX float spans the page width (``table*``, the full text width in a two-column
    paper) and needs only the booktabs package.
    """
    rows = [[_cell(c, fmt) for c in row] for row in table.rows]
    headers = [_header(h, fmt) for h in table.headers]
    if fmt == "md":
        body = tabulate(
            rows, headers, tablefmt="github", colalign=table.align, disable_numparse=True
        )
        return f"{body}\n\n{_text(table.legend, fmt)}\n"
    spec = "".join(a[0] for a in table.align)
    lines = [
        r"\begin{table*}[htbp]",
        r"  \centering",
        r"  \footnotesize",
        r"  \setlength{\tabcolsep}{2.5pt}",
        f"  \\caption{{{_text(table.legend, fmt)}}}",
        f"  \\label{{tab:{re.sub(r'[^A-Za-z0-9]+', '-', table.label)}}}",
        f"  \\begin{{tabular}}{{{spec}}}",
        r"    \toprule",
        "    " + " & ".join(headers) + r" \\",
        r"    \midrule",
        *("    " + " & ".join(row) + r" \\" for row in rows),
        r"    \bottomrule",
        r"  \end{tabular}",
        r"\end{table*}",
    ]
    return "\n".join(lines) + "\n"


def _bold_best(cells: list[Cell], lower_is_better: bool = False) -> list[Cell]:
    """Bold every cell whose displayed first number is the best of the column."""
    shown = [
        round(c.numbers[0], DIGITS) if c.numbers and math.isfinite(c.numbers[0]) else None
        for c in cells
    ]
    finite = [x for x in shown if x is not None]
    if not finite:
        return cells
    best = min(finite) if lower_is_better else max(finite)
    return [replace(c, bold=True) if x == best else c for c, x in zip(cells, shown, strict=True)]


def _name(variant: str, report: Report) -> Cell:
    """A row's name: ``(ref.)`` after the reference, ``(A/A control)`` below its A/A controls
    (beside them in Markdown), so the name column is no wider in a paper."""
    if variant == report.reference:
        return Cell("text", f"{variant} (ref.)")
    return Cell("text", f"{variant}\n{AA_MARK}" if variant in report.aa_controls else variant)


def _aa_sentence(report: Report) -> str:
    """The legend's note on the A/A controls (none: ``""``): what they are (tuned, their own
    search ran with the shifted seeds too), the verdict each should get, and any it did
    not."""
    if not report.aa_controls:
        return ""
    names = ", ".join(report.aa_controls)
    again = (
        "tuned and trained again with other seeds (train.seed_offset, which its own search "
        "trained with too, as every variant has its own search)"
        if report.tuning.chosen is not None
        else "trained again with other seeds (train.seed_offset)"
    )
    sentence = (
        f"{AA_MARK}: {names}, {report.reference} {again} and nothing else changed, so its "
        "difference is noise: the noise floor of every comparison. Its verdict should be "
        "equivalent or undecided; better or worse is a false positive of the test at hand."
    )
    verdicts = report.comparisons.set_index(["variant", "dimension"])["verdict"]
    wrong = [
        f"{name} came out {verdicts[(name, 'avg')]}"
        for name in report.aa_controls
        if verdicts.get((name, "avg")) in ("better", "worse")
    ]
    return sentence + (f" Here {'; '.join(wrong)}: a false positive." if wrong else "")


def ablation_table(report: Report) -> Table:
    """Variants x metrics (mean {pm} std), {Delta}CCC-avg with its CI and the CCC-avg verdict;
    markers where the difference test's Holm-corrected p < 0.05 (CCC-avg within the primary
    family, CCC-V and CCC-A within the secondary one); the best value of each column in
    bold."""
    order = report.order()
    variants = report.variants.loc[order]
    comparisons = report.comparisons.set_index(["variant", "dimension"])
    significant = {key: bool(v) for key, v in comparisons["significant"].items()}
    columns: list[tuple[str, list[Cell]]] = []
    for metric, header, dimension in METRIC_COLUMNS:
        cells = [
            Cell(
                "pm",
                numbers=(row[f"{metric}_mean"], row[f"{metric}_std"]),
                marker=significant.get((variant, dimension), False),
            )
            for variant, row in variants.iterrows()
        ]
        columns.append((header, _bold_best(cells, lower_is_better=metric.startswith("rmse"))))
    delta, verdict = [Cell("text", "reference")], [Cell("num")]
    for variant in order[1:]:
        row = comparisons.loc[(variant, "avg")]
        numbers = (row["verdict_delta"], row["verdict_low"], row["verdict_high"])
        delta.append(Cell("ci", numbers=numbers, marker=bool(row["significant"])))
        verdict.append(Cell("text", row["verdict"]))
    columns.append(("{Delta}CCC-avg\n[Holm CI]", _bold_best(delta)))
    columns.append(("Verdict\n(CCC-avg)\n" + report.scope.replace(" ", "\n"), verdict))
    n = [
        Cell("text", str(r.n) if r.n == r.n_expected else f"{r.n}/{r.n_expected}")
        for r in variants.itertuples()
    ]
    names = [_name(v, report) for v in order]
    headers = ["Variant", "n", *(h for h, _ in columns)]
    rows = [list(r) for r in zip(names, n, *(c for _, c in columns), strict=True)]
    align = ["left", *["right"] * (len(headers) - 1)]
    return Table(headers, align, rows, _legend(report), f"{report.protocol}-ablations")


def _legend(report: Report) -> str:
    """Protocol, n, the verdict's test with its scope and its interval, the families and
    their correction, the verdicts and their margin, the secondary tests, the power, the A/A
    controls, how the configurations were chosen, and every missing or unpaired trial."""
    v = report.variants
    c = report.comparisons
    n_primary = int(c.loc[c["family"] == "primary", "p"].notna().sum())
    n_secondary = int(c.loc[c["family"] == "secondary", "p"].notna().sum())
    margin = f"{report.margin:g}"
    sentences = [
        f"Protocol {report.title}. Mean {{pm}} std over folds {{times}} seeds; "
        f"n = trials per variant (k/N: only k of the N = {v['n_expected'].max()} "
        "fold-seed trials finished).",
        "CCC and RMSE are pooled over each fold's test utterances; Dialog CCC-avg is the "
        "mean of per-dialog CCCs (secondary, not tested).",
        _verdict_test_sentence(report),
        f"Primary family: CCC-avg of the {n_primary} variants against {report.reference}; "
        f"secondary family: their CCC-V and CCC-A ({n_secondary} tests). Holm's correction "
        "runs within each family. {dagger}: the verdict test's two-sided difference test has "
        "p < 0.05 after Holm, over the primary family on CCC-avg and {Delta}CCC-avg, over "
        "the secondary family on CCC-V and CCC-A.",
        f"Verdict ({report.scope}): better or worse where the CCC-avg difference is "
        "significant ({dagger}); else equivalent where two one-sided tests (TOST) put it "
        f"inside {{pm}}{margin} CCC, the declared smallest effect of interest, with p < 0.05 "
        "after Holm; else undecided (also where the test is undefined). A difference that is "
        "not significant is not called equivalent.",
    ]
    optional = [
        _secondary_sentence(report), "Bold: best in column.", _power_sentence(report),
        _aa_sentence(report),
    ]  # fmt: skip
    sentences += [s for s in optional if s]
    sentences.append(report.tuning.note)
    missing = report.missing_notes()
    if missing:
        sentences.append("Missing trials: " + "; ".join(missing) + ".")
    if report.left_out:
        sentences.append("Left out: " + "; ".join(report.left_out) + ".")
    sentences += [f"{note}." for note in report.pairing_notes()]
    return " ".join(sentences)


def _verdict_test_sentence(report: Report) -> str:
    """The legend's verdict test: what it is, what it covers, and the interval beside it."""
    return verdict_test(report.fold_kind).legend(report)


def _secondary_sentence(report: Report) -> str:
    """The legend's secondary tests, each by its own clause, in the registry's order (``""``
    where there are none): "scoped to" the scope of those with a verdict of their own where
    it differs from the verdict's."""
    kind = report.fold_kind
    tests = secondary(kind)
    if not tests:
        return ""
    clauses = [
        test.legend(report)
        + (f"; its verdicts ({test.verdict_column})" if test.verdict_column else "")
        for test in tests
    ]
    scopes = {test.scopes[kind] for test in tests if test.verdict_column}
    scopes.discard(report.scope)
    scoped = f", scoped to {scopes.pop()}" if len(scopes) == 1 else ""
    return (
        f"Secondary{scoped}: {_and(clauses)} are in stats.csv with every p-value and the "
        "verdicts of CCC-V and CCC-A."
    )


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``.

    >>> _and(["a", "b", "c"])
    'a, b and c'
    """
    return " and ".join(filter(None, [", ".join(items[:-1]), items[-1]]))


def _power_sentence(report: Report) -> str:
    """The legend's smallest detectable CCC-avg difference of the verdict test
    (:func:`bench.report.power.power_table`; ``""`` where it is undefined)."""
    if report.power is None:
        return ""
    detectable = pd.to_numeric(report.power["detectable"], errors="coerce").dropna()
    if detectable.empty:
        return ""
    span = f"{detectable.min():.3f}" + (
        f" to {detectable.max():.3f}" if detectable.max() > detectable.min() else ""
    )
    source = (
        "each comparison's own variance components"
        if report.resampled_folds
        else "the spread of each comparison's training runs"
    )
    return (
        f"Power: with these {report.tested}s and seeds the verdict test detects a CCC-avg "
        f"difference of {span} with 80% power (two-sided 0.05 before Holm, from {source}; "
        "smaller differences are likely undecided; per comparison, and the seeds or sessions "
        "a target needs: bench power)."
    )


def _fold_header(fold: int, tests: str | None) -> str:
    """``Fold 2: Test2``, or ``Fold 2`` where what it tests is not known."""
    return f"Fold {fold}: {tests}" if tests else f"Fold {fold}"


def per_fold_table(report: Report) -> Table:
    """Variants x folds: CCC-avg, mean over seeds; best per fold in bold."""
    order = report.order()
    folds = report.folds.set_index(["variant", "fold"])
    fold_ids = sorted(report.folds["fold"].unique())
    n_seeds = report.folds.groupby("fold")["n_seeds"].max()
    columns = []
    for fold in fold_ids:
        cells = []
        for variant in order:
            if (variant, fold) not in folds.index:
                cells.append(Cell("num"))
                continue
            row = folds.loc[(variant, fold)]
            short = row["n_seeds"] < n_seeds[fold]
            note = f" (n={int(row['n_seeds'])})" if short else ""
            cells.append(Cell("num", note, (row["ccc_avg"],)))
        columns.append(_bold_best(cells))
    legend = (
        f"Protocol {report.title}. CCC-avg per test fold (pooled over the fold's test "
        "utterances), mean over seeds. (n=k): only k seeds finished; a dash: none. "
        "Bold: best in column."
    )
    if report.aa_controls:
        legend += f" {AA_MARK}: {report.reference} trained again with other seeds (noise)."
    names = [_name(v, report) for v in order]
    headers = ["Variant", *(_fold_header(f, report.fold_tests.get(f)) for f in fold_ids)]
    rows = [list(r) for r in zip(names, *columns, strict=True)]
    return Table(
        headers, ["left", *["right"] * len(fold_ids)], rows, legend, f"{report.protocol}-folds"
    )


def tuning_table(report: Report) -> Table | None:
    """Variants x source folds: the chosen configuration's values, its validation CCC-avg
    and its index among those tried; None for an untuned report."""
    chosen = report.tuning.chosen
    if chosen is None or chosen.empty:
        return None
    keys = [c for c in chosen.columns if c.startswith(("model.", "train."))]
    order = {v: i for i, v in enumerate(report.order())}
    chosen = chosen.assign(rank=chosen["variant"].map(order)).sort_values(["rank", "fold"])
    rows = [
        [
            _name(r["variant"], report),
            Cell("text", str(r["fold"])),
            *(Cell("text", f"{r[k]:.3g}") for k in keys),
            Cell("num", numbers=(r["val_ccc_avg"],)),
            Cell("text", f"{r['chosen'] + 1} of {r['tried']}"),
            Cell("text", str(r["epochs"])),
            Cell("text", str(r["asha_stopped"])),
        ]
        for _, r in chosen.iterrows()
    ]
    headers = ["Variant", "Tuned on\nfold", *keys, "Validation\nCCC-avg", "Chosen",
               "Search\nepochs", "Stopped\nby ASHA"]  # fmt: skip
    legend = (
        f"Protocol {report.title}. The configuration each variant trained with: its "
        "values, its best validation CCC-avg in the search, and its place in the search's "
        "order; the epochs the search trained (every epoch of every configuration) and the "
        f"configurations ASHA stopped early. {report.tuning.note}"
    )
    align = ["left", *["right"] * (len(headers) - 1)]
    return Table(headers, align, rows, legend, f"{report.protocol}-tuning")
