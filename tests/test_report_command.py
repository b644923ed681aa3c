"""``bench report`` end to end on a fabricated store: files, plots, terminal summary, errors."""

from __future__ import annotations

from dataclasses import dataclass
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

from bench.cli import main
from bench.report.analysis import build_report
from bench.report.plots import still_training, write_plots
from bench.run import list_grid, select_trials

PLOTS = ["ccc_avg_per_variant", "delta_forest", "per_fold", "learning_curves"]
AS_VARIANTS = {"better": "gru_ema", "worse": "no_prosody"}  # the planted ones, named as variants
VARIANTS = ["mamba_ema", "gru_ema", "no_film", "no_prosody"]
TWIN = "learnable_alpha"  # stored where selected: mamba_ema up to tiny noise


@dataclass(frozen=True)
class Store:
    """A results folder holding the planted trials with their current config hashes (by
    variant and fold), and the ``bench report`` arguments that select them."""

    root: Path
    selection: list[str]
    hashes: dict[tuple[str, int], str]


def planted_store(root: Path, corpus_root: Path, variants: list[str] = VARIANTS) -> Store:
    """The planted predictions, stored as the current trials of ``variants`` x 5 folds x
    seeds 0-2 on the tiny corpus (``corpus.root``), with the hashes ``bench run`` gives;
    ``TWIN``, if selected, is an equivalent variant (mamba_ema up to tiny noise)."""
    overrides = [f"corpus.root={corpus_root}"]
    selection = select_trials(overrides=overrides, variants=variants, seeds=[0, 1, 2])
    planned = list_grid(selection, root)
    predictions = planted_predictions().replace({"variant": AS_VARIANTS})
    predictions = pd.concat([predictions, near_twin(predictions, "mamba_ema", TWIN)])
    write_results(root, predictions[predictions["variant"].isin(variants)], planned=planned)
    argv = ["--results", str(root), "--variant", *variants, "--seeds", "0,1,2", *overrides]
    return Store(root, argv, {(t.key.variant, t.key.fold): t.config_hash for t in planned})


@pytest.fixture(scope="module")
def store(tiny_corpus_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return planted_store(tmp_path_factory.mktemp("results"), tiny_corpus_root, [*VARIANTS, TWIN])


def test_report_writes_tables_stats_plots_and_an_honest_summary(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", *store.selection, "--out", str(tmp_path), "--bootstrap", "600",
            "--equivalence-margin", "0.025"]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "synthetic"
    untuned = [p for p in PLOTS if p != "tuning_budget"]
    names = ["ablations.md", "ablations.tex", "per_fold.md", "per_fold.tex", "stats.csv",
             "trials.csv"] + [f"{p}.{ext}" for p in untuned for ext in ("png", "pdf")]  # fmt: skip
    for name in names:
        assert (out / name).stat().st_size > 0, name
    assert not (out / "tuning_budget.png").exists() and not (out / "tuning.csv").exists()
    legend = (out / "ablations.md").read_text()
    assert "Untuned: every variant trains with one shared recipe" in legend
    assert (out / "ccc_avg_per_variant.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "delta_forest.pdf").read_bytes()[:5] == b"%PDF-"
    stats = pd.read_csv(out / "stats.csv")
    assert len(stats) == 4 * 3 and set(stats["dimension"]) == {"v", "a", "avg"}
    assert {"delta", "ci_low", "ci_high", "p", "p_holm", "family", "margin", "p_tost",
            "p_tost_holm", "verdict", "nb_t", "nb_p", "nb_p_holm"} <= set(stats)  # fmt: skip
    assert (stats["margin"] == 0.025).all()
    assert (stats["family"] == stats["dimension"].map({"avg": "primary"}).fillna("secondary")).all()
    avg = stats[stats["dimension"] == "avg"].set_index("variant")["verdict"].to_dict()
    assert avg == {"gru_ema": "better", "no_prosody": "worse", "no_film": "undecided",
                   TWIN: "equivalent"}  # fmt: skip
    assert len(pd.read_csv(out / "trials.csv")) == 74
    assert "Verdict" in (out / "ablations.md").read_text()
    assert "±0.025 CCC" in (out / "ablations.md").read_text()
    summary = capsys.readouterr().out.splitlines()
    lines = {s.split()[0]: s.split() for s in summary if "CCC-avg difference" in s}
    assert {name: words[1] for name, words in lines.items()} == avg
    assert any("equivalent: TOST p_Holm < 0.05 within +-0.025 CCC" in s for s in summary)
    assert "no significant difference" not in "\n".join(summary)
    assert any("missing trials of no_film: fold3/seed2" in s for s in summary)
    assert not any("left out" in s for s in summary)


def test_format_reference_and_too_few_replicates(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", *store.selection, "--out", str(tmp_path), "--format", "md",
            "--bootstrap", "50", "--reference", "no_prosody"]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "synthetic" / "ablations.md").is_file()
    assert not (tmp_path / "synthetic" / "ablations.tex").exists()
    assert "no_prosody (ref.)" in (tmp_path / "synthetic" / "ablations.md").read_text()
    summary = capsys.readouterr().out
    assert "smallest attainable p_Holm is difference 0.157, TOST 0.078" in summary
    lines = [s for s in summary.splitlines() if "CCC-avg difference" in s]
    bootstrap = [s.split("these sessions (bootstrap) ")[1].split(",")[0] for s in lines]
    assert bootstrap == ["undecided"] * 4  # the secondary test could not reach 0.05
    assert len(lines) == 4 and "verdict: HKSJ random-effects test" in summary


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reference", "stateless"], "reference variant 'stateless' has no results"),
        (["--protocol", "iemocap"], "no current trials of the selection under"),
        (["--variant", "nonesuch"], "unknown variant 'nonesuch'"),
    ],
)
def test_errors_are_one_clean_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
) -> None:
    assert main(["report", *store.selection, "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_format_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--format", "md,pdf"])
    assert "formats are md and/or tex" in capsys.readouterr().err


@pytest.mark.parametrize("margin", ["0", "-0.02", "nan", "two"])
def test_a_bad_equivalence_margin_is_refused(
    capsys: pytest.CaptureFixture[str], margin: str
) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--equivalence-margin", margin])
    assert "--equivalence-margin" in capsys.readouterr().err


def test_plots_without_history_or_other_variants(tmp_path: Path) -> None:
    predictions = fabricate({"mamba_ema": REFERENCE_NOISE})
    empty = histories(predictions).head(0)
    report = build_report(predictions, empty, "synthetic", n_boot=10)
    paths = write_plots(report, tmp_path / "plots")
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
