"""Training and streaming evaluation of one trial: ``run_trial(spec, data) -> TrialResult``."""

from bench.train.config import TrainConfig, TrialSpec
from bench.train.data import TrialData
from bench.train.trial import TrialResult, run_trial

__all__ = ["TrainConfig", "TrialData", "TrialResult", "TrialSpec", "run_trial"]
