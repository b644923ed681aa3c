"""``bench report`` end to end on a fabricated store: files, plots, terminal summary, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_report_fabricate import REFERENCE_NOISE, fabricate, planted_results, write_results

from bench.cli import main
from bench.report.analysis import build_report
from bench.report.plots import still_training, write_plots

PLOTS = ["ccc_avg_per_variant", "delta_forest", "per_fold", "learning_curves"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_results(tmp_path_factory.mktemp("results"))


def test_report_writes_tables_stats_plots_and_an_honest_summary(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "--results", str(results), "--out", str(tmp_path), "--bootstrap", "600"]
    assert main(argv) == 0
    out = tmp_path / "synthetic"
    names = ["ablations.md", "ablations.tex", "per_fold.md", "per_fold.tex", "stats.csv",
             "trials.csv"] + [f"{p}.{ext}" for p in PLOTS for ext in ("png", "pdf")]  # fmt: skip
    for name in names:
        assert (out / name).stat().st_size > 0, name
    assert (out / "ccc_avg_per_variant.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "delta_forest.pdf").read_bytes()[:5] == b"%PDF-"
    stats = pd.read_csv(out / "stats.csv")
    assert len(stats) == 3 * 3 and set(stats["dimension"]) == {"v", "a", "avg"}
    assert {"delta", "ci_low", "ci_high", "p", "p_holm", "wilcoxon_p_secondary"} <= set(stats)
    assert len(pd.read_csv(out / "trials.csv")) == 59
    summary = capsys.readouterr().out.splitlines()
    verdicts = {s.split()[0]: s for s in summary if "CCC-avg difference" in s}
    assert "significantly higher" in verdicts["better"]
    assert "significantly lower" in verdicts["worse"]
    assert "no significant difference" in verdicts["no_film"]
    assert "significantly" not in verdicts["no_film"]
    assert any("missing trials of no_film: fold3/seed2" in s for s in summary)


def test_format_reference_and_too_few_replicates(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "--results", str(results), "--out", str(tmp_path), "--format", "md",
            "--bootstrap", "50", "--reference", "worse"]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "synthetic" / "ablations.md").is_file()
    assert not (tmp_path / "synthetic" / "ablations.tex").exists()
    assert "worse (ref.)" in (tmp_path / "synthetic" / "ablations.md").read_text()
    summary = capsys.readouterr().out
    assert "smallest attainable p_Holm is 0.353, so no test can reach 0.05" in summary
    assert "significantly" not in summary


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reference", "gru_ema"], "reference variant 'gru_ema' has no results"),
        (["--protocol", "iemocap"], "no complete trials of protocol 'iemocap'"),
    ],
)
def test_errors_are_one_clean_line(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
) -> None:
    assert main(["report", "--results", str(results), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_format_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--format", "md,pdf"])
    assert "formats are md and/or tex" in capsys.readouterr().err


def test_plots_without_history_or_other_variants(tmp_path: Path) -> None:
    root = write_results(tmp_path / "results", fabricate({"mamba_ema": REFERENCE_NOISE}))
    for history in root.rglob("history.csv"):
        history.write_text("epoch,train_loss,val_ccc_v,val_ccc_a,val_ccc_avg\n")
    paths = write_plots(build_report(root, "synthetic", n_boot=10), tmp_path / "plots")
    assert sorted(p.name for p in paths) == [
        "ccc_avg_per_variant.pdf", "ccc_avg_per_variant.png", "per_fold.pdf", "per_fold.png",
    ]  # fmt: skip


def test_learning_curves_stop_where_most_trials_stopped():
    rows = [
        {"variant": "a", "fold": 1, "seed": seed, "epoch": epoch, "val_ccc_avg": 0.1}
        for seed, last in enumerate([2, 3, 9])
        for epoch in range(last + 1)
    ]
    kept = still_training(pd.DataFrame(rows))
    assert sorted(kept["epoch"].unique()) == [0, 1, 2, 3]  # epochs >= 2 of the 3 trials reached
