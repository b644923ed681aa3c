"""The personalisation section's statistics on fabricated predictions with a planted gain."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests
from test_report_fabricate import REFERENCE_NOISE, fabricate

from bench.personalise.config import PersonaliseConfig
from bench.report.personalisation import personalisation_report
from bench.report.personalisation_output import personalisation_lines, personalisation_table
from bench.report.tables import render

CONFIG = PersonaliseConfig(k=(0, 4), adapt=("film", "head_bias"))


def personalised_rows() -> pd.DataFrame:
    """mamba_ema personalised: film at k = 4 halves the noise (a planted gain); head_bias at
    k = 4 keeps it (no gain); k = 0 is shared by both modes, as the store holds it."""
    made = fabricate(
        {"k0": REFERENCE_NOISE, "film": REFERENCE_NOISE / 2, "head_bias": REFERENCE_NOISE}
    )
    unadapted = made[made["variant"] == "k0"]
    frames = [unadapted.assign(adapt=mode, k=0) for mode in CONFIG.adapt]
    frames += [made[made["variant"] == mode].assign(adapt=mode, k=4) for mode in CONFIG.adapt]
    return pd.concat(frames, ignore_index=True).assign(variant="mamba_ema")


def test_a_planted_gain_is_found_and_a_null_mode_is_not() -> None:
    report = personalisation_report(personalised_rows(), {"mamba_ema": CONFIG}, 2000, 0, 0.02)
    avg = report.comparisons[report.comparisons["dimension"] == "avg"].set_index("adapt")
    assert avg.loc["film", "verdict"] == "better" and avg.loc["film", "ci_low"] > 0
    assert avg.loc["head_bias", "verdict"] in ("undecided", "equivalent")
    holm = multipletests(avg["p"], method="holm")[1]
    np.testing.assert_allclose(avg["p_holm"], holm)  # Holm over the section's comparisons
    spread = report.speakers.set_index("adapt")
    assert spread.loc["film", "speakers"] == 10 and spread.loc["film", "gained"] >= 9
    levels = report.levels.set_index(["adapt", "k"])
    assert levels.loc[("film", 0), "ccc_avg"] == levels.loc[("head_bias", 0), "ccc_avg"]
    gain = levels.loc[("film", 4), "ccc_avg"] - levels.loc[("film", 0), "ccc_avg"]
    assert abs(gain - avg.loc["film", "delta"]) < 1e-9  # every trial is paired
    assert avg["nb_p"].notna().all()  # folds that resample sessions: a fold-level test
    fixed = personalisation_report(personalised_rows(), {"mamba_ema": CONFIG}, 200, 0, 0.02, False)
    assert fixed.comparisons[["nb_t", "nb_p", "nb_p_holm"]].isna().all().all()  # fixed test sets


def test_the_table_and_the_terminal_lines_name_every_comparison() -> None:
    report = personalisation_report(personalised_rows(), {"mamba_ema": CONFIG}, 200, 0, 0.02)
    text = render(personalisation_table(report, "synthetic", 200), "md")
    assert text.count("| mamba_ema ") == 3 and "| mamba_ema | none      |   0 |" in text
    assert "Holm over the table's 2 CCC-avg comparisons" in text
    lines = personalisation_lines(report)
    assert lines[1].startswith("  mamba_ema film k=4: better, CCC-avg +")
    assert lines[2].startswith("  mamba_ema head_bias k=4: ")
