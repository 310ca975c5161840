"""Zero-shot mapping: codes from the codebook alone, no labelled data.

Each code gets prototypes built from its definition, include criteria and examples (positive)
and from its exclude criteria and counter-examples (negative).  A segment's score for a code is
its similarity to the code's positive prototypes, penalised when it is closer to the code's
negatives; a code is assigned when the score clears that code's threshold.  Segments may get
several codes (multi-label) or none (abstention): a segment is never forced into its nearest
code.  Optional regex *cues* (simple linguistic rules taken from the code definitions, e.g. "a
question ends with '?'") add a fixed bonus.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..base import Params
from ..codebook import Code, Codebook, load_codebook
from ..errors import InputError, PsythemesWarning
from ..schema import CODE_COLUMNS
from ._common import (
    DOC,
    END,
    ROLE,
    SEG,
    START,
    check_is_fitted,
    check_segments,
    check_share,
    embedder_or_default,
    encode,
    not_trained_on,
    role_mask,
    segment_texts,
)

__all__ = ["EVIDENCE_COLUMN", "ZeroShotMapper", "calibration_corpus", "needs_corpus_calibration"]

#: Extra column of :meth:`ZeroShotMapper.predict`: the nearest example text of the assigned code.
EVIDENCE_COLUMN = "evidence"

# "auto" thresholds: when other codes' examples score as high as a code's own typical example
# (no gap to put the threshold in), fall back to this quantile of the code's own leave-one-out
# example scores.  Codebook examples are short and on point; real segments score lower.
_OWN_FALLBACK_QUANTILE = 0.25
# A code with a definition only (no examples) is assigned above this many standard deviations over
# the corpus median of its score, unless self-training decides (see psythemes.selftrain).
_CORPUS_SD = 1.0
# ... and within this many standard deviations of the segment's best code (relative to the other codes)
_RELATIVE_SD = 0.5
# The second stage (refine) was chosen on schemes of 3-8 codes; its few-shot fit (C by grouped CV)
# grows with the classes and took minutes on 165 near-duplicate codes, so larger codebooks skip it.
_REFINE_MAX_CODES = 20
# Self-training by default only from this many segments: on smaller corpora it often let one code
# take most segments (random subsets of 3-24 AnnoMI / ESConv transcripts; docs/mapping.md, "Zero-shot:
# small studies"), and the corpus calibration alone did better on average.
MIN_SELF_TRAINING_SEGMENTS = 500


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
    codebook : Codebook or str, optional
        The codebook (or a path / shipped name for :func:`psythemes.codebook.load_codebook`).
        None: the run's codebook when the mapper is handed to :func:`psythemes.extract`, else the
        shipped ``psychosomatic`` codebook.
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
        codebook) and :meth:`fit` gets at least :data:`MIN_SELF_TRAINING_SEGMENTS` (500) segments
        (fewer: a warning says it is off); ``True``: from 30 segments (5 per code).
    single_label : bool, default False
        Every eligible segment gets exactly one code, its best, never none (schemes where each
        unit has one code, e.g. MI therapist behaviour).
    refine : float or None, default 0.3
        Single-label with self-training only: the ``refine`` share of the corpus segments the
        self-trained model gives each code (its most probable ones) train a
        :class:`~psythemes.mapping.FewShotMapper` (context, surface cues, n-grams, its own
        self-training on the rest), which then decides (``refiner_``).  It learns what the
        definitions imply but the embedding alone misses (how a turn relates to the one before).
        No label is used.  None or 0: off.  Codebooks of more than 20 codes skip it (not measured
        there, and its fit grows with the codes).  Chosen on AnnoMI's development transcripts
        (docs/mapping.md, *Zero-shot: a second stage*).
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
    refiner_ : FewShotMapper or None
        With ``refine``: the second-stage mapper trained on the self-trained model's most
        confident segments (then it decides).
    prototypes_ : dict
        Per code: the prototype texts and their embeddings.
    """

    method = "zero-shot"

    def __init__(
        self,
        codebook: Codebook | str | None = None,
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
        refine: float | None = 0.3,
        roles: Sequence[str] | None = None,
        random_state: int | None = 0,
    ):
        self.codebook = codebook
        self.embedder = embedder
        self.threshold = threshold
        self.self_training = self_training
        self.single_label = single_label
        self.refine = refine
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

    def fit(self, segments: pd.DataFrame | None = None, y: Any = None,
            all_segments: pd.DataFrame | None = None) -> ZeroShotMapper:
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

        With ``refine`` (single-label, self-trained), a second stage is trained on the corpus
        (see the parameter).

        Parameters
        ----------
        segments : DataFrame, optional
            Unlabelled segments for the optional calibration.
        y : ignored
        all_segments : DataFrame, optional
            Every segment of the documents (all speakers), where the second stage finds each
            segment's neighbouring turns; default ``segments``.

        Returns
        -------
        self
        """
        # None: the shipped study codebook on its own (said: a stranger's corpus coded with the
        # study's four mechanisms looks like a result); handed to extract, the run's codebook
        if self.codebook is None:
            warnings.warn("ZeroShotMapper got no codebook: coding with the shipped 'psychosomatic' study codebook; "
                          "pass codebook=... (a file, or a Codebook) to code with yours",
                          PsythemesWarning, stacklevel=2)
        cb = load_codebook(self.codebook if self.codebook is not None else "psychosomatic")
        self.codebook_ = cb
        self.embedder_ = embedder_or_default(self.embedder)
        codes = cb.codable()  # a heading that only groups its children is never assigned
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
        emb = encode(self.embedder_, texts)
        self.prototypes_ = {}
        for code in codes:
            a, b, c = spans[code.name]
            pos_e, neg_e = emb[a:b], emb[b:c]
            centroid = pos_e.mean(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            self.prototypes_[code.name] = _Prototypes(texts[a:b], pos_e, centroid, texts[b:c], neg_e)
        share = check_share(self.refine, "refine")
        self.refiner_ = None
        self.thresholds_ = self._calibrate(segments)
        if (share and self.single_label and self.self_model_ is not None and segments is not None
                and len(self.codes_) <= _REFINE_MAX_CODES):
            self.refiner_ = self._refine(check_segments(segments), all_segments, share)
        return self

    def _refine(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None, share: float) -> Any:
        """The second stage: a few-shot mapper trained on the most confident single-label decisions."""
        from .fewshot import FewShotMapper

        eligible = segments[self.eligible_mask(segments)]
        _, scores, margins = self._decide(eligible)
        best = self._best(scores, margins)
        rows: list[int] = []
        for j in range(len(self.codes_)):
            mine = np.flatnonzero(best == j)
            if len(mine):
                # the share with the highest scores, and every segment tied with the last one taken (repeated
                # short turns score alike: which of them to take would otherwise be the sort's accident)
                cut = np.sort(scores[mine, j])[::-1][max(1, round(share * len(mine))) - 1]
                rows.extend(mine[scores[mine, j] >= cut])
        chosen = np.array(sorted(rows), dtype=int)
        labels = [self.codes_[best[i]] for i in chosen]
        if len(set(labels)) < 2:
            return None
        train = eligible.iloc[chosen]
        pool = not_trained_on(segments, train)
        return FewShotMapper(self.codebook_, embedder=self.embedder_, single_label=True, roles=self.roles,
                             random_state=self.random_state).fit(
            train, labels, all_segments=all_segments if all_segments is not None else segments, unlabelled=pool)

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
        if not (self.threshold == "auto" and any(self._plain(c) for c in self.codebook_.codable())):
            return False
        if n_segments < MIN_SELF_TRAINING_SEGMENTS:
            warnings.warn(f"zero-shot without self-training: {n_segments} segments are fewer than the "
                          f"{MIN_SELF_TRAINING_SEGMENTS} it needs to help (on small corpora it let one code take "
                          "most segments); thresholds come from the corpus' own scores (self_training=True forces "
                          "it; docs/mapping.md)", PsythemesWarning, stacklevel=4)
            return False
        return True

    def _calibrate(self, segments: pd.DataFrame | None) -> dict[str, float]:
        parsed = _parse_threshold(self.threshold, self.codes_)
        given: dict[str, float] = parsed if isinstance(parsed, dict) else {}  # "auto": none given
        auto: dict[str, float] = {}
        corpus_scores = None
        self.self_model_ = None
        if segments is not None and len(segments):
            seg = check_segments(segments)
            seg = seg[self.eligible_mask(seg)]
            if len(seg):
                texts = segment_texts(seg)
                emb = encode(self.embedder_, texts)
                corpus_scores = self._cued(self.prototype_scores(emb), texts)
                if self._wants_self_training(len(seg)):
                    from ..selftrain import self_train

                    self.self_model_ = self_train(corpus_scores, emb, texts, self.codes_, no_code=not self.single_label,
                                                  random_state=self.random_state)
        location: np.ndarray | None = None
        scale: np.ndarray | None = None
        if corpus_scores is not None:
            from ..selftrain import corpus_location_scale

            location, scale = corpus_location_scale(corpus_scores)
        self.corpus_location_, self.corpus_scale_ = location, scale
        self.auto_threshold_ = np.array([n not in given for n in self.codes_])
        for j, name in enumerate(self.codes_):
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
                assert scale is not None  # set together with location
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

    def prototype_scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Prototype score of each embedding for each code (no cues, no thresholds).

        Parameters
        ----------
        embeddings : ndarray of shape (n, d)
            Rows of length 1, from the mapper's embedder (segments, or theme centroids).

        Returns
        -------
        ndarray of shape (n, n_codes)
            Columns in :attr:`codes_` order.
        """
        check_is_fitted(self, "prototypes_", "fit() first")
        if not len(embeddings):
            return np.zeros((0, len(self.codes_)))
        return np.column_stack([self._score_one(embeddings, n) for n in self.codes_])

    def cue_matches(self, texts: Sequence[str]) -> np.ndarray:
        """Whether any cue of each code matches each text: bool array (n_texts, n_codes), codes in
        :attr:`codes_` order (all False for codes without cues)."""
        check_is_fitted(self, "prototypes_", "fit() first")
        hits = np.zeros((len(texts), len(self.codes_)), dtype=bool)
        for j, name in enumerate(self.codes_):
            patterns = self.cue_patterns_.get(name)
            if patterns:
                hits[:, j] = [any(p.search(t) for p in patterns) for t in texts]
        return hits

    def _cued(self, scores: np.ndarray, texts: list[str]) -> np.ndarray:
        hits = self.cue_matches(texts)
        for j, name in enumerate(self.codes_):
            if self.cue_patterns_.get(name):
                scores[:, j] += self.cue_weight * hits[:, j]
        return scores

    def embed(self, segments: pd.DataFrame) -> np.ndarray:
        """Embeddings of the segments' texts with the mapper's embedder (rows of length 1)."""
        check_is_fitted(self, "prototypes_", "fit() first")
        return encode(self.embedder_, segment_texts(segments))

    def _embed_scores(self, segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, prototype scores + cues) of ``segments``."""
        check_is_fitted(self, "prototypes_", "fit() first")
        segments = check_segments(segments)
        texts = segment_texts(segments)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32), np.zeros((0, len(self.codes_)))
        emb = encode(self.embedder_, texts)
        return emb, self._cued(self.prototype_scores(emb), texts)

    def _decide(self, segments: pd.DataFrame,
                all_segments: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(embeddings, scores, margins): a code is assigned where its margin is >= 0.

        With a second stage (``refiner_``) or a self-trained model the score is that model's
        probability of the code and the margin its lead over the most probable other class ("no
        code" included); otherwise the score is the prototype score and the margin its distance
        to the code's threshold.  Ineligible segments (roles) get a margin of -inf.
        """
        segments = check_segments(segments)
        emb, scores = self._embed_scores(segments)
        model = getattr(self, "self_model_", None)
        refiner = getattr(self, "refiner_", None)
        if (model is not None or refiner is not None) and len(segments):
            if refiner is not None:
                frame = refiner.predict_proba(segments, all_segments if all_segments is not None else segments)
                classes, proba = [str(c) for c in frame.columns], frame.to_numpy()
            else:
                assert model is not None  # one of the two is set
                classes, proba = list(model.classes), model.proba(emb, segment_texts(segments))
            scores = np.zeros((len(segments), len(self.codes_)))
            col = {c: k for k, c in enumerate(classes)}
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
            location: np.ndarray | None
            scale: np.ndarray | None
            thr = np.array([self.thresholds_[n] for n in self.codes_], dtype=float)
            if np.isnan(thr).any() and len(segments):
                # codes without examples and no corpus given to fit(): calibrate on this batch
                from ..selftrain import corpus_location_scale

                allowed = self._allowed(segments) & self.eligible_mask(segments)[:, None]
                rows = allowed.any(axis=1)
                base = scores[rows] if rows.any() else scores
                location, scale = corpus_location_scale(base)
                thr = np.where(np.isnan(thr), location + _CORPUS_SD * scale, thr)
            else:
                location, scale = getattr(self, "corpus_location_", None), getattr(self, "corpus_scale_", None)
            margins = scores - thr
            if location is not None and len(segments):
                assert scale is not None  # set together with location
                # relative to the other codes: a code without examples must also be within
                # _RELATIVE_SD standard deviations of the segment's best code (on z), so that
                # near-identical definitions (sub-codes of one parent) do not all fire together
                plain = np.array([self._plain(c) for c in self.codebook_.codable()]) & getattr(
                    self, "auto_threshold_", np.ones(len(self.codes_), dtype=bool))
                z = (scores - location) / scale
                best = np.where(self._allowed(segments), z, -np.inf).max(axis=1, keepdims=True)
                relative = (z - (best - _RELATIVE_SD)) * scale
                margins = np.where(plain, np.minimum(margins, relative), margins)
        eligible = self._allowed(segments) & self.eligible_mask(segments)[:, None]
        return emb, scores, np.where(eligible, margins, -np.inf)

    def decision_function(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Scores, one row per segment (index: ``segment_id``), one column per code.

        ``all_segments`` (every segment of the documents) is where a second stage finds the
        neighbouring turns; default ``segments``.
        """
        scores = self._decide(segments, all_segments)[1]
        return pd.DataFrame(scores, index=segments[SEG].tolist(), columns=self.codes_)

    def eligible_mask(self, segments: pd.DataFrame) -> np.ndarray:
        """Rows whose role is coded at all (``roles``; every row when not given)."""
        return role_mask(segments, self.roles)

    def _allowed(self, segments: pd.DataFrame) -> np.ndarray:
        allowed = np.ones((len(segments), len(self.codes_)), dtype=bool)
        if not self.role_filter or ROLE not in segments.columns:
            return allowed
        roles = segments[ROLE].fillna("").astype(str).str.lower().to_numpy()
        for j, code in enumerate(self.codebook_.codable()):
            if code.roles:
                wanted = {r.lower() for r in code.roles}
                # segments without a role (unlabelled speakers) stay eligible
                allowed[:, j] = np.array([(r == "") or (r in wanted) for r in roles])
        return allowed

    def margins(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per code, how far the segment is past the point of assignment (>= 0: assigned); ineligible: -inf."""
        margins = self._decide(segments, all_segments)[2]
        return pd.DataFrame(margins, index=segments[SEG].tolist(), columns=self.codes_)

    def _best(self, scores: np.ndarray, margins: np.ndarray) -> np.ndarray:
        """Per row the best eligible code (largest score; -1 when no code is eligible)."""
        ranked = np.where(np.isfinite(margins), scores, -np.inf)
        best = ranked.argmax(axis=1) if ranked.size else np.zeros(len(ranked), dtype=int)
        return np.where(np.isfinite(ranked.max(axis=1)) if ranked.size else False, best, -1)

    def predict_single(self, segments: pd.DataFrame, fallback: str | None = None,
                       all_segments: pd.DataFrame | None = None) -> list[str | None]:
        """One code per segment: the code with the largest margin if it is assigned, else ``fallback``.

        With ``single_label=True`` every eligible segment gets its best code (``fallback`` only
        for segments no code is eligible for).  ``all_segments``: see :meth:`decision_function`.
        """
        _, scores, m = self._decide(segments, all_segments)
        if self.single_label:
            return [self.codes_[j] if j >= 0 else fallback for j in self._best(scores, m)]
        out: list[str | None] = []
        for row in m:
            j = int(np.argmax(row)) if len(row) else -1
            out.append(self.codes_[j] if j >= 0 and row[j] >= 0 else fallback)
        return out

    def predict(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Codes per segment: :data:`~psythemes.schema.CODE_COLUMNS` plus ``evidence``.

        Every code past its point of assignment is given (at most ``max_codes`` per segment);
        other segments get no row.  With ``single_label=True`` every eligible segment gets
        exactly its best code.  Warns (naming them) about codes that take no segment or more
        than half of them.  ``all_segments``: see :meth:`decision_function`.
        """
        segments = check_segments(segments)
        emb, scores, margins = self._decide(segments, all_segments)
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
                    [seg[DOC], seg[SEG], int(seg[START]), int(seg[END]), name, round(float(scores[i, j]), 4),
                     self.method, evidence]
                )
        codes = pd.DataFrame(rows, columns=[*CODE_COLUMNS, EVIDENCE_COLUMN])
        n_eligible = int(np.isfinite(margins).any(axis=1).sum()) if len(margins) else 0
        _warn_code_shares(codes, n_eligible, self.codes_)
        if not self.single_label and getattr(self, "self_model_", None) is not None:
            _warn_one_code_each(codes, n_eligible)
        elif not self.single_label and self.max_codes is None and len(self.codes_) >= _MANY_CODES:
            _warn_many_codes_each(codes)
        return codes


def _warn_code_shares(codes: pd.DataFrame, n_eligible: int, names: list[str]) -> None:
    """Never code nothing silently: name the codes that took no segment or more than half of them."""
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


#: Share of the segments above which a self-trained multi-label run is said to code nearly all.
_NEARLY_ALL = 0.85


def _warn_one_code_each(codes: pd.DataFrame, n_eligible: int) -> None:
    """Say it when self-trained multi-label coding leaves almost nothing uncoded.

    The self-trained mapper gives at most one code per segment, and with more codes its "no
    code" class shrinks: with 7 to 18 codes it left 2-21 % of segments uncoded where the human
    coders of the same multi-label corpora left 33-49 % (benchmarks/experiments/
    zeroshot_many_codes.py, docs/mapping.md)."""
    if n_eligible < 10:
        return
    share = codes["segment_id"].nunique() / n_eligible if len(codes) else 0.0
    if share > _NEARLY_ALL:
        warnings.warn(f"zero-shot coded {share:.0%} of the {n_eligible} segments, one code each: a mapper "
                      "self-trained on a codebook without examples gives at most one code per segment and, with "
                      "many codes, rarely none, where coders of a multi-label scheme often leave a third or more "
                      "uncoded; check a sample (psythemes review) or train a few-shot mapper on some gold "
                      "(docs/mapping.md)", PsythemesWarning, stacklevel=3)


#: Codes per coded segment, on average, above which a multi-label run with a codebook of at least
#: _MANY_CODES codes is said to give many (with 4 codes, 2 each can be what the scheme means: the demo
#: corpus' shipped codebook gives 2.0 per coded segment).
_MANY_PER_SEGMENT = 2.0
_MANY_CODES = 8


def _warn_many_codes_each(codes: pd.DataFrame) -> None:
    """Say it when multi-label coding without self-training gives segments many codes each.

    Each code's threshold is set on its own (from its examples, or from the corpus), so with many
    codes a substantive turn passes several: a stranger's 40-code codebook gave up to 9 codes on
    one turn, and with 18 plain codes one segment got 11 (docs/mapping.md)."""
    if codes.empty:
        return
    per_segment = codes.groupby("segment_id").size()
    if per_segment.mean() > _MANY_PER_SEGMENT:
        warnings.warn(f"zero-shot gave the {len(per_segment)} coded segments {per_segment.mean():.1f} codes each on "
                      f"average (up to {per_segment.max()}): each code's threshold is set on its own, so with many "
                      "codes a turn passes several; check a sample (psythemes review), or cap them with --max-codes "
                      "(max_codes=)", PsythemesWarning, stacklevel=3)


def needs_corpus_calibration(codebook: Codebook | str | Path) -> bool:
    """Whether some code has a definition only (no examples, no include criteria).

    Such a code has nothing to be calibrated on but the corpus being coded (see
    :mod:`psythemes.selftrain`); a codebook whose every code has examples or include criteria
    is calibrated on itself, and its thresholds do not move with the corpus.
    """
    return any(not (code.examples or code.include) for code in load_codebook(codebook).codable())


def calibration_corpus(codebook: Codebook, segments: pd.DataFrame) -> pd.DataFrame | None:
    """The segments to calibrate a zero-shot mapper on: all of them when
    :func:`needs_corpus_calibration`, else None.  No labels are used either way."""
    return segments if needs_corpus_calibration(codebook) else None
