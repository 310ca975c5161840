"""Themes -> codes: the code each candidate theme's centroid is closest to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._common import check_is_fitted
from .zeroshot import ZeroShotMapper

__all__ = ["THEME_CODE_COLUMNS", "map_themes"]

#: Columns of ``theme_codes.csv`` (one row per theme; ``score_<code>`` columns follow).
THEME_CODE_COLUMNS = ["theme_id", "best_code", "best_score", "quotes"]


def map_themes(
    themes: pd.DataFrame,
    theme_centroids: np.ndarray | Mapping[Any, np.ndarray],
    mapper: ZeroShotMapper,
    *,
    quotes: Mapping[Any, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Suggest a code for each candidate theme by comparing its centroid with the code prototypes.

    Parameters
    ----------
    themes : DataFrame
        Theme table with :data:`~psythemes.schema.THEME_COLUMNS` (``theme_id`` is used).
    theme_centroids : ndarray (n_themes, d) in ``themes`` order, or dict ``theme_id -> vector``
        Mean embedding of each theme's segments.
    mapper : ZeroShotMapper
        A fitted zero-shot mapper (its prototypes and thresholds are used).
    quotes : dict, optional
        ``theme_id -> supporting quotes`` (e.g. the segments nearest the centroid).

    Returns
    -------
    DataFrame
        :data:`THEME_CODE_COLUMNS` then ``score_<code>`` per code; ``best_code`` is empty when no
        code clears its threshold (the theme may be new: inductive coding).
    """
    check_is_fitted(mapper, "prototypes_", "fit() first")
    ids = themes["theme_id"].tolist()
    if isinstance(theme_centroids, Mapping):
        try:
            cent = (np.vstack([np.asarray(theme_centroids[t], dtype=np.float32) for t in ids]) if ids
                    else np.zeros((0, 1)))
        except KeyError as err:
            raise InputError(f"no centroid for theme {err.args[0]!r}") from None
    else:
        cent = np.asarray(theme_centroids, dtype=np.float32)
        if len(cent) != len(ids):
            raise InputError(f"{len(cent)} centroids for {len(ids)} themes")
    if len(ids):
        cent = cent / np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    scores = mapper.prototype_scores(cent) if len(ids) else np.zeros((0, len(mapper.codes_)))
    thr = np.array([mapper.thresholds_[n] for n in mapper.codes_])
    rows = []
    for i, tid in enumerate(ids):
        margin = scores[i] - thr
        j = int(np.argmax(margin)) if len(margin) else -1
        best = mapper.codes_[j] if j >= 0 and margin[j] >= 0 else ""
        q = list((quotes or {}).get(tid, []))
        row = {"theme_id": tid, "best_code": best,
               "best_score": round(float(scores[i, j]), 4) if j >= 0 else float("nan"), "quotes": " | ".join(q)}
        row.update({f"score_{n}": round(float(scores[i, k]), 4) for k, n in enumerate(mapper.codes_)})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*THEME_CODE_COLUMNS, *[f"score_{n}" for n in mapper.codes_]])
