"""Online inference: the valence and arousal of each new utterance of a dialog, from a checkpoint.

>>> predictor = StreamingPredictor.from_checkpoint("checkpoint.pt")  # doctest: +SKIP
>>> for wave in dialog:  # 16 kHz mono float32 waveforms, in order  # doctest: +SKIP
...     valence, arousal = predictor.step(wave)
>>> predictor.reset()  # the next dialog starts from the initial state  # doctest: +SKIP
>>> predictor.personalise(first_turns, labels)  # few-shot, for one speaker  # doctest: +SKIP

Checkpoints come from ``bench run --save-checkpoints`` (``checkpoint.pt`` in a trial's
results folder); their format is :mod:`bench.train.checkpoint`. The trial's
:class:`bench.results.TrialRecord` beside it (``result.json``: identity, config hash, test
scores) is ``predictor.record``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.audio import SAMPLE_RATE, to_mono_16k
from bench.errors import BenchError, InputError
from bench.features.base import torch_threads
from bench.features.config import parse_features_config
from bench.features.extract import ShardWorker
from bench.features.load import speaker_means
from bench.model import ModelState, StreamingModel
from bench.personalise.adapt import Enrolment, adapt
from bench.personalise.config import PersonaliseConfig
from bench.results import TrialRecord, read_record
from bench.train.checkpoint import checkpoint_model, checkpoint_standardisers, load_checkpoint
from bench.train.config import TrialSpec
from bench.train.data import FEATURES, Standardiser


class StreamingPredictor:
    """A trained model run one utterance at a time, carrying only the model state.

    For utterance ``t`` with waveform ``x_t``, each role's extractor gives ``f_r = E_r(x_t)``,
    z-scored with the training fold's statistics, ``f'_r = (f_r - mean_r) / std_r``; then
    ``(y_t, S_t) = model.step(Observation(f'_speech, f'_prosody, f'_speaker), S_{t-1})`` and
    the prediction is ``lo + y_t (hi - lo)`` on the corpus label scale. ``S`` (updater state,
    EMA ``c`` and the last ``y``, which feedback variants feed back as ``y_{t-1}``) is all
    that passes from one step to the next, so the predictions equal the trial's streaming
    evaluation of the same dialog.

    Extraction is the feature store's: audio that is too short or silent, or an extractor
    output that is not finite, gives the same zeros row. A role the model ignores (the
    speaker without FiLM, prosody without its branch) is not extracted.

    The speaker vector is ``step``'s ``speaker`` if given, else the enrolled one
    (:meth:`enroll`), else the utterance's own embedding. A checkpoint trained with
    ``features.speaker.level: speaker`` saw speaker means: enroll, or pass
    :meth:`embed_speaker` of each speaker's utterances, to give it the same.
    """

    def __init__(
        self,
        model: StreamingModel,
        extractors: dict[str, ShardWorker],
        standardisers: dict[str, Standardiser],
        dims: dict[str, int],
        label_scale: tuple[float, float],
        speaker_level: str = "utterance",
        record: TrialRecord | None = None,
        mse_weight: float = 0.1,
    ):
        self.trained = model.eval()
        self.model = self.trained  # the trained model, or a copy adapted by personalise()
        self.extractors = extractors
        self.standardisers = standardisers
        self.dims = dims
        self.label_scale = label_scale
        self.speaker_level = speaker_level
        self.record = record
        self.mse_weight = mse_weight  # the training loss's, which personalise() also uses
        self.enrolled: np.ndarray | None = None
        self.state: ModelState | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> StreamingPredictor:
        """Rebuild the extractors and the model of a checkpoint (the model on ``device``), with
        the record of the trial it belongs to when a valid ``result.json`` sits beside it.

        Raises:
            InputError: the file is not a readable checkpoint, or has no features block.
        """
        checkpoint = load_checkpoint(path)
        if checkpoint["features"] is None:
            raise InputError(
                "the checkpoint does not say how its features were extracted (its trial "
                "was given no features block)",
                path=path,
            )
        config = parse_features_config(checkpoint["features"])
        model = checkpoint_model(checkpoint).to(device)
        used = {"speech": True, "prosody": model.config.prosody, "speaker": model.config.film}
        extractors = {
            role: ShardWorker(spec) for role, spec in config.extractors.items() if used[role]
        }
        lo, hi = checkpoint["label_scale"]
        return cls(
            model,
            extractors,
            checkpoint_standardisers(checkpoint),
            checkpoint["dims"],
            (lo, hi),
            config.speaker_level,
            read_record(Path(path).parent),
            TrialSpec.from_dict(checkpoint["spec"]).train.mse_weight,
        )

    def reset(self) -> None:
        """Start a new dialog: the next step starts from the model's initial state."""
        self.state = None

    def embed_speaker(
        self, waveforms: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE
    ) -> np.ndarray:
        """A speaker-level embedding ``[Ds]`` of one speaker's utterances: the normalised sum
        ``s = m / (||m|| + 1e-8)``, ``m = sum_i e_i`` over utterances the extractor could
        process (:func:`bench.features.load.speaker_means`)."""
        if "speaker" not in self.extractors:
            raise BenchError("this model has no speaker FiLM: it takes no speaker embedding")
        waves = [to_mono_16k(w, sample_rate) for w in waveforms]
        values, reasons = self._extract("speaker", waves)  # [n, Ds]
        valid = np.array([reason is None for reason in reasons], dtype=bool)  # [n]
        means, _ = speaker_means(values, pd.Series(np.zeros(len(waves))), valid)  # [n, Ds]
        return means[0]

    def enroll(self, waveforms: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE) -> None:
        """Use :meth:`embed_speaker` of ``waveforms`` as the speaker of every later step."""
        self.enrolled = self.embed_speaker(waveforms, sample_rate)

    def personalise(
        self,
        waveforms: Sequence[np.ndarray],
        labels: np.ndarray | Sequence[Sequence[float]],
        mode: str = "film",
        config: PersonaliseConfig | None = None,
        sample_rate: int = SAMPLE_RATE,
        speaker: np.ndarray | None = None,
    ) -> None:
        """Adapt a copy of the trained model to one speaker, as ``bench personalise`` does
        (:func:`bench.personalise.adapt`): ``waveforms`` are the speaker's turns in order, run
        as one dialog, and ``labels [k, 2]`` their (valence, arousal) on the corpus scale.
        Later steps use the adapted model, from a new dialog's initial state. Each call adapts
        the trained model afresh; :meth:`unpersonalise` returns to it.

        Raises:
            BenchError: labels that are not one finite pair on the label scale per waveform.
        """
        lo, hi = self.label_scale
        values = np.asarray(labels, dtype=np.float64)
        if values.shape != (len(waveforms), 2):
            raise BenchError(
                f"personalise needs one (valence, arousal) pair per waveform: {len(waveforms)} "
                f"waveforms, labels of shape {values.shape}"
            )
        if not np.isfinite(values).all() or values.min() < lo or values.max() > hi:
            raise BenchError(f"personalise labels must be finite and on the scale [{lo}, {hi}]")
        inputs = [self._inputs(to_mono_16k(w, sample_rate), speaker) for w in waveforms]
        features = {role: torch.cat([x[role] for x in inputs]).cpu() for role in FEATURES}
        target = torch.from_numpy(((values - lo) / (hi - lo)).astype(np.float32))  # [k, 2]
        config = config or PersonaliseConfig()
        enrolment = Enrolment(features, target)
        self.model = adapt(self.trained, mode, enrolment, config, self.mse_weight)
        self.reset()

    def unpersonalise(self) -> None:
        """Use the trained model again (undo :meth:`personalise`), from a new dialog."""
        self.model = self.trained
        self.reset()

    @torch.no_grad()
    def step(
        self,
        waveform: np.ndarray,
        sample_rate: int = SAMPLE_RATE,
        speaker: np.ndarray | None = None,
    ) -> tuple[float, float]:
        """The next utterance of the dialog -> ``(valence, arousal)`` on the label scale.

        Args:
            waveform: ``[n]`` or ``[n, channels]`` samples (averaged, resampled to 16 kHz).
            sample_rate: their rate in Hz.
            speaker: the raw speaker embedding ``[Ds]`` (as the feature store holds it) to
                use instead of the enrolled one or the utterance's own.
        """
        x = self._inputs(to_mono_16k(waveform, sample_rate), speaker)  # role -> [1, D]
        z = self.model.observe(x["speech"], x["prosody"], x["speaker"])  # [1, Dz]
        y, self.state = self.model.step(z, self.state)  # [1, 2]
        lo, hi = self.label_scale
        valence, arousal = lo + y[0].double().cpu().numpy() * (hi - lo)  # [2]
        return float(valence), float(arousal)

    @torch.no_grad()
    def _inputs(self, wave: np.ndarray, speaker: np.ndarray | None) -> dict[str, torch.Tensor]:
        """The model's standardised inputs, role -> ``[1, D]``, of one 16 kHz wave."""
        speaker = speaker if speaker is not None else self.enrolled
        device = self.model.head.out.weight.device
        x = {}
        for role in FEATURES:
            outcome = None  # why the extractor could not use this utterance, if it could not
            if role == "speaker" and speaker is not None and role in self.extractors:
                raw = np.asarray(speaker, dtype=np.float32).reshape(1, -1)  # [1, Ds]
            elif role in self.extractors:
                raw, [outcome] = self._extract(role, [wave])  # [1, D]
            else:
                raw = np.zeros((1, self.dims[role]), dtype=np.float32)  # [1, D], unused
            if raw.shape[1] != self.dims[role]:
                raise BenchError(
                    f"{role} features have {raw.shape[1]} values; the model takes {self.dims[role]}"
                )
            standardised = self.standardisers[role](raw)  # [1, D]
            if outcome is not None:
                standardised[:] = 0.0  # an unusable utterance: the training mean, as in trials
            x[role] = torch.from_numpy(standardised).to(device)  # [1, D]
        return x

    def _extract(self, role: str, waves: list[np.ndarray]) -> tuple[np.ndarray, list[str | None]]:
        """Features ``[n, D]`` of 16 kHz waves and their outcomes, as the feature store."""
        with torch_threads(1):
            return self.extractors[role].extract([(None, wave) for wave in waves])
