"""Protocols: a protocol's configuration (:mod:`bench.protocol.config`: its sections,
:func:`load_protocol`) and the folds it makes of a corpus (:mod:`bench.protocol.folds`:
:func:`make_folds`, each fold checked for leakage). Their public names are importable from
here too.
"""

from bench.protocol.config import (
    FOLD_MODES,
    PROTOCOL_DIR,
    SECTIONS,
    TEST_CORPUS,
    TRIAL_DEFAULTS,
    FoldsSection,
    Protocol,
    ValidationSection,
    corpora_note,
    corpus_label,
    load_protocol,
    protocol_path,
)
from bench.protocol.folds import (
    Fold,
    absent_folds,
    check_fold,
    cross_folds,
    describe_folds,
    fold_units,
    make_folds,
    predefined_folds,
    unit_blocks,
)

__all__ = [
    "FOLD_MODES",
    "PROTOCOL_DIR",
    "SECTIONS",
    "TEST_CORPUS",
    "TRIAL_DEFAULTS",
    "Fold",
    "FoldsSection",
    "Protocol",
    "ValidationSection",
    "absent_folds",
    "check_fold",
    "corpora_note",
    "corpus_label",
    "cross_folds",
    "describe_folds",
    "fold_units",
    "load_protocol",
    "make_folds",
    "predefined_folds",
    "protocol_path",
    "unit_blocks",
]
