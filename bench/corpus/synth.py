"""The built-in synthetic corpus, written in IEMOCAP's release layout and label format.

Planted effects (latent units are roughly standard normal):

- **Mood with context.** Each dialog carries a latent mood ``m_t = (v_t, a_t)`` that drifts as
  AR(1), ``m_t = rho m_{t-1} + sqrt(1 - rho^2) e_t`` with ``rho = RHO = 0.95``; the emotion of
  turn t is ``m_t`` plus a small turn-level deviation. With ``context=False``, ``rho = 0``:
  moods are independent draws and history carries no information.
- **Arousal drives the acoustics strongly:** F0 level and range, loudness, speaking rate and
  spectral tilt all move with the arousal drive ``A``.
- **Valence has weak cues:** F0 slope, a small formant shift and less jitter when positive.
- **Speakers** differ in voice (F0, vocal tract length), and with ``speaker_effect=True``
  also in an acoustic baseline and an expressiveness: ``A = b_s + g_s a + n``.
- **Nuisance:** every acoustic parameter has utterance-level noise ``n`` that is unrelated to
  the labels (sd ``NUISANCE = 1.6`` on the arousal drive), so one utterance is an imperfect
  cue and the recent history of a dialog adds information about its current mood.
- **Raters:** labels are the mean of 2 or 3 simulated raters on the 1..5 integer scale,
  ``r = round(clip(3 + 1.1 e + N(0, 0.45^2), 1, 5))``.

The same arguments give byte-identical files. ``synth_meta.json`` at the root records the
arguments, the generator version and, per utterance, the latent emotion and the acoustic
parameters used.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from bench.corpus.voice import FS, Prosody, synthesise
from bench.errors import BenchError

# Utterances and dialogs per session of the real IEMOCAP release.
IEMOCAP_UTTERANCES = (1819, 1811, 2136, 2103, 2170)
IEMOCAP_DIALOGS = (28, 30, 32, 30, 31)
SIZES = {
    "tiny": ((24, 24, 24, 24, 24), (2, 2, 2, 2, 2)),  # 120 utterances, for tests
    "small": ((200, 200, 200, 200, 200), (10, 10, 10, 10, 10)),
    "medium": ((400, 400, 400, 400, 400), (20, 20, 20, 20, 20)),  # the default
    "iemocap": (IEMOCAP_UTTERANCES, IEMOCAP_DIALOGS),
}
DIALOG_NAMES = [
    "impro01", "impro02", "impro03", "impro04", "impro05a", "impro05b", "impro06",
    "impro07", "impro08", "script01_1", "script01_1b", "script01_2", "script01_3",
    "script02_1", "script02_2", "script03_1", "script03_2",
]  # fmt: skip
META_FILE = "synth_meta.json"
GENERATOR_VERSION = 2  # bump whenever the same arguments would give other files
RHO = 0.95  # persistence of the dialog mood
NUISANCE = 1.6  # sd of the utterance-level noise on the arousal drive (latent units)
WEAK_NUISANCE = 1.2  # sd of the noise on the valence cues


@dataclass(frozen=True)
class SynthConfig:
    """Arguments of the generator; equal configs give byte-identical corpora."""

    size: str = "medium"
    seed: int = 0
    context: bool = True
    speaker_effect: bool = True

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise BenchError(f"unknown size {self.size!r}; choose one of {sorted(SIZES)}")


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    f0_hz: float
    formant_scale: float
    baseline: float  # acoustic arousal offset b_s
    expressiveness: float  # acoustic arousal gain g_s


def _speakers(
    session: int, config: SynthConfig, rng: np.random.Generator, speaker_scale: float = 1.0
) -> dict[str, Speaker]:
    """The session's two speakers: ``b_s ~ N(0, (0.4 c)^2)`` and ``log g_s ~ N(0, (0.25 c)^2)``
    with ``c = speaker_scale`` (the same draws for every ``c``), or ``b_s = 0, g_s = 1``
    without speaker effects."""
    speakers = {}
    for letter, f0, scale in (("F", 205.0, 1.15), ("M", 118.0, 1.0)):
        effect = config.speaker_effect
        speakers[letter] = Speaker(
            speaker_id=f"Ses{session:02d}_{letter}",
            f0_hz=f0 * float(np.exp(rng.normal(0, 0.08))),
            formant_scale=scale * float(np.exp(rng.normal(0, 0.03))),
            baseline=speaker_scale * float(rng.normal(0, 0.4)) if effect else 0.0,
            expressiveness=float(np.exp(speaker_scale * rng.normal(0, 0.25))) if effect else 1.0,
        )
    return speakers


def _dialog_sizes(total: int, n_dialogs: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` utterances into ``n_dialogs`` dialogs of varied length (>= 8 each)."""
    weights = rng.dirichlet(np.full(n_dialogs, 12.0))
    sizes = 8 + np.floor(weights * (total - 8 * n_dialogs)).astype(int)
    sizes[: total - sizes.sum()] += 1
    return sizes


def _moods(n: int, context: bool, rng: np.random.Generator) -> np.ndarray:
    """Latent emotion ``[n, 2]`` (valence, arousal) of the turns of one dialog."""
    rho = RHO if context else 0.0
    innovations = rng.standard_normal((n, 2))
    mood = np.empty((n, 2))
    mood[0] = innovations[0]
    for t in range(1, n):
        mood[t] = rho * mood[t - 1] + np.sqrt(1 - rho**2) * innovations[t]
    return mood + 0.25 * rng.standard_normal((n, 2))  # turn-level deviation


def _prosody(emotion: np.ndarray, speaker: Speaker, rng: np.random.Generator) -> Prosody:
    """Acoustic settings for latent ``emotion = (v, a)``: arousal strong, valence weak."""
    valence, arousal = emotion
    drive = speaker.baseline + speaker.expressiveness * arousal + rng.normal(0, NUISANCE)
    weak = valence + rng.normal(0, WEAK_NUISANCE)
    return Prosody(
        f0_hz=speaker.f0_hz * 2 ** (0.22 * drive + rng.normal(0, 0.05)),
        f0_range_st=float(np.clip(3.0 * np.exp(0.3 * drive + rng.normal(0, 0.2)), 0.3, 14)),
        f0_slope_st=1.8 * weak,
        level_db=-24 + 3.5 * drive + rng.normal(0, 1.5),
        rate_syl_s=float(np.clip(4.0 * np.exp(0.12 * drive + rng.normal(0, 0.08)), 2, 8)),
        tilt=float(np.clip(0.8 - 0.07 * drive, 0.45, 0.95)),
        jitter=0.012 * float(np.exp(-0.35 * weak)),
        formant_scale=speaker.formant_scale * (1 + 0.015 * weak),
        n_syllables=int(rng.integers(3, 11)),
    )


def _ratings(emotion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer ratings ``[raters, 3]`` (valence, arousal, dominance) on 1..5."""
    n_raters = int(rng.integers(2, 4))
    dominance = 0.6 * emotion[1] + 0.8 * rng.standard_normal()
    latent = np.array([emotion[0], emotion[1], dominance])  # [3]
    noisy = 3 + 1.1 * latent + rng.normal(0, 0.45, (n_raters, 3))  # [raters, 3]
    return np.clip(np.rint(noisy), 1, 5).astype(int)


CATEGORY_NAMES = {
    "neu": "Neutral state", "hap": "Happiness", "exc": "Excited", "ang": "Anger",
    "fru": "Frustration", "sad": "Sadness",
}  # fmt: skip


def _category(vad: np.ndarray) -> str:
    valence, arousal = vad[0], vad[1]
    if valence >= 3.5:
        return "exc" if arousal >= 3.5 else "hap"
    if valence <= 2.5:
        return "ang" if arousal >= 3.5 else ("fru" if arousal >= 2.5 else "sad")
    return "neu"


def _label_block(turn: dict) -> str:
    vad, ratings = turn["vad"], turn["ratings"]
    lines = [
        f"[{turn['start']:.4f} - {turn['end']:.4f}]\t{turn['utt_id']}\t{turn['category']}\t"
        f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]"
    ]
    name = CATEGORY_NAMES[turn["category"]]
    lines += [f"C-E{k + 1}:\t{name};\t()" for k in range(len(ratings))]
    lines += [
        f"A-E{k + 1}:\tval {v}; act {a}; dom  {d};\t()" for k, (v, a, d) in enumerate(ratings)
    ]
    lines.append(f"A-{turn['utt_id'][-4]}1:\tval {ratings[0][0]}; act 3; dom  3;\t()")  # self
    return "\n".join(lines) + "\n"


def _dialog_turns(
    dialog: str, n: int, speakers: dict[str, Speaker], config: SynthConfig, seed_path: list[int]
) -> list[dict]:
    """Plan the turns of one dialog: speakers, timing, latent emotion, ratings, prosody."""
    rng = np.random.default_rng([config.seed, *seed_path])
    moods = _moods(n, config.context, rng)
    letter = "F" if rng.random() < 0.5 else "M"
    counters = {"F": 0, "M": 0}
    clock = float(rng.uniform(2, 8))
    turns = []
    for t in range(n):
        if rng.random() < 0.75:
            letter = "M" if letter == "F" else "F"
        ratings = _ratings(moods[t], rng)
        prosody = _prosody(moods[t], speakers[letter], rng)
        duration = 0.16 + (prosody.n_syllables / prosody.rate_syl_s) * 1.06
        utt_id = f"{dialog}_{letter}{counters[letter]:03d}"
        counters[letter] += 1
        turns.append(
            {
                "utt_id": utt_id,
                "start": clock,
                "end": clock + duration,
                "emotion": moods[t].tolist(),
                "vad": ratings.mean(axis=0),
                "ratings": ratings.tolist(),
                "prosody": prosody,
                "audio_seed": [config.seed, *seed_path, t],
            }
        )
        turns[-1]["category"] = _category(turns[-1]["vad"])
        clock += max(0.3, duration + rng.normal(0.25, 0.45))  # gaps, sometimes overlaps
    return turns


def plan_corpus(config: SynthConfig, speaker_scale: float = 1.0) -> dict[str, list[dict]]:
    """Every session's dialogs, each with its planned turns (no audio yet); ``speaker_scale``
    multiplies the speaker effects (:func:`_speakers`)."""
    utterances, dialogs = SIZES[config.size]
    plan: dict[str, list[dict]] = {}
    for s, (n_utt, n_dialogs) in enumerate(zip(utterances, dialogs, strict=True), start=1):
        rng = np.random.default_rng([config.seed, s])
        speakers = _speakers(s, config, rng, speaker_scale)
        names = [f"Ses{s:02d}{m}_{name}" for name in DIALOG_NAMES for m in "FM"]
        chosen = sorted(rng.choice(len(names), n_dialogs, replace=False))
        for k, (index, size) in enumerate(
            zip(chosen, _dialog_sizes(n_utt, n_dialogs, rng), strict=True)
        ):
            plan[names[index]] = _dialog_turns(names[index], int(size), speakers, config, [s, k])
    return plan


def _write_dialog(root: Path, dialog: str, turns: list[dict]) -> None:
    session = f"Session{int(dialog[3:5])}"
    label_dir = root / session / "dialog" / "EmoEvaluation"
    wav_dir = root / session / "sentences" / "wav" / dialog
    label_dir.mkdir(parents=True, exist_ok=True)
    wav_dir.mkdir(parents=True, exist_ok=True)
    # Like the release, F turns and M turns are numbered separately; list them by id,
    # so a reader must order the dialog by start time.
    ordered = sorted(turns, key=lambda turn: turn["utt_id"])
    header = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
    (label_dir / f"{dialog}.txt").write_text(
        header + "\n".join(_label_block(turn) for turn in ordered)
    )
    for turn in turns:
        audio = synthesise(turn["prosody"], np.random.default_rng(turn["audio_seed"]))
        sf.write(wav_dir / f"{turn['utt_id']}.wav", audio, FS, subtype="PCM_16")


def check_version(root: Path) -> None:
    """Refuse a corpus that an older generator wrote (its effects differ from the docs).

    Raises:
        BenchError: ``root``'s ``synth_meta.json`` names another generator version.
    """
    meta_path = root / META_FILE
    if not meta_path.is_file():
        raise BenchError(f"{meta_path}: missing; this is not a generated synthetic corpus")
    version = json.loads(meta_path.read_text()).get("generator_version", 1)
    if version != GENERATOR_VERSION:
        raise BenchError(
            f"{meta_path}: written by synthetic generator version {version}, this is version "
            f"{GENERATOR_VERSION}; delete {root} to regenerate it"
        )


def generate(
    out: str | Path, config: SynthConfig, progress: bool = True, speaker_scale: float = 1.0
) -> Path:
    """Write the synthetic corpus to ``out`` atomically and return its path.

    ``speaker_scale`` (``bench corpus synth --speaker-scale``, not a protocol key) multiplies
    the speakers' arousal baselines and the log of their expressiveness; 1 is the corpus the
    protocols generate, and ``synth_meta.json`` records any other value.

    The corpus is written to a temporary sibling folder and renamed into place, so an
    interrupted run never leaves a folder that looks finished.

    Raises:
        BenchError: ``out`` exists and is not empty.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        raise BenchError(f"{out} exists and is not empty; choose another folder")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    if not speaker_scale > 0:
        raise BenchError(f"speaker_scale must be positive, not {speaker_scale}")
    plan = plan_corpus(config, speaker_scale)
    total = sum(len(turns) for turns in plan.values())
    with tqdm(total=total, desc="synthesising", unit="utt", disable=not progress) as bar:
        for dialog, turns in plan.items():
            _write_dialog(tmp, dialog, turns)
            bar.update(len(turns))
    scaled = {} if speaker_scale == 1.0 else {"speaker_scale": speaker_scale}
    meta = scaled | {
        "config": asdict(config),
        "generator_version": GENERATOR_VERSION,
        "utterances": {
            turn["utt_id"]: {"emotion": turn["emotion"], "prosody": asdict(turn["prosody"])}
            for turns in plan.values()
            for turn in turns
        },
    }
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return out
