"""Few-shot speaker personalisation (issue 14): enrol a test speaker's first turns, adapt
the declared parameters, and score the speaker's later turns."""

from bench.personalise.adapt import Enrolment, adapt, adapted_parameters, supports
from bench.personalise.config import ADAPT_MODES, PersonaliseConfig
from bench.personalise.enrolment import EnrolmentPlan, SpeakerPlan, plan_enrolment

__all__ = [
    "ADAPT_MODES",
    "Enrolment",
    "EnrolmentPlan",
    "PersonaliseConfig",
    "SpeakerPlan",
    "adapt",
    "adapted_parameters",
    "plan_enrolment",
    "supports",
]
