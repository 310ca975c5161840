"""The data model shared by every stage: transcripts, turns, segments, and table schemas.

Offsets are always character offsets (Unicode code points) into a transcript's
*normalised* text (NFC, ``\\n`` line ends, no BOM).  For every segment of every reader and
segmenter::

    transcript.text[segment.start:segment.end] == segment.text

Between stages, collections travel as pandas tables whose columns are named once, here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Turn",
    "Transcript",
    "Segment",
    "make_segment_id",
    "speaker_key",
    "SEGMENT_COLUMNS",
    "CODE_COLUMNS",
    "GOLD_COLUMNS",
    "THEME_COLUMNS",
    "SEGMENT_THEME_COLUMNS",
    "THEME_QUOTE_COLUMNS",
    "segments_to_frame",
    "coded_roles",
    "frame_to_segments",
    "empty_frame",
]


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker turn as a reader found it.

    ``start``/``end`` delimit the turn's *body* (the words, without the speaker label)
    in the transcript's normalised text.
    """

    speaker: str
    start: int
    end: int
    t_start: float | None = None
    t_end: float | None = None


@dataclass(slots=True)
class Transcript:
    """A transcript as read from one source file.

    Attributes
    ----------
    doc_id : str
        Identifier, unique within a run (by default the file name without extension).
    text : str
        Normalised text; every offset in psythemes refers to it.
    source : str
        Path (or ``archive.qdpx!sources/x.txt``) the text came from.
    format : str
        Reader that produced it (``text``, ``vtt``, ``srt``, ``docx``, ``odt``, ``csv``, ``jsonl``, ``qdpx``).
    metadata : dict
        Participant variables (participant, role, wave, ...), from a sidecar or the source.
    turns : list of Turn
        Speaker turns in text order; empty when the reader found no speaker labels.
    """

    doc_id: str
    text: str
    source: str = ""
    format: str = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        """Plain dict for ``transcripts.jsonl``."""
        rec = asdict(self)
        rec["turns"] = [asdict(t) for t in self.turns]
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Transcript:
        turns = [Turn(**t) for t in rec.get("turns", [])]
        return cls(
            doc_id=rec["doc_id"],
            text=rec["text"],
            source=rec.get("source", ""),
            format=rec.get("format", "text"),
            metadata=dict(rec.get("metadata") or {}),
            turns=turns,
        )


def make_segment_id(doc_id: str, start: int, end: int) -> str:
    """Stable id of a segment: the same document and offsets give the same id in every run."""
    return f"{doc_id}:{start}-{end}"


def speaker_key(label: str) -> str:
    """A speaker label as metadata rows and labels are matched to each other: case and spacing
    ignored (``Anna  Smith`` and ``ANNA SMITH`` are one speaker)."""
    return " ".join(label.casefold().split())


@dataclass(frozen=True, slots=True)
class Segment:
    """A unit of analysis: a span of one transcript's normalised text."""

    doc_id: str
    segment_id: str
    speaker: str
    role: str
    start: int
    end: int
    text: str
    t_start: float | None = None
    t_end: float | None = None


#: Columns of ``segments.csv`` and of every segment table passed between stages.
SEGMENT_COLUMNS: list[str] = [
    "doc_id", "segment_id", "speaker", "role", "start", "end", "text", "t_start", "t_end",
]
#: Machine codes, one row per (segment, code) assignment (``codes.csv``).
CODE_COLUMNS: list[str] = ["doc_id", "segment_id", "start", "end", "code", "score", "method"]
#: Human (gold) codes as spans, one row per (span, code, coder).
GOLD_COLUMNS: list[str] = ["doc_id", "start", "end", "code", "coder"]
#: Candidate themes (``themes.csv``); discovery may add columns after these.
THEME_COLUMNS: list[str] = ["theme_id", "label", "keywords", "size"]
#: Segment → theme assignment (``segment_themes.csv``).
SEGMENT_THEME_COLUMNS: list[str] = ["segment_id", "theme_id", "probability"]
#: Representative quotes of the themes, one row per quote (``theme_quotes.csv``); ``rank`` 1 is
#: the quote nearest the theme's centroid, ``similarity`` its cosine to that centroid.
THEME_QUOTE_COLUMNS: list[str] = ["theme_id", "rank", "doc_id", "segment_id", "start", "end", "speaker", "role",
                                  "text", "similarity"]


def interviewer_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows of a segment table whose ``role`` is the interviewer's (case ignored); none when the
    table has no role column.  The one test of it for evaluation and training."""
    if "role" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return (table["role"].fillna("").astype(str).str.casefold() == "interviewer").to_numpy()


def coded_roles(roles: Iterable[Any], coded: Iterable[bool]) -> list[str] | None:
    """The roles the human coders code, when they code some roles only.

    One rule for every stage that asks (training infers the scheme from it, evaluation scores
    only these roles by default).

    Parameters
    ----------
    roles : iterable
        The role of each unit (``None``/NaN/empty: no role).
    coded : iterable of bool
        Whether each unit carries a gold code (paired with ``roles``).

    Returns
    -------
    list of str or None
        The sorted roles of the coded units when units of other roles carry no code; ``None``
        when nothing is coded, when every role present is coded, or when a coded unit has no
        role (then which roles the humans code cannot be told).
    """
    names = ["" if r is None or r != r else str(r) for r in roles]  # r != r: NaN
    flags = [bool(c) for c in coded]
    if len(names) != len(flags):
        raise ValueError(f"{len(names)} roles but {len(flags)} coded flags")
    with_codes = {r for r, c in zip(names, flags, strict=True) if c}
    if not with_codes or "" in with_codes or with_codes == set(names):
        return None
    return sorted(with_codes)


def empty_frame(columns: list[str]) -> pd.DataFrame:
    """An empty table with the given columns."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def segments_to_frame(segments: list[Segment]) -> pd.DataFrame:
    """Segments as a table with :data:`SEGMENT_COLUMNS`."""
    if not segments:
        return empty_frame(SEGMENT_COLUMNS)
    frame = pd.DataFrame([asdict(s) for s in segments], columns=SEGMENT_COLUMNS)
    return frame


def frame_to_segments(frame: pd.DataFrame) -> list[Segment]:
    """Inverse of :func:`segments_to_frame` (missing times become ``None``)."""
    out = []
    for rec in frame[SEGMENT_COLUMNS].to_dict("records"):
        for key in ("t_start", "t_end"):
            if pd.isna(rec[key]):
                rec[key] = None
        rec["start"], rec["end"] = int(rec["start"]), int(rec["end"])
        rec["role"] = "" if pd.isna(rec["role"]) else str(rec["role"])
        rec["speaker"] = "" if pd.isna(rec["speaker"]) else str(rec["speaker"])
        out.append(Segment(**rec))
    return out
