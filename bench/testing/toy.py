"""A small feature-level stand-in for a corpus, for tests and the trainer benchmark.

Each dialog has a latent mood (valence, arousal) drifting as an AR(1) process; every
utterance's labels are the mood plus a speaker baseline plus noise. The speech vector
sees arousal strongly and valence weakly, both through heavy noise, so accumulating
evidence over a dialog (a state) helps, and knowing the speaker helps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.train.data import TrialData


def toy_trial_data(
    sessions: int = 3,
    dialogs_per_session: int = 6,
    utterances: tuple[int, int] = (12, 40),
    dims: tuple[int, int, int] = (16, 8, 6),
    seed: int = 0,
) -> TrialData:
    """Sessions of two speakers each; the last session is the test split, and the last
    dialog of every other session the validation split."""
    rng = np.random.default_rng(seed)
    d_speech, d_prosody, d_speaker = dims
    mix_speech = rng.normal(size=(2, d_speech)) * np.array([[0.4], [1.0]])  # weak v, strong a
    mix_prosody = rng.normal(size=(2, d_prosody)) * np.array([[0.2], [0.8]])
    rows, speech, prosody, speaker = [], [], [], []
    for s in range(sessions):
        voices = rng.normal(size=(2, d_speaker))
        baselines = rng.normal(scale=0.5, size=(2, 2))
        for d in range(dialogs_per_session):
            mood = rng.normal(size=2)
            for t in range(int(rng.integers(*utterances, endpoint=True))):
                mood = 0.9 * mood + rng.normal(scale=0.3, size=2)
                who = t % 2
                latent = mood + baselines[who] + rng.normal(scale=0.2, size=2)
                label = 1 / (1 + np.exp(-latent))  # [0, 1]
                speech.append(latent @ mix_speech + rng.normal(scale=2.0, size=d_speech))
                prosody.append(latent @ mix_prosody + rng.normal(scale=2.0, size=d_prosody))
                speaker.append(voices[who] + rng.normal(scale=0.1, size=d_speaker))
                rows.append({
                    "utt_id": f"s{s}_d{d}_u{t:03d}", "session": f"s{s}",
                    "dialog": f"s{s}_d{d}", "speaker": f"s{s}_{who}", "start": float(t),
                    "valence": label[0], "arousal": label[1],
                })  # fmt: skip
    table = pd.DataFrame(rows)
    last_dialog = table["dialog"].str.endswith(f"_d{dialogs_per_session - 1}")
    test = table["session"] == f"s{sessions - 1}"
    return TrialData(
        table=table,
        features={
            "speech": np.asarray(speech, np.float32) * 3 + 5,  # not normalised
            "prosody": np.asarray(prosody, np.float32),
            "speaker": np.asarray(speaker, np.float32),
        },
        splits={
            "train": np.flatnonzero(~test & ~last_dialog),
            "val": np.flatnonzero(~test & last_dialog),
            "test": np.flatnonzero(test),
        },
        label_scale=(1.0, 5.0),
    )
