"""Compact summaries of the benchmark studies' raw trial records: the path from the records
that ``planted_effects.py`` and ``personalise_effects.py`` write to the tables under
``benchmarks/summaries/``, from which ``rederive_claims.py`` computes every table of the
README's and docs' planted-effects and personalisation sections.

A trial's CCC is pooled over its test utterances, so per test dialog the six sufficient
statistics of each dimension (:func:`bench.report.bootstrap.moments`: ``n``, ``sum t``,
``sum p``, ``sum t^2``, ``sum p^2``, ``sum t p``, float64) carry everything the report's
tests read: each trial's CCC and RMSE (``sum (t - p)^2 = stt - 2 stp + spp``), the paired
hierarchical bootstrap over dialogs and seeds, the HKSJ test over sessions and the runs'
t-test. The predictions themselves, their learning curves' files and the tuning searches'
files stay out of the repository. Per study (``<study>`` is ``planted_effects`` or
``personalise_effects``):

- ``<study>.parquet``, the moments: one row per trial and test dialog (planted effects:
  ``corpus``, ``method``, ``variant``, ``fold``, ``seed``, ``session``, ``dialog``) or per
  trial, part, test dialog and speaker (personalisation: ``corpus``, ``variant``, ``fold``,
  ``seed``, ``part``, ``adapt``, ``k``, ``session``, ``dialog``, ``speaker``), with ``n`` and
  ``<dimension>_<sum>`` for dimension ``valence``, ``arousal`` and sum ``st``, ``sp``,
  ``stt``, ``spp``, ``stp`` (:data:`MOMENTS`). A personalisation's ``part`` is ``trial``
  (the trial's predictions on every test turn; ``adapt`` empty, ``k`` 0), ``scored`` (the
  mode ``adapt`` adapted on ``k`` enrolment turns, on the scored turns) or ``enrolment``
  (the trial's predictions on each speaker's first ``k`` turns that are not scored, as
  ``personalise_effects.offset_gains`` fits its offsets; ``adapt`` empty);
- ``<study>.trials.parquet``: one row per trial, its ``result.json`` flattened (config and
  its hash, git commit, kept epoch, counts, validation and test metrics, timings, tuned
  values), without the worker's host and process;
- ``<study>.epochs.parquet``: the learning curves (float32), one row per epoch of each trial
  (``configuration`` empty) and, for planted effects, of each configuration a tuning search
  tried (``method`` names the tuning store, ``seed`` empty);
- ``planted_effects.tuning.parquet``: one row per configuration of each search (its values,
  status, score, kept epoch, epochs run and whether it was ``chosen``).

The records' layout, as the studies write them (``--records``, by default under
``$BENCH_DATA/benchmarks/<study>/``): planted effects keep one folder per corpus
(``seed<generator>-context-<true|false>``) holding one per method (``old``, ``session``,
``new``, ``ramp``: a results store ``synthetic/<variant>/fold<k>/seed<s>/``) and the tuning
stores (``tuning/`` the ``new`` method's searches, ``tuning-ramp/`` the ``ramp`` method's);
personalisation keeps one results store per corpus (``seed<g>[-nocontext]-speaker-<true|
false>[x<scale>]``), each trial with its ``personalise/<mode>/k<k>.parquet``. Every stored
trial is read, whatever its config hash (the committed summaries' records predate the data
identity in the hash).

The committed summaries were made from the records that ``benchmarks/results/`` held until
it was removed (107 MB, 9,350 files; they are in the git history before that commit):

- planted effects, seeds 4-6 (methods ``old``, ``session``, ``new``, ``ramp``), made by
  commit 9dfecb8 (before ASHA's clock became eligible epochs), two training seeds:
  ``planted_effects.py --generator-seeds 4,5,6 --seeds 0,1 --methods old,session,new,ramp``;
  seeds 7-9 (``old``, ``ramp``) by commit 47590ca with ``train.patience: 5``:
  ``planted_effects.py --seeds 0,1 --methods old,ramp``; their null corpora's ``old``
  folders also hold ``no_feedback`` trials (the diagnostic of where the null deficit comes
  from: ``bench run --variant no_feedback --seeds 0,1 corpus.synth.seed=<s>
  corpus.synth.context=false validation.unit=dialog``);
- personalisation, ``seed<g>-speaker-<true|false>`` (seeds 7-9) by commit 47590ca
  (``personalise_effects.py --seeds 0,1``; checkpoints were never kept);
  ``seed<g>-speaker-truex3`` by 0eafca8 (``--seeds 0,1 --speaker-scale 3 --effects on``);
  ``seed10-*``, the exploration that chose the positive control, by 6beb07f
  (``--generator-seeds 10 --seeds 0 --effects on`` with ``--speaker-scale 3 --no-context``,
  ``--speaker-scale 6`` and ``--speaker-scale 6 --no-context``); the positive control
  ``seed<g>-nocontext-speaker-<truex6|false>`` (seeds 7-9) by 917b6f0
  (``--no-context --speaker-scale 6``).

    python benchmarks/summarise_records.py                   # both studies' default records
    python benchmarks/summarise_records.py --planted data/benchmarks/planted_effects \\
        --personalise '' --out benchmarks/summaries
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError
from bench.paths import data_dir
from bench.personalise.store import FOLDER, load_personalised, read_personalised
from bench.report.bootstrap import moments
from bench.results import HISTORY_FILE, PREDICTIONS_FILE, TrialKey, TrialRecord, stored_trials
from bench.tune.store import TuningKey, read_choice, read_configuration

PROTOCOL = "synthetic"
STUDIES = ("planted_effects", "personalise_effects")
DIMENSIONS = ("valence", "arousal")
SUMS = ("st", "sp", "stt", "spp", "stp")  # after n: bench.report.bootstrap.moments' order
MOMENTS = ["n", *(f"{d}_{s}" for d in DIMENSIONS for s in SUMS)]
TRIAL = ["variant", "fold", "seed"]
DIALOG = ["session", "dialog"]  # a planted-effects moment's group within its trial
SPEAKER = [*DIALOG, "speaker"]  # a personalisation moment's
KEYS = ["corpus", "method", *TRIAL, "configuration", "part", "adapt", "k", *SPEAKER, "epoch"]
CURVE = ["train_loss", "val_ccc_v", "val_ccc_a", "val_ccc_avg", "teacher_probability"]
LEFT_OUT = ("worker", "schema")  # of a trial record: the host, process and ids that ran it


def prediction_moments(predictions: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by`` (sorted), ``n`` and the sums of :data:`MOMENTS` of the stored
    predictions (labels and predictions on the corpus scale, uncentred)."""
    grouped = predictions.groupby(list(by), sort=True)
    codes = grouped.ngroup().to_numpy()  # [N] group of each utterance
    out = grouped.size().reset_index()[list(by)]
    for dimension in DIMENSIONS:
        m = moments(
            predictions[f"{dimension}_true"].to_numpy(float),
            predictions[f"{dimension}_pred"].to_numpy(float),
            codes,
            grouped.ngroups,
        )  # [G, 6]
        out["n"] = m[:, 0].astype(np.int64)
        for j, name in enumerate(SUMS, start=1):
            out[f"{dimension}_{name}"] = m[:, j]
    return out[[*by, *MOMENTS]]


def trial_moments(predictions: pd.DataFrame, by: Sequence[str] = tuple(DIALOG)) -> pd.DataFrame:
    """Per trial (variant, fold, seed) and group of ``by`` (session and dialog): the moments
    of :func:`prediction_moments`, as a study's summary holds them."""
    return prediction_moments(predictions, [*TRIAL, *by])


def record_row(record: TrialRecord) -> dict[str, Any]:
    """A trial record as one flat row (``outcome.best_epoch``, ``config.train.lr``, ...),
    less :data:`LEFT_OUT`."""
    values = {k: v for k, v in record.to_json().items() if k not in LEFT_OUT}
    return pd.json_normalize(values, sep=".").iloc[0].to_dict()


def curve(rows: pd.DataFrame) -> pd.DataFrame:
    """A learning curve's epoch, :data:`CURVE` (float32) and eligibility."""
    present = [c for c in CURVE if c in rows]
    out = rows[["epoch", *present]].astype(dict.fromkeys(present, "float32"))
    return out.assign(eligible=rows["eligible"].astype(bool)) if "eligible" in rows else out


def trial_tables(
    root: Path, where: dict[str, Any], by: Sequence[str], personalised: bool = False
) -> dict[str, list]:
    """The moments (per trial and group of ``by``), records and learning curves of every
    trial stored in one results store, each row keyed by ``where`` and the trial; with
    ``personalised``, the moments are part ``trial`` and each trial's personalisations
    follow (:func:`personalised_moments`)."""
    tables: dict[str, list] = {"moments": [], "trials": [], "epochs": []}
    for key, record in stored_trials(root, PROTOCOL):
        keys = where | {"variant": key.variant, "fold": key.fold, "seed": key.seed}
        folder = key.folder(root)
        predictions = pd.read_parquet(folder / PREDICTIONS_FILE)
        found = [prediction_moments(predictions, by)]
        if personalised:
            found = [found[0].assign(part="trial", adapt="", k=0),
                     *personalised_moments(root, key, predictions)]  # fmt: skip
        tables["moments"] += [m.assign(**keys) for m in found]
        tables["trials"].append(keys | record_row(record))
        if (folder / HISTORY_FILE).is_file():
            tables["epochs"].append(curve(pd.read_csv(folder / HISTORY_FILE)).assign(**keys))
    return tables


def search_tables(root: Path, where: dict[str, Any]) -> dict[str, list]:
    """Every configuration of every search in a tuning store: one row each (values, status,
    score, kept epoch, epochs run, whether it was chosen) and its learning curve."""
    tables: dict[str, list] = {"tuning": [], "epochs": []}
    for fold_folder in sorted(root.glob(f"{PROTOCOL}/*/fold*")):
        key = TuningKey(PROTOCOL, fold_folder.parent.name, int(fold_folder.name[4:]))
        choice = read_choice(root, key)
        for path in sorted(fold_folder.glob("config-*.json")):
            record = read_configuration(root, key, int(path.stem.split("-")[1]))
            if record is None:
                continue
            keys = where | {"variant": key.variant, "fold": key.fold, "configuration": record.index}
            tables["tuning"].append(
                keys | {"status": record.status, "score": record.score,
                        "best_epoch": record.best_epoch, "epochs": len(record.history),
                        "tuning_hash": record.tuning_hash,
                        "chosen": choice is not None and choice.index == record.index}
                | {f"values.{name}": value for name, value in record.values.items()}
            )  # fmt: skip
            history = pd.DataFrame(record.history)
            if not history.empty:
                tables["epochs"].append(curve(history).assign(**keys))
    return tables


def unscored_turns(streamed: pd.DataFrame, scored_ids: pd.Series, k: int) -> pd.DataFrame:
    """Each speaker's first ``k`` turns (in the stored order) among those not scored."""
    unscored = streamed[~streamed["utt_id"].isin(scored_ids)]
    return unscored.groupby("speaker", sort=False).head(k)


def personalised_moments(root: Path, key: TrialKey, streamed: pd.DataFrame) -> list[pd.DataFrame]:
    """The ``scored`` and ``enrolment`` moments of one trial's complete personalisations per
    (session, dialog, speaker), ``streamed`` its predictions on every test turn; none where
    it has none."""
    modes = sorted(p.name for p in (key.folder(root) / FOLDER).glob("*") if p.is_dir())
    records = [r for r in (read_personalised(root, key, mode) for mode in modes) if r is not None]
    if not records:
        return []
    rows = pd.concat([load_personalised(root, r) for r in records], ignore_index=True)
    frames = [prediction_moments(rows, ["adapt", "k", *SPEAKER]).assign(part="scored")]
    for k in sorted(rows.loc[rows["k"] > 0, "k"].unique()):
        enrolment = unscored_turns(streamed, rows["utt_id"], int(k))
        frames.append(
            prediction_moments(enrolment, SPEAKER).assign(part="enrolment", adapt="", k=k)
        )
    return frames


def personalise_tables(corpus: Path) -> dict[str, list]:
    """The parts of the personalisation tables of one corpus's results store: per (session,
    dialog, speaker), the trials' moments (part ``trial``) and their personalisations'."""
    return trial_tables(corpus, {"corpus": corpus.name}, SPEAKER, personalised=True)


def personalise_moments(corpus: Path) -> pd.DataFrame:
    """The moments of one corpus's personalisation summary (what
    ``personalise_effects.offset_gains`` reads), from its results store."""
    return table(personalise_tables(corpus)["moments"])


def study_tables(study: str, root: Path) -> dict[str, pd.DataFrame]:
    """The summary tables of one study's records under ``root`` (one folder per corpus).

    Raises:
        BenchError: ``root`` is not a folder, or holds no trial.
    """
    if not root.is_dir():
        raise BenchError(f"no {study} records at {root}")
    parts: dict[str, list] = {}
    for corpus in sorted(p for p in root.iterdir() if p.is_dir()):
        if study == "personalise_effects":
            found = [personalise_tables(corpus)]
        else:
            found = []
            for store in sorted(p for p in corpus.iterdir() if p.is_dir()):
                where = {"corpus": corpus.name, "method": store.name}  # results or tuning store
                found += [trial_tables(store, where, DIALOG), search_tables(store, where)]
        for made in found:
            for name, rows in made.items():
                parts.setdefault(name, []).extend(rows)
    if not parts.get("moments"):
        raise BenchError(f"no stored trial under {root}")
    return {name: table(rows) for name, rows in parts.items() if rows}


def table(rows: list) -> pd.DataFrame:
    """One summary table from its parts (frames or row dicts), key columns first, sorted."""
    frames = rows if isinstance(rows[0], pd.DataFrame) else [pd.DataFrame(rows)]
    frame = pd.concat(frames, ignore_index=True)
    keys = [k for k in KEYS if k in frame]
    if "configuration" in frame:  # trials have none, a tuning configuration no seed
        frame = frame.astype({k: "Int64" for k in ("seed", "configuration") if k in frame})
    frame = frame[[*keys, *[c for c in frame if c not in keys]]]
    return frame.sort_values(keys, kind="stable", na_position="first", ignore_index=True)


def file_name(study: str, name: str) -> str:
    """``planted_effects.parquet`` (the moments) or ``planted_effects.trials.parquet``."""
    return f"{study}.parquet" if name == "moments" else f"{study}.{name}.parquet"


def write_summary(tables: dict[str, pd.DataFrame], study: str, out: Path) -> list[Path]:
    """Write a study's tables under ``out`` (zstd; floats byte-stream split, which halves
    their size); returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        floats = [f.name for f in arrow.schema if pa.types.is_floating(f.type)]
        path = out / file_name(study, name)
        pq.write_table(arrow, path, compression="zstd", compression_level=19,
                       use_dictionary=[c for c in arrow.column_names if c not in floats],
                       use_byte_stream_split=floats or False)  # fmt: skip
        written.append(path)
    return written


def default_records(study: str) -> Path:
    """Where a study writes its raw records by default: ``$BENCH_DATA/benchmarks/<study>``."""
    return data_dir() / "benchmarks" / study


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for study in STUDIES:
        where = default_records(study)
        parser.add_argument(f"--{study.split('_')[0]}", default=str(where),
                            help=f"{study}.py's records ({where}); '' skips them")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("benchmarks/summaries"),
                        help="where the summaries go (benchmarks/summaries)")  # fmt: skip
    args = parser.parse_args()
    try:
        for study in STUDIES:
            root = getattr(args, study.split("_")[0])
            if root:
                for path in write_summary(study_tables(study, Path(root)), study, args.out):
                    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    except BenchError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
