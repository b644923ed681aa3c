"""The ablation and per-fold tables: content, n, markers, escaping, and LaTeX that compiles."""

from __future__ import annotations

import doctest
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from test_report_fabricate import (
    REFERENCE_NOISE,
    fabricate,
    histories,
    near_twin,
    planted_predictions,
    write_results,
)

import bench.report.tables
from bench.cli import main
from bench.report.analysis import Report, build_report
from bench.report.tables import ablation_table, latex_escape, per_fold_table, render
from bench.report.tuning import TuningView
from bench.run import list_grid, select_trials


@pytest.fixture(scope="module")
def report() -> Report:
    predictions = planted_predictions()
    return build_report(predictions, histories(predictions), "synthetic", n_boot=400)


def md_rows(text: str) -> dict[str, list[str]]:
    """The body rows of a GitHub Markdown table, by their first cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")][2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return {row[0]: row[1:] for row in cells}


def test_doctests() -> None:
    assert doctest.testmod(bench.report.tables).failed == 0


def test_latex_escape_covers_every_special_character() -> None:
    assert latex_escape("a_b&c%d$e#f{g}h~i^j\\k<l>m|n") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
        r"\textless{}l\textgreater{}m\textbar{}n"
    )


def test_markdown_ablation_table(report: Report) -> None:
    text = render(ablation_table(report), "md")
    rows = md_rows(text)
    assert list(rows) == ["mamba_ema (ref.)", "better", "no_film", "worse"]
    assert rows["no_film"][0] == "14/15" and rows["worse"][0] == "15"
    assert rows["worse"][3].endswith("†") and rows["worse"][7].endswith("†")  # CCC-avg, delta
    assert rows["worse"][1].endswith("†") and rows["worse"][2].endswith("†")  # V, A: secondary
    assert "†" not in "".join(rows["no_film"])
    assert rows["better"][2].startswith("**") and rows["better"][3].startswith("**")  # best
    assert rows["worse"][3].startswith("**") is False
    assert rows["mamba_ema (ref.)"][7] == "reference" and rows["mamba_ema (ref.)"][8] == "–"
    worse = report.comparisons.set_index(["variant", "dimension"]).loc[("worse", "avg")]
    interval = [worse["verdict_delta"], worse["verdict_low"], worse["verdict_high"]]
    assert rows["worse"][7] == "{:+.3f} [{:.3f}, {:.3f}]†".format(*interval)
    assert worse["verdict_level"] > 0.95 and worse["verdict_delta"] == worse["re_delta"]
    verdicts = {name: cells[8] for name, cells in rows.items()}
    assert verdicts == {"mamba_ema (ref.)": "–", "better": "better", "no_film": "undecided",
                        "worse": "worse"}  # fmt: skip
    for fact in ["Protocol synthetic", "n = trials per variant", "N = 15",
                 "paired hierarchical bootstrap", "Missing trials: no_film: fold3/seed2",
                 "only the reference has fold3/seed2", "400 replicates",
                 "covers other dialogs and seeds of these sessions only",
                 "Verdict test, across sessions", "Hartung-Knapp-Sidik-Jonkman",
                 "docs/calibration.md", "at the level Holm's procedure gives the row",
                 "Verdict (across sessions)", "bootstrap_verdict",
                 "with 80% power (two-sided 0.05 before Holm", "bench power",
                 "Primary family: CCC-avg of the 3 variants against mamba_ema",
                 "secondary family: their CCC-V and CCC-A (6 tests)",
                 "Holm's correction runs within each family",
                 "over the secondary family on CCC-V and CCC-A",
                 "inside ±0.02 CCC", "lies inside the margin exactly when it is equivalent",
                 "A difference that is not significant is not called equivalent",
                 "Nadeau-Bengio corrected resampled t-test", "covers other sessions",
                 "nb_p_holm"]:  # fmt: skip
        assert fact in text


def test_lower_rmse_is_best(report: Report) -> None:
    rows = md_rows(render(ablation_table(report), "md"))
    assert rows["better"][4].startswith("**") and not rows["worse"][4].startswith("**")


def test_latex_table_is_escaped_ascii_booktabs(report: Report) -> None:
    text = render(ablation_table(report), "tex")
    assert text.isascii()
    assert r"no\_film" in text and "no_film" not in text.replace(r"no\_film", "")
    for command in [r"\toprule", r"\midrule", r"\bottomrule", r"\pm", r"\mathbf{", r"^\dagger"]:
        assert command in text
    assert r"\label{tab:synthetic-ablations}" in text
    assert r"$\pm$0.02 CCC" in text and "& undecided" in text and "& --" in text


def test_per_fold_table_shows_short_seed_counts(report: Report) -> None:
    rows = md_rows(render(per_fold_table(report), "md"))
    assert rows["no_film"][2].endswith("(n=2)") and "(n=" not in rows["no_film"][0]
    assert all(cell.startswith("**") for cell in rows["better"])  # best on every fold


def compile_latex(folder: Path, preamble: str, body: str) -> subprocess.CompletedProcess:
    """pdflatex on ``doc.tex`` in ``folder``; the log is in ``doc.log``."""
    (folder / "doc.tex").write_text(
        f"\\documentclass{preamble}\n\\usepackage{{booktabs}}\n\\begin{{document}}\n{body}"
        "\\end{document}\n"
    )
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
        cwd=folder, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_ablation_grid_table_fits_a_two_column_text_width(tmp_path: Path) -> None:
    grid = ["mamba_ema", "stateless", "gru_ema", "no_prosody", "no_film", "learnable_alpha",
            "teacher_forcing", "autoregressive", "no_feedback", "mamba_ema_aa"]  # fmt: skip
    predictions = fabricate(dict.fromkeys(grid, REFERENCE_NOISE), seeds=(0,), utterances=4)
    report = build_report(predictions, histories(predictions), "synthetic", n_boot=20)
    report = replace(report, aa_controls=("mamba_ema_aa",))
    widest = report.comparisons.assign(verdict="equivalent")  # the longest verdict word
    (tmp_path / "ablations.tex").write_text(
        render(ablation_table(replace(report, comparisons=widest)), "tex")
    )
    result = compile_latex(
        tmp_path, "[twocolumn]{article}\n\\usepackage[textwidth=7in]{geometry}",
        "\\input{ablations.tex}\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Overfull \\hbox" not in (tmp_path / "doc.log").read_text()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_in_a_minimal_document(report: Report, tmp_path: Path) -> None:
    (tmp_path / "ablations.tex").write_text(render(ablation_table(report), "tex"))
    (tmp_path / "per_fold.tex").write_text(render(per_fold_table(report), "tex"))
    result = compile_latex(tmp_path, "{article}", "\\input{ablations.tex}\n\\input{per_fold.tex}\n")
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_the_a_a_control_is_marked_beside_the_reference_with_what_its_verdict_means() -> None:
    """An A/A control's row follows the reference's, marked in every table, and the legend
    says what it is; where its verdict is better or worse, the legend calls it a false
    positive."""
    predictions = fabricate(
        {"mamba_ema": REFERENCE_NOISE, "again": REFERENCE_NOISE, "aa": 0.8, "worse": 0.8}
    )
    built = build_report(predictions, histories(predictions), "synthetic", n_boot=400)
    report = replace(built, aa_controls=("aa", "again"))
    text = render(ablation_table(report), "md")
    rows = md_rows(text)
    assert list(rows) == ["mamba_ema (ref.)", "aa (A/A control)", "again (A/A control)", "worse"]
    assert rows["aa (A/A control)"][8] == "worse" and rows["again (A/A control)"][8] != "worse"
    assert (
        "(A/A control): aa, again, mamba_ema trained again with other seeds "
        "(train.seed_offset) and nothing else changed, so its difference is noise: the noise "
        "floor of every comparison. Its verdict should be equivalent or undecided; better or "
        "worse is a false positive of the test at hand. Here aa came out worse: a false "
        "positive."
    ) in text
    assert list(md_rows(render(per_fold_table(report), "md")))[1] == "aa (A/A control)"
    tex = render(ablation_table(report), "tex")
    assert r"\begin{tabular}[t]{@{}l@{}}{aa} \\ {(A/A control)}\end{tabular} &" in tex
    assert "Here aa came out worse: a false positive." in tex
    assert "(A/A control)" not in render(ablation_table(built), "md")
    tuned = replace(report, tuning=TuningView("Tuned.", chosen=pd.DataFrame()))
    assert (
        "mamba_ema tuned and trained again with other seeds (train.seed_offset, which its "
        "own search trained with too" in render(ablation_table(tuned), "md")
    )


def test_bench_report_finds_and_marks_the_a_a_control(
    tiny_corpus_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench report`` finds the A/A control by its configuration (the reference's but for
    ``train.seed_offset``) and marks it in the Markdown and LaTeX tables and the summary."""
    variants = ["mamba_ema", "mamba_ema_aa", "no_film"]
    overrides = [f"corpus.root={tiny_corpus_root}"]
    planned = list_grid(select_trials(overrides=overrides, variants=variants), tmp_path / "r")
    predictions = planted_predictions()
    predictions = pd.concat([predictions, near_twin(predictions, "mamba_ema", "mamba_ema_aa")])
    write_results(
        tmp_path / "r", predictions[predictions["variant"].isin(variants)], planned=planned
    )
    argv = ["report", "--results", str(tmp_path / "r"), "--variant", *variants, *overrides,
            "--out", str(tmp_path / "out"), "--bootstrap", "200"]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "out" / "synthetic"
    rows = md_rows((out / "ablations.md").read_text())
    assert list(rows) == ["mamba_ema (ref.)", "mamba_ema_aa (A/A control)", "no_film"]
    assert rows["mamba_ema_aa (A/A control)"][8] in ("equivalent", "undecided")
    assert (
        "(A/A control): mamba_ema_aa, mamba_ema trained again" in (out / "ablations.md").read_text()
    )
    assert r"{mamba\_ema\_aa} \\ {(A/A control)}" in (out / "ablations.tex").read_text()
    assert r"{mamba\_ema\_aa} \\ {(A/A control)}" in (out / "per_fold.tex").read_text()
    summary = capsys.readouterr().out
    assert "  mamba_ema_aa (A/A control)  " in summary
    assert "(A/A control): mamba_ema_aa, mamba_ema again with other seeds" in summary


def test_the_legend_states_the_verdict_tests_detectable_difference_and_scope() -> None:
    """Across sessions HKSJ's, on fixed test sets the runs' t-test's; each from power_table."""
    predictions = planted_predictions()
    for resampled, scope, source in [
        (True, "Verdict test, across sessions", "each comparison's own variance components"),
        (False, "Verdict test, these test sets", "the spread of each comparison's training runs"),
    ]:
        report = build_report(predictions, histories(predictions), "synthetic", n_boot=200,
                              resampled_folds=resampled)  # fmt: skip
        legend = ablation_table(report).legend
        detectable = report.power["detectable"].astype(float)
        span = f"{detectable.min():.3f} to {detectable.max():.3f}"
        assert scope in legend and source in legend
        assert f"detects a CCC-avg difference of {span} with 80% power" in legend
