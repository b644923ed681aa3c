"""A results folder describes itself: ``bench run`` stores its plan beside the records, and
``bench ls`` and ``bench report`` with no selection argument read it, with no corpus, no
tuning folder and no override repeated (issue 25, item 2)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.results import RESULT_FILE, TrialKey
from bench.run import selection as selection_module
from bench.run.driver import run_grid
from bench.run.executors import RunOptions
from bench.run.selection import select_trials
from bench.run.stored_plan import PLANS_FOLDER, read_plan, stored_plans

FAST = ["train.epochs=1", "train.chunk_len=8", "model.d_model=8", "model.d_c=8", "model.d_p2=8"]
SELECTION = ["--variant", "mamba_ema", "stateless", "--seeds", "0", "--folds", "1,2"]


@dataclass(frozen=True)
class Ran:
    """A results folder one ``bench run`` filled, and the arguments that gave its corpus."""

    results: Path
    corpus: list[str]


@pytest.fixture(scope="module")
def ran(
    tiny_corpus_root: Path, tiny_feature_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Ran:
    """2 variants x 2 folds x seed 0, trained for one epoch on the tiny corpus."""
    results = tmp_path_factory.mktemp("ran") / "results"
    corpus = [f"corpus.root={tiny_corpus_root}", f"features.cache_dir={tiny_feature_cache}"]
    argv = ["run", "--executor", "local", "--quiet", *SELECTION, "--results", str(results)]
    assert main([*argv, *corpus, *FAST]) == 0
    return Ran(results, corpus)


@pytest.fixture
def copied(ran: Ran, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The results folder copied elsewhere, with ``$BENCH_DATA`` an empty folder and the
    corpus unreadable: whatever reads it fails the test."""
    copy = shutil.copytree(ran.results, tmp_path / "copy")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))

    def no_corpus(*args: object, **kwargs: object) -> None:
        raise AssertionError("the corpus was read")

    monkeypatch.setattr(selection_module, "prepare_protocol_corpus", no_corpus)
    return copy


def plan_file(results: Path) -> Path:
    [path] = (results / "synthetic" / PLANS_FOLDER).glob("*.json")
    return path


def one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"bench {command}: error: ")
    return err


def test_the_run_stores_what_it_ran(ran: Ran) -> None:
    [(name, plan)] = stored_plans(ran.results).items()
    assert name.startswith("mamba_ema+stateless-") and plan_file(ran.results).stem == name
    assert plan.command.startswith("bench run --executor local --quiet --variant mamba_ema")
    assert plan.command.endswith(" ".join(FAST))
    assert plan.selection.variants == ("mamba_ema", "stateless")
    assert (plan.selection.reference, plan.selection.grid) == ("mamba_ema", None)
    assert plan.selection.seeds == (0,) and plan.selection.folds == (1, 2)
    assert plan.selection.overrides == tuple(FAST) and plan.selection.tuned is None
    assert plan.protocol.name == "synthetic" and not plan.protocol.fixed_test_sets
    assert {n: f.tests for n, f in plan.folds.items()} == {1: "Ses01", 2: "Ses02"}
    stored = json.loads((TrialKey("synthetic", "stateless", 2, 0).folder(ran.results)
                         / RESULT_FILE).read_text())  # fmt: skip
    [entry] = [e for e in plan.trials if (e.variant, e.fold) == ("stateless", 2)]
    assert entry.config_hash == stored["config_hash"] and entry.config == stored["config"]
    assert entry.config["train"]["epochs"] == 1 and plan.folds[2].data == stored["data"]


def test_a_copied_results_folder_lists_and_reports_with_no_corpus(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ls", "--results", str(copied)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"plan {plan_file(copied).stem}: bench run ")
    assert "4 done, 0 stale, 0 missing of 4 trials" in out
    assert main(["ls", "--results", str(copied), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["plan"], r["status"]) for r in rows] == [(plan_file(copied).stem, "done")] * 4

    reports = tmp_path / "reports"
    argv = ["report", "--results", str(copied), "--out", str(reports), "--bootstrap", "50"]
    assert main([*argv, "--format", "md"]) == 0
    captured = capsys.readouterr()
    assert "left out" not in captured.err and "stateless" in captured.out
    legend = (reports / "synthetic" / "ablations.md").read_text()
    assert "Untuned: every variant trains with one shared recipe" in legend
    assert len(pd.read_csv(reports / "synthetic" / "trials.csv")) == 4
    assert list((tmp_path / "data").iterdir()) == []  # no corpus was generated


def test_power_reads_a_copied_plan_with_no_corpus(
    copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["power", "--results", str(copied), "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert main(["power", "--results", str(copied), "--reference", "mamba_ema", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == stored
    assert stored["protocol"] == "synthetic" and stored["reference"] == "mamba_ema"
    assert [row["variant"] for row in stored["comparisons"]] == ["stateless"]
    assert main(["power", "--results", str(copied), "--reference", "gru_ema"]) == 2
    assert "reference variant 'gru_ema' has no results" in capsys.readouterr().err


def test_the_stored_report_is_the_one_the_selection_gives(
    ran: Ran, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--results", str(ran.results), "--bootstrap", "50", "--format", "md"]
    assert main(["report", *common, "--out", str(tmp_path / "stored")]) == 0
    selected = [*SELECTION, *ran.corpus, *FAST]
    assert main(["report", *common, "--out", str(tmp_path / "selected"), *selected]) == 0
    capsys.readouterr()
    for name in ("ablations.md", "per_fold.md", "stats.csv", "trials.csv"):
        stored = (tmp_path / "stored" / "synthetic" / name).read_text()
        assert stored == (tmp_path / "selected" / "synthetic" / name).read_text(), name


def test_a_trial_stored_under_another_configuration_is_named_and_left_out(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = TrialKey("synthetic", "stateless", 2, 0)
    record = json.loads((key.folder(copied) / RESULT_FILE).read_text())
    planned = record["config_hash"]
    record["config"]["train"]["epochs"] = 2  # as a rerun with train.epochs=2 stores it
    record["config_hash"] = "0123456789ab"
    (key.folder(copied) / RESULT_FILE).write_text(json.dumps(record))
    shutil.copytree(key.folder(copied), copied / "synthetic" / "no_film" / "fold1" / "seed0")

    assert main(["ls", "--results", str(copied)]) == 0
    out = capsys.readouterr().out
    why = f"its configuration changed (stored with config hash 0123456789ab, now {planned})"
    assert "3 done, 1 stale, 0 missing of 4 trials" in out and f"stale {key}: {why}" in out
    reports = tmp_path / "reports"
    argv = ["report", "--results", str(copied), "--out", str(reports), "--bootstrap", "50"]
    assert main([*argv, "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert f"left out {key}: stale, {why}" in err
    assert "left out synthetic/no_film: fold1/seed0: not in the selection" in err
    trials = pd.read_csv(reports / "synthetic" / "trials.csv")
    assert len(trials) == 3 and set(trials["variant"]) == {"mamba_ema", "stateless"}


@pytest.mark.parametrize(
    ("text", "says"),
    [("{not json", "Expecting property name"), ("[]", "a plan is a JSON object, not a list"),
     ('{"schema": "bench.plan/0"}', "its schema is 'bench.plan/0', not 'bench.plan/1'"),
     ('{"schema": "bench.plan/1", "command": ""}', "missing key(s) written")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["ls", "report"])
def test_a_corrupt_plan_is_one_error_line_naming_the_file(
    command: str, text: str, says: str, copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = plan_file(copied)
    path.write_text(text)
    assert main([command, "--results", str(copied)]) == 2
    err = one_error_line(capsys, command)
    assert f"{path} is not a readable stored plan (" in err and says in err
    assert "rerun the bench run that wrote it, or move it away" in err
    assert path.read_text() == text  # left where it is, for the user to see


def test_a_plan_entry_on_a_fold_the_plan_lacks_is_refused(
    copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = plan_file(copied)
    values = json.loads(path.read_text())
    values["trials"][0]["fold"] = 7
    path.write_text(json.dumps(values))
    assert main(["ls", "--results", str(copied)]) == 2
    assert "trials.0 (mamba_ema, fold 7) is not among the plan's" in one_error_line(capsys, "ls")


def test_other_selections_keep_their_plans_and_a_rerun_keeps_the_previous_one(
    ran: Ran, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copied = shutil.copytree(ran.results, tmp_path / "copy")  # the reruns read the corpus
    first = plan_file(copied)
    rerun = ["run", "--executor", "local", "--quiet", *SELECTION, "--results", str(copied)]
    rerun += [*ran.corpus, *FAST]
    assert main([*rerun, "personalise.steps=7"]) == 0  # the same trials, all done
    assert "all 4 trials are done" in capsys.readouterr().out
    [previous] = first.parent.glob("*.previous-*")
    assert previous.name.startswith(first.name + ".previous-")
    assert json.loads(previous.read_text())["variants"]["stateless"]["personalise"]["steps"] == 50
    assert read_plan(first).variants["stateless"].personalise["steps"] == 7
    assert main([*rerun, "personalise.steps=7", "--quiet"]) == 0  # the same plan again
    assert list(first.parent.glob("*.previous-*")) == [previous]  # nothing replaced
    assert main([*rerun, "personalise.steps=9", "--quiet"]) == 0  # changed again: both kept
    steps = sorted(
        json.loads(p.read_text())["variants"]["stateless"]["personalise"]["steps"]
        for p in first.parent.glob("*.previous-*")
    )
    assert steps == [7, 50]
    assert read_plan(first).variants["stateless"].personalise["steps"] == 9

    assert main([*rerun, "--folds", "1"]) == 0  # another selection: a plan of its own
    plans = stored_plans(copied)
    assert len(plans) == 2 and first.stem in plans
    [other] = set(plans) - {first.stem}
    capsys.readouterr()
    reports = ["--results", str(copied), "--out", str(tmp_path / "reports"), "--format", "md"]
    assert main(["report", *reports]) == 2
    err = one_error_line(capsys, "report")
    assert "holds 2 stored plans; name one with --plan NAME" in err
    assert first.stem in err and other in err
    assert main(["report", *reports, "--plan", other, "--bootstrap", "50"]) == 0
    assert len(pd.read_csv(tmp_path / "reports" / "synthetic" / "trials.csv")) == 2
    assert main(["ls", "--results", str(copied)]) == 0
    out = capsys.readouterr().out
    assert f"plan {first.stem}: " in out and f"plan {other}: " in out
    assert "2 done, 0 stale, 0 missing of 2 trials" in out
    assert main(["ls", "--results", str(copied), "--plan", "nothing"]) == 2
    assert f"no stored plan 'nothing' under {copied}; stored: " in one_error_line(capsys, "ls")
    assert main(["ls", "--results", str(copied), "--plan", other, "--seeds", "0"]) == 2
    err = one_error_line(capsys, "ls")
    assert "--plan reads the selection from the stored plan; give it without --seeds" in err


def test_a_tuned_plan_without_its_tuning_folder_says_what_is_left_out(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = plan_file(copied)
    values = json.loads(path.read_text())
    for entry in values["trials"]:  # as bench run --tuned fold1 plans them
        entry["tuning"] = {"mode": "fold1", "fold": 1, "described": "search 'default'"}
    path.write_text(json.dumps(values))
    reports = tmp_path / "reports"
    argv = ["report", "--results", str(copied), "--out", str(reports), "--format", "md"]
    assert main([*argv, "--bootstrap", "50", "--tuning", str(tmp_path / "no-tuning")]) == 0
    legend = (reports / "synthetic" / "ablations.md").read_text()
    assert "Tuned (bench tune, mode fold1)" in legend and "(leakage)" in legend
    assert "from: search 'default'" in legend
    assert f"The tuning folder {tmp_path / 'no-tuning'}/ is not here" in legend
    assert not (reports / "synthetic" / "tuning.csv").exists()
    assert not (reports / "synthetic" / "tuning_budget.png").exists()


def test_the_plan_is_stored_before_any_trial_runs(
    ran: Ran, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    selection = select_trials(overrides=[*ran.corpus, *FAST], variants=["stateless"],
                              seeds=[0], folds=[1])  # fmt: skip
    seen = []

    def killed(task, works, inputs, on_start, on_done, on_fail) -> None:
        """An executor that dies before any trial finishes, after looking for the plan."""
        seen.extend(stored_plans(results).values())
        for work in works:
            on_fail(work, "killed")

    summary = run_grid(selection, results, killed, RunOptions(progress=False))
    assert list(summary.failed) == [TrialKey("synthetic", "stateless", 1, 0)]
    [plan] = seen
    assert [(e.variant, e.fold, e.seeds) for e in plan.trials] == [("stateless", 1, (0,))]
    assert plan.command == ""  # the library API has no command line
    assert main(["ls", "--results", str(results)]) == 0
    assert "0 done, 0 stale, 1 missing of 1 trials" in capsys.readouterr().out
