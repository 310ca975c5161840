"""Evaluate machine codes against human (gold) codes, and humans against each other (in memory).

The tables are read and written by :mod:`psythemes.tables` (:func:`~psythemes.tables.read_gold`,
:func:`~psythemes.tables.read_codes`, :func:`~psythemes.tables.read_segments`,
:func:`~psythemes.tables.write_evaluation`); this module aligns and scores them.

Gold codes are character spans (:data:`~psythemes.schema.GOLD_COLUMNS`); machine codes are
per segment (:data:`~psythemes.schema.CODE_COLUMNS`).  The unit of evaluation is the
segment: each gold span is aligned to the segments it covers (the *overlap rule*, below),
so every unit ends up with a machine code set and, for every human coder who coded its
document, a gold code set (possibly empty: "no code").

Overlap rule
    A gold span ``[gs, ge)`` codes segment ``[ss, se)`` of the same document when their
    overlap is at least ``overlap`` (default 0.5) of the span's length **or** of the
    segment's length.  A span covering several whole segments codes all of them; a short
    span inside a long segment codes that segment; a span straddling two segments evenly
    codes both.  Spans that code no segment are counted by reason (unknown document,
    beyond the last segment, between segments, overlap below the threshold) and reported
    with a warning, never dropped silently.

Coverage
    A coder has coded a document when the coder has at least one gold row in it; units of
    that document without a span from that coder are "no code" for that coder.  Segments
    of documents with no gold row at all are not evaluated (they are counted).

Consensus
    With several coders, the reference for the machine is a consensus of the coders who
    coded the document: ``majority`` (a code applies when more than half of them applied
    it; with two coders this is their intersection), ``union`` or ``intersection``.
    Human-human agreement, machine-vs-each-coder and machine-vs-consensus are all reported.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import agreement as ag
from .errors import InputError, PsythemesWarning
from .schema import CODE_COLUMNS, GOLD_COLUMNS, SEGMENT_COLUMNS, coded_roles, interviewer_rows
from .segment import KIND_BACKCHANNEL

# The readers and the writer of the tables live in psythemes.tables; their names here stay importable
# (docs/agreement.md and docs/review-loop.md import them from psythemes.evaluate).
from .tables import (
    DEFAULT_CODER,  # noqa: F401
    FULL_DOCS,
    REVIEWED_BY,
    REVIEWED_SPANS,
    _warn_count,
    clean_codes,
    clean_gold,
    gold_docs_by_file_name,
    int_column,
    require_columns,
    row_lines,
    write_evaluation,
)
from .tables import read_codes as load_codes
from .tables import read_gold as load_gold
from .tables import read_segments as load_segments

__all__ = [
    "CONSENSUS_RULES",
    "NO_CODE",
    "Evaluation",
    "load_gold",
    "load_codes",
    "load_segments",
    "align_gold",
    "evaluate",
    "write_evaluation",
]

#: How several gold coders are combined into one reference.
CONSENSUS_RULES: tuple[str, ...] = ("majority", "union", "intersection")
#: Row/column label for "no code" in the confusion table.
NO_CODE = "(no code)"

_DOC, _START, _END, _CODE, _CODER = GOLD_COLUMNS
_SEG_ID = CODE_COLUMNS[1]
_SCORE = CODE_COLUMNS[5]
_TEXT = SEGMENT_COLUMNS[6]
_ROLE = SEGMENT_COLUMNS[3]
_KIND = "kind"  # psythemes.segment.EXTRA_COLUMNS
_SET_SEP = ";"


def _gold_spelt_like(gold: pd.DataFrame, pred: pd.DataFrame, codes: Sequence[str] | None) -> pd.DataFrame:
    """Gold labels spelt otherwise than the machine's codes (``diplomacy`` vs ``DIPLOMACY``,
    ``rust_performs_well`` vs ``Rust Performs Well``, ``Mechanisms\\Alliance`` vs ``Alliance``) take
    the machine's (or ``codes``') spelling; one warning names those matched by case or punctuation."""
    from .codebook import _resolve_name, warn_respelt

    names = list(codes) if codes is not None else sorted(set(pred[_CODE].astype(str)) - {""})
    mapping = {}
    for label in sorted(set(gold[_CODE].astype(str)) - set(names)):
        hit = _resolve_name(label, names)
        if hit is not None:
            mapping[label] = hit
    warn_respelt(mapping, "gold", source=gold.attrs.get("path"), stacklevel=4)
    if not mapping:
        return gold
    gold = gold.copy()
    gold[_CODE] = gold[_CODE].map(lambda v: mapping.get(v, v))
    return gold


def _warn_unpredicted_gold_codes(gold: pd.DataFrame, pred: pd.DataFrame, shown: int = 5) -> None:
    """Without a code list, a gold code that no machine code row uses may be a typo or a code of
    another codebook: it is scored as a code the machine never assigns.  One warning names such
    codes (with the closest machine code) and, then, the machine codes that no gold row uses."""
    from .errors import did_you_mean

    predicted = sorted(set(pred[_CODE].astype(str)) - {""})
    used = sorted(set(gold[_CODE].astype(str)) - {""})
    gold_only = [c for c in used if c not in set(predicted)]
    if not predicted or not gold_only:
        return  # no machine code at all is warned about by clean_codes
    machine_only = [c for c in predicted if c not in set(used)]
    named = ", ".join(f"{c!r}{did_you_mean(c, machine_only or predicted)}" for c in gold_only[:shown])
    more = f" and {len(gold_only) - shown} more" if len(gold_only) > shown else ""
    others = (f". Machine codes that no gold row uses: {', '.join(repr(c) for c in machine_only[:shown])}"
              + (f" and {len(machine_only) - shown} more" if len(machine_only) > shown else "")
              if machine_only else "")
    warnings.warn(f"{len(gold_only)} gold code(s) never occur among the machine codes: {named}{more}; each is "
                  "scored as a code the machine never assigns (recall 0), which lowers the averages: check for a "
                  f"misspelt code or one of another codebook (a code list, --codes, checks every name){others}",
                  PsythemesWarning, stacklevel=3)


def _clean_segments(segments: pd.DataFrame) -> pd.DataFrame:
    what = "segments"
    require_columns(segments, [_DOC, _SEG_ID, _START, _END], what)
    frame = segments.copy()
    frame.attrs = dict(segments.attrs)
    for col in (_DOC, _SEG_ID):
        frame[col] = frame[col].astype(str)
    frame[_START] = int_column(frame, _START, what)
    frame[_END] = int_column(frame, _END, what)
    dup = frame.duplicated(subset=[_SEG_ID])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"segments: duplicate segment_id {frame[_SEG_ID].iloc[row]!r}",
                         path=frame.attrs.get("path"), line=int(row_lines(frame)[row]))
    if _TEXT not in frame.columns:
        frame[_TEXT] = ""
    frame[_TEXT] = frame[_TEXT].map(lambda v: "" if ag._is_missing(v) else str(v))
    # the role decides which units count when the gold codes some roles only (_units_of_roles);
    # the kind, whether a unit is a backchannel that map and extract leave uncoded (_set_aside_uncoded)
    columns = [_DOC, _SEG_ID, _START, _END, _TEXT] + [c for c in (_ROLE, _KIND) if c in frame.columns]
    return frame[columns].reset_index(drop=True)


def _codes_interviewer_turns(units: pd.DataFrame, aligned: pd.DataFrame) -> bool:
    """Whether the gold codes an interviewer turn: then the coders code interviewer turns, and
    every interviewer turn is a unit (a warning counts the coded ones)."""
    asking = units.loc[interviewer_rows(units), _SEG_ID]
    n = int(asking.isin(set(aligned[_SEG_ID])).sum())
    _warn_count(n, "interviewer turn(s) carry gold codes: every interviewer turn is evaluated")
    return n > 0


def _set_aside_uncoded(units: pd.DataFrame, aligned: pd.DataFrame, pred: pd.DataFrame, *,
                       backchannels: bool, interviewer: bool) -> pd.DataFrame:
    """Units without the backchannels ("mm-hmm", "yeah") and, with ``interviewer``, the interviewer
    turns that neither the machine nor the gold codes.

    ``map`` and ``extract`` leave both uncoded, so a segment table from ``psythemes segment``
    lists them while extract's does not: counted, they would add agreed "no code" units and score
    the same coding higher through one route than through the other.  A turn that either side
    codes stays a unit.
    """
    coded = units[_SEG_ID].isin(set(aligned[_SEG_ID]) | set(pred.loc[pred[_CODE] != "", _SEG_ID])).to_numpy()
    kept = np.ones(len(units), dtype=bool)
    if backchannels and _KIND in units.columns:
        aside = (units[_KIND].astype(str) == KIND_BACKCHANNEL).to_numpy() & ~coded
        _warn_count(int(aside.sum()), "backchannel unit(s) that neither the machine nor the gold codes are "
                                      "not evaluated (as in extract)")
        kept &= ~aside
    if interviewer and _ROLE in units.columns:
        aside = interviewer_rows(units) & ~coded & kept
        _warn_count(int(aside.sum()), "interviewer turn(s) that neither the machine nor the gold codes are "
                                      "not evaluated (as in extract; roles=None / --all-roles evaluates them)")
        kept &= ~aside
    return units[kept].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Alignment
# --------------------------------------------------------------------------------------


#: Reasons a gold span codes no segment, as reported in the summary.
UNALIGNED_REASONS = ("unknown_doc", "beyond_last_segment", "between_segments", "below_overlap")


#: How the warning names a reason: a span "between segments" usually sits on words that are no unit
#: (a speaker label, or a turn set aside: interviewer turns, backchannels such as "Yeah.")
_UNALIGNED_SAID = {"between_segments": "between units (on a speaker label or a turn set aside, e.g. a backchannel)"}


def align_gold(gold: pd.DataFrame, segments: pd.DataFrame, *, overlap: float = 0.5
               ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Assign gold spans to the segments they code (see the module docstring for the rule).

    Returns
    -------
    aligned : DataFrame
        ``segment_id, code, coder`` (one row per segment a span codes, duplicates removed).
    unaligned : dict
        Count of spans that code no segment, by reason (:data:`UNALIGNED_REASONS`).
    """
    if not 0.0 < overlap <= 1.0:
        raise InputError(f"overlap must be in (0, 1], got {overlap}")
    spans = gold[[_DOC, _START, _END, _CODE, _CODER]].reset_index(drop=True)
    spans = spans.assign(span_no=np.arange(len(spans)))
    segs = segments[[_DOC, _SEG_ID, _START, _END]].rename(columns={_START: "seg_start", _END: "seg_end"})
    pairs = spans.merge(segs, on=_DOC, how="inner")
    ov = (np.minimum(pairs[_END], pairs["seg_end"]) - np.maximum(pairs[_START], pairs["seg_start"])).clip(lower=0)
    span_len = (pairs[_END] - pairs[_START]).to_numpy(dtype=float)
    seg_len = (pairs["seg_end"] - pairs["seg_start"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        hit = (ov > 0) & ((ov / span_len >= overlap) | (ov / np.where(seg_len > 0, seg_len, np.nan) >= overlap))
    aligned = pairs.loc[hit, [_SEG_ID, _CODE, _CODER]].drop_duplicates().reset_index(drop=True)

    coded_spans = set(pairs.loc[hit, "span_no"])
    touched = set(pairs.loc[ov > 0, "span_no"])
    known_docs = set(segs[_DOC])
    last_end = segs.groupby(_DOC)["seg_end"].max()
    counts = dict.fromkeys(UNALIGNED_REASONS, 0)
    for row in spans.itertuples(index=False):
        if row.span_no in coded_spans:
            continue
        doc = getattr(row, _DOC)
        if doc not in known_docs:
            counts["unknown_doc"] += 1
        elif getattr(row, _START) >= last_end[doc]:
            counts["beyond_last_segment"] += 1
        elif row.span_no in touched:
            counts["below_overlap"] += 1
        else:
            counts["between_segments"] += 1
    return aligned, counts


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Everything :func:`evaluate` found; :func:`write_evaluation` saves it.

    Attributes
    ----------
    summary : dict
        Counts, settings, micro/macro precision-recall-F1, MASI alpha, unaligned spans.
    per_code : DataFrame
        Machine vs consensus per code: prevalence, kappa/alpha/AC1 with CIs, precision,
        recall, F1, and the human-human alpha/kappa for comparison where there are 2+ coders.
    confusion : DataFrame
        Units by gold code (rows) and machine code (columns), ``(no code)`` included; a
        unit with several codes counts once in every cell its codes pair up in.
    disagreements : DataFrame
        Units where machine and consensus differ, most confident machine errors first.
    human_baseline : DataFrame or None
        Long table (``comparison``, ``code``, statistics) of human-human, machine-vs-each-coder
        and machine-vs-consensus agreement; ``None`` with a single coder.
    units : DataFrame
        One row per evaluated unit with its machine, consensus and per-coder code sets.
    """

    summary: dict[str, Any]
    per_code: pd.DataFrame
    confusion: pd.DataFrame
    disagreements: pd.DataFrame
    human_baseline: pd.DataFrame | None = None
    units: pd.DataFrame = field(default_factory=pd.DataFrame)


def _units_of_roles(units: pd.DataFrame, aligned: pd.DataFrame, roles: str | Sequence[str] | None
                    ) -> tuple[pd.DataFrame, list[str] | None]:
    """The units of the evaluated roles, and those roles (``None``: every unit); see :func:`evaluate`."""
    if roles is None or _ROLE not in units.columns:
        return units, None
    role = units[_ROLE].fillna("").astype(str)
    if isinstance(roles, str) and roles != "gold":
        roles = [roles]
    if isinstance(roles, str):  # "gold": the roles whose units carry gold codes, if others carry none
        with_codes = coded_roles(role, units[_SEG_ID].isin(set(aligned[_SEG_ID])))
        if with_codes is None:
            return units, None
        wanted = with_codes
    else:
        wanted = [str(r) for r in roles]
    keep = role.str.casefold().isin({r.casefold() for r in wanted}).to_numpy()
    if isinstance(roles, str) or not keep.all():
        left_out = sorted(set(role[~keep]))
        names = ", ".join(r or "(no role)" for r in left_out)
        how = "the gold codes only" if isinstance(roles, str) else "roles asked:"
        warnings.warn(f"{how} {', '.join(wanted)} segments: agreement is measured on those "
                      f"{int(keep.sum())} units; the {int((~keep).sum())} units of {names} are not evaluated "
                      "(roles=None / --all-roles evaluates every unit)", PsythemesWarning, stacklevel=3)
    if not keep.any():
        raise InputError(f"no unit has one of the roles {', '.join(wanted)}")
    return units[keep].reset_index(drop=True), wanted


def _units_from_codes(pred: pd.DataFrame) -> pd.DataFrame:
    if pred.empty:
        raise InputError("no segments table and no machine codes: there are no units to evaluate")
    if pred[_START].isna().any() or pred[_END].isna().any():
        raise InputError("machine codes need start and end when no segments table is given (--segments)",
                         path=pred.attrs.get("path"))
    units = pred.drop_duplicates(subset=[_SEG_ID])[[_DOC, _SEG_ID, _START, _END]].copy()
    units[_START] = units[_START].astype(np.int64)
    units[_END] = units[_END].astype(np.int64)
    units[_TEXT] = ""
    return units.reset_index(drop=True)


def _join(codes: frozenset[str] | None) -> str:
    return "" if codes is None else _SET_SEP.join(sorted(codes))


def _consensus(sets: list[frozenset[str]], rule: str) -> frozenset[str]:
    if not sets:
        return frozenset()
    if rule == "union":
        return frozenset().union(*sets)
    if rule == "intersection":
        return frozenset.intersection(*sets)
    counts: dict[str, int] = {}
    for s in sets:
        for c in s:
            counts[c] = counts.get(c, 0) + 1
    return frozenset(c for c, k in counts.items() if 2 * k > len(sets))


def evaluate(
    pred_codes: pd.DataFrame,
    gold: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    *,
    codes: Sequence[str] | None = None,
    overlap: float = 0.5,
    consensus: str = "majority",
    ci: float | None = 0.95,
    n_boot: int = 1000,
    random_state: int | None = 0,
    roles: str | Sequence[str] | None = "gold",
    backchannels: str = "drop",
    documents: Literal["gold", "all"] = "gold",
) -> Evaluation:
    """Compare machine codes with gold codes per segment, with human agreement alongside.

    Parameters
    ----------
    pred_codes : DataFrame
        Machine codes (:data:`~psythemes.schema.CODE_COLUMNS`), e.g. from :func:`load_codes`.
    gold : DataFrame
        Gold spans (:data:`~psythemes.schema.GOLD_COLUMNS`), e.g. from :func:`load_gold`.
    segments : DataFrame, optional
        The units (:data:`~psythemes.schema.SEGMENT_COLUMNS`).  Without it the units are
        the segments that appear in ``pred_codes``: segments the machine never listed are
        then invisible, so gold codes on them count as unaligned, not as misses.
    codes : sequence of str, optional
        Codes to evaluate (default: every code in gold or machine codes); others are
        ignored with a counted warning.
    overlap : float
        Threshold of the overlap rule (share of span or of segment), in (0, 1].
    consensus : {"majority", "union", "intersection"}
        How several gold coders make the reference.
    ci, n_boot, random_state
        Percentile bootstrap over units (see :func:`psythemes.agreement.agreement`).
    roles : "gold", sequence of str or None
        Which units count, by the segments' ``role``.  ``"gold"`` (default): when the gold codes
        the units of some roles only (therapist turns, never client turns), only units of those
        roles are evaluated, with a warning that says so - the humans did not code the others,
        so a machine code there is outside the coding frame, not a false positive.  Where that
        cannot be told (a coded unit has no role, or every role is coded) and the gold codes no
        interviewer turn, interviewer turns that neither side codes are not evaluated, as
        ``extract`` sets them aside.  A list: units of these roles
        (case-insensitive).  ``None``: every unit.
    backchannels : {"drop", "keep"}
        ``"drop"`` (default): units whose ``kind`` is ``backchannel`` and that neither side codes are
        not evaluated, as ``map`` and ``extract`` leave them uncoded; ``"keep"``: they count (for
        codes from ``map --keep-backchannels``).
    documents : {"gold", "all"}
        Which documents each coder coded.  ``"gold"`` (default): those the coder has a gold row
        in; units of other documents are not evaluated (a coder's "nothing to code here" leaves
        no row).  ``"all"``: every coder coded every document of the units, so a document
        without any gold code counts as "no code" throughout (open-ended answers, short
        documents, most of which get no code).

    Returns
    -------
    Evaluation
    """
    if consensus not in CONSENSUS_RULES:
        raise InputError(f"unknown consensus rule {consensus!r}; use one of: {', '.join(CONSENSUS_RULES)}")
    if backchannels not in ("drop", "keep"):
        raise InputError(f"backchannels must be 'drop' or 'keep', not {backchannels!r}")
    if documents not in ("gold", "all"):
        raise InputError(f"documents must be 'gold' or 'all', not {documents!r}")
    # codes outside ``codes`` are ignored and counted below (load_gold/load_codes reject them)
    gold = clean_gold(gold)
    pred = clean_codes(pred_codes)
    gold = _gold_spelt_like(gold, pred, codes)
    if codes is None:
        _warn_unpredicted_gold_codes(gold, pred)
    if segments is None:
        all_units = _units_from_codes(pred)
        units_source = "machine codes"
    else:
        all_units = _clean_segments(segments)
        units_source = "segments"
    if gold.attrs.get(REVIEWED_SPANS) is not None:
        # a review sheet codes the segments decided on; the others are unknown, not "no code"
        from .review import reviewed_rows

        keep = reviewed_rows(all_units, gold.attrs[REVIEWED_SPANS], gold.attrs.get(FULL_DOCS, ()))
        _warn_count(len(all_units) - len(keep), "unit(s) without a review decision are not evaluated")
        all_units = all_units.iloc[keep].reset_index(drop=True)

    gold = gold_docs_by_file_name(gold, all_units[_DOC])
    gold_docs = set(gold[_DOC]) if documents == "gold" else set(all_units[_DOC])
    in_gold = all_units[_DOC].isin(gold_docs)
    units = all_units[in_gold].sort_values([_DOC, _START, _END], kind="stable").reset_index(drop=True)
    n_units_without_gold = int((~in_gold).sum())
    _warn_count(n_units_without_gold, "unit(s) lie in documents without any gold code and are not evaluated "
                                      "(where the coders read them and found nothing to code: --all-documents-coded, "
                                      "documents='all')")
    if units.empty:
        raise InputError("no unit lies in a document that has gold codes: check that doc_id values match")

    aligned, unaligned = align_gold(gold, units, overlap=overlap)
    units, roles_evaluated = _units_of_roles(units, aligned, roles)
    # where the gold's roles could not decide (a coded unit without a role), interviewer turns that
    # nobody coded are still set aside, as extract does - unless the coders code interviewer turns
    units = _set_aside_uncoded(units, aligned, pred, backchannels=backchannels == "drop",
                               interviewer=roles == "gold" and roles_evaluated is None
                               and not _codes_interviewer_turns(units, aligned))
    if units.empty:
        raise InputError("no unit left to evaluate: every segment of the gold-coded documents is a backchannel "
                         "or an interviewer turn that neither the machine nor the gold codes")
    aligned = aligned[aligned[_SEG_ID].isin(set(units[_SEG_ID]))]
    n_unaligned = sum(unaligned.values())
    if n_unaligned:
        detail = ", ".join(f"{_UNALIGNED_SAID.get(k, k.replace('_', ' '))}: {v}" for k, v in unaligned.items() if v)
        _warn_count(n_unaligned, f"of {len(gold)} gold span(s) code no unit ({detail})")

    # machine codes: unknown segments, documents without gold, codes outside the list
    known_segments = set(all_units[_SEG_ID])
    unknown_seg = ~pred[_SEG_ID].isin(known_segments)
    _warn_count(int(unknown_seg.sum()), "machine code row(s) name a segment that is not among the units")
    unit_ids = set(units[_SEG_ID])
    pred_in = pred[pred[_SEG_ID].isin(unit_ids) & (pred[_CODE] != "")]

    code_list = list(codes) if codes is not None else sorted(set(gold[_CODE]) | set(pred_in[_CODE]))
    if not code_list:
        raise InputError("no codes to evaluate")

    coders = sorted(set(gold[_CODER]))
    coverage = (gold.groupby(_CODER)[_DOC].agg(lambda s: set(s)).to_dict() if documents == "gold"
                else dict.fromkeys(coders, gold_docs))
    by_coder: dict[str, dict[str, set[str]]] = {c: {} for c in coders}
    for seg, code, coder in aligned.itertuples(index=False):
        by_coder[coder].setdefault(seg, set()).add(code)
    machine: dict[str, set[str]] = {}
    scores: dict[str, dict[str, float]] = {}
    for seg, code, score in pred_in[[_SEG_ID, _CODE, _SCORE]].itertuples(index=False):
        machine.setdefault(seg, set()).add(code)
        scores.setdefault(seg, {})[code] = score

    known_codes = set(code_list)
    # a reviewer decided on some segments of a document; the others are unknown, not "no code"
    reviewed_by = gold.attrs.get(REVIEWED_BY) or {}
    rows = []
    for unit in units.itertuples(index=False):
        seg, doc = getattr(unit, _SEG_ID), getattr(unit, _DOC)
        span = (str(doc), int(getattr(unit, _START)), int(getattr(unit, _END)))
        coder_sets = {c: (frozenset(by_coder[c].get(seg, set()) & known_codes)
                          if doc in coverage[c] and (c not in reviewed_by or span in reviewed_by[c]) else None)
                      for c in coders}
        covered = [s for s in coder_sets.values() if s is not None]
        rows.append({
            _DOC: doc, _SEG_ID: seg, _START: getattr(unit, _START), _END: getattr(unit, _END),
            _TEXT: getattr(unit, _TEXT),
            "machine": frozenset(machine.get(seg, set()) & known_codes),
            "gold": _consensus(covered, consensus),
            **{f"coder:{c}": s for c, s in coder_sets.items()},
        })
    unit_table = pd.DataFrame(rows)
    n_ignored_codes = int((~pred_in[_CODE].isin(known_codes)).sum() + (~gold[_CODE].isin(known_codes)).sum())
    _warn_count(n_ignored_codes, "code row(s) use codes outside the evaluated code list and were ignored")

    boot: dict[str, Any] = dict(ci=ci, n_boot=n_boot, random_state=random_state)
    with warnings.catch_warnings():
        # undefined per-code statistics are reported as NaN in the tables and counted below
        warnings.simplefilter("ignore", PsythemesWarning)
        main = ag.per_code_agreement(unit_table[["machine", "gold"]], code_list, **boot)
        prf, averages = ag.precision_recall_f1(list(unit_table["machine"]), list(unit_table["gold"]), code_list)
        masi = ag.alpha_masi(unit_table[["machine", "gold"]], warn=False, **boot)
        baseline, human_masi = _human_baseline(unit_table, coders, code_list, main, masi, boot)

    gold_presence = np.array([[c in s for c in code_list] for s in unit_table["gold"]], dtype=float)
    machine_presence = np.array([[c in s for c in code_list] for s in unit_table["machine"]], dtype=float)
    per_code = main.drop(columns=["prevalence"]).assign(
        prevalence=gold_presence.mean(axis=0), machine_rate=machine_presence.mean(axis=0))
    per_code = per_code.merge(prf, on="code", how="left")
    if baseline is not None:
        human = baseline[baseline["comparison"] == "human-human"].set_index("code")
        per_code["human_kappa"] = per_code["code"].map(human["kappa"])
        per_code["human_alpha"] = per_code["code"].map(human["alpha"])
    per_code = per_code[[c for c in _PER_CODE_ORDER if c in per_code.columns]]
    n_undefined = int(per_code["kappa"].isna().sum())
    _warn_count(n_undefined, "code(s) have undefined kappa (a code nobody used, or used everywhere): "
                             "see prevalence")

    summary: dict[str, Any] = {
        "units_source": units_source,
        "n_docs": int(units[_DOC].nunique()),
        "n_units": len(units),
        "n_units_without_gold": n_units_without_gold,
        "documents": documents,
        "roles_evaluated": roles_evaluated,
        "n_gold_spans": len(gold),
        "n_gold_spans_aligned": len(gold) - n_unaligned,
        "gold_spans_unaligned": unaligned,
        "n_machine_rows_unknown_segment": int(unknown_seg.sum()),
        "n_code_rows_ignored": n_ignored_codes,
        "codes": code_list,
        "coders": coders,
        "n_coders": len(coders),
        "consensus": consensus if len(coders) > 1 else "single coder",
        "overlap": overlap,
        **averages,
        "mean_kappa": float(np.nanmean(per_code["kappa"])) if per_code["kappa"].notna().any() else math.nan,
        "alpha_masi": masi.value,
        "alpha_masi_ci_low": masi.ci_low,
        "alpha_masi_ci_high": masi.ci_high,
        "human_alpha_masi": human_masi.value if human_masi else math.nan,
        "human_alpha_masi_ci_low": human_masi.ci_low if human_masi else math.nan,
        "human_alpha_masi_ci_high": human_masi.ci_high if human_masi else math.nan,
        "ci": ci,
        "n_boot": n_boot,
        "random_state": random_state,
    }
    return Evaluation(
        summary=summary,
        per_code=per_code,
        confusion=_confusion(unit_table, code_list),
        disagreements=_disagreements(unit_table, scores, coders),
        human_baseline=baseline,
        units=_units_output(unit_table, coders),
    )


_PER_CODE_ORDER = [
    "code", "n_units", "prevalence", "machine_rate", "percent",
    "kappa", "kappa_ci_low", "kappa_ci_high", "alpha", "alpha_ci_low", "alpha_ci_high",
    "ac1", "ac1_ci_low", "ac1_ci_high", "precision", "recall", "f1", "support", "tp", "fp", "fn", "tn",
    "human_kappa", "human_alpha",
]


def _human_baseline(unit_table: pd.DataFrame, coders: list[str], code_list: list[str], main: pd.DataFrame,
                    masi: ag.AgreementResult, boot: dict[str, Any]
                    ) -> tuple[pd.DataFrame | None, ag.AgreementResult | None]:
    if len(coders) < 2:
        return None, None
    parts = []
    coder_cols = [f"coder:{c}" for c in coders]
    # the humans agree or not on units two or more of them coded: a document one coder coded alone
    # would otherwise move the chance term of Fleiss' kappa and AC1 (Gwet's rule for missing ratings)
    humans = unit_table.loc[unit_table[coder_cols].notna().sum(axis=1) >= 2, coder_cols]
    human_masi = ag.alpha_masi(humans, warn=False, **boot)
    comparisons = [("human-human", ag.per_code_agreement(humans, code_list, **boot), human_masi)]
    for coder, col in zip(coders, coder_cols, strict=True):
        pair = unit_table.loc[unit_table[col].notna(), ["machine", col]]
        comparisons.append((f"machine-vs-{coder}", ag.per_code_agreement(pair, code_list, **boot),
                            ag.alpha_masi(pair, warn=False, **boot)))
    comparisons.append(("machine-vs-consensus", main, masi))
    for name, table, set_alpha in comparisons:
        parts.append(table.assign(comparison=name))
        parts.append(pd.DataFrame([{
            "comparison": name, "code": "(all codes, MASI alpha)", "n_units": set_alpha.n_units,
            "alpha": set_alpha.value, "alpha_ci_low": set_alpha.ci_low, "alpha_ci_high": set_alpha.ci_high,
        }]))
    out = pd.concat(parts, ignore_index=True)
    first = ["comparison", "code"]
    return out[first + [c for c in out.columns if c not in first]], human_masi


def _confusion(unit_table: pd.DataFrame, code_list: list[str]) -> pd.DataFrame:
    labels = list(code_list) + [NO_CODE]
    index = {c: i for i, c in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, m in zip(unit_table["gold"], unit_table["machine"], strict=True):
        for gc in (g or {NO_CODE}):
            for mc in (m or {NO_CODE}):
                matrix[index[gc], index[mc]] += 1
    frame = pd.DataFrame(matrix, columns=[f"machine:{c}" for c in labels])
    frame.insert(0, "gold", labels)
    return frame


#: A coder's cell in ``disagreements.csv`` for a unit of a document they did not code.
_NOT_CODED = "(not coded)"


def _disagreements(unit_table: pd.DataFrame, scores: dict[str, dict[str, float]],
                   coders: Sequence[str] = ()) -> pd.DataFrame:
    # with several coders, each coder's codes: why the reference lacks a code shows at a glance
    coder_cols = [f"coder:{c}" for c in coders] if len(coders) > 1 else []
    rows = []
    for unit, coder_sets in zip(unit_table.itertuples(index=False),
                                unit_table[coder_cols].to_dict("records"), strict=True):
        m, g = unit.machine, unit.gold
        if m == g:
            continue
        seg = getattr(unit, _SEG_ID)
        unit_scores = scores.get(seg, {})
        fp, fn = sorted(m - g), sorted(g - m)
        fp_scores = [unit_scores[c] for c in fp if c in unit_scores and pd.notna(unit_scores[c])]
        rows.append({
            _DOC: getattr(unit, _DOC), _SEG_ID: seg, _START: getattr(unit, _START), _END: getattr(unit, _END),
            _TEXT: getattr(unit, _TEXT),
            "machine_codes": _join(m), "gold_codes": _join(g),
            "false_positives": _SET_SEP.join(fp), "false_negatives": _SET_SEP.join(fn),
            "max_error_score": max(fp_scores) if fp_scores else math.nan,
            "scores": _SET_SEP.join(f"{c}={unit_scores[c]:.3f}" for c in sorted(unit_scores)
                                    if pd.notna(unit_scores[c])),
            # a coder who did not code the document: "(not coded)", unlike "" for "no code"
            **{col: _NOT_CODED if coder_sets[col] is None else _join(coder_sets[col]) for col in coder_cols},
        })
    columns = [_DOC, _SEG_ID, _START, _END, _TEXT, "machine_codes", "gold_codes", "false_positives",
               "false_negatives", "max_error_score", "scores", *coder_cols]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    # most confident machine errors (false positives with a high score) first; misses after
    return frame.sort_values(["max_error_score", _DOC, _START], ascending=[False, True, True],
                             na_position="last", kind="stable").reset_index(drop=True)


def _units_output(unit_table: pd.DataFrame, coders: list[str]) -> pd.DataFrame:
    out = unit_table.copy()
    # an empty coder cell means "no code" only where that coder coded the document: say which did
    out["coded_by"] = [
        _SET_SEP.join(c for c in coders if row[f"coder:{c}"] is not None)
        for row in unit_table[[f"coder:{c}" for c in coders]].to_dict("records")
    ] if coders else ""
    for col in ["machine", "gold"] + [f"coder:{c}" for c in coders]:
        out[col] = out[col].map(_join)
    return out
