"""What every part of :mod:`psythemes.mapping` shares: the default embedder, encoding, segment checks."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, NotFittedError, PsythemesWarning
from ..schema import SEGMENT_COLUMNS

DOC, SEG, START, END, TEXT, SPEAKER, ROLE = "doc_id", "segment_id", "start", "end", "text", "speaker", "role"
#: Internal class of single-label data: "no code".
NO_CODE = "__none__"


def default_embedder(backend: str | None = None) -> Any:
    """:class:`psythemes.embed.Embedder` with the default model and cache (``backend``: see there)."""
    from ..embed import Embedder

    return Embedder(backend=backend)


def embedder_or_default(embedder: Any, backend: str | None = None) -> Any:
    """``embedder``, or the default one for ``backend``.

    The default is looked up as ``psythemes.mapping.default_embedder`` when called, the one
    place to replace it (tests put a fake embedder there).
    """
    if embedder is not None:
        return embedder
    from .. import mapping

    return mapping.default_embedder(backend)


def encode(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """``embedder.encode(texts)`` as float32 rows of length 1 (zero rows stay zero).

    Raises
    ------
    InputError
        The embedder returned one row per text in no 2-D array.
    """
    if len(texts) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    vecs = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    if vecs.ndim != 2 or vecs.shape[0] != len(texts):
        raise InputError(f"embedder returned shape {vecs.shape} for {len(texts)} texts")
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms == 0, 1.0, norms)


def check_segments(segments: pd.DataFrame, what: str = "segments") -> pd.DataFrame:
    """``segments`` itself, once it is a table with the segment columns the mappers use."""
    if not isinstance(segments, pd.DataFrame):
        raise InputError(f"{what} must be a table (pandas DataFrame), not {type(segments).__name__}")
    missing = [c for c in (DOC, SEG, START, END, TEXT) if c not in segments.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)} (expected {', '.join(SEGMENT_COLUMNS)})")
    return segments


def segment_texts(segments: pd.DataFrame) -> list[str]:
    """The ``text`` column as strings (missing text: ``""``)."""
    return segments[TEXT].fillna("").astype(str).tolist()


def role_mask(segments: pd.DataFrame, roles: Sequence[str] | None) -> np.ndarray:
    """Rows whose ``role`` is one of ``roles`` (case-insensitive); every row when ``roles`` is empty
    or the table has no role column."""
    roles = [] if roles is None else list(roles)
    if not roles or ROLE not in segments.columns:
        return np.ones(len(segments), dtype=bool)
    wanted = {str(r).lower() for r in roles}
    return np.array(segments[ROLE].fillna("").astype(str).str.lower().isin(wanted), dtype=bool)


def check_roles_option(roles: Sequence[str] | None, method: str) -> None:
    """``roles`` given to ``map`` / ``extract``: a list of names, for zero-shot mapping only (a few-shot
    mapper codes the roles its gold codes).

    Raises
    ------
    InputError
        ``roles`` is a string or holds something else than names, or comes with another method.
    """
    if roles is not None and (isinstance(roles, str) or not all(isinstance(r, str) for r in roles)):
        raise InputError(f"roles must be a list of role names, not {roles!r}")
    if roles and method != "zero-shot":
        raise InputError("--roles is for zero-shot mapping; a few-shot mapper codes the roles its gold codes")


def check_roles_present(segments: pd.DataFrame, roles: Sequence[str]) -> None:
    """Roles to code that no segment has would code nothing, silently: an error when none is present,
    a warning naming those that are not.

    Raises
    ------
    InputError
        No segment has any of ``roles``.
    """
    present = set(segments[ROLE].fillna("").astype(str).str.strip().str.lower()) if ROLE in segments else set()
    missing = [r for r in roles if r.strip().lower() not in present]
    if not missing:
        return
    shown = ", ".join(sorted(r or "(no role)" for r in present)) or "none"
    if len(missing) == len(roles):
        raise InputError(f"no segment has the role(s) {', '.join(missing)} (roles in the segments: {shown}); roles "
                         "come from the metadata's role column or --speaker-roles when the transcripts are read")
    warnings.warn(f"no segment has the role(s) {', '.join(missing)} (roles in the segments: {shown})",
                  PsythemesWarning, stacklevel=3)


def check_is_fitted(estimator: Any, attribute: str, how: str = "fit()") -> None:
    """Raise :class:`~psythemes.errors.NotFittedError` unless ``estimator`` has the learned ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"{type(estimator).__name__} is not fitted yet; call {how}")


def check_share(value: Any, name: str) -> float:
    """A share from 0 to 1 (None: 0, off); anything else is an :class:`~psythemes.errors.InputError`."""
    if value is None:
        return 0.0
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"{name} must be a share from 0 to 1 or None, not {value!r}")
    return float(value)


def not_trained_on(segments: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``segments`` that are not among the training segments ``train`` (by ``segment_id``):
    what a mapper trained on ``train`` will code, and so the ``unlabelled`` pool of its self-training."""
    return segments[~segments[SEG].isin(set(train[SEG]))]
