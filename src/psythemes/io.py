"""Reading transcripts: one reader per format, one dispatcher, metadata and speaker roles.

Every reader returns :class:`psythemes.schema.Transcript` objects whose ``text`` is the
*normalised* text (decoded, no BOM, ``\\n`` line ends, Unicode NFC) and whose turns point
into it: ``transcript.text[turn.start:turn.end]`` is the turn's body without its speaker
label.  See ``docs/formats.md`` for the formats, the speaker-label rule and the role rule.

Readers (``READERS``, keyed by format name) share one calling convention::

    reader(path, *, doc_id=None, label_patterns=None, encoding=None, columns=None)
        -> Transcript | list[Transcript]

An option that a format has no use for is accepted and ignored.  A reader that can find
several documents in one file (tables, QDPX archives) returns a list.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import html
import importlib
import io as _io
import itertools
import json
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._moved import forward
from .errors import InputError, PsythemesWarning, excerpt
from .schema import Transcript, Turn, speaker_key

if TYPE_CHECKING:  # pandas is imported lazily: the CLI's --help must stay fast
    import pandas as pd

__all__ = [
    "READERS",
    "FORMAT_BY_SUFFIX",
    "DEFAULT_LABEL_PATTERNS",
    "strip_line_numbers",
    "docx_paragraph_text",
    "open_docx",
    "DEFAULT_COLUMNS",
    "INTERVIEWER_LABELS",
    "read_transcript",
    "read_transcripts",
    "annotate_transcripts",
    "check_encoding",
    "read_text",
    "read_vtt",
    "read_srt",
    "read_sbv",
    "read_docx",
    "read_odt",
    "read_table",
    "parse_speaker_roles",
    "role_of",
    "speaker_role_map",
    "expand_paths",
    "ExpandedPaths",
    "decode_bytes",
    "normalise_text",
    "parse_labelled_text",
    "strip_span",
    "uncovered_words",
    "write_transcripts_jsonl",
    "decode_table_bytes",
    "load_transcripts_jsonl",
]

# ---------------------------------------------------------------------------------------
# Decoding and normalisation
# ---------------------------------------------------------------------------------------

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters (Unicode category Cc) other than tab, line ends and form feed: a sign of binary data.
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_FRACTION = 0.01
_MAX_MESS = 0.2  # charset-normalizer's "chaos" threshold for accepting a single-byte decoding


def normalise_text(text: str) -> str:
    """Return ``text`` without BOM, with ``\\n`` line ends and in Unicode NFC.

    This is the text every offset in psythemes refers to.
    """
    text = text.lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def _line_of_byte(raw: bytes, pos: int) -> int:
    return raw.count(b"\n", 0, pos) + 1


# what to do when an encoding guess is wrong: transcripts take --encoding, the tables beside them do not
_TRANSCRIPT_REMEDY = "pass --encoding NAME (encoding='NAME' in Python)"
_TABLE_REMEDY = "save the file as UTF-8 (in Excel: CSV UTF-8)"


def decode_bytes(raw: bytes, path: str | Path | None = None, encoding: str | None = None) -> str:
    """Decode a text file's bytes and normalise them (see :func:`normalise_text`).

    Parameters
    ----------
    raw : bytes
        The file's content.
    path : str or Path, optional
        Named in error messages.
    encoding : str, optional
        Force an encoding instead of detecting it.

    Returns
    -------
    str
        Normalised text.

    Raises
    ------
    InputError
        Empty file, binary content (NUL bytes, control characters) or bytes that are no
        text in UTF-8, UTF-16/32 with BOM, cp1252 or another encoding charset-normalizer
        recognises.

    Notes
    -----
    Detection order: the given ``encoding``; a BOM (UTF-8, UTF-16, UTF-32); NUL bytes mean
    binary; strict UTF-8; cp1252 (the usual Western Windows encoding, a superset of the
    printable latin-1 range) when it decodes with little "mess"; otherwise the best guess of
    charset-normalizer.  A guess (cp1252, charset-normalizer's, or cp1252 for some lines of a
    UTF-8 file) is named in a :class:`PsythemesWarning`; a given encoding, a BOM and UTF-8 are not.
    """
    text, guess = _decode(raw, path, encoding)
    if guess is not None:
        warnings.warn(guess, PsythemesWarning, stacklevel=3)
    return text


def _decode(raw: bytes, path: str | Path | None, encoding: str | None,
            remedy: str = _TRANSCRIPT_REMEDY) -> tuple[str, str | None]:
    """:func:`decode_bytes`'s text, and the message naming the encoding it guessed (None: not a guess).

    The message is left to the caller, so that a file decoded twice (a ``.txt`` is looked at for a
    table header first) is announced once.  ``remedy`` ends it: what to do when the guess is wrong.
    """
    guess: str | None = None
    if not raw:
        raise InputError("file is empty", path=path)
    text: str | None = None
    if encoding is not None:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            raise InputError(f"cannot decode as {encoding}: {err.reason}", path=path,
                             line=_line_of_byte(raw, err.start)) from None
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", path=path) from None
    else:
        for bom, codec in _BOMS:
            if raw.startswith(bom):
                try:
                    text = raw.decode(codec)
                except UnicodeDecodeError as err:
                    raise InputError(f"invalid {codec} text after its byte-order mark", path=path,
                                     line=_line_of_byte(raw, err.start)) from None
                break
        else:
            if b"\x00" in raw:
                raise InputError("binary file (contains NUL bytes), not a transcript", path=path,
                                 line=_line_of_byte(raw, raw.index(b"\x00")))
            text, guess = _decode_without_bom(raw, path, remedy)
    _check_not_binary(text, path)
    text = normalise_text(text)
    if not text.strip():
        raise InputError("file is empty (only whitespace)", path=path)
    return text, guess


def _decode_mixed(raw: bytes, path: str | Path | None) -> tuple[str, str] | None:
    """Text whose lines are partly UTF-8 (with non-ASCII letters) and partly not (e.g. cp1252
    lines pasted into a UTF-8 file): each line decoded on its own, and a warning naming the lines
    that are not UTF-8.  None when the file is not mixed (one encoding for the whole file)."""
    lines = raw.splitlines(keepends=True)
    utf8_lines, other_lines = 0, []
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines += 1
        except UnicodeDecodeError:
            other_lines.append(number)
    if not utf8_lines or not other_lines:
        return None
    decoded = []
    not_utf8 = set(other_lines)
    for number, line in enumerate(lines, start=1):
        if number in not_utf8:
            decoded.append(line.decode("cp1252", errors="replace"))
        else:
            decoded.append(line.decode("utf-8"))
    shown = ", ".join(map(str, other_lines[:10])) + (" ..." if len(other_lines) > 10 else "")
    return "".join(decoded), (
        f"{path}: mixed encodings: {len(other_lines)} line(s) are not UTF-8 (read as cp1252: {shown}), "
        f"{utf8_lines} other line(s) with accents are UTF-8; check those lines, or re-save the file as UTF-8")


def _guessed(path: str | Path | None, codec: str, why: str, remedy: str = _TRANSCRIPT_REMEDY) -> str:
    """The warning that names an encoding psythemes guessed: a wrong guess garbles accents silently."""
    return f"{path or 'text'}: not UTF-8; read as {codec} (a guess: {why}); if letters look wrong, {remedy}"


def decode_table_bytes(raw: bytes, path: str | Path | None = None) -> str:
    """:func:`decode_bytes` for a table psythemes reads that has no ``--encoding`` option (gold codes,
    machine codes, a codebook): a guessed encoding is named with the advice to save it as UTF-8."""
    try:
        text, guess = _decode(raw, path, None, remedy=_TABLE_REMEDY)
    except InputError as err:  # the decoder speaks of transcripts; this is a table
        raise InputError(err.message.replace("not a transcript", "not a CSV/TSV table (an Excel file? save it as "
                                                                 "CSV UTF-8)"), path=err.path, line=err.line) from None
    if guess is not None:
        warnings.warn(guess, PsythemesWarning, stacklevel=3)
    return text


def _decode_without_bom(raw: bytes, path: str | Path | None,
                        remedy: str = _TRANSCRIPT_REMEDY) -> tuple[str, str | None]:
    """Text without a BOM: UTF-8 (no message), else a guess and the message that names it."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        first_bad = err.start
    mixed = _decode_mixed(raw, path)
    if mixed is not None:
        return mixed
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and mess_ratio(text, _MAX_MESS) < _MAX_MESS:
        return text, _guessed(path, "cp1252", "the usual Windows encoding", remedy)
    best = from_bytes(raw).best()
    if best is None:
        raise InputError(
            "cannot decode: not UTF-8, UTF-16 with BOM, cp1252 or another known encoding "
            "(pass encoding=... / check the file is a text transcript)",
            path=path, line=_line_of_byte(raw, first_bad))
    return str(best), _guessed(path, best.encoding, "charset-normalizer's best", remedy)


def _check_not_binary(text: str, path: str | Path | None) -> None:
    if "\x00" in text:
        raise InputError("binary file (contains NUL characters), not a transcript", path=path)
    n_controls = len(_BINARY_CONTROLS.findall(text))
    if n_controls > max(1, _MAX_CONTROL_FRACTION * len(text)):
        raise InputError("binary file (many control characters), not a transcript", path=path)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError("no such file", path=path)
    if path.is_dir():
        raise InputError("is a folder, expected a file (read_transcripts reads folders)", path=path)
    from .validate import check_regular_file

    check_regular_file(path)  # a FIFO blocks forever, /dev/zero never ends
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None


def _read_text_file(path: Path, encoding: str | None, *, announce: bool = True) -> str:
    """The file's normalised text (:func:`decode_bytes`); ``announce=False`` leaves a guessed encoding
    unnamed, for a look at a file that its reader decodes (and announces) again."""
    if announce:
        return decode_bytes(_read_bytes(path), path, encoding)
    return _decode(_read_bytes(path), path, encoding)[0]


# ---------------------------------------------------------------------------------------
# Speaker labels in plain text
# ---------------------------------------------------------------------------------------

_TOKEN = r"[^\W_][\w.'\u2019\-]*"
# Lower-case particles inside names, as Dutch, German, French, Spanish, Italian, Portuguese and
# Arabic names have them ("Anna de Vries", "Dr. van Dijk", "Jan 't Hooft", "Jan op de Beeck",
# "Ahmed bin Said"); pseudonymisation reads surnames with the same list.  A
# label's tokens must otherwise start with a capital or a digit; one of these may stand between two
# such tokens, so a sentence ("I said to him:", "Mother of two:") still is no label.
NAME_PARTICLES = frozenset("""
de van der den von da di du la le del della dos das ter ten op bin ibn al el y 't
""".split())
# the particles as a regex (longest first; "'t" also with a typographic apostrophe), at most two in a
# row ("van der", "de la") between two tokens: they do not count towards a label's four tokens
_PARTICLE = "(?:" + "|".join(re.escape(p).replace("'", "['\u2019]")
                             for p in sorted(NAME_PARTICLES, key=len, reverse=True)) + ")"


def _name_pattern(sep: str) -> str:
    """Regex of a speaker name: 1-4 tokens joined by ``sep``, with name particles between them."""
    return rf"{_TOKEN}(?:{sep}(?:{_PARTICLE}{sep}){{0,2}}{_TOKEN}){{0,3}}"


_NAME = _name_pattern(r"[ \t]")
_LABEL = rf"(?P<speaker>{_NAME})"
_TIME = r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?)"
# A time in brackets, or a range "[00:00:15 → 00:01:02]" / "(00:15 - 01:02)" whose end is group time_end
_BRACKETED_TIME = (rf"[\[(]{_TIME}(?:[ \t]*(?:\u2192|-->|->|\u2013|\u2014|-)[ \t]*"
                   rf"{_TIME.replace('?P<time>', '?P<time_end>')})?[\])]")
_END_OF_LABEL = r"(?::(?=[ \t]|$)|[ \t]*$)"  # a colon before a space, or the end of the line
# After a label with a time, a dash may stand for the colon ("INT (00:13) - words"): with the time
# beside it, a dash cannot be mistaken for one in running text.
_END_OF_TIMED_LABEL = r"(?::(?=[ \t]|$)|[ \t]+[-\u2013\u2014](?=[ \t]|$)|[ \t]*$)"
_BOLD = r"(?:\*\*|__)"  # Markdown's strong emphasis: **Name:** or **Name**:

# A role or note after a name, as Zoom and Teams write it: "Jane Doe (SL)", "Jane Doe [Researcher]"
_ROLE_SUFFIX = r"[ \t]*[\[(][^\]()\[\n:]{1,25}[\])]"
# The same before a tab that ends the label ("P2 (male, 61)<TAB>words"): no tab inside the label
_TAB_ROLE_SUFFIX = r" ?[\[(][^\]()\[\n:\t]{1,25}[\])]"

#: Speaker-label patterns tried at the start of each line, in order.  Group ``speaker`` is
#: required, ``time`` optional.  With these defaults the label-shape rule (see
#: ``docs/formats.md``) filters false positives; patterns you pass are trusted as they are.
#: A pattern with a group ``bracket`` is a label in brackets without a colon (``[P1] text``):
#: it must also look like an id or a role word, so that ``[Laughter]`` stays text.
DEFAULT_LABEL_PATTERNS: tuple[str, ...] = (
    # [00:01:02] Name: / [00:01 → 00:05] Name - / [00:01:02] Jane Doe (SL): (the note stays part of the speaker)
    rf"[ \t]*{_BRACKETED_TIME}[ \t]*(?P<speaker>{_NAME}(?:{_ROLE_SUFFIX})?)[ \t]*{_END_OF_TIMED_LABEL}",
    # Markdown: **Name:** words / **Name**: words / [00:00:15 → 00:01:02] **Name:** words / **Name** alone
    rf"[ \t]*(?:{_BRACKETED_TIME}[ \t]*)?{_BOLD}{_LABEL}(?:[ \t]*:[ \t]*{_BOLD}|{_BOLD}[ \t]*:)(?=[ \t]|$)",
    rf"[ \t]*(?:{_BRACKETED_TIME}[ \t]*)?{_BOLD}{_LABEL}{_BOLD}[ \t]*$",
    rf"[ \t]*{_LABEL}[ \t]*[\[(]{_TIME}[\])][ \t]*{_END_OF_TIMED_LABEL}",  # Name (00:01:02): / INT (00:13) -
    rf"[ \t]*{_TIME}[ \t]+From[ \t]+(?P<speaker>[^\n:]{{1,40}}?)[ \t]+to[ \t]+[^\n:]{{1,40}}:",  # Zoom chat (new)
    rf"[ \t]*{_TIME}[ \t]+{_LABEL}[ \t]*:(?=[ \t]|$)",               # Zoom chat: 00:01:02<TAB>Name:<TAB>
    rf"[ \t]*(?P<speaker>{_NAME}{_ROLE_SUFFIX})[ \t]*:(?=[ \t]|$)",  # Name (Role):
    rf"[ \t]*{_LABEL}[ \t]*:(?=[ \t]|$)",                              # Name:
    rf"[ \t]*(?P<bracket>[\[(]){_LABEL}[\])][ \t]*:?(?=[ \t]|$)",    # [SPEAKER_00]: / [id1] / (Interviewer)
    rf"[ \t]*\#{{1,6}}[ \t]+{_LABEL}[ \t]*:?[ \t]*$",                  # Markdown heading: ### Interviewer
    rf"[ \t]*{_LABEL}[ \t]+{_TIME}[ \t]*$",                            # Otter header: Name  00:12
    rf"[ \t]*{_TIME}[ \t]+{_LABEL}[ \t]*$",                            # Word's Transcribe: 00:00:12 Speaker 1
    # INTERVIEWER<TAB>words / Respondent 1<TAB>words / P2 (male, 61)<TAB>words (word processors' hanging
    # indent): a label with a letter in it, used on two lines or more unless it names a role or an id
    # (group "tab"); a note in brackets stays part of the speaker, as in "P2 (male, 61): words"
    rf"[ \t]*(?P<tab>)(?P<speaker>(?=[^\t\n]*[^\W\d_]){_name_pattern(' ')}(?:{_TAB_ROLE_SUFFIX})?)\t+(?=\S)",
)
_MAX_LABEL_CHARS = 30

#: ``Name: [00:01:23] words`` (Sonix, Trint and hand-made transcripts): a time in brackets that
#: opens a turn's words is when the turn started; it becomes ``Turn.t_start`` and is left out
#: of the span.
_START_TIME_MARK = re.compile(rf"[\[(]{_TIME}[\])][ \t]*")
#: A line holding only a time (``00:00:17``, ``[00:00:44]``) right before a speaker label, as
#: many transcription services and editors write it: when the next turn started.  It becomes
#: that turn's ``t_start`` and is left out of the turn before.
#: A cue's time range on a line of its own counts too, as Microsoft Teams' Word transcripts write
#: it above the speaker's name (``0:0:5.280 --> 0:0:12.90``, hours and minutes not padded).
_LOOSE_TIME = r"\d{1,2}:\d{1,2}(?::\d{1,2})?(?:[.,]\d{1,3})?"
_TIME_LINE = re.compile(rf"[ \t]*[\[(]?(?:{_TIME}|(?P<cue>{_LOOSE_TIME})[ \t]*-->[ \t]*{_LOOSE_TIME})[\])]?[ \t]*$")
#: A time mark at the end of a turn, as f4/f5 and MAXQDA's transcription mode write it:
#: ``#00:01:23-4#`` (tenths after the dash) or ``#00:01:23#``.  It is when the turn ended: it
#: becomes ``Turn.t_end`` and is left out of the turn's span (it is not what was said).
_END_TIME_MARK = re.compile(r"[ \t]*#(?P<time>\d{1,2}:\d{2}:\d{2})(?:[-.,](?P<fraction>\d{1,3}))?#\s*$")

# First words that start ordinary sentences ("Well: I think so", "Note: ..."), never labels.
_NOT_LABELS = frozenset("""
a about actually after again also although an and answer anyway as at basically because before
but by dear edit example exactly finally first for from fyi he her here his honestly how however
i.e e.g if in it its just last like listen look maybe my no not note now of oh ok okay on or our
ps question quote re remember right second see she so source subject sure than that the then
there these they third this though tip to true update um uh us warning we well what when where
which while who why with yes yeah you your
""".split())
# Words that name a speaker's role; a label built on one is accepted even if used once.
_ROLE_WORDS = frozenset("""
interviewer interviewee participant patient therapist client counsellor counselor moderator
facilitator researcher respondent doctor nurse speaker int iv p t r i c q host
""".split())

#: Labels that ``role_of`` maps to ``"interviewer"`` by default (case-insensitive; a
#: trailing number or single letter is allowed: ``Interviewer 2``, ``I1``, ``Int-B``, ``Q``).
INTERVIEWER_LABELS: tuple[str, ...] = ("interviewer", "i", "int", "iv", "q", "moderator", "facilitator",
                                       "researcher", "research team", "host")
_INTERVIEWER_RE = re.compile(
    r"^(?:" + "|".join(lbl.replace(" ", r"[ \t_]+") for lbl in INTERVIEWER_LABELS)
    + r")(?:[ \t_.\-]*(?:\d+|[A-Za-z](?![A-Za-z])))?$", re.IGNORECASE)
# the role inside a Zoom/Teams suffix: "Jane Doe (Researcher)" -> "Researcher"
_ROLE_IN_SUFFIX = re.compile(r"[\[(]([^\]()\[]+)[\])]\s*$")


def _interviewer_like(speaker: str) -> bool:
    """An interviewer label (``Interviewer 2``, ``Q``), or a name with one in brackets (``Jo (Host)``)."""
    speaker = speaker.strip()
    if _INTERVIEWER_RE.match(speaker):
        return True
    suffix = _ROLE_IN_SUFFIX.search(speaker)
    return bool(suffix and _INTERVIEWER_RE.match(suffix.group(1).strip()))


def _compile_patterns(label_patterns: Sequence[str | re.Pattern[str]] | None) -> list[re.Pattern[str]]:
    if label_patterns is None:
        return [re.compile(p) for p in DEFAULT_LABEL_PATTERNS]
    compiled = []
    for pat in label_patterns:
        try:
            rx = pat if isinstance(pat, re.Pattern) else re.compile(pat)
        except re.error as err:
            raise InputError(f"invalid label pattern {pat!r}: {err}") from None
        if "speaker" not in rx.groupindex:
            raise InputError(f"label pattern {rx.pattern!r} has no named group 'speaker'")
        compiled.append(rx)
    return compiled


def _label_shape_ok(speaker: str) -> bool:
    """The default label rule: 1-4 short tokens, each capitalised or starting with a digit, and
    lower-case name particles (:data:`NAME_PARTICLES`) between them (``Anna de Vries``).

    A role in brackets after the name (``Jane Doe (SL)``) is not part of the check.
    """
    speaker = _ROLE_SUFFIX_RE.sub("", speaker)
    if not speaker or len(speaker) > _MAX_LABEL_CHARS:
        return False
    tokens = speaker.split()
    if not tokens[0][0].isupper():
        return False
    if tokens[0].rstrip(".").casefold() in _NOT_LABELS and tokens[0] != "I":
        return False
    last = len(tokens) - 1
    return all(tok[0].isupper() or tok[0].isdigit() or (0 < i < last and _is_name_particle(tok))
               for i, tok in enumerate(tokens))


def _is_name_particle(token: str) -> bool:
    """``de``, ``van``, ``'t`` ...: lower case, as written inside a name (``Van`` is a capitalised token)."""
    return token.replace("\u2019", "'") in NAME_PARTICLES


_ROLE_SUFFIX_RE = re.compile(_ROLE_SUFFIX + "$")
# Bracketed notes of transcribers that are not speakers: [Laughter], (Inaudible), [Crosstalk] ...
# (whisper.cpp writes [BLANK_AUDIO] and [MUSIC]; human transcribers [Laughter], (Inaudible))
_ANNOTATIONS = frozenset("""
laughter laughs laughing inaudible unintelligible crosstalk pause silence unclear music applause noise
cough coughs sigh sighs overlapping indistinct redacted break end start blank_audio blank foreign sound
background static beep phone ringing
""".split())


def _bracket_label_ok(speaker: str) -> bool:
    """A label in brackets without a colon must be an id (``id1``, ``P1``, ``SPEAKER_00``, ``INT``) or a role."""
    first = speaker.split()[0].casefold()
    if first in _ANNOTATIONS:
        return False
    return _is_id_like(speaker) or first in _ROLE_WORDS


def _names_role_or_id(speaker: str) -> bool:
    """A label that says who speaks even when used once: a role word (``NURSE``) or an id (``R2``)."""
    words = {w.casefold() for w in re.findall(r"[^\W_]+", speaker)}
    return bool(words & _ROLE_WORDS) or _is_id_like(speaker)


def speakers_for_message(labels: Sequence[str]) -> str:
    """Speaker labels as a warning may name them: an id or a role (``SPEAKER_00``, ``P03``,
    ``Interviewer``) as written, a name only with ``--verbose`` (names are what pseudonymisation
    removes, and messages end up in logs; docs/privacy.md): ``"SPEAKER_00, 2 names"``."""
    from .errors import show_text

    shown = [label for label in labels if show_text() or _generic_label(label)]
    hidden = len(labels) - len(shown)
    return ", ".join([*shown, *([f"{hidden} name{'s' if hidden > 1 else ''}"] if hidden else [])])


#: Words of a speaker label that name no one: a label made of these, digits and punctuation only
#: (``SPEAKER_00``, ``P03``, ``Interviewer 2``) may be named in a message.
_GENERIC_LABEL_WORDS = frozenset("""
speaker participant interviewer interviewee moderator facilitator respondent researcher host
therapist client patient nurse doctor dr gp carer caregiver parent unknown person voice p r i t c q a
int iv mod fac res pt
""".split())


def _generic_label(label: str) -> bool:
    """Whether a speaker label names no one: its words are generic (:data:`_GENERIC_LABEL_WORDS`).
    ``ANNA``, ``Tom R`` and ``Jane Doe (Host)`` are names, though the label rules read the first
    as an id and the others as roles."""
    words = re.findall(r"[^\W\d_]+", label.casefold())
    return all(w in _GENERIC_LABEL_WORDS for w in words)


def quoted_for_message(labels: Sequence[str], limit: int = 5) -> str:
    """``": 'Ben', 'Carla'"`` to end a message with, when it may quote transcript text (``--verbose``);
    ``""`` otherwise (see :func:`psythemes.errors.excerpt`)."""
    from .errors import show_text

    if not labels or not show_text():
        return ""
    return ": " + ", ".join(repr(label) for label in labels[:limit]) + (" ..." if len(labels) > limit else "")


def _is_id_like(speaker: str) -> bool:
    compact = speaker.replace(" ", "")
    return any(ch.isdigit() for ch in compact) or (compact.isupper() and len(compact) <= 4)


def _parse_time(value: Any) -> float | None:
    """Seconds from ``12.5``, ``"12.5"``, ``"01:02"`` or ``"1:02:03.250"``; ``None`` when empty."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if value != value else float(value)  # NaN -> None
    text = str(value).strip()
    if not text:
        return None
    parts = text.replace(",", ".").split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"not a time: {text!r}") from None
    if len(nums) > 3:
        raise ValueError(f"not a time: {text!r}")
    seconds = 0.0
    for num in nums:
        seconds = seconds * 60 + num
    return seconds


def _iter_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line without its ``\\n``."""
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Narrow ``text[start:end]`` to exclude whitespace at both ends."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


#: A speaker label found on a line: line start, body start, speaker, start time, whether the
#: label carried a time, end time (a time range's end).
_Candidate = tuple[int, int, str, float | None, bool, float | None]


def parse_labelled_text(
    text: str,
    *,
    label_patterns: Sequence[str | re.Pattern[str]] | None = None,
    source: str | Path = "",
    speakers: Collection[str] = (),
) -> list[Turn]:
    """Find speaker turns in normalised text.

    Parameters
    ----------
    text : str
        Normalised text (see :func:`normalise_text`).
    label_patterns : sequence of str or compiled regex, optional
        Regexes matched at the start of each line, with a named group ``speaker`` and an
        optional group ``time``.  Default: :data:`DEFAULT_LABEL_PATTERNS` plus the
        label-shape rule.
    source : str or Path
        Named in the warning when no label is found.
    speakers : collection of str
        Labels known to be speakers (the metadata's speaker rows, case and spacing ignored): a
        ``Name:`` label among them opens a turn even when used once, which an unknown one-off
        label does not (it is taken for quoted speech).

    Returns
    -------
    list of Turn
        Turns in text order; body offsets exclude the label and surrounding whitespace.
        Lines without a label continue the previous turn.  Without any label, every
        blank-line-separated paragraph becomes a turn with speaker ``""`` and a
        :class:`PsythemesWarning` is issued.

    Raises
    ------
    InputError
        Bad timestamp; labels with no words after any of them (nothing was said).
    """
    patterns = _compile_patterns(label_patterns)
    check_shape = label_patterns is None
    candidates: list[_Candidate] = []
    tab_labels: set[int] = set()  # indices in candidates of labels ended by a tab
    for lineno, (ls, le) in enumerate(_iter_lines(text), start=1):
        line = text[ls:le]
        for rx in patterns:
            m = rx.match(line)
            if not m:
                continue
            speaker = unicodedata.normalize("NFC", m.group("speaker").strip())
            bracketed = check_shape and m.groupdict().get("bracket") is not None
            if bracketed and not _bracket_label_ok(speaker):
                continue
            if check_shape and not bracketed and not _label_shape_ok(speaker):
                continue
            raw_time, raw_end = m.groupdict().get("time"), m.groupdict().get("time_end")
            try:
                t, t_range_end = _parse_time(raw_time), _parse_time(raw_end)
            except ValueError:
                raise InputError(f"bad timestamp {raw_time!r}", path=source or None, line=lineno) from None
            if check_shape and m.groupdict().get("tab") is not None:
                tab_labels.add(len(candidates))
            candidates.append((ls, ls + m.end(), speaker, t, raw_time is not None, t_range_end))
            break
    if check_shape:
        known = {speaker_key(name) for name in speakers}
        candidates = _drop_one_off_tab_labels(candidates, tab_labels, known)
        candidates, quoted = _drop_one_off_labels(candidates, text, known)
        if quoted:
            # a focus group member who speaks once looks like quoted speech: say what was guessed
            lines = ", ".join(str(text.count("\n", 0, at) + 1) for at, _ in quoted[:5])
            warnings.warn(f"{source or 'text'}: {len(quoted)} 'Name:' label(s) used once read as words quoted inside "
                          f"the turn before them, not as speakers (line {lines}{' ...' if len(quoted) > 5 else ''})"
                          f"{quoted_for_message([label for _, label in quoted])}; if one is a speaker, name it in "
                          "the metadata (a row with doc_id and speaker) or in --speaker-roles 'NAME=ROLE'",
                          PsythemesWarning, stacklevel=3)
        if not _recurring(candidates):
            # no colon label recurs: at most quoted speech ("Mother: you are too sensitive") inside
            # a block layout, whose labels stand alone on their lines
            candidates = _block_labels(text) or candidates
        candidates = _with_question_answer_labels(candidates, text)

    if not candidates:
        return _paragraph_turns(text, source)

    time_lines = _time_lines_before_labels(text, candidates)
    marks = list(time_lines.values())
    turns = []
    for i, (_, body_start, speaker, t, _timed, t_end) in enumerate(candidates):
        body_end = candidates[i + 1][0] if i + 1 < len(candidates) else len(text)
        if i + 1 in time_lines:
            body_end = time_lines[i + 1][0]
        start, end = strip_span(text, body_start, body_end)
        if t is None and i in time_lines:
            time_line = _TIME_LINE.match(text, *time_lines[i])
            t = _parse_time(time_line.group("time") or time_line.group("cue"))  # type: ignore[union-attr]
        opening = _START_TIME_MARK.match(text, start, end)
        if opening is not None and opening.end() < end:
            t = t if t is not None else _parse_time(opening.group("time"))
            marks.append((opening.start(), opening.end()))
            start = opening.end()
        mark = _END_TIME_MARK.search(text, start, end)
        if mark is not None:
            fraction = mark.group("fraction")
            t_end = _parse_time(mark.group("time") + (f".{fraction}" if fraction else ""))
            marks.append((mark.start(), mark.end()))
            start, end = strip_span(text, start, mark.start())
        if start < end:  # a label with nothing after it holds no words
            turns.append(Turn(speaker=speaker, start=start, end=end, t_start=t, t_end=t_end))
    if not turns:
        labels = ", ".join(dict.fromkeys(c[2] for c in candidates))
        raise InputError(f"only speaker labels{excerpt(labels)}, no words after any of them: nothing was said",
                         path=source or None)
    _warn_uncovered(text, [(c[0], c[1]) for c in candidates] + [(t.start, t.end) for t in turns] + marks, source)
    if check_shape and any(c[4] for c in candidates):
        _warn_unread_timed_labels(text, turns, source)
    return turns


# A line that opens like a timed speaker label ("[00:04:26] Someone (a note, however long):") in a
# transcript whose labels carry times: most likely a turn whose label psythemes could not read (a
# sentence with a comma before its colon is none)
_TIMED_LABEL_LIKE = re.compile(rf"[ \t]*{_BRACKETED_TIME}[ \t]*(?P<first>[^\W\d_])[^\n:,;!?()\[\]]{{0,40}}"
                               rf"(?:[ \t]*[\[(][^\[\]()\n]{{0,60}}[\])])?[ \t]*:(?=[ \t]|$)")


def _warn_unread_timed_labels(text: str, turns: Sequence[Turn], source: str | Path) -> None:
    """Warn about lines inside turns that look like timed labels: their words would be counted as
    the previous speaker's, silently (an interviewer's question inside a participant's turn)."""
    found: list[tuple[int, str]] = []  # (line number, line)
    for turn in turns:
        line_start = text.find("\n", turn.start, turn.end)
        while 0 <= line_start < turn.end:
            line_end = text.find("\n", line_start + 1, turn.end)
            line_end = turn.end if line_end < 0 else line_end
            like = _TIMED_LABEL_LIKE.match(text, line_start + 1, line_end)
            if like and like.group("first").isupper():  # a name or a role, not running text
                found.append((text.count("\n", 0, line_start + 1) + 1, text[line_start + 1:line_end]))
            line_start = line_end if line_end < turn.end else -1
    if found:
        warnings.warn(f"{source or 'text'}: {len(found)} line(s) inside speaker turns start like a timed speaker "
                      f"label but were not read as one (first on line {found[0][0]}{excerpt(found[0][1])}); their "
                      "words count as the previous speaker's (see docs/formats.md, *Speaker labels in text*)",
                      PsythemesWarning, stacklevel=4)


def _time_lines_before_labels(text: str, candidates: Sequence[_Candidate]) -> dict[int, tuple[int, int]]:
    """``{label index: (start, end) of a time-only line}`` for each label whose nearest non-blank
    line above holds only a time (:data:`_TIME_LINE`) and belongs to no other label's line."""
    found = {}
    for i, cand in enumerate(candidates):
        floor = candidates[i - 1][1] if i else 0  # not above the previous label's own line
        line_end = text.rfind("\n", floor, cand[0])  # the "\n" ending the line above
        while line_end > floor:
            newline = text.rfind("\n", floor, line_end)
            if newline < 0 and floor > 0:
                break  # the line above is the previous label's own line
            line_start = newline + 1
            if text[line_start:line_end].strip():
                if _TIME_LINE.match(text, line_start, line_end):
                    found[i] = (line_start, line_end)
                break
            line_end = line_start - 1
    return found


_WORD = re.compile(r"\w+")


def uncovered_words(text: str, spans: Iterable[tuple[int, int]]) -> list[str]:
    """The words of ``text`` that lie outside every ``(start, end)`` span (the coverage check)."""
    covered = bytearray(len(text) + 1)
    for start, end in spans:
        covered[start:end] = b"\x01" * (end - start)
    return [m.group() for m in _WORD.finditer(text) if not any(covered[m.start():m.end()])]


def _warn_uncovered(text: str, spans: list[tuple[int, int]], source: str | Path) -> None:
    lost = uncovered_words(text, spans)
    if lost:
        total = len(_WORD.findall(text))
        sample = excerpt(" ".join(lost[:8]) + (" ..." if len(lost) > 8 else ""))
        warnings.warn(f"{source or 'text'}: {len(lost)} of {total} words lie outside every speaker turn "
                      f"and are not analysed{sample}; they stay in the text", PsythemesWarning, stacklevel=4)


def _paragraph_turns(text: str, source: str | Path) -> list[Turn]:
    """Turns with an unknown speaker, one per paragraph, for a text without speaker labels.

    Paragraphs are separated by blank lines; a text without any blank line (Word and
    OpenDocument paragraphs become single lines) has one paragraph per line.
    """
    blank_separated = re.search(r"\n[ \t]*\n", text) is not None
    unit = r"(?:[^\n]|\n(?![ \t]*\n))+" if blank_separated else r"[^\n]+"
    turns = []
    for m in re.finditer(unit, text):
        start, end = strip_span(text, m.start(), m.end())
        if start < end:
            turns.append(Turn(speaker="", start=start, end=end))
    warnings.warn(f"{source or 'text'}: no speaker labels found; each of the {len(turns)} paragraphs becomes a "
                  "turn with an unknown speaker", PsythemesWarning, stacklevel=4)
    return turns


# a note in brackets stays part of the speaker, as in "P2 (male, 61): words"
_BLOCK_LABEL = re.compile(rf"[ \t]*(?P<speaker>{_name_pattern(' ')}(?:{_ROLE_SUFFIX})?)[ \t]*$")


def _block_labels(text: str) -> list[_Candidate]:
    """Labels alone on a line, the words on the lines below, in a text where no other label form was
    found (``INTERVIEWER`` / ``Participant 2`` above each block, as block-layout exports and typed
    transcripts have them).

    A line counts when it opens a block (first line, or after a blank line), words follow on the
    next line, it has the label shape and does not end like a sentence, and its label recurs in the
    file or names a role or an id.  At least two such labels are needed: one alone is a title.

    A text without any blank line (a Word document spaced by paragraph format, not by empty
    paragraphs) has no blocks: there every line may hold a label, but only as a dialogue does:
    at least two labels that each recur, each label line followed by words, not by another label;
    then a label used once counts too if it names a role or an id.

    A note in brackets after the name stays part of the speaker (``P2 (male, 61)``), as in the
    ``Name (note):`` form.
    """
    lines = _iter_lines(text)
    no_blank_lines = re.search(r"\n[ \t]*\n", text.strip()) is None

    def opens(i: int) -> bool:
        return i == 0 or no_blank_lines or not text[lines[i - 1][0]:lines[i - 1][1]].strip()

    found: list[_Candidate] = []
    for i, (ls, le) in enumerate(lines):
        # a block may open with a time line above the label (Teams: "0:0:5.280 --> 0:0:12.90")
        opens_block = opens(i) or (not no_blank_lines and opens(i - 1)
                                   and _TIME_LINE.match(text, *lines[i - 1]) is not None)
        followed = i + 1 < len(lines) and text[lines[i + 1][0]:lines[i + 1][1]].strip()
        m = _BLOCK_LABEL.match(text, ls, le) if opens_block and followed else None
        if m is None:
            continue
        speaker = unicodedata.normalize("NFC", m.group("speaker").strip())
        if (speaker[-1].isalnum() or _ROLE_SUFFIX_RE.search(speaker)) and _label_shape_ok(speaker):
            found.append((ls, le, speaker, None, False, None))
    if no_blank_lines:
        line_starts = {c[0] for c in found}
        # a label is followed by words: a line followed by another label line is a title above the
        # first label, or one name of a list of names
        found = [c for c in found if c[1] + 1 not in line_starts]
        counts = Counter(c[2] for c in found)
        recurring = {speaker for speaker, n in counts.items() if n >= 2}
        # once the dialogue is clear, a label used once counts if it is an id or a role ("P4 (female,
        # 29)" speaking once in a focus group), as a one-off "Name:" label does
        return ([c for c in found if c[2] in recurring or _names_role_or_id(c[2])]
                if len(recurring) >= 2 else [])
    counts = Counter(c[2] for c in found)
    found = [c for c in found if counts[c[2]] >= 2 or _names_role_or_id(c[2])]
    return found if len(found) >= 2 else []


_QUESTION_ANSWER_LABEL = re.compile(r"[ \t]*(?P<speaker>[QA])\.[ \t]+(?=\S)")


def _with_question_answer_labels(candidates: list[_Candidate], text: str) -> list[_Candidate]:
    """``candidates`` plus the ``Q.`` / ``A.`` labels of oral-history, deposition and hearing
    transcripts (``Q. When did it start?`` / ``A. In the spring.``), when the file opens at least
    two lines with each (one of them alone is an initial, ``A. Smith``, or a list item) and they are
    at least as many as the other labels (fewer are quoted inside other speakers' turns).  A line
    that already holds another label keeps it, except a label used once above the first of them
    (a title, ``ORAL HISTORY: LIVING WITH PAIN``), unless it names a role or an id."""
    found: list[_Candidate] = [(ls, m.end(), m.group("speaker"), None, False, None)
                               for ls, le in _iter_lines(text) if (m := _QUESTION_ANSWER_LABEL.match(text, ls, le))]
    counts = Counter(c[2] for c in found)
    # a question-and-answer transcript is mostly Q. and A.; a few inside the turns of other labels
    # are quoted (a leaflet's FAQ a participant reads out)
    if counts["Q"] < 2 or counts["A"] < 2 or len(found) < len(candidates):
        return candidates
    taken = {c[0] for c in candidates}
    counts = Counter(c[2] for c in candidates)
    # a label used once above the first question is the title ("ORAL HISTORY: LIVING WITH PAIN")
    candidates = [c for c in candidates
                  if c[0] > found[0][0] or counts[c[2]] > 1 or c[4] or _names_role_or_id(c[2])]
    return sorted(candidates + [c for c in found if c[0] not in taken], key=lambda c: c[0])


def _drop_one_off_tab_labels(candidates: list[_Candidate], tab_labels: set[int],
                             known: Collection[str] = ()) -> list[_Candidate]:
    """Keep a label ended by a tab only if it recurs, names a role or is an id.

    A first word and a tab also start rows of tab-separated tables (``Timespan<TAB>Content``)
    and tab-indented notes; a speaker label comes back, or says who speaks (``INTERVIEWER``, ``R1``).
    """
    if not tab_labels:
        return candidates
    counts = Counter(cand[2] for cand in candidates)
    return [cand for i, cand in enumerate(candidates)
            if i not in tab_labels or counts[cand[2]] >= 2 or _names_role_or_id(cand[2])
            or speaker_key(cand[2]) in known]


def _recurring(candidates: list[_Candidate]) -> bool:
    """Whether some speaker label is used more than once."""
    return any(n >= 2 for n in Counter(c[2] for c in candidates).values())


def _drop_one_off_labels(candidates: list[_Candidate], text: str,
                         known: Collection[str] = ()) -> tuple[list[_Candidate], list[tuple[int, str]]]:
    """Reject a plain ``Word:`` label used only once when real speakers recur.

    Quoted speech inside a turn ("Doctor: you need rest", "Mum: ...") looks like a label;
    once the file has at least two recurring speakers, a one-off label without timestamp,
    digits or role word is taken as part of the turn.  The first label of a file opens a turn
    even when used once ("Unknown Speaker:" at the top of an Otter export) - unless the line
    right after it holds another such label: two ``Key: value`` lines in a row at the top
    (``Transcript: ...`` / ``Date: ...``) are a header, not turns.  A label in ``known`` (the
    metadata names that speaker) is never a one-off.  Returns the labels kept, and the line starts
    and speakers of those taken for quoted speech inside a turn (not a header above the first turn).
    """
    counts = Counter(c[2] for c in candidates)
    if sum(1 for n in counts.values() if n >= 2) < 2:
        return candidates, []

    def one_off(cand: _Candidate) -> bool:
        speaker, timed = cand[2], cand[4]
        # "Name (Role):" is Zoom's and Teams' label syntax, not quoted speech
        return (counts[speaker] == 1 and not timed and not _names_role_or_id(speaker)
                and not _ROLE_SUFFIX_RE.search(speaker) and speaker_key(speaker) not in known)

    kept: list[_Candidate] = []
    quoted: list[tuple[int, str]] = []
    for i, cand in enumerate(candidates):
        if one_off(cand):
            if i > 0:
                if kept:  # above the first turn it is a header line, not a quote
                    quoted.append((cand[0], cand[2]))
                continue
            # nothing precedes the first label that it could be quoted in; a header line can
            following = candidates[1] if len(candidates) > 1 else None
            if following is not None and one_off(following) and text.count("\n", cand[0], following[0]) == 1:
                continue
        kept.append(cand)
    return kept, quoted


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------

def _default_doc_id(path: Path, doc_id: str | None) -> str:
    return doc_id if doc_id is not None else path.stem


def read_text(path: str | Path, *, doc_id: str | None = None,
              label_patterns: Sequence[str | re.Pattern[str]] | None = None,
              encoding: str | None = None, speakers: Collection[str] = (), **_ignored: Any) -> Transcript:
    """Read a speaker-labelled plain-text transcript (``.txt``, ``.md``).

    Parameters
    ----------
    path : str or Path
        The file.
    doc_id : str, optional
        Defaults to the file name without extension.
    label_patterns : sequence of regex, optional
        See :func:`parse_labelled_text`.
    encoding : str, optional
        Force an encoding (default: detect, see :func:`decode_bytes`).
    speakers : collection of str
        Labels known to be speakers, see :func:`parse_labelled_text`.

    Returns
    -------
    Transcript
    """
    path = Path(path)
    text, removed = strip_line_numbers(_read_text_file(path, encoding))
    if removed:
        warnings.warn(f"{path}: the numbers at the start of {removed} lines were taken for line numbers and "
                      "removed from the text; offsets refer to the text without them", PsythemesWarning,
                      stacklevel=3)
    turns = parse_labelled_text(text, label_patterns=label_patterns, source=path, speakers=speakers)
    return Transcript(doc_id=_default_doc_id(path, doc_id), text=text, source=str(path), format="text",
                      turns=turns)


_LINE_NUMBER = re.compile(r"[ \t]*(\d{1,5})(?:[ \t]+|$)")


def strip_line_numbers(text: str) -> tuple[str, int]:
    """``text`` without the line numbers that open its lines, and how many were removed.

    Transcripts numbered for citing (``12<TAB>I: How ...``, ``012 R: Well ...``) carry a number
    on (almost) every line; left in, each would split a turn's words and stand in its text.
    Numbers are taken for line numbers only when at least 80 % of the non-blank lines (5 or more)
    open with one followed by white space, and 90 % of them count up by one or restart at 1 (a
    new page).  Otherwise the text is returned unchanged (a year opening a sentence stays).
    """
    lines = text.split("\n")
    numbered = [(i, m) for i, line in enumerate(lines) if line.strip() and (m := _LINE_NUMBER.match(line))]
    nonblank = sum(1 for line in lines if line.strip())
    if nonblank < 5 or len(numbered) < 0.8 * nonblank:
        return text, 0
    values = [int(m.group(1)) for _, m in numbered]
    counting = sum(1 for a, b in zip(values, values[1:], strict=False) if b == a + 1 or b == 1)
    if counting < 0.9 * (len(values) - 1):
        return text, 0
    for i, m in numbered:
        lines[i] = lines[i][m.end():]
    return "\n".join(lines), len(numbered)


def _build_from_utterances(utterances: Iterable[tuple[str, str, float | None, float | None]],
                           merge_same_speaker: bool,
                           new_turns: Sequence[bool] | None = None) -> tuple[str, list[Turn]]:
    """Normalised text ``Speaker: body`` (one line per turn) and turns pointing at the bodies.

    With ``merge_same_speaker``, an utterance joins the turn before when its speaker is the same,
    unless ``new_turns[i]`` says that a new speaker starts there (a caption's ``>>``)."""
    merged: list[list[Any]] = []
    for i, (speaker, body, t0, t1) in enumerate(utterances):
        speaker = unicodedata.normalize("NFC", speaker.strip())
        body = normalise_text(body).strip()
        if not body:
            continue
        opens = new_turns is not None and new_turns[i]
        if merge_same_speaker and merged and merged[-1][0] == speaker and not opens:
            prev = merged[-1]
            prev[1] = f"{prev[1]} {body}"
            prev[3] = t1 if t1 is not None else prev[3]
        else:
            merged.append([speaker, body, t0, t1])
    parts: list[str] = []
    turns: list[Turn] = []
    pos = 0
    for speaker, body, t0, t1 in merged:
        prefix = f"{speaker}: " if speaker else ""
        start = pos + len(prefix)
        parts.append(prefix + body)
        turns.append(Turn(speaker=speaker, start=start, end=start + len(body), t_start=t0, t_end=t1))
        pos = start + len(body) + 1
    return "\n".join(parts) + ("\n" if parts else ""), turns


# Speaker changes in captions: ">>" (broadcast and CART captions, YouTube's uploaded captions), and
# a dash opening the lines of a two-speaker subtitle ("- Hi." / "- Hello.")
_CAPTION_SPEAKER_CHANGE = re.compile(r"(?:^|(?<=\s))>>+[ \t]*")
_DIALOGUE_DASH = re.compile(r"[ \t]*[-\u2013\u2014][ \t]+(?=\S)")


def _caption_utterances(cues: Iterable[tuple[str, list[str], float, float]]
                        ) -> tuple[list[tuple[str, str, float, float]], list[bool]]:
    """The utterances of caption cues ``(speaker, lines, start, end)`` and, for each, whether a new
    speaker starts there.

    A cue's speaker is its voice tag or ``Name:`` label.  ``>>`` starts a new speaker (named when a
    ``Name:`` label follows it), and so does each line of a cue of two lines or more whose lines
    after the first open with a dash.  A cue that says nothing of its speaker continues the turn
    before: subtitles name a speaker where the speaker changes, not on every cue, unless the file
    names one on every cue (two cues in a row carry one name): then an unnamed cue is unknown."""
    cues = list(cues)
    # a file that names the speaker of every cue (WhisperX, Zoom: two cues in a row with one name)
    # leaves a cue unnamed where it does not know the speaker: that cue is unknown, not a continuation
    names = [speaker for speaker, *_ in cues]
    every_cue_named = any(a and a == b for a, b in zip(names, names[1:], strict=False))
    out: list[tuple[str, str, float, float]] = []
    new_turns: list[bool] = []
    current = ""
    for speaker, lines, t0, t1 in cues:
        pieces: list[tuple[str, bool]] = []  # (words, a new speaker starts) of this cue
        # "- Hi." / "- Hello.": the first line opens with a dash too, or ends a sentence (a line
        # wrapped mid-sentence may start with a dash: "three doctors" / "- well, four - and ...")
        dialogue = (len(lines) >= 2 and all(_DIALOGUE_DASH.match(line) for line in lines[1:])
                    and (_DIALOGUE_DASH.match(lines[0]) is not None or lines[0].rstrip()[-1:] in '.?!\u2026"\u201d'))
        for line in lines:
            dash = _DIALOGUE_DASH.match(line) if dialogue else None
            if dash is not None or not pieces:
                pieces.append((line[dash.end():] if dash else line, dash is not None))
            else:
                pieces[-1] = (f"{pieces[-1][0]} {line}", pieces[-1][1])
        for k, (words, opens) in enumerate(pieces):
            for j, part in enumerate(_CAPTION_SPEAKER_CHANGE.split(words)):
                changed = opens if j == 0 else True
                part = part.strip()
                named = _cue_speaker(part) if changed and not (k == 0 and j == 0 and speaker) else None
                if named:
                    who, part = named[0], named[1].strip()
                elif k == 0 and j == 0 and speaker:
                    who = speaker
                else:
                    who = "" if changed or every_cue_named else current
                if part:
                    out.append((who, part, t0, t1))
                    new_turns.append(changed)
                    current = who
    return out, new_turns


def _cue_speaker(first_line: str) -> tuple[str, str] | None:
    """``("Name", rest)`` when a cue's first line starts with a ``Name:``, ``Name (Role):`` or
    ``[SPEAKER_00]:`` (WhisperX subtitles) label."""
    m = re.match(rf"[ \t]*(?P<speaker>{_NAME}(?:{_ROLE_SUFFIX})?)[ \t]*:(?=[ \t]|$)",
                 first_line) or re.match(rf"[ \t]*\[{_LABEL}\][ \t]*:(?=[ \t]|$)", first_line)
    if m and _label_shape_ok(m.group("speaker").strip()):
        return m.group("speaker").strip(), first_line[m.end():]
    return None


_VTT_TIMING = re.compile(r"^\s*(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}(?:\s|$)")
_TAG = re.compile(r"<[^>\n]*>")


def _text_blocks(text: str) -> list[list[tuple[int, str]]]:
    """The blocks of a subtitle file (separated by blank lines), each a list of ``(line number,
    line)``; the first may be empty (the file opens with a blank line)."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            blocks[-1].append((lineno, line))
        elif blocks[-1]:
            blocks.append([])
    return blocks


def _check_vtt_blocks(text: str, path: Path) -> None:
    """Name the first cue that webvtt-py would skip silently (no valid timing line)."""
    for block in _text_blocks(text)[1:]:  # the first block is the WEBVTT header
        if not block or block[0][1].startswith(("NOTE", "STYLE", "REGION")):
            continue
        if not any(_VTT_TIMING.match(line) for _, line in block[:2]):  # an optional cue id comes first
            lineno, line = next(((n, ln) for n, ln in block[:2] if "->" in ln), block[0])
            # the line is named by number; its words (a transcript's) only with --verbose
            raise InputError(f"malformed WebVTT cue (no valid 'start --> end' timing line){excerpt(line)}",
                             path=path, line=lineno)


_INLINE_TIME = re.compile(r"<\d{2,}:\d{2}:\d{2}\.\d{3}>|<\d{2}:\d{2}\.\d{3}>")


def _drop_blankish_cue_lines(text: str) -> str:
    """Remove lines of only spaces inside cues (YouTube puts one right after the timing line).

    A line holding only whitespace is a blank line to a WebVTT parser, so it would end the
    cue before its words.  Directly after a timing line it is dropped; elsewhere it becomes
    an empty line (a cue separator, as its author presumably meant).
    """
    if not re.search(r"^[ \t]+$", text, flags=re.MULTILINE):
        return text
    out: list[str] = []
    for line in text.split("\n"):
        if line and not line.strip():
            if out and _VTT_TIMING.match(out[-1]):
                continue
            line = ""
        out.append(line)
    return "\n".join(out)


def _rolling_lines(cues: list[list[str]]) -> tuple[list[list[str]], int]:
    """Each line of rolling auto-captions once: drop cue lines that repeat a line already shown.

    YouTube auto-captions show the previous line again above the new one and add 10 ms cues
    that only repeat; each spoken word must appear once.  Returns the cues without the
    repeated lines and how many lines were dropped.
    """
    recent: list[str] = []
    out, dropped = [], 0
    for lines in cues:
        kept = []
        for line in lines:
            if line in recent[-2:]:
                dropped += 1
                continue
            kept.append(line)
            recent.append(line)
        out.append(kept)
    return out, dropped


def _is_rolling(raw: str, cues: list[list[str]], durations: list[float]) -> bool:
    """Auto-captions: inline word timings, 10 ms cues that only repeat the previous cue, or most
    cues showing the previous cue's last line above a new one."""
    if _INLINE_TIME.search(raw):
        return True
    if any(d <= 0.05 and cur and set(cur) <= set(prev)
           for prev, cur, d in zip(cues, cues[1:], durations[1:], strict=False)):
        return True
    repeats = sum(1 for prev, cur in zip(cues, cues[1:], strict=False) if prev and len(cur) >= 2 and cur[0] == prev[-1])
    return len(cues) > 2 and repeats >= (len(cues) - 1) / 2


def read_vtt(path: str | Path, *, doc_id: str | None = None, encoding: str | None = None,
             **_ignored: Any) -> Transcript:
    """Read a WebVTT file (``<v Name>`` voice tags or ``Name: text`` cues) with webvtt-py.

    Consecutive cues of one speaker become one turn (start of the first cue, end of the
    last); cue lines are joined with a space.  The normalised text has one line
    ``Speaker: text`` per turn; turn offsets point at the text after ``Speaker: ``.
    """
    import webvtt
    from webvtt.errors import MalformedFileError

    path = Path(path)
    text = _drop_blankish_cue_lines(_read_text_file(path, encoding))
    _check_vtt_blocks(text, path)
    try:
        vtt = webvtt.from_string(text)
    except MalformedFileError as err:
        raise InputError(f"malformed WebVTT file ({err}; it must start with 'WEBVTT')", path=path, line=1) from None
    if not vtt.captions:
        raise InputError("WebVTT file has no cues", path=path)
    cues = []
    for cap in vtt.captions:
        lines = [ln for ln in cap.lines if ln.strip()]
        speaker = cap.voice or ""
        if not speaker and lines:
            found = _cue_speaker(_TAG.sub("", lines[0]))
            if found:
                speaker, lines[0] = found[0], found[1]
        cues.append((speaker.strip(), [html.unescape(_TAG.sub("", ln)).strip() for ln in lines], cap))
    durations = [(cap.end_time.in_milliseconds() - cap.start_time.in_milliseconds()) / 1000 for _, _, cap in cues]
    if _is_rolling(text, [c[1] for c in cues], durations):
        deduped, dropped = _rolling_lines([c[1] for c in cues])
        cues = [(sp, lines, cap) for (sp, _, cap), lines in zip(cues, deduped, strict=True)]
        if dropped:
            warnings.warn(f"{path}: rolling auto-captions: {dropped} repeated caption lines left out, so that "
                          "each spoken word appears once", PsythemesWarning, stacklevel=3)
    utterances, new_turns = _caption_utterances(
        (sp, [ln for ln in lines if ln], cap.start_time.in_milliseconds() / 1000, cap.end_time.in_milliseconds() / 1000)
        for sp, lines, cap in cues)
    new_text, turns = _build_from_utterances(utterances, merge_same_speaker=True, new_turns=new_turns)
    return Transcript(doc_id=_default_doc_id(path, doc_id), text=new_text, source=str(path), format="vtt",
                      turns=turns)


def read_srt(path: str | Path, *, doc_id: str | None = None, encoding: str | None = None,
             **_ignored: Any) -> Transcript:
    """Read a SubRip (``.srt``) file with pysrt; speakers from ``Name:`` at a cue's start.

    Turns and normalised text are built as in :func:`read_vtt`.
    """
    import pysrt
    from pysrt.srtexc import Error as SrtError

    path = Path(path)
    text = _read_text_file(path, encoding)
    try:
        subs = pysrt.from_string(text, error_handling=pysrt.ERROR_RAISE)
    except SrtError as err:
        block = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], str) else ""
        pos = text.find(block) if block else -1
        line = text.count("\n", 0, pos) + 1 if pos >= 0 else None
        raise InputError("malformed SRT subtitle block", path=path, line=line) from None
    if not len(subs):
        raise InputError("no SRT subtitle blocks found", path=path)
    cues = [(sub.text_without_tags.split("\n"), sub.start.ordinal / 1000, sub.end.ordinal / 1000) for sub in subs]
    return _transcript_from_cues(path, doc_id, "srt", cues)


_SBV_TIMING = re.compile(r"[ \t]*\d+:\d{1,2}:\d{1,2}\.\d{3},\d+:\d{1,2}:\d{1,2}\.\d{3}[ \t]*$")


def read_sbv(path: str | Path, *, doc_id: str | None = None, encoding: str | None = None,
             **_ignored: Any) -> Transcript:
    """Read a SubViewer (``.sbv``) file, as YouTube Studio downloads captions, with webvtt-py;
    speakers from ``Name:`` at a cue's start.  Turns and text are built as in :func:`read_vtt`.
    """
    import webvtt

    path = Path(path)
    text = _read_text_file(path, encoding)
    # webvtt-py skips a block without a valid timing line silently: name the first one
    for block in _text_blocks(text):
        if block and not _SBV_TIMING.match(block[0][1]):
            lineno, line = block[0]
            raise InputError(f"malformed SBV caption block (no 'start,end' timing line){excerpt(line)}",
                             path=path, line=lineno)
    captions = webvtt.from_buffer(_io.StringIO(text), format="sbv").captions
    if not captions:
        raise InputError("no SBV caption blocks found", path=path)
    cues = [(cap.lines, cap.start_time.in_milliseconds() / 1000, cap.end_time.in_milliseconds() / 1000)
            for cap in captions]
    return _transcript_from_cues(path, doc_id, "sbv", cues)


def _transcript_from_cues(path: Path, doc_id: str | None, fmt: str,
                          cues: Iterable[tuple[Sequence[str], float, float]]) -> Transcript:
    """A transcript of subtitle cues ``(lines, start, end)``: markup removed, speakers from a
    ``Name:`` label at a cue's start, turns as :func:`_caption_utterances` finds them."""
    named = []
    for raw_lines, t0, t1 in cues:
        lines = [html.unescape(_TAG.sub("", ln)).strip() for ln in raw_lines if ln.strip()]
        speaker = ""
        if lines:
            found = _cue_speaker(lines[0])
            if found:
                speaker, lines[0] = found
        named.append((speaker, lines, t0, t1))
    utterances, new_turns = _caption_utterances(named)
    new_text, turns = _build_from_utterances(utterances, merge_same_speaker=True, new_turns=new_turns)
    return Transcript(doc_id=_default_doc_id(path, doc_id), text=new_text, source=str(path), format=fmt,
                      turns=turns)


def _from_paragraphs(path: Path, paragraphs: list[str], doc_id: str | None, fmt: str,
                     label_patterns: Sequence[str | re.Pattern[str]] | None,
                     speakers: Collection[str] = ()) -> Transcript:
    text = normalise_text("\n".join(paragraphs))
    if not text.strip():
        raise InputError("document has no text", path=path)
    turns = parse_labelled_text(text, label_patterns=label_patterns, source=path, speakers=speakers)
    return Transcript(doc_id=_default_doc_id(path, doc_id), text=text, source=str(path), format=fmt, turns=turns)


def read_docx(path: str | Path, *, doc_id: str | None = None,
              label_patterns: Sequence[str | re.Pattern[str]] | None = None, speakers: Collection[str] = (),
              **_ignored: Any) -> Transcript:
    """Read a Word ``.docx`` file: each paragraph becomes a line, then speaker labels are parsed.

    Tables are read where they stand, one line per row (see :func:`_docx_table_lines`): many
    transcription services deliver a table with a speaker column, an optional time column
    and a text column.  Page headers and footers are not read: they hold titles and page
    numbers, not what was said.
    """
    path = Path(path)
    document = open_docx(path)
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():  # paragraphs and tables in document order
        if isinstance(block, Table):
            lines.extend(_docx_table_lines(block))
        else:
            lines.append(docx_paragraph_text(block))
    _warn_tracked_changes(path, *_docx_tracked_changes(document), "Word")
    return _from_paragraphs(path, lines, doc_id, "docx", label_patterns, speakers)


def open_docx(path: str | Path) -> Any:
    """A ``docx.Document``, after the archive's members were checked (:func:`psythemes.limits.open_zip`);
    an empty or unreadable file is an :class:`InputError` (transcripts and codebooks alike)."""
    from zipfile import BadZipFile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    from .limits import open_zip

    path = Path(path)
    raw = _read_bytes(path)
    if not raw:
        raise InputError("file is empty", path=path)
    open_zip(raw, path).close()  # size, ratio, encryption, method and CRC of every member first
    try:
        return docx.Document(_io.BytesIO(raw))
    except (PackageNotFoundError, BadZipFile, XMLSyntaxError, KeyError, ValueError, OSError) as err:
        raise InputError(f"not a readable .docx file ({type(err).__name__})", path=path) from None


# Runs of a paragraph as Word shows it with every tracked change accepted: inserted runs (w:ins,
# w:moveTo) count, deleted ones (w:del, w:moveFrom) do not; a text box's paragraphs are not this one's.
_DOCX_RUNS = ("./descendant::w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom) "
              "and not(ancestor::w:txbxContent)]")


def docx_paragraph_text(paragraph: Any) -> str:
    """A Word paragraph's text with tracked changes accepted.

    python-docx's ``Paragraph.text`` leaves out runs inside ``w:ins`` (a tracked insertion): words
    a colleague added with *Track Changes* on would be lost.
    """
    from docx.text.run import Run

    return "".join(Run(r, paragraph).text for r in paragraph._p.xpath(_DOCX_RUNS))


def _docx_tracked_changes(document: Any) -> tuple[int, int]:
    """(insertions, deletions) tracked in a Word document's body (moves count as both)."""
    body = document.element.body
    return (len(body.xpath(".//w:ins[w:r] | .//w:moveTo[w:r]")),
            len(body.xpath(".//w:del[w:r] | .//w:moveFrom[w:r]")))


def _warn_tracked_changes(path: Path, inserted: int, deleted: int, program: str) -> None:
    if inserted or deleted:
        warnings.warn(f"{path}: the document has tracked changes, read as if accepted ({inserted} insertion(s) "
                      f"kept, {deleted} deletion(s) left out); accept or reject them in {program} to be sure",
                      PsythemesWarning, stacklevel=4)


#: Header cells of transcript tables ("Speaker | Time | Text"): such a row is not a turn.
_TABLE_HEADER_WORDS = frozenset(
    "speaker name who role time timestamp start end text utterance transcript content turn said".split()
)
_TIME_CELL = re.compile(rf"^{_TIME}$")


def _docx_table_lines(table: Any) -> list[str]:
    """The rows of a Word table as transcript lines (see :func:`_table_row_line`)."""
    lines = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated for every grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append("\n".join(docx_paragraph_text(p) for p in cell.paragraphs))
        line = _table_row_line(cells)
        if line is not None:
            lines.append(line)
    return lines


def _table_row_line(cells: Sequence[str]) -> str | None:
    """One table row as a line written the way a speaker-labelled text would be (None: skip it).

    ``speaker | text`` becomes ``speaker: text``; ``time | speaker | text`` becomes
    ``[time] speaker: text`` and ``speaker | time | text`` becomes ``speaker (time): text``, so
    the usual label patterns find speaker and time.  Empty rows and header rows (every cell a
    word such as *speaker*, *time*, *text*) are skipped; a row whose first cell is too long to
    be a label keeps its cells joined by spaces.  A cell's paragraphs stay lines of the text.
    """
    cells = [c.strip() for c in cells if c.strip()]
    if not cells or all(c.casefold().rstrip(":") in _TABLE_HEADER_WORDS for c in cells):
        return None
    if len(cells) >= 3 and _TIME_CELL.match(cells[0]) and len(cells[1]) <= _MAX_LABEL_CHARS:
        return f"[{cells[0]}] {cells[1]}: {' '.join(cells[2:])}"
    if len(cells) >= 3 and _TIME_CELL.match(cells[1]) and len(cells[0]) <= _MAX_LABEL_CHARS:
        return f"{cells[0]} ({cells[1]}): {' '.join(cells[2:])}"
    if len(cells) >= 2 and len(cells[0]) <= _MAX_LABEL_CHARS and "\n" not in cells[0]:
        return f"{cells[0]}: {' '.join(cells[1:])}"
    return " ".join(cells)


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def _odf_paragraph_text(elem: Any) -> str:
    """Text of a ``text:p``/``text:h`` element, honouring ``text:s``, tabs and line breaks."""
    out = [elem.text or ""]
    for child in elem:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "s":
            out.append(" " * int(child.get(f"{{{_ODF_TEXT}}}c", "1")))
        elif tag == "tab":
            out.append("\t")
        elif tag == "line-break":
            out.append("\n")
        elif tag not in {"note", "annotation"}:  # footnotes and comments are not spoken words
            out.append(_odf_paragraph_text(child))
        out.append(child.tail or "")
    return "".join(out)


def read_odt(path: str | Path, *, doc_id: str | None = None,
             label_patterns: Sequence[str | re.Pattern[str]] | None = None, speakers: Collection[str] = (),
             **_ignored: Any) -> Transcript:
    """Read an OpenDocument ``.odt`` file (``content.xml`` parsed with defusedxml).

    Paragraphs and headings of the body become lines, tables one line per row (as in
    :func:`read_docx`), then speaker labels are parsed.
    """
    import zipfile

    from defusedxml import ElementTree as SafeET
    from defusedxml.common import DefusedXmlException

    path = Path(path)
    raw = _read_bytes(path)
    if not raw:
        raise InputError("file is empty", path=path)
    from .limits import DEFAULT_LIMITS, ODF_REPEAT_ATTRIBUTES, open_zip, read_member, scan_xml

    with open_zip(raw, path) as zf:
        content = read_member(zf, "content.xml", path, max_bytes=DEFAULT_LIMITS.max_xml_bytes)
    scan_xml(content, path, repeat_attributes=ODF_REPEAT_ATTRIBUTES)  # depth, text:c repeats
    try:
        root = SafeET.fromstring(content)
    except (zipfile.BadZipFile, KeyError) as err:
        raise InputError(f"not a readable .odt file ({type(err).__name__})", path=path) from None
    except (SafeET.ParseError, DefusedXmlException) as err:
        raise InputError(f"unsafe or malformed content.xml in .odt file ({err})", path=path) from None
    _warn_tracked_changes(path, sum(1 for _ in root.iter(f"{{{_ODF_TEXT}}}insertion")),
                          sum(1 for _ in root.iter(f"{{{_ODF_TEXT}}}deletion")), "the word processor")
    return _from_paragraphs(path, _odf_lines(root), doc_id, "odt", label_patterns, speakers)


_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def _odf_lines(element: Any) -> list[str]:
    """Paragraphs and headings in document order; a table contributes one line per row (as in
    :func:`read_docx`); covered (merged) cells are skipped."""
    lines: list[str] = []
    for child in element:
        if child.tag == f"{{{_ODF_TEXT}}}tracked-changes":
            continue  # deleted text is kept here, apart from the body; inserted text is inline
        if child.tag in (f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"):
            lines.append(_odf_paragraph_text(child))
        elif child.tag == f"{{{_ODF_TABLE}}}table":
            for row in child.iter(f"{{{_ODF_TABLE}}}table-row"):
                cells = ["\n".join(_odf_lines(cell)) for cell in row if cell.tag == f"{{{_ODF_TABLE}}}table-cell"]
                line = _table_row_line(cells)
                if line is not None:
                    lines.append(line)
        else:
            lines.extend(_odf_lines(child))
    return lines


#: Column names looked for in utterance tables (first match, case-insensitive).  Override
#: with ``columns={"text": "utterance_text", ...}``.  ``speaker`` and ``text`` are required;
#: without a ``doc`` column the whole file is one document.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "doc": ("doc_id", "doc", "document", "transcript_id", "transcript"),
    "speaker": ("speaker", "interlocutor", "speaker_name"),
    "text": ("text", "utterance", "utterance_text", "content"),
    "time": ("time", "timestamp"),
    "start": ("start", "t_start", "start_time"),
    "end": ("end", "t_end", "end_time"),
    "timespan": ("timespan", "time span", "time_span"),  # "0:00.0 - 0:08.2" (NVivo's transcript entries)
}
_REQUIRED_COLUMNS = ("speaker", "text")
_SPAN_SEPARATOR = re.compile(r"\s*(?:\u2192|-->|->|\u2013|\u2014|-)\s*")


def _parse_timespan(value: Any) -> tuple[float | None, float | None]:
    """``(start, end)`` seconds of ``"0:00.0 - 0:08.2"``; a single time is the start."""
    text = "" if value is None or value != value else str(value).strip()
    parts = [p for p in _SPAN_SEPARATOR.split(text) if p] if text else []
    if len(parts) > 2:
        raise ValueError(f"not a time span: {text!r}")
    return (_parse_time(parts[0]) if parts else None), (_parse_time(parts[1]) if len(parts) == 2 else None)


def _resolve_columns(found: list[str], columns: Mapping[str, str] | None, path: Path) -> dict[str, str | None]:
    lower = {c.strip().casefold(): c for c in found}
    resolved: dict[str, str | None] = {}
    for key, aliases in DEFAULT_COLUMNS.items():
        if columns and key in columns:
            name = columns[key]
            if name.strip().casefold() not in lower:
                raise InputError(f"table has no column {name!r} (given for {key!r}); columns: {', '.join(found)}",
                                 path=path)
            resolved[key] = lower[name.strip().casefold()]
        else:
            resolved[key] = next((lower[a] for a in aliases if a in lower), None)
    unknown = set(columns or {}) - set(DEFAULT_COLUMNS)
    if unknown:
        raise InputError(f"unknown column role(s) {sorted(unknown)}; use {sorted(DEFAULT_COLUMNS)}")
    for key in _REQUIRED_COLUMNS:
        if resolved[key] is None:
            raise InputError(
                f"table is missing the required column {key!r} (looked for {', '.join(DEFAULT_COLUMNS[key])}; "
                f"columns found: {', '.join(found) or 'none'}; map yours with columns={{{key!r}: ...}})",
                path=path)
    return resolved


def _load_rows(path: Path, fmt: str, encoding: str | None
               ) -> tuple[list[str], Iterable[tuple[int, dict[str, Any]]]]:
    """Column names and ``(line number, row)`` pairs of a CSV/TSV/JSONL file.

    CSV/TSV rows come one at a time (a malformed row raises when it is reached): a table of a
    million utterances is never held as a million row dicts.  JSONL is read whole, as its
    columns are those of every line together.
    """
    from .limits import no_deep_recursion

    text = _read_text_file(path, encoding)
    if fmt == "jsonl":
        found: dict[str, None] = {}
        records: list[tuple[int, dict[str, Any]]] = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                with no_deep_recursion(path, line=lineno):
                    rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON: {err.msg}", path=path, line=lineno) from None
            if not isinstance(rec, dict):
                raise InputError("each line must be a JSON object", path=path, line=lineno)
            found.update(dict.fromkeys(rec))
            records.append((lineno, rec))
        return list(found), records
    reader = csv.reader(_text_lines(text), delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = next(reader)
    except csv.Error as err:
        raise InputError(f"malformed {fmt.upper()}: {err}", path=path, line=reader.line_num) from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for rec in reader:
                if not any(cell.strip() for cell in rec):
                    continue
                if len(rec) != len(header):
                    raise InputError(f"row has {len(rec)} fields, the header has {len(header)}", path=path,
                                     line=reader.line_num)
                yield reader.line_num, dict(zip(header, rec, strict=True))
        except csv.Error as err:
            raise InputError(f"malformed {fmt.upper()}: {err}", path=path, line=reader.line_num) from None

    return header, rows()


def _text_lines(text: str) -> Iterator[str]:
    """The lines of ``text``, each with its ``\\n``, as ``io.StringIO(text)`` yields them, without
    StringIO's copy of the whole text (up to four bytes per character)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        stop = size if end < 0 else end + 1
        yield text[start:stop]
        start = stop


def read_table(path: str | Path, *, doc_id: str | None = None, encoding: str | None = None,
               columns: Mapping[str, str] | None = None, format: str | None = None,
               **_ignored: Any) -> list[Transcript]:
    """Read a table of utterances (CSV, TSV or JSONL), one row per utterance.

    Parameters
    ----------
    path : str or Path
        The file.
    doc_id : str, optional
        Document id when the table has no document column (default: file name).
    encoding : str, optional
        Force an encoding.
    columns : mapping, optional
        Column names for the roles ``doc``, ``speaker``, ``text``, ``time``, ``start``,
        ``end``, ``timespan`` (``start - end`` in one cell; default: :data:`DEFAULT_COLUMNS`).
    format : {"csv", "tsv", "jsonl"}, optional
        Default: from the suffix.

    Returns
    -------
    list of Transcript
        One per document value, in order of first appearance.  Each row becomes one turn
        (rows are not merged); the normalised text has one line ``Speaker: text`` per row.
        Rows with empty text are skipped; a document without any text is skipped with a
        warning.
    """
    path = Path(path)
    fmt = format or FORMAT_BY_SUFFIX.get(path.suffix.lower(), "csv")
    found, rows = _load_rows(path, fmt, encoding)
    names = {str(c) for c in found}
    if fmt == "jsonl" and {"doc_id", "text", "turns"} <= names and not columns:
        return _own_transcripts(path, rows)  # psythemes' own transcripts.jsonl: read back as written
    if {"doc_id", "segment_id", "start", "end", "text"} <= names and not columns:
        remaining = iter(rows)  # one iterator: a JSONL table is a list, and its first row must not come twice
        first = next(remaining, None)
        if first is None:
            raise InputError("table has no rows", path=path)
        if _is_psythemes_segment_row(first[1]):
            # psythemes' own segment table (segments.csv, segments_dropped.csv): each row is a span of
            # a transcript, not an utterance; read as utterances it would be the transcripts again, twice
            raise InputError("a psythemes segment table, not a transcript: give it to map, train, themes or "
                             "evaluate --segments; to segment again, give the transcripts (or the "
                             "transcripts.jsonl written beside it); in a folder of transcripts, move it out",
                             path=path)
        rows = itertools.chain([first], remaining)  # another tool's table of utterances: read it
    cols = _resolve_columns([str(c) for c in found], columns, path)
    docs: dict[str, list[tuple[str, str, float | None, float | None]]] = {}
    n_rows = 0
    for lineno, row in rows:
        n_rows += 1
        doc = str(row.get(cols["doc"], "")).strip() if cols["doc"] else ""
        if cols["doc"] and not doc:
            raise InputError(f"empty document id in column {cols['doc']!r}", path=path, line=lineno)
        doc = doc or _default_doc_id(path, doc_id)
        try:
            t0 = _parse_time(row.get(cols["start"] or cols["time"] or "", None))
            t1 = _parse_time(row.get(cols["end"], None)) if cols["end"] else None
            if cols["timespan"] and t0 is None and t1 is None:
                t0, t1 = _parse_timespan(row.get(cols["timespan"]))
        except ValueError as err:
            raise InputError(str(err), path=path, line=lineno) from None
        speaker = row.get(cols["speaker"]) if cols["speaker"] else None
        body = row.get(cols["text"]) if cols["text"] else None
        docs.setdefault(doc, []).append(("" if speaker is None else str(speaker),
                                         "" if body is None else str(body), t0, t1))
    if not n_rows:
        raise InputError("table has no rows", path=path)
    out, empty = [], []
    for doc, utterances in docs.items():
        text, turns = _build_from_utterances(utterances, merge_same_speaker=False)
        if not turns:
            empty.append(doc)
            continue
        out.append(Transcript(doc_id=doc, text=text, source=str(path), format=fmt, turns=turns))
    if not out:
        raise InputError("table has no text (every text cell is empty)", path=path)
    if empty:
        warnings.warn(f"{path}: documents with only empty text cells are skipped: {', '.join(empty)}",
                      PsythemesWarning, stacklevel=3)
    return out


def _own_transcripts(path: Path, records: Iterable[tuple[int, dict[str, Any]]]) -> list[Transcript]:
    """A ``transcripts.jsonl`` psythemes wrote, given as input (its ``(line, record)`` pairs, as
    :func:`_load_rows` read them): read back as written, after checking that each text is still as
    psythemes writes it and its turns still lie in it (a text edited by hand moves what the turns'
    offsets point at)."""
    edited = "was edited after psythemes wrote it: give the original transcripts"
    transcripts = []
    for line, record in records:
        transcript = _transcript_record(record, path, line)
        transcripts.append(transcript)
        transcript.doc_id = str(transcript.doc_id)
        text = transcript.text
        if not isinstance(text, str) or text != normalise_text(text):
            raise InputError(f"the text of {transcript.doc_id!r} is not psythemes' normalised text, so it {edited}",
                             path=path, line=line)
        for turn in transcript.turns:
            if not 0 <= turn.start <= turn.end <= len(text):
                raise InputError(f"a turn of {transcript.doc_id!r} [{turn.start}, {turn.end}) lies outside its text "
                                 f"({len(text)} characters): the transcript {edited}", path=path, line=line)
    return transcripts


def _is_psythemes_segment_row(row: Mapping[str, Any]) -> bool:
    """Whether a table row is one psythemes wrote: its ``segment_id`` is ``doc_id:start-end``
    (:func:`psythemes.schema.make_segment_id`) with integer offsets.  A WhisperX-style table of
    utterances (``segment_id`` a counter, ``start``/``end`` in seconds) is not."""
    return str(row.get("segment_id", "")) == f"{row.get('doc_id', '')}:{row.get('start', '')}-{row.get('end', '')}"


def _lazy_reader(target: str, *, result_attr: str | None = None,
                 pass_options: bool = False) -> Callable[..., Any]:
    """A reader defined in another module, imported on first use.

    Parameters
    ----------
    target : str
        ``"module:function"``; the function takes the path as first argument.
    result_attr : str, optional
        Attribute of the function's result that holds the transcript(s), e.g.
        ``"transcripts"`` for a project object.
    pass_options : bool
        Pass the dispatcher's keyword options (``doc_id``, ``label_patterns``, ``encoding``,
        ``columns``) on; by default the function gets the path only.
    """
    module, func = target.split(":")

    def reader(path: str | Path, **options: Any) -> Any:
        function = getattr(importlib.import_module(module), func)
        result = function(path, **options) if pass_options else function(path)
        return getattr(result, result_attr) if result_attr else result

    reader.__name__ = func
    reader.__doc__ = f"Lazy reference to :func:`{module}.{func}`."
    return reader


def _table_reader(fmt: str) -> Callable[..., list[Transcript]]:
    def reader(path: str | Path, **kwargs: Any) -> list[Transcript]:
        kwargs.pop("format", None)
        return read_table(path, format=fmt, **kwargs)

    reader.__name__ = f"read_{fmt}"
    return reader


#: Format name -> reader (see the module docstring for the calling convention).
READERS: dict[str, Callable[..., Transcript | list[Transcript]]] = {
    "text": read_text,
    "vtt": read_vtt,
    "srt": read_srt,
    "sbv": read_sbv,
    "docx": read_docx,
    "odt": read_odt,
    "csv": _table_reader("csv"),
    "tsv": _table_reader("tsv"),
    "jsonl": _table_reader("jsonl"),
    # a reader in another module, imported when first used:
    "qdpx": _lazy_reader("psythemes.qdpx:read_project_transcripts", pass_options=True),
}

#: File suffix (lower case) -> format name.
FORMAT_BY_SUFFIX: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".vtt": "vtt",
    ".srt": "srt",
    ".sbv": "sbv",
    ".docx": "docx",
    ".odt": "odt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".qdpx": "qdpx", ".qde": "qdpx",
}


def _format_of(path: Path, format: str) -> str:
    if format != "auto":
        if format not in READERS:
            raise InputError(f"unknown format {format!r}; supported: auto, {', '.join(READERS)}")
        return format
    fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        # the same words reach Python callers and the command line: both spellings of the option
        raise InputError(f"unsupported file type {path.suffix or '(no extension)'!r}; supported: "
                         f"{', '.join(sorted(FORMAT_BY_SUFFIX))}; for a file in one of the formats under another "
                         f"name, pass --format NAME (format='NAME' in Python), NAME one of {', '.join(READERS)}",
                         path=path)
    return fmt


def check_encoding(encoding: str | None) -> None:
    """Raise :class:`InputError` for an encoding name Python does not know, before any file is read.

    Formats that are not decoded as text (docx, odt, qdpx) ignore ``encoding``; checking it
    here means a misspelt name is an error for them too, not silently unused.
    """
    if encoding is None:
        return
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        info = None
    # rot13, base64, hex ... are codecs but not text encodings: bytes.decode refuses them
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(f"unknown text encoding {encoding!r} (examples: utf-8, cp1252, latin-1)")


def _read_any(path: Path, format: str, *, doc_id: str | None, label_patterns: Any, encoding: str | None,
              columns: Mapping[str, str] | None, speakers: Collection[str] = ()) -> list[Transcript]:
    check_encoding(encoding)
    if not path.exists():
        raise InputError("no such file", path=path)
    fmt = _format_of(path, format)
    if fmt == "text" and format == "auto" and path.suffix.lower() != ".md":
        header = _tab_table_header(path, encoding)
        if header is not None:
            # NVivo exports transcript entries as a .txt table: Timespan<TAB>Content<TAB>Speaker
            warnings.warn(f"{path}: read as a tab-separated table of utterances (its first line holds the "
                          f"columns {', '.join(header)}); pass format='text' (--format text) to read it as "
                          "labelled text",
                          PsythemesWarning, stacklevel=4)
            fmt = "tsv"
    options: dict[str, Any] = {"speakers": speakers} if speakers else {}  # readers of labelled text take them
    result = READERS[fmt](path, doc_id=doc_id, label_patterns=label_patterns, encoding=encoding, columns=columns,
                          **options)
    return [result] if isinstance(result, Transcript) else list(result)


def _tab_table_header(path: Path, encoding: str | None) -> list[str] | None:
    """The column names when a text file's first line is a tab-separated header naming a
    speaker and a text column (:data:`DEFAULT_COLUMNS`), else ``None``."""
    text = _read_text_file(path, encoding, announce=False)  # the reader decodes it again and says so
    first = next((line for line in text.split("\n", 20)[:20] if line.strip()), "")
    cells = [c.strip() for c in first.split("\t")]
    if len(cells) < 2 or not all(cells):
        return None
    names = {c.casefold() for c in cells}
    if all(names & set(DEFAULT_COLUMNS[key]) for key in _REQUIRED_COLUMNS):
        return cells
    return None


def read_transcript(path: str | Path, *, format: str = "auto", doc_id: str | None = None,
                    label_patterns: Sequence[str | re.Pattern[str]] | None = None,
                    encoding: str | None = None, columns: Mapping[str, str] | None = None) -> Transcript:
    """Read one transcript file.

    Parameters
    ----------
    path : str or Path
        The file.
    format : str
        ``"auto"`` (from the suffix, see :data:`FORMAT_BY_SUFFIX`) or a key of :data:`READERS`.
    doc_id : str, optional
        Default: the file name without extension.  For a table holding several documents,
        selects the document with this id.
    label_patterns : sequence of regex, optional
        Speaker-label patterns for text-like formats (see :func:`parse_labelled_text`).
    encoding : str, optional
        Force an encoding, any name Python's :mod:`codecs` knows (``"cp1252"``,
        ``"latin-1"``); default: detect (see :func:`decode_bytes`).  Formats that are not
        decoded as text (docx, odt, qdpx) ignore it.
    columns : mapping, optional
        Column names for table formats (see :func:`read_table`).

    Returns
    -------
    Transcript

    Raises
    ------
    InputError
        Missing, empty, binary or malformed file; unsupported suffix; unknown ``encoding``;
        a table with several documents and no ``doc_id`` to choose one (use
        :func:`read_transcripts`).
    """
    path = Path(path)
    found = _read_any(path, format, doc_id=doc_id, label_patterns=label_patterns, encoding=encoding,
                      columns=columns)
    if len(found) == 1:
        return found[0]
    if doc_id is not None:
        for tr in found:
            if tr.doc_id == doc_id:
                return tr
    raise InputError(f"file holds {len(found)} documents ({', '.join(t.doc_id for t in found[:5])}"
                     f"{', ...' if len(found) > 5 else ''}); use read_transcripts or pass doc_id", path=path)


#: File names (lower-case stem) skipped when reading a folder: sidecars and notes, not transcripts.
SKIPPED_STEMS = frozenset({"metadata", "readme", "license", "licence", "changelog", "notes", "codebook"})


#: Suffixes of files that sit beside transcripts but cannot be one (the recordings, photos): a folder's
#: files of these types are skipped without being named, like hidden files.
MEDIA_SUFFIXES = frozenset("""
.mp3 .m4a .wav .aac .flac .ogg .oga .opus .wma .aif .aiff .amr .mp4 .m4v .mov .avi .mkv .webm .wmv .3gp
.jpg .jpeg .png .gif .heic .tif .tiff .bmp .webp
""".split())
# files the operating system leaves in folders
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


class ExpandedPaths(list[Path]):
    """The files :func:`expand_paths` returns; ``skipped`` holds its folders' files of unsupported types.

    :func:`read_transcripts` names the skipped files in a warning (``interview_P09.pdf`` is
    not silently left out of a study).  It warns, not :func:`expand_paths`, so that files
    expanded first (the CLI counts them for its progress bar) and read later are named once,
    where the warnings of reading are shown.
    """

    def __init__(self, files: Iterable[Path] = (), skipped: Iterable[Path] = ()) -> None:
        super().__init__(files)
        self.skipped: list[Path] = list(skipped)


def _never_a_transcript(path: Path) -> bool:
    """A folder's file that is skipped without a word: hidden files and Word's ``~$`` lock files,
    sidecars and notes (:data:`SKIPPED_STEMS`, ``readme*``), recordings and photos, system files."""
    stem = path.stem.casefold()
    return (path.name.startswith((".", "~")) or stem in SKIPPED_STEMS or stem.startswith("readme")
            or path.suffix.lower() in MEDIA_SUFFIXES or path.name.casefold() in _SYSTEM_FILES)


def expand_paths(paths: Iterable[str | Path]) -> ExpandedPaths:
    """Files to read: files as given; folders replaced by their supported files.

    A folder contributes its files (not sub-folders) in sorted order whose suffix is in
    :data:`FORMAT_BY_SUFFIX`, except hidden files (``.x``, ``~x``) and files whose stem is in
    :data:`SKIPPED_STEMS` or starts with ``readme`` (``metadata.csv``, ``README.md``...).
    Its other files - of unsupported types (``.pdf``, ``.rtf``), except recordings and photos
    (:data:`MEDIA_SUFFIXES`) - are listed in the result's ``skipped`` (see :class:`ExpandedPaths`).
    Files named explicitly are always kept (an unsupported suffix is reported when read).
    """
    from .validate import inside_folder

    out = ExpandedPaths()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for child in inside_folder(p, sorted(p.iterdir())):
                if not child.is_file() or _never_a_transcript(child):
                    continue
                if child.suffix.lower() in FORMAT_BY_SUFFIX:
                    out.append(child)
                else:
                    out.skipped.append(child)
        elif not p.exists():
            raise InputError("no such file or folder", path=p)
        else:
            out.append(p)
    return out


def _skipped_files_note(skipped: Sequence[Path], limit: int = 5) -> str:
    """``"PATH: skipped N file(s) of unsupported types: a.pdf, b.rtf ..."``, with what is read instead."""
    folders = {p.parent for p in skipped}
    where = f"{next(iter(folders))}: " if len(folders) == 1 else ""
    names = [p.name if where else str(p) for p in skipped[:limit]]
    more = f" and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return (f"{where}skipped {len(skipped)} file(s) of unsupported types: {', '.join(names)}{more}; "
            f"transcripts are read from {', '.join(sorted(FORMAT_BY_SUFFIX))} files (save such a transcript "
            "as .docx or .txt to include it)")


def read_transcripts(paths: str | Path | Iterable[str | Path], *, format: str = "auto",
                     metadata: str | Path | pd.DataFrame | None = None,
                     speaker_roles: str | Mapping[str, str] | None = None,
                     label_patterns: Sequence[str | re.Pattern[str]] | None = None,
                     encoding: str | None = None, columns: Mapping[str, str] | None = None,
                     on_file: Callable[[Path], None] | None = None) -> list[Transcript]:
    """Read many transcripts (files and folders), join metadata and resolve speaker roles.

    Parameters
    ----------
    paths : path or iterable of paths
        Files and folders (see :func:`expand_paths` for what a folder contributes).
    format : str
        ``"auto"`` or a key of :data:`READERS`, for every file.
    metadata : path or DataFrame, optional
        Sidecar table with a ``doc_id`` column; its other columns go into
        ``Transcript.metadata``.  Doc ids in it that match no transcript are named in a
        warning, as are transcripts without a row.
    speaker_roles : str or mapping, optional
        Glob pattern -> role (see :func:`parse_speaker_roles`).  The roles of each
        transcript's speakers are stored in ``metadata["speaker_roles"]``.
    label_patterns, encoding, columns
        Passed to every reader (see :func:`read_transcript`).
    on_file : callable, optional
        Called with each path after it is read (progress display).

    Returns
    -------
    list of Transcript
        In input order (files of a folder sorted).

    Raises
    ------
    InputError
        Any unreadable input; unknown ``encoding``; two transcripts with the same ``doc_id``;
        bad metadata.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if metadata is not None:  # a bad metadata file stops the run before any transcript is read
        from .tables import check_metadata, read_metadata

        metadata = read_metadata(metadata) if isinstance(metadata, (str, Path)) else check_metadata(metadata)
    files = expand_paths(paths)
    # files expanded before (an ExpandedPaths passed in) carry the folders' skipped files with them
    skipped = list(dict.fromkeys([*getattr(paths, "skipped", ()), *files.skipped]))
    if not files:
        raise InputError("no transcript files found in the given paths"
                         + (f"; {_skipped_files_note(skipped)}" if skipped else ""))
    if skipped:
        warnings.warn(_skipped_files_note(skipped), PsythemesWarning, stacklevel=2)
    transcripts: list[Transcript] = []
    seen: dict[str, str] = {}
    known = _metadata_speakers(metadata)
    # a name given a role is a speaker, even one who speaks once (a pattern with wildcards names nobody)
    named = [p for p in (parse_speaker_roles(speaker_roles) if isinstance(speaker_roles, str)
                         else dict(speaker_roles or {})) if not re.search(r"[*?\[]", p)]
    for path in files:
        for tr in _read_any(path, format, doc_id=None, label_patterns=label_patterns, encoding=encoding,
                            columns=columns, speakers=[*known.get(path.stem, ()), *named]):
            if tr.doc_id in seen:
                raise InputError(f"duplicate doc_id {tr.doc_id!r} (also in {seen[tr.doc_id]}); rename one file",
                                 path=path)
            seen[tr.doc_id] = str(path)
            transcripts.append(tr)
        if on_file is not None:
            on_file(path)
    from .language import warn_if_not_english

    warn_if_not_english(t.text for t in transcripts)  # the models and word lists are English: said once
    return annotate_transcripts(transcripts, metadata=metadata, speaker_roles=speaker_roles)


def _metadata_speakers(metadata: pd.DataFrame | None) -> dict[str, list[str]]:
    """Document id (a file name's stem too) -> the speaker labels of the metadata's speaker rows."""
    if metadata is None or "speakers" not in getattr(metadata, "columns", ()):
        return {}
    return {Path(str(doc)).stem if Path(str(doc)).suffix.lower() in FORMAT_BY_SUFFIX else str(doc): list(rows)
            for doc, rows in zip(metadata["doc_id"], metadata["speakers"], strict=True) if isinstance(rows, Mapping)}


def annotate_transcripts(transcripts: list[Transcript], *,
                         metadata: str | Path | pd.DataFrame | None = None,
                         speaker_roles: str | Mapping[str, str] | None = None) -> list[Transcript]:
    """Join metadata and resolve speaker roles on transcripts already read (in place).

    :func:`read_transcripts` ends with this; call it yourself for transcripts that come from
    elsewhere (e.g. the sources of a REFI-QDA project read with :func:`psythemes.qdpx.read_qdpx`).

    Parameters
    ----------
    transcripts : list of Transcript
    metadata, speaker_roles
        See :func:`read_transcripts`.

    Returns
    -------
    list of Transcript
        The same objects.
    """
    if metadata is not None:
        _join_metadata(transcripts, metadata)
    if speaker_roles:
        roles = parse_speaker_roles(speaker_roles) if isinstance(speaker_roles, str) else dict(speaker_roles)
        for tr in transcripts:
            resolved = {}
            for speaker in dict.fromkeys(t.speaker for t in tr.turns):
                role = _match_role(speaker, roles)
                if role is not None:
                    resolved[speaker] = role
            # the rules given here win over the roles of the metadata's speaker rows
            tr.metadata["speaker_roles"] = {**(tr.metadata.get("speaker_roles") or {}), **resolved}
    _warn_about_roles(transcripts)
    return transcripts


_CLINICAL_ROLES = frozenset({"therapist", "client", "patient", "doctor", "nurse", "counsellor", "counselor"})


def _warn_about_roles(transcripts: list[Transcript]) -> None:
    """Name transcripts where no speaker is the interviewer, or (without an interviewer) two
    speakers share a participant role: a therapist labelled ``Therapist`` gets the document's
    ``role`` (``patient``) like the client.

    Both usually mean that an interviewer label was not recognised (``Dr. Keller``,
    ``SPEAKER_00``): the interviewer's questions would then be analysed as participant talk.
    """
    no_interviewer, shared = [], []
    for tr in transcripts:
        speakers = [sp for sp in dict.fromkeys(t.speaker for t in tr.turns) if sp]
        if len(speakers) < 2:
            continue
        roles = {sp: role for sp, role in speaker_role_map(tr).items() if sp}
        if "interviewer" in roles.values():
            continue  # several participants beside a recognised interviewer: a focus group
        stored = tr.metadata.get("speaker_roles") or {}
        # a session without an interviewer (therapy) is fine when the labels name clinical roles
        # (Therapist, Client), the user gave a speaker such a role, or gave every speaker a role
        clinical = any(set(re.findall(r"[^\W\d_]+", name.casefold())) & _CLINICAL_ROLES
                       for name in (*speakers, *stored.values()))
        if not clinical and not all(sp in stored for sp in speakers):
            no_interviewer.append(f"{tr.doc_id} ({speakers_for_message(speakers[:4])})")
        by_role: dict[str, list[str]] = {}
        for sp, role in roles.items():
            if role and role != "interviewer" and sp not in stored:  # roles the user gave are meant
                by_role.setdefault(role, []).append(sp)
        shared += [f"{tr.doc_id} ({speakers_for_message(sps[:4])} are all {role!r})" for role, sps in by_role.items()
                   if len(sps) >= 2]
    fix = "; name the interviewer with --speaker-roles 'NAME=interviewer' (speaker_roles= in Python)"
    if no_interviewer:
        warnings.warn(f"no speaker recognised as the interviewer in {len(no_interviewer)} transcript(s): "
                      f"{'; '.join(no_interviewer[:5])}{' ...' if len(no_interviewer) > 5 else ''}{fix}",
                      PsythemesWarning, stacklevel=3)
    if shared:
        warnings.warn(f"two or more speakers got the same participant role from the metadata in "
                      f"{len(shared)} transcript(s): {'; '.join(shared[:5])}{' ...' if len(shared) > 5 else ''}"
                      f"{fix}", PsythemesWarning, stacklevel=3)


def _join_metadata(transcripts: list[Transcript], metadata: str | Path | pd.DataFrame) -> None:
    from .tables import check_metadata, read_metadata

    if isinstance(metadata, (str, Path)):
        frame = read_metadata(metadata)
    else:
        frame = check_metadata(metadata, None)
    import pandas as pd

    by_id = {}
    for rec in frame.to_dict("records"):
        doc = rec.pop("doc_id")
        # missing cells are left out; numpy scalars become plain Python values for JSON
        by_id[doc] = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in rec.items()
                      if not (pd.api.types.is_scalar(v) and pd.isna(v))}
    ids = {tr.doc_id for tr in transcripts}
    # a metadata row may name the file ("P01.docx") where the transcript's id is its stem ("P01")
    by_file = {Path(d).stem: d for d in by_id if d not in ids and Path(d).suffix.lower() in FORMAT_BY_SUFFIX}
    renamed = {stem: d for stem, d in by_file.items() if stem in ids and stem not in by_id}
    for stem, d in renamed.items():
        by_id[stem] = by_id.pop(d)
    unknown = [d for d in by_id if d not in ids]
    if unknown:
        warnings.warn(f"metadata rows match no transcript: {', '.join(unknown[:10])}"
                      f"{' ...' if len(unknown) > 10 else ''}", PsythemesWarning, stacklevel=3)
    missing = [t.doc_id for t in transcripts if t.doc_id not in by_id]
    if missing:
        warnings.warn(f"transcripts without a metadata row: {', '.join(missing[:10])}"
                      f"{' ...' if len(missing) > 10 else ''}", PsythemesWarning, stacklevel=3)
    unmatched: list[tuple[str, str]] = []
    for tr in transcripts:
        cells = by_id.get(tr.doc_id, {})
        speakers = cells.pop("speakers", None)
        tr.metadata.update(cells)
        if isinstance(speakers, dict) and speakers:
            unmatched += [(tr.doc_id, label) for label in _join_speaker_rows(tr, speakers)]
    if unmatched:
        docs = ", ".join(dict.fromkeys(doc for doc, _ in unmatched))
        warnings.warn(f"{len(unmatched)} metadata speaker row(s) match no speaker of their transcript ({docs})"
                      f"{quoted_for_message([label for _, label in unmatched])}; write the label as the transcript "
                      "does (e.g. 'Speaker 2' or 'P03')", PsythemesWarning, stacklevel=3)


def _join_speaker_rows(tr: Transcript, speakers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Store the metadata rows of ``tr``'s speakers in ``tr.metadata["speakers"]`` under the labels
    as the transcript writes them (matched ignoring case and spacing), their ``role`` cells in
    ``speaker_roles``; return the rows' labels that match no speaker."""
    labels: dict[str, list[str]] = {}
    for t in tr.turns:
        if t.speaker and t.speaker not in labels.setdefault(speaker_key(t.speaker), []):
            labels[speaker_key(t.speaker)].append(t.speaker)  # "Anna" and "ANNA": one speaker, one row
    stored: dict[str, dict[str, Any]] = {}
    unmatched = []
    for label, cells in speakers.items():
        found = labels.get(speaker_key(label))
        if not found:
            unmatched.append(label)
            continue
        role = str(cells.get("role") or "").strip()
        for speaker in found:
            stored[speaker] = dict(cells)
            if role:
                # "Moderator", "Facilitator" are the interviewer's side, as speaker labels are
                roles = tr.metadata.setdefault("speaker_roles", {})
                roles[speaker] = "interviewer" if role_of(role) == "interviewer" else role
    if stored:
        tr.metadata["speakers"] = stored
    return unmatched


# ---------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------

def parse_speaker_roles(spec: str) -> dict[str, str]:
    """Parse ``"Interviewer=interviewer,P*=patient"`` into ``{pattern: role}`` (order kept).

    Patterns are shell-style globs (``*``, ``?``, ``[..]``) matched case-insensitively
    against whole speaker labels; the first matching pattern wins.
    """
    roles: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        pattern, sep, role = item.partition("=")
        if not sep or not pattern.strip() or not role.strip():
            raise InputError(f"bad speaker-role item {item.strip()!r}: expected PATTERN=ROLE "
                             "(e.g. 'Interviewer=interviewer,P*=patient')")
        roles[pattern.strip()] = role.strip()
    if not roles:
        raise InputError("empty speaker-role specification")
    return roles


def _match_role(speaker: str, speaker_roles: Mapping[str, str]) -> str | None:
    folded = speaker.casefold()
    for pattern, role in speaker_roles.items():
        if fnmatch.fnmatchcase(folded, pattern.casefold()):
            return role
    return None


def role_of(speaker: str, transcript_metadata: Mapping[str, Any] | None = None,
            speaker_roles: Mapping[str, str] | None = None) -> str:
    """The role of a speaker.

    Rule, first that applies:

    1. ``speaker_roles`` (glob pattern -> role, first match wins);
    2. ``transcript_metadata["speaker_roles"]`` (speaker -> role, as stored by
       :func:`read_transcripts`);
    3. an interviewer-like label (:data:`INTERVIEWER_LABELS`: Interviewer, I, Int,
       Moderator, Facilitator, Researcher, optionally followed by a number or letter)
       gives ``"interviewer"``;
    4. the document's metadata ``role`` (e.g. ``patient``), if present;
    5. ``""`` (unknown).
    """
    if speaker_roles:
        role = _match_role(speaker, speaker_roles)
        if role is not None:
            return role
    meta = transcript_metadata or {}
    stored = meta.get("speaker_roles")
    if isinstance(stored, Mapping) and speaker in stored:
        return str(stored[speaker])
    if _interviewer_like(speaker):
        return "interviewer"
    role = meta.get("role")
    if isinstance(role, str) and role.strip():
        return role.strip()
    return ""


def speaker_role_map(transcript: Transcript, speaker_roles: Mapping[str, str] | None = None) -> dict[str, str]:
    """The role of each speaker of a transcript, in order of first turn (:func:`role_of`'s rule).

    A transcript read with :func:`read_transcripts` (or passed through
    :func:`annotate_transcripts`) carries the roles its reader resolved, so this needs no
    ``speaker_roles``; give them for transcripts built by hand.  Each speaker is resolved
    once, however many turns it has.
    """
    speakers = dict.fromkeys(t.speaker for t in transcript.turns)
    return {sp: role_of(sp, transcript.metadata, speaker_roles) for sp in speakers}


# ---------------------------------------------------------------------------------------
# transcripts.jsonl
# ---------------------------------------------------------------------------------------

def write_transcripts_jsonl(path: str | Path, transcripts: Iterable[Transcript]) -> Path:
    """Write transcripts (one :meth:`Transcript.to_record` per line) atomically."""
    from .outputs import write_jsonl

    return write_jsonl(path, (tr.to_record() for tr in transcripts))


def load_transcripts_jsonl(path: str | Path) -> list[Transcript]:
    """Read transcripts written by :func:`write_transcripts_jsonl`."""
    path = Path(path)
    text = _read_text_file(path, "utf-8")
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", path=path, line=lineno) from None
        out.append(_transcript_record(record, path, lineno))
    return out


def _transcript_record(record: Any, path: Path, line: int) -> Transcript:
    """One line of a ``transcripts.jsonl`` as a Transcript; a record of another shape is an error."""
    try:
        return Transcript.from_record(record)
    except (KeyError, TypeError) as err:
        raise InputError(f"not a transcript record ({err})", path=path, line=line) from None


# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "read_segments": "tables",
    "read_metadata": "tables",
})
