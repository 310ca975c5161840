"""Map segments (and candidate themes) to the codes of a codebook.

Two estimators, both scikit-learn style (``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``; ``get_params`` / ``set_params`` from
:class:`psythemes.base.Params`, so ``sklearn.base.clone`` works):

:class:`ZeroShotMapper` (:mod:`~psythemes.mapping.zeroshot`)
    No labelled data: each code's prototypes come from its definition, criteria and examples;
    a code is assigned when a segment's score clears the code's threshold, so a segment may get
    several codes or none.

:class:`FewShotMapper` (:mod:`~psythemes.mapping.fewshot`)
    Learns from segments with gold codes: logistic regression over the segment embedding, its
    dialogue context, hand-built features (:mod:`~psythemes.mapping.features`) and n-grams.

Saved models (:mod:`~psythemes.mapping.persistence`) are plain JSON + ``.npz`` arrays read with
``allow_pickle=False``: loading a model never executes code from the model folder.
:mod:`~psythemes.mapping.validation` turns gold spans into labels and cross-validates with folds
grouped by transcript; :mod:`~psythemes.mapping.themes` suggests a code per candidate theme.

Inputs are segment tables with :data:`psythemes.schema.SEGMENT_COLUMNS` and an *embedder*:
any object with ``encode(list[str]) -> np.ndarray`` returning L2-normalised rows; without one,
the mappers use :func:`default_embedder`, looked up here when they are fitted or loaded.
"""

from __future__ import annotations

from .._moved import forward
from ._common import check_roles_option, check_roles_present, default_embedder, not_trained_on
from .features import surface_features
from .fewshot import FewShotMapper
from .persistence import model_embedding_backend
from .themes import THEME_CODE_COLUMNS, map_themes
from .validation import (
    CV_MIN_CODE_DOCS,
    CV_MIN_CODE_SEGMENTS,
    CV_MIN_DOCS,
    agreement_scores,
    grouped_cross_validate,
    grouped_splits,
    infer_scheme,
    labels_from_gold,
    warn_thin_cross_validation,
)
from .zeroshot import (
    EVIDENCE_COLUMN,
    ZeroShotMapper,
    _parse_threshold,  # noqa: F401  (tests/adversarial/test_tables.py imports it from here)
    calibration_corpus,
    needs_corpus_calibration,
)

__all__ = [
    "CV_MIN_CODE_DOCS",
    "CV_MIN_CODE_SEGMENTS",
    "CV_MIN_DOCS",
    "EVIDENCE_COLUMN",
    "THEME_CODE_COLUMNS",
    "FewShotMapper",
    "ZeroShotMapper",
    "agreement_scores",
    "calibration_corpus",
    "check_roles_option",
    "check_roles_present",
    "default_embedder",
    "grouped_cross_validate",
    "grouped_splits",
    "infer_scheme",
    "labels_from_gold",
    "map_themes",
    "model_embedding_backend",
    "needs_corpus_calibration",
    "not_trained_on",
    "surface_features",
    "warn_thin_cross_validation",
]

# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "map_segments_to_files": "jobs",
    "train_to_folder": "jobs",
})
