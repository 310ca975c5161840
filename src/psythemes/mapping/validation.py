"""Gold codes as labels, and how well a mapper agrees with them: grouped splits and cross-validation.

Folds and splits are grouped by transcript (``doc_id``), so no transcript is ever in both the
training and the test part.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError, PsythemesWarning
from ..schema import GOLD_COLUMNS, coded_roles
from ._common import DOC, END, NO_CODE, ROLE, SEG, START, check_segments

if TYPE_CHECKING:
    from .fewshot import FewShotMapper

__all__ = [
    "CV_MIN_CODE_DOCS",
    "CV_MIN_CODE_SEGMENTS",
    "CV_MIN_DOCS",
    "agreement_scores",
    "grouped_cross_validate",
    "grouped_splits",
    "infer_scheme",
    "labels_from_gold",
    "warn_thin_cross_validation",
]


def labels_from_gold(
    segments: pd.DataFrame, gold: pd.DataFrame, min_overlap: float = 0.5, *, single: bool = False
) -> list[Any]:
    """Turn gold code spans into per-segment labels with the overlap rule of
    :func:`psythemes.evaluate.align_gold`.

    A span codes a segment of the same document when their overlap is at least ``min_overlap``
    of the span's or of the segment's length.  With several coders, a segment carries every
    code that any coder's span gives it.

    Parameters
    ----------
    segments : DataFrame
        Segment table.
    gold : DataFrame
        Gold spans with :data:`~psythemes.schema.GOLD_COLUMNS` (``coder`` may be absent).
    min_overlap : float
    single : bool
        Return one code per segment (``None`` when none; with several, the code most coders
        gave, ties broken by name) instead of lists.

    Returns
    -------
    list
        Per segment a sorted list of codes, or one code / ``None`` with ``single=True``.
    """
    from ..evaluate import align_gold

    segments = check_segments(segments)
    if not isinstance(gold, pd.DataFrame):
        raise InputError(f"gold must be a table (DataFrame), not {type(gold).__name__}: read a gold file with "
                         "psythemes.tables.read_gold(path)")
    missing = [c for c in GOLD_COLUMNS[:4] if c not in gold.columns]
    if missing:
        raise InputError(f"gold table lacks column(s) {', '.join(missing)}")
    gold = gold.copy()
    if GOLD_COLUMNS[4] not in gold.columns:
        gold[GOLD_COLUMNS[4]] = "gold"
    gold[DOC] = gold[DOC].astype(str)
    segs = segments[[DOC, SEG, START, END]].copy()
    segs[DOC] = segs[DOC].astype(str)
    aligned, _ = align_gold(gold, segs, overlap=min_overlap)
    votes: dict[str, dict[str, int]] = {}
    for seg_id, code in zip(aligned[SEG], aligned["code"], strict=True):  # two columns of one frame
        votes.setdefault(seg_id, {}).setdefault(str(code), 0)
        votes[seg_id][str(code)] += 1
    out: list[Any] = []
    for seg_id in segments[SEG].tolist():
        v = votes.get(seg_id, {})
        if single:
            out.append(min(v, key=lambda c: (-v[c], c)) if v else None)
        else:
            out.append(sorted(v))
    return out


def grouped_splits(
    groups: Sequence[Any], train_fraction: float, n_splits: int = 5, random_state: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random splits by group (transcript): ``train_fraction`` of the groups train, the rest test.

    Returns
    -------
    list of (train_idx, test_idx)
        No group ever appears on both sides.
    """
    from sklearn.model_selection import GroupShuffleSplit

    group_arr = np.asarray(groups)
    gss = GroupShuffleSplit(n_splits=n_splits, train_size=train_fraction, random_state=random_state)
    return [(tr, te) for tr, te in gss.split(np.zeros(len(group_arr)), groups=group_arr)]


def agreement_scores(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, float]:
    """Cohen's kappa, Krippendorff's alpha (nominal), macro-F1 and accuracy of one label per item.

    ``None`` labels count as their own category ("no code").  Kappa and alpha come from
    :mod:`psythemes.agreement`; macro-F1 (averaged over the gold categories) from scikit-learn.
    """
    from sklearn.metrics import accuracy_score, f1_score

    from ..agreement import cohen_kappa, krippendorff_alpha

    g = [NO_CODE if v is None else str(v) for v in gold]
    p = [NO_CODE if v is None else str(v) for v in pred]
    table = pd.DataFrame({"gold": g, "machine": p})
    return {
        "kappa": float(cohen_kappa(table)),
        "alpha": float(krippendorff_alpha(table)),
        "macro_f1": float(f1_score(g, p, labels=sorted(set(g)), average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(g, p)),
        "n": len(g),
    }


def grouped_cross_validate(
    mapper_factory: Callable[[], FewShotMapper],
    segments: pd.DataFrame,
    y: Sequence[Any],
    n_splits: int = 5,
    all_segments: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """K-fold cross-validation with folds grouped by ``doc_id`` (GroupKFold).

    Parameters
    ----------
    mapper_factory : callable
        Returns a fresh, unfitted mapper per fold.
    segments : DataFrame
    y : sequence
        Single labels (``str``/``None``), scored as one nominal variable; or lists of codes
        (multi-label), scored per code as present/absent and averaged over the codes.
    n_splits : int
    all_segments : DataFrame, optional
        Context table passed to ``fit``/``predict``.

    Returns
    -------
    dict
        Mean and standard deviation of kappa, alpha and macro-F1 across folds (multi-label data:
        also ``f1_present``, the F1 of each code's presence; ``macro_f1`` there averages presence
        and absence per code, and stays high for a model that codes nothing), the folds' docs,
        and ``n_splits``.

    Notes
    -----
    Each fold's held-out segments are passed to ``fit`` as ``unlabelled`` (their text, not their
    labels): the segments a mapper is about to code, as in ``psythemes map``, so a self-training
    mapper is scored the way it is used.
    """
    from sklearn.model_selection import GroupKFold

    segments = check_segments(segments).reset_index(drop=True)
    y = list(y)
    groups = segments[DOC].astype(str).to_numpy()
    n_splits = min(n_splits, len(set(groups)))
    if n_splits < 2:
        raise InputError("grouped cross-validation needs segments from at least two documents")
    multi = all(isinstance(v, (list, tuple, set, frozenset)) for v in y)
    folds = []
    for k, (train_idx, test_idx) in enumerate(GroupKFold(n_splits=n_splits).split(segments, groups=groups)):
        logging.getLogger("psythemes.mapping").info("cross-validation fold %d of %d", k + 1, n_splits)
        test = segments.iloc[test_idx]
        model = mapper_factory().fit(segments.iloc[train_idx], [y[i] for i in train_idx], all_segments=all_segments,
                                     unlabelled=test)
        if multi:
            scores = _multilabel_scores([set(y[i]) for i in test_idx], model.predict(test, all_segments=all_segments),
                                        test[SEG].tolist(), model.codebook_.names)
        else:
            scores = agreement_scores([y[i] for i in test_idx], model.predict_single(test, all_segments=all_segments))
        scores["train_docs"] = sorted(set(groups[train_idx]))
        scores["test_docs"] = sorted(set(groups[test_idx]))
        folds.append(scores)
    summary: dict[str, Any] = {"n_splits": n_splits, "grouping": "doc_id (GroupKFold)"}
    # multi-label: also the F1 of presence (macro_f1 averages presence and absence per code)
    for key in ("kappa", "alpha", "macro_f1", "accuracy") + (("f1_present",) if multi else ()):
        vals = np.array([f[key] for f in folds], dtype=float)
        summary[f"{key}_mean"] = round(float(np.nanmean(vals)), 4)
        summary[f"{key}_sd"] = round(float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else 0.0, 4)
    summary["folds"] = folds
    return summary


def _multilabel_scores(
    gold_sets: list[set[str]], pred: pd.DataFrame, seg_ids: list[str], codes: list[str]
) -> dict[str, Any]:
    """Per-code presence/absence agreement, averaged over the codes that occur in gold or prediction.

    ``macro_f1`` is each code's F1 averaged over its two classes, present and absent (absence is
    most segments, so it stays high when a model codes nothing); ``f1_present`` is each code's F1
    of presence alone, as ``psythemes evaluate`` reports F1.
    """
    from sklearn.metrics import f1_score

    pred_sets: dict[str, set[str]] = {}
    for seg_id, code in zip(pred[SEG], pred["code"], strict=True):  # two columns of one frame
        pred_sets.setdefault(seg_id, set()).add(code)
    per_code = {}
    for code in codes:
        g = [code in gs for gs in gold_sets]
        p = [code in pred_sets.get(s, set()) for s in seg_ids]
        if any(g) or any(p):
            per_code[code] = {**agreement_scores(g, p), "f1_present": float(f1_score(g, p, zero_division=0))}
    out: dict[str, Any] = {k: float(np.nanmean([v[k] for v in per_code.values()])) if per_code else float("nan")
                           for k in ("kappa", "alpha", "macro_f1", "f1_present", "accuracy")}
    out["n"] = len(seg_ids)
    out["per_code_kappa"] = {c: round(v["kappa"], 4) for c, v in per_code.items()}
    return out


def infer_scheme(
    segments: pd.DataFrame, y: Sequence[Sequence[str]], single_label: bool | None = None
) -> dict[str, Any]:
    """What the gold says about the coding scheme: which roles are coded, and one code per unit or not.

    Parameters
    ----------
    segments : DataFrame
        Segments of the coded documents.
    y : sequence of lists
        Codes per segment (:func:`labels_from_gold`).
    single_label : bool, optional
        Given by the user: not inferred (the roles still are).

    Returns
    -------
    dict
        ``roles``: the roles whose segments carry gold codes when other roles carry none
        (:func:`psythemes.schema.coded_roles`; else None); ``single_label``: True when no
        segment of those roles has two codes and at least 90 % have one; ``message``: what was inferred, for the user.
    """
    y = [list(v) for v in y]
    coded = np.array([len(v) > 0 for v in y])
    roles = None
    parts = []
    if ROLE in segments.columns:
        roles = coded_roles(segments[ROLE], coded)
        if roles is not None:
            others = sorted({str(r) for r in segments[ROLE].dropna() if str(r) and str(r) not in roles})
            parts.append(f"the gold codes only {', '.join(roles)} segments; only these roles are coded"
                         + (f" (not {', '.join(others)})" if others else " (not the segments without a role)"))
    eligible = np.ones(len(y), dtype=bool) if roles is None else np.isin(segments[ROLE].fillna("").astype(str), roles)
    n = int(eligible.sum())
    multi = sum(len(v) > 1 for v, e in zip(y, eligible, strict=False) if e)
    n_coded = int((coded & eligible).sum())
    single = n > 0 and multi == 0 and n_coded >= 0.9 * n
    if single_label is not None:
        single = bool(single_label)
        parts.append("single-label, as asked" if single else "multi-label, as asked")
    elif single:
        parts.append(f"every coded unit has exactly one code ({n_coded} of {n}): single-label, "
                     "each unit gets its best code")
    else:
        parts.append(f"multi-label with abstention ({multi} of {n} units have several codes, {n - n_coded} none)")
    return {"roles": roles, "single_label": single, "message": "; ".join(parts)}


#: Below these, a grouped cross-validation estimate means little (``warn_thin_cross_validation``).
CV_MIN_DOCS = 10
CV_MIN_CODE_SEGMENTS = 10
CV_MIN_CODE_DOCS = 3


def warn_thin_cross_validation(doc_ids: Sequence[str], y: Sequence[Any], codes: Sequence[str], *,
                               n_splits: int) -> list[str]:
    """Warn (:class:`PsythemesWarning`) when grouped CV has too few documents or coded examples.

    With 3 documents, 3 folds each test one transcript and "CV kappa 0.000 ± 0.000" says
    nothing about new data; a code seen in 2 segments cannot be learnt or scored.  Returns
    the messages (also warned).
    """
    messages = []
    n_docs = len(set(doc_ids))
    if n_docs < CV_MIN_DOCS:
        messages.append(f"cross-validation on {n_docs} coded document(s) ({min(n_splits, n_docs)} folds): each "
                        f"fold tests {'one' if n_docs <= n_splits else 'a few'} transcript(s), so the CV figures "
                        f"mean little; code at least {CV_MIN_DOCS} documents")
    thin = []
    for code in codes:
        rows = [i for i, labels in enumerate(y) if labels is not None and (
            code in labels if isinstance(labels, (list, tuple, set, frozenset)) else labels == code)]
        n_code_docs = len({doc_ids[i] for i in rows})
        if len(rows) < CV_MIN_CODE_SEGMENTS or n_code_docs < CV_MIN_CODE_DOCS:
            thin.append(f"{code} ({len(rows)} segments in {n_code_docs} documents)")
    if thin:
        messages.append(f"codes with too few examples to learn or score (fewer than {CV_MIN_CODE_SEGMENTS} segments "
                        f"or {CV_MIN_CODE_DOCS} documents): {', '.join(thin)}")
    for message in messages:
        warnings.warn(message, PsythemesWarning, stacklevel=2)
    return messages

