"""Gold codes given as quotes: find each quoted passage in its transcript.

Teams that code in a word processor or a spreadsheet, and the coded-segment exports of QDA
programs (MAXQDA's *Coded Segments*, ATLAS.ti's quotation list, NVivo's coding summaries),
give a document, a code and the coded text, but no character offsets into the transcript that
psythemes reads.  :func:`quotes_to_spans` finds each quote in its document and returns gold
spans (:data:`~psythemes.schema.GOLD_COLUMNS`).

A quote is matched exactly first; then loosely (case, runs of white space, curly quotes and
dashes, ``…`` ignored); then, if it has elisions (``...``, ``…``, ``[...]``), part by part, in
order, each part within :data:`MAX_ELISION_GAP` characters of the one before.  Where a quote
occurs more than once, the first occurrence at or after the previous quote of the same
document (in file order) is taken, since exports list a document's segments in text order; an
occurrence inside a passage that an earlier row of the same coder already gave the same code is
passed over (a sentence said twice, quoted twice, is two passages, not a duplicate).
Quotes that are not found are dropped and counted in a warning that names the first: nothing
is dropped without a word.
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, PsythemesWarning, excerpt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QuoteMatch", "locate_quote", "quotes_to_spans", "is_quote_table", "QUOTE_COLUMNS", "MAX_ELISION_GAP"]

#: Header names (case-insensitive) of the columns a quote table is read from, first found wins.
QUOTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "doc_id": ("doc_id", "document", "document name", "doc", "transcript", "file", "file name", "source",
               "source name"),
    "code": ("code", "codes", "code name", "node", "tag"),
    "text": ("text", "quote", "quotation", "quotation content", "segment", "coded segment", "coded text",
             "content", "excerpt", "coded passage"),
    "coder": ("coder", "coded by", "created by", "user", "author"),
}
#: Most characters allowed between two parts of a quote with an elision.
MAX_ELISION_GAP = 3000

_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"',
                       "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " ", "\u2026": " "})
_ELISION = re.compile(r"\s*(?:[\[(]\s*(?:\.\.\.|\u2026)\s*[\])]|\.\.\.+|\u2026)\s*")


@dataclass(frozen=True)
class QuoteMatch:
    """Where a quote was found: ``text[start:end]``; ``how`` is ``exact``, ``loose`` or ``elided``;
    ``occurrences`` counts where the whole quote occurs (1: unambiguous; elided quotes: 1)."""

    start: int
    end: int
    how: str
    occurrences: int


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` casefolded, quotes and dashes made plain, white space runs as one space, and for
    each character of the result its offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text.translate(_FOLD)):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            out.append(" ")
            where.append(i)
            continue
        for piece in ch.casefold():
            out.append(piece)
            where.append(i)
    return "".join(out), where


def _all_starts(haystack: str, needle: str) -> list[int]:
    starts, pos = [], haystack.find(needle)
    while pos >= 0:
        starts.append(pos)
        pos = haystack.find(needle, pos + max(1, len(needle)))
    return starts


def _pick(starts: list[int], after: int, taken: Callable[[int], bool] | None = None) -> int:
    later = [s for s in starts if s >= after]
    if taken is not None:
        # a passage already coded with the same code is not coded again: the quote is its next copy
        free = [s for s in later if not taken(s)]
        later = free or later
    return later[0] if later else starts[0]


class _Folded:
    """A document's folded text and offset map, made once for all of its quotes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded, self.where = _folded(text)

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original offsets of folded characters ``[a, b)``."""
        return self.where[a], self.where[b - 1] + 1

    def folded_offset(self, original: int) -> int:
        return bisect.bisect_left(self.where, original)


def locate_quote(text: str, quote: str, after: int = 0) -> QuoteMatch | None:
    """Find ``quote`` in ``text`` (see the module's rule); None when it is not there.

    Parameters
    ----------
    text : str
        The transcript's text (normalised, as psythemes reads it).
    quote : str
        The coded passage as the export or the team wrote it.
    after : int
        Offset in ``text``: of several occurrences, the first at or after it is taken.
    """
    return _locate(_Folded(text), quote, after)


def _locate(doc: _Folded, quote: str, after: int,
            taken: Callable[[int, int], bool] | None = None) -> QuoteMatch | None:
    """:func:`locate_quote` on a document folded once for all of its quotes; ``taken(start, end)``
    says whether a passage already has this row's code (then a later copy of the quote is taken)."""
    quote = quote.strip().strip('"\u201c\u201d').strip()
    if not quote:
        return None
    starts = _all_starts(doc.text, quote)
    if starts:
        start = _pick(starts, after, taken and (lambda s: taken(s, s + len(quote))))
        return QuoteMatch(start, start + len(quote), "exact", len(starts))
    needle = _folded(quote)[0].strip()
    if not needle:
        return None
    starts = _all_starts(doc.folded, needle)
    if starts:
        a = _pick(starts, doc.folded_offset(after), taken and (lambda f: taken(*doc.span(f, f + len(needle)))))
        start, end = doc.span(a, a + len(needle))
        return QuoteMatch(start, end, "loose", len(starts))
    parts = [_folded(p)[0].strip() for p in _ELISION.split(quote)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return None
    firsts = _all_starts(doc.folded, parts[0])
    if not firsts:
        return None
    first = _pick(firsts, doc.folded_offset(after))
    pos = first + len(parts[0])
    for part in parts[1:]:
        nxt = doc.folded.find(part, pos, pos + MAX_ELISION_GAP + len(part))
        if nxt < 0:
            return None
        pos = nxt + len(part)
    start, end = doc.span(first, pos)
    return QuoteMatch(start, end, "elided", 1)


def _inside_any(spans: list[tuple[int, int]]) -> Callable[[int, int], bool]:
    """Whether ``[start, end)`` lies inside one of ``spans``."""
    return lambda start, end: any(a <= start and end <= b for a, b in spans)


def _column(frame: pd.DataFrame, role: str) -> str | None:
    from .tables import header_key

    by_name = {header_key(c): c for c in frame.columns}
    for option in QUOTE_COLUMNS[role]:
        if header_key(option) in by_name:
            return str(by_name[header_key(option)])
    return None


def is_quote_table(frame: pd.DataFrame) -> bool:
    """A gold table with a document, a code and a quote column but no ``start``/``end`` offsets."""
    return ("start" not in frame.columns or "end" not in frame.columns) and all(
        _column(frame, role) is not None for role in ("doc_id", "code", "text"))


def _doc_key(name: str, texts: Mapping[str, str]) -> str | None:
    """The document a quote table names: its id, or a file name whose stem is one (``P01.docx``)."""
    if name in texts:
        return name
    stem = Path(name).stem if "." in name else None
    return stem if stem is not None and stem in texts else None


def quotes_to_spans(frame: pd.DataFrame, texts: Mapping[str, str], *, source: str | Path | None = None) -> pd.DataFrame:
    """Gold spans from a table of quotes (see the module's rule).

    Parameters
    ----------
    frame : DataFrame
        One row per coded passage, with a document, a code and a quote column (names in
        :data:`QUOTE_COLUMNS`, case-insensitive) and optionally a coder column.  A code cell
        with several lines (ATLAS.ti's *Codes*) gives one span per line; a code written as a
        path (``Mechanisms\\Alliance``, ``Mechanisms > Alliance``) is kept whole: the codebook
        resolves it (:meth:`psythemes.codebook.Codebook.resolve`), so that codes of one name under
        different parents stay apart.
    texts : mapping
        ``doc_id -> text`` of the transcripts the spans will point into.
    source : path, optional
        Named in warnings and errors.

    Returns
    -------
    DataFrame
        ``doc_id, start, end, code, text`` and, where the table has one, ``coder`` (``text`` is
        the transcript's text of the span).
    """
    import pandas as pd

    cols = {role: _column(frame, role) for role in QUOTE_COLUMNS}
    missing = [role for role in ("doc_id", "code", "text") if cols[role] is None]
    if missing:
        raise InputError(f"a table of quotes needs a {' and a '.join(missing)} column "
                         f"(one of: {'; '.join(', '.join(QUOTE_COLUMNS[r]) for r in missing)})", path=source)
    folded: dict[str, _Folded] = {}
    last_start: dict[str, int] = {}
    placed: dict[tuple[str, str, str], list[tuple[int, int]]] = {}  # (doc, code, coder) -> spans so far
    rows: list[dict[str, object]] = []
    counts = {"exact": 0, "loose": 0, "elided": 0}
    not_found: list[tuple[str, str]] = []
    unknown_docs: list[str] = []
    ambiguous = 0
    for rec in frame.to_dict("records"):
        name = str(rec[cols["doc_id"]]).strip()
        quote = str(rec[cols["text"]])
        code_cell = str(rec[cols["code"]])
        coder = str(rec[cols["coder"]]).strip() if cols["coder"] is not None else ""
        doc = _doc_key(name, texts)
        if doc is None:
            unknown_docs.append(name)
            continue
        if doc not in folded:
            folded[doc] = _Folded(texts[doc])
        row_codes = [c.strip() for c in code_cell.splitlines() if c.strip()]
        # one coder's passages only: two coders quoting one sentence with one code agree on one passage
        same_code = [span for code in row_codes for span in placed.get((doc, code, coder), ())]
        found = _locate(folded[doc], quote, last_start.get(doc, 0), _inside_any(same_code))
        if found is None:
            not_found.append((doc, quote.strip()))
            continue
        counts[found.how] += 1
        ambiguous += found.occurrences > 1
        last_start[doc] = found.start
        for code in row_codes:
            placed.setdefault((doc, code, coder), []).append((found.start, found.end))
            if code:
                rows.append({"doc_id": doc, "start": found.start, "end": found.end,
                             "code": code, "coder": coder,
                             "text": texts[doc][found.start:found.end]})
    where = f"{Path(source).name}: " if source else ""
    located = sum(counts.values())
    if not located:
        raise InputError("no quote of the gold table was found in the transcripts"
                         + (f" (documents not among them: {', '.join(sorted(set(unknown_docs))[:5])})"
                            if unknown_docs else f", e.g. in {not_found[0][0]}{excerpt(not_found[0][1])}"
                            if not_found else ""), path=source)
    message = (f"{where}gold given as quotes: {located} found in the transcripts ({counts['exact']} exactly, "
               f"{counts['loose']} ignoring case, spacing and quote marks, {counts['elided']} around elisions)")
    if ambiguous:
        message += (f"; {ambiguous} occur more than once (the first after the previous quote, and not inside a "
                    "passage already given the same code, was taken)")
    if not_found:
        doc, quote = not_found[0]  # the words only where messages may quote transcripts (--verbose)
        message += f"; {len(not_found)} not found and dropped, e.g. in {doc}{excerpt(quote)}"
    if unknown_docs:
        names = sorted(set(unknown_docs))
        message += (f"; {len(unknown_docs)} name documents not among the transcripts and were dropped: "
                    f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}")
    warnings.warn(message, PsythemesWarning, stacklevel=3)
    out = pd.DataFrame(rows, columns=["doc_id", "start", "end", "code", "coder", "text"])
    if cols["coder"] is None:
        out = out.drop(columns="coder")
    out.attrs = dict(frame.attrs)
    return out
