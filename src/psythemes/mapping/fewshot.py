"""Few-shot mapping: learn to assign codes from segments with gold codes.

Features: the segment embedding, the previous (and next) turn's embedding (dialogue context),
surface features (question marks, interrogative start, length, pronouns; see
:mod:`psythemes.mapping.features`), the codebook-prototype scores of a
:class:`~psythemes.mapping.ZeroShotMapper` and TF-IDF word and character n-grams; classifier:
logistic regression (one-vs-rest for multi-label data, multinomial for single-label data).
:func:`~psythemes.mapping.grouped_cross_validate` estimates its agreement with gold labels with
folds grouped by transcript.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..base import Params
from ..codebook import Codebook, load_codebook, resolve_code_names
from ..errors import InputError, PsythemesWarning
from ..schema import CODE_COLUMNS
from ._common import (
    DOC,
    END,
    NO_CODE,
    ROLE,
    SEG,
    START,
    check_is_fitted,
    check_segments,
    check_share,
    embedder_or_default,
    encode,
    role_mask,
    segment_texts,
)
from .features import (
    SENTENCE_ENDS,
    length_bin_features,
    neighbour_features,
    position_features,
    sentence_end_features,
    surface_features,
)
from .persistence import read_model, save_model
from .zeroshot import ZeroShotMapper

__all__ = ["FewShotMapper"]

#: Values of ``C`` tried by ``C="auto"`` (grouped cross-validation inside the training data).
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
#: Folds of that cross-validation (fewer when there are fewer training documents).
AUTO_C_FOLDS = 5
#: ``C`` of ``C="auto"`` when there are too few training documents (< 3) to cross-validate.
AUTO_C_FALLBACK = 0.01
#: Per-code thresholds tried by ``threshold="auto"`` (multi-label data), nearest to 0.5 first so
#: that a tie keeps the plainer value.
THRESHOLD_GRID = tuple(sorted((round(0.1 + 0.05 * i, 2) for i in range(17)), key=lambda t: (abs(t - 0.5), t)))
#: ``threshold="auto"`` takes no threshold whose out-of-fold rate of "present" exceeds this many
#: times the code's prevalence in the training data.
THRESHOLD_RATE_CAP = 2.0


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def f1_present(present: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """F1 of "present" per code: ``present`` (segments x codes, or segments x codes x thresholds)
    against the gold ``Y`` (segments x codes)."""
    gold = Y.reshape(Y.shape + (1,) * (present.ndim - 2))
    hits = (present & gold).sum(axis=0)
    return 2 * hits / np.maximum(present.sum(axis=0) + gold.sum(axis=0), 1)


def _best_thresholds(proba: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the value of :data:`THRESHOLD_GRID` with the highest F1 of "present", and that F1.

    Only thresholds that give "present" to at most :data:`THRESHOLD_RATE_CAP` times the code's
    share of ``Y`` are candidates: F1 rewards recall cheaply, and on a few training transcripts
    the best F1 often sits at the grid's lowest value, where the code goes to most segments.
    A code no candidate fits keeps 0.5 (F1 reported as 0).
    """
    grid = np.array(THRESHOLD_GRID)
    present = proba[:, :, None] >= grid  # segments x codes x thresholds
    f1 = f1_present(present, Y)  # codes x thresholds
    allowed = present.mean(axis=0) <= THRESHOLD_RATE_CAP * Y.mean(axis=0)[:, None]
    f1 = np.where(allowed, f1, -1.0)
    best = f1.argmax(axis=1)  # the first maximum: the grid is ordered nearest to 0.5 first
    best = np.where(allowed.any(axis=1), best, 0)  # grid[0] is 0.5
    return grid[best], np.maximum(f1[np.arange(len(best)), best], 0.0)


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


def _logistic_weights(X: Any, Y: np.ndarray, C: float, *, single: bool, class_weight: str | None, max_iter: int,
                      random_state: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Logistic-regression weights, one row per column of ``Y`` (0/1 per class).

    Single-label (``single``): multinomial over the classes present (a class absent from ``Y``
    gets a very low intercept); multi-label: one binary model per class.  A function of plain
    arrays, so that the fits of a cross-validation can run in other processes.

    The fits run with one BLAS thread: on problems this small, threads cost more than they give
    (a 50-code multi-label training took 345 s with OpenBLAS's 2 threads, 79 s with one, with the
    same C and thresholds; ``benchmarks/train_time.py``, docs/mapping.md, *Training time*).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _logistic_fits(X, Y, C, single=single, class_weight=class_weight, max_iter=max_iter,
                              random_state=random_state)


def _logistic_fits(X: Any, Y: np.ndarray, C: float, *, single: bool, class_weight: str | None, max_iter: int,
                   random_state: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    n_classes = Y.shape[1]
    coef, intercept = np.zeros((n_classes, X.shape[1])), np.full(n_classes, -30.0)
    kw = {"C": C, "class_weight": class_weight, "max_iter": max_iter, "random_state": random_state}
    if single:
        present = np.flatnonzero(Y.any(axis=0))
        if len(present) == 1:  # one class only (a small CV fold): it always wins
            intercept[present[0]] = 30.0
            return coef, intercept
        clf = LogisticRegression(**kw).fit(X, Y[:, present].argmax(axis=1))
        c, b = clf.coef_, clf.intercept_
        if c.shape[0] == 1:  # binary: sklearn keeps one row; softmax of [-z/2, z/2] = sigmoid(z)
            c, b = np.vstack([-c[0] / 2, c[0] / 2]), np.array([-b[0] / 2, b[0] / 2])
        coef[present], intercept[present] = c, b
        return coef, intercept
    for k in range(n_classes):
        yk = Y[:, k]
        if yk.all() or not yk.any():
            intercept[k] = 30.0 if yk.all() else -30.0
            continue
        clf = LogisticRegression(**kw).fit(X, yk)
        coef[k], intercept[k] = clf.coef_[0], clf.intercept_[0]
    return coef, intercept


def _fold_decisions(X: Any, Y: np.ndarray, C: float, train: np.ndarray, test: np.ndarray,
                    **kw: Any) -> np.ndarray:
    """Decision values for the ``test`` rows of a model fitted on the ``train`` rows (one fold)."""
    coef, intercept = _logistic_weights(X[train], Y[train], C, **kw)
    return np.asarray(X[test] @ coef.T) + intercept


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
    C : float or "auto", default "auto"
        Inverse regularisation strength of the logistic regression.  ``"auto"``: the value of
        :data:`C_GRID` that does best in 5-fold cross-validation grouped by document inside the
        training data: the lowest log loss for single-label data (``cv_log_loss_``), the highest
        mean F1 per code at ``threshold`` for multi-label data (``cv_macro_f1_``); ``C_`` holds it.
    class_weight : {None, "balanced"}, default None
    threshold : float or "auto", default "auto"
        Probability threshold per code for multi-label data.  ``"auto"``: one threshold per code,
        the value of :data:`THRESHOLD_GRID` with the highest F1 of "present" on the out-of-fold
        probabilities of the grouped cross-validation that chooses ``C`` (``C`` and thresholds
        are chosen together), among those that give the code to at most
        :data:`THRESHOLD_RATE_CAP` times its share of the training segments; 0.5 when there are
        fewer than 3 training documents.  A rare code's
        probabilities seldom reach 0.5 under the regularisation that suits the common ones, so a
        fixed 0.5 under-codes it (docs/mapping.md, *Few-shot: thresholds per code for
        multi-label data*).  Single-label data take the most probable class and ignore it.
    max_iter : int, default 2000
    prototypes : bool, default True
        Add the codebook-prototype scores of a :class:`ZeroShotMapper` (definition, criteria,
        examples; no labels) as features: one per code.
    cues : dict, optional
        ``code -> regular expressions`` (as for :class:`ZeroShotMapper`); adds one 0/1 feature per
        code: whether any of its cues matches.
    neighbour_surface : bool, default True
        With ``context``: add :func:`surface_features` of the previous (and next) turn too
        (a question often follows a short client turn; a reflection follows a long one).
    length_bins : bool, default True
        Add a one-hot bin of the segment's length in words (1, 2-3, 4-7, 8-15, 16-31, 32+):
        "other" is mostly very short turns, input mostly long ones.
    sentence_ends : {"last", "both", "none"}, default "last"
        Add the embedding and surface cues of the turn's last sentence (``"both"``: its first
        and last), and its number of sentences: in a long turn the last sentence often carries
        what the turn does (a summary that ends in a question).  Only sentences of turns with
        more than one are embedded.  Chosen on split seeds 5-9 (docs/mapping.md, *Few-shot: the
        last sentence of a turn*).
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
    self_training : float or None, default 0.5
        Transductive self-training for single-label data, when :meth:`fit` is given the
        ``unlabelled`` segments that will be coded: after the first fit, this share of the
        unlabelled segments predicted as each code (the most probable ones) become
        pseudo-examples of it, and the model is fitted again on both, with the same ``C``.
        None or 0: off.  Multi-label data are not self-trained.  Chosen on split seeds 5-9 of
        AnnoMI (docs/mapping.md, *Few-shot self-training*).
    random_state : int, default 0
    n_jobs : int, optional
        Processes for the fits of the grouped cross-validation that chooses ``C`` (and the
        thresholds): None is 1, -1 every core (joblib's convention).  The result is the same
        whatever the number; with many codes of multi-label data (one model per code, 25
        cross-validation fits of each) it saves most of the time.

    Attributes
    ----------
    classes_ : list of str
        Codes the model learned (single-label data: plus an internal "no code" class when present).
    mode_ : {"single", "multi"}
    coef_, intercept_ : ndarray
        Logistic-regression weights over the feature blocks.
    C_ : float
        The ``C`` used (chosen by grouped cross-validation with ``C="auto"``).
    cv_log_loss_ : dict or None
        With ``C="auto"`` and single-label data: mean log loss per value of ``C`` tried.
    cv_macro_f1_ : dict or None
        With ``C="auto"`` and multi-label data: mean F1 of "present" per code at ``threshold``
        (with ``threshold="auto"``: at each code's best threshold), per value of ``C`` tried.
    thresholds_ : dict
        Multi-label data: the threshold of each code (chosen with ``threshold="auto"``, else
        ``threshold``).  Empty for single-label data.
    n_pseudo_ : dict
        Pseudo-examples per code that self-training added (empty when it did not run).
    train_docs_ : list of str
        The documents of the training segments (a loaded model from before they were saved: empty).
    embedding_backend_ : str or None
        Set by :meth:`load` only: the backend the saved model was trained on (None when the
        model does not record it).
    """

    method = "few-shot"
    # declared, not assigned: :meth:`load` sets it; a freshly fitted model has no such attribute
    embedding_backend_: str | None

    def __init__(
        self,
        codebook: Codebook | str = "psychosomatic",
        embedder: Any = None,
        classifier: str = "logreg",
        context: str = "both",
        surface: bool = True,
        tfidf: bool = True,
        C: float | str = "auto",
        class_weight: str | None = None,
        threshold: float | str = "auto",
        max_iter: int = 2000,
        prototypes: bool = True,
        cues: Mapping[str, Sequence[str]] | None = None,
        neighbour_surface: bool = True,
        length_bins: bool = True,
        sentence_ends: str = "last",
        position: bool = False,
        single_label: bool | None = None,
        roles: Sequence[str] | None = None,
        self_training: float | None = 0.5,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ):
        self.codebook = codebook
        self.embedder = embedder
        self.single_label = single_label
        self.roles = roles
        self.classifier = classifier
        self.context = context
        self.surface = surface
        self.tfidf = tfidf
        self.prototypes = prototypes
        self.cues = cues
        self.neighbour_surface = neighbour_surface
        self.length_bins = length_bins
        self.sentence_ends = sentence_ends
        self.position = position
        self.C = C
        self.class_weight = class_weight
        self.threshold = threshold
        self.max_iter = max_iter
        self.self_training = self_training
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- features ----------------------------------------------------------------------------

    def _dense(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None) -> np.ndarray:
        texts = segment_texts(segments)
        emb = encode(self.embedder_, texts)
        blocks = [emb]
        if self.prototypes:
            assert self.zero_shot_ is not None  # _make_zero_shot builds it when prototypes or cues are on
            blocks.append(self.zero_shot_.prototype_scores(emb).astype(np.float32))
        if self.cues:
            assert self.zero_shot_ is not None  # (as above)
            blocks.append(self.zero_shot_.cue_matches(texts).astype(np.float32))
        with_context = self.context in ("previous", "both") or self.position
        ctx = check_segments(all_segments, "all_segments") if with_context and all_segments is not None else segments
        if self.context in ("previous", "both"):
            for step in ((-1, 1) if self.context == "both" else (-1,)):
                blocks += neighbour_features(segments, ctx, emb, self.embedder_, step, surface=self.neighbour_surface)
        if self.surface:
            blocks.append(surface_features(texts))
        if self.length_bins:
            blocks.append(length_bin_features(texts))
        if self.sentence_ends != "none":
            blocks += sentence_end_features(texts, emb, self.embedder_, self.sentence_ends)
        if self.position:
            blocks.append(position_features(segments, ctx))
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
        texts = segment_texts(segments)
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.word_vec_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True,
                                             token_pattern=r"(?u)\b\w+\b|[?!]")
            self.char_vec_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True,
                                             max_features=30000)
            self.word_vec_.fit(texts)
            self.char_vec_.fit(texts)
        # the sparse blocks are scaled down so the dense block (unit variance per column) is not drowned
        return sparse.hstack(
            [sparse.csr_matrix(dense), self.word_vec_.transform(texts), self.char_vec_.transform(texts)], format="csr"
        )

    # -- fit / predict -----------------------------------------------------------------------

    def fit(self, segments: pd.DataFrame, y: Any, all_segments: pd.DataFrame | None = None,
            unlabelled: pd.DataFrame | None = None) -> FewShotMapper:
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
        unlabelled : DataFrame, optional
            Segments without gold codes that will be coded (any role: those of other roles are
            left out): the pool of ``self_training``.  Their text is used, never a label.

        Returns
        -------
        self
        """
        if self.classifier != "logreg":
            raise InputError(f"unknown classifier {self.classifier!r} (available: logreg)")
        if self.context not in ("previous", "both", "none"):
            raise InputError(f"context must be 'previous', 'both' or 'none', not {self.context!r}")
        if self.sentence_ends not in SENTENCE_ENDS:
            raise InputError(f"sentence_ends must be 'last', 'both' or 'none', not {self.sentence_ends!r}")
        if self.C != "auto" and not (isinstance(self.C, (int, float)) and self.C > 0):
            raise InputError(f"C must be a positive number or 'auto', not {self.C!r}")
        if self.threshold != "auto" and not (isinstance(self.threshold, (int, float)) and 0 < self.threshold < 1):
            raise InputError(f"threshold must be a number between 0 and 1 or 'auto', not {self.threshold!r}")
        share = check_share(self.self_training, "self_training")
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral)
                                        or self.n_jobs == 0):
            raise InputError(f"n_jobs must be a whole number other than 0 (-1: every core), not {self.n_jobs!r}")
        segments = check_segments(segments)
        if len(segments) < 2:  # the lexical features need two documents; a classifier needs more anyway
            raise InputError(f"training needs at least 2 segments with gold codes, got {len(segments)}")
        cb = load_codebook(self.codebook)
        self.codebook_ = cb
        self.embedder_ = embedder_or_default(self.embedder)
        mode, labels = _normalise_labels(y, len(segments))
        # gold spelt differently from the codebook ("diplomacy" for "DIPLOMACY") still finds its code
        spelling = resolve_code_names(sorted({c for row in labels for c in row}), cb.codable_names, what="gold code",
                                      headings=cb.heading_names, aliases=cb.aliases)
        labels = [sorted({spelling[c] for c in row}) for row in labels]
        keep = self.eligible_mask(segments)
        if self.single_label:
            mode = "single"
            keep &= np.array([len(row) > 0 for row in labels])  # one code per unit: uncoded units are not "none"
        if not keep.all():
            segments = segments[keep]
            # both one entry per segment (_normalise_labels checks the length)
            labels = [row for row, k in zip(labels, keep, strict=True) if k]
        if not len(segments):
            raise InputError("no training segment is left of the coded roles")
        self.mode_ = mode
        self._make_zero_shot()
        X = self._features(segments, all_segments, fit=True)
        if mode == "single":
            target = [row[0] if row else NO_CODE for row in labels]
            classes = [c for c in cb.codable_names if c in set(target)] + ([NO_CODE] if NO_CODE in set(target) else [])
            if len(classes) < 2:
                raise InputError("need at least two different classes in the training labels")
            Y = np.array([[t == c for c in classes] for t in target], dtype=bool)
        else:
            classes = [c for c in cb.codable_names if any(c in row for row in labels)]
            if not classes:
                raise InputError("no segment carries a gold code; nothing to learn")
            Y = np.array([[c in row for c in classes] for row in labels], dtype=bool)
        never = [c for c in cb.codable_names if c not in classes]
        if never:  # a code the gold never gives is a code this mapper never assigns
            warnings.warn(f"{len(never)} code(s) of the codebook have no gold example and will never be assigned by "
                          f"this mapper: {', '.join(never)}", PsythemesWarning, stacklevel=2)
        groups = segments[DOC].astype(str).to_numpy()
        self.C_, cv_scores, thresholds = self._choose_C(X, Y, groups)
        self.cv_log_loss_ = cv_scores if mode == "single" else None
        self.cv_macro_f1_ = cv_scores if mode != "single" else None
        self.coef_, self.intercept_ = self._weights(X, Y, self.C_)
        self.classes_ = classes
        self.thresholds_ = {} if mode == "single" else dict(zip(classes, map(float, thresholds), strict=True))
        self.n_train_ = int(len(segments))
        self.n_docs_ = int(segments[DOC].nunique())
        self.train_docs_ = sorted(set(segments[DOC].astype(str)))
        self.n_pseudo_: dict[str, int] = {}
        if share and unlabelled is not None and mode == "single":
            self._self_train(segments, Y, unlabelled, all_segments, share)
        return self

    def _self_train(self, segments: pd.DataFrame, Y: np.ndarray, unlabelled: pd.DataFrame,
                    all_segments: pd.DataFrame | None, share: float) -> None:
        """Refit on the gold plus the most confident predictions for the unlabelled segments (one round).

        Per code, the ``self_training`` share of the unlabelled segments predicted as that code,
        most probable first, become its pseudo-examples; features (scaling, n-gram vocabularies) and
        weights are fitted again on both, with the ``C_`` already chosen.
        """
        pool = check_segments(unlabelled)
        pool = pool[self.eligible_mask(pool)]
        if not len(pool):
            return
        proba = _softmax(np.asarray(self._features(pool, all_segments) @ self.coef_.T) + self.intercept_)
        predicted, confidence = proba.argmax(axis=1), proba.max(axis=1)
        chosen: list[int] = []
        for k, code in enumerate(self.classes_):
            rows = np.flatnonzero(predicted == k)
            if code == NO_CODE or not len(rows):
                continue
            take = rows[np.argsort(-confidence[rows], kind="stable")[:max(1, round(share * len(rows)))]]
            chosen.extend(take.tolist())
            self.n_pseudo_[code] = int(len(take))
        if not chosen:
            return
        picked = np.array(sorted(chosen))
        both = pd.concat([segments, pool.iloc[picked]], ignore_index=True)
        Y_both = np.vstack([Y, np.eye(len(self.classes_), dtype=bool)[predicted[picked]]])
        X = self._features(both, all_segments, fit=True)
        self.coef_, self.intercept_ = self._weights(X, Y_both, self.C_)

    def _make_zero_shot(self) -> None:
        # label-free features from the codebook: prototype scores and cue matches
        self.zero_shot_ = None
        if self.prototypes or self.cues:
            self.zero_shot_ = ZeroShotMapper(self.codebook_, embedder=self.embedder_, cues=self.cues,
                                             use_examples=True).fit()

    def _fit_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`_logistic_weights` that this mapper's parameters fix."""
        return {"single": self.mode_ == "single", "class_weight": self.class_weight, "max_iter": self.max_iter,
                "random_state": self.random_state}

    def _weights(self, X: Any, Y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
        """Logistic-regression weights, one row per column of ``Y`` (see :func:`_logistic_weights`)."""
        return _logistic_weights(X, Y, C, **self._fit_options())

    def _choose_C(self, X: Any, Y: np.ndarray, groups: np.ndarray) -> tuple[float, dict[str, float] | None, np.ndarray]:
        """``C`` and the thresholds per code (multi-label data; single-label: unused).

        With ``C="auto"``, the value of :data:`C_GRID` that does best in cross-validation grouped
        by document (never a document on both sides of a fold).  Single-label data: the lowest
        log loss.  Multi-label data: the highest mean F1 of "present" per code at the threshold,
        because the threshold decides: the C with the lowest log loss regularises so strongly
        that rare codes stay below 0.5 and are never assigned (demo corpus: alternation given to
        1 % of turns against 10 % in the gold, docs/mapping.md, *Demo corpus*).  With
        ``threshold="auto"`` each code's threshold is chosen on the same out-of-fold
        probabilities, for each C, and the C whose best thresholds do best wins.

        Returns
        -------
        (C, scores per C tried or None, thresholds per column of ``Y``)
        """
        auto_thresholds = self.mode_ == "multi" and self.threshold == "auto"
        fixed = 0.5 if self.threshold == "auto" else float(self.threshold)
        fallback = np.full(Y.shape[1], fixed)
        n_docs = len(set(groups))
        if self.C != "auto" and not auto_thresholds:
            return float(self.C), None, fallback
        if n_docs < 3:  # too few documents to cross-validate: a middle C, the plain threshold
            return (AUTO_C_FALLBACK if self.C == "auto" else float(self.C)), None, fallback
        from joblib import Parallel, delayed
        from sklearn.model_selection import GroupKFold

        folds = list(GroupKFold(n_splits=min(AUTO_C_FOLDS, n_docs)).split(X, groups=groups))
        grid = C_GRID if self.C == "auto" else (float(self.C),)
        kw = self._fit_options()
        logging.getLogger("psythemes.mapping").info(
            "choosing C%s: %d fits%s", " and thresholds" if auto_thresholds else "", len(grid) * len(folds),
            f" of {Y.shape[1]} codes each" if self.mode_ == "multi" else "")
        # every (C, fold) fit is independent: in other processes with n_jobs, in the same order
        decisions = iter(Parallel(n_jobs=self.n_jobs)(delayed(_fold_decisions)(X, Y, C, tr, te, **kw)
                                                      for C in grid for tr, te in folds))
        scores, thresholds = {}, {}  # thresholds: per C, with threshold="auto" only
        for C in grid:
            z = np.zeros(Y.shape)  # out-of-fold decision values
            for _, te in folds:
                z[te] = next(decisions)
            if self.mode_ == "single":
                scores[str(C)] = float(-np.log(np.clip(_softmax(z)[Y], 1e-12, 1.0)).mean())
            elif auto_thresholds:
                thresholds[C], f1 = _best_thresholds(_sigmoid(z), Y)
                scores[str(C)] = float(f1.mean())
            else:
                scores[str(C)] = float(f1_present(_sigmoid(z) >= fixed, Y).mean())
        # log loss: lower is better; F1: higher
        best = (min if self.mode_ == "single" else max)(grid, key=lambda c: scores[str(c)])
        return float(best), (scores if self.C == "auto" else None), thresholds.get(best, fallback)

    def _threshold_vector(self) -> np.ndarray:
        """Each class's threshold (multi-label data), in the order of ``classes_``."""
        return np.array([self.thresholds_[c] for c in self.classes_])

    def predict_proba(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Probabilities, one row per segment (index ``segment_id``), one column per class."""
        check_is_fitted(self, "coef_", "fit() or load()")
        segments = check_segments(segments)
        if len(segments) == 0:
            return pd.DataFrame(columns=self.classes_, dtype=float)
        X = self._features(segments, all_segments)
        z = np.asarray(X @ self.coef_.T) + self.intercept_
        proba = _softmax(z) if self.mode_ == "single" else _sigmoid(z)
        return pd.DataFrame(proba, index=segments[SEG].tolist(), columns=self.classes_)

    def decision_function(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Same as :meth:`predict_proba` without the internal "no code" column."""
        proba = self.predict_proba(segments, all_segments)
        return proba.drop(columns=[NO_CODE], errors="ignore")

    def eligible_mask(self, segments: pd.DataFrame) -> np.ndarray:
        """Rows whose role is coded at all (``roles``; every row when not given)."""
        return role_mask(segments, self.roles)

    def _proba_matrix(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None) -> np.ndarray:
        """Probabilities with the "no code" class forced on ineligible segments (and off with single_label)."""
        p = self.predict_proba(segments, all_segments).to_numpy().copy()
        if not len(p):
            return p
        if self.mode_ == "single" and self.single_label and NO_CODE in self.classes_:
            p[:, self.classes_.index(NO_CODE)] = -1.0
        eligible = self.eligible_mask(segments)
        p[~eligible] = -1.0
        self._warn_roleless(segments, eligible)
        return p

    def _warn_roleless(self, segments: pd.DataFrame, eligible: np.ndarray) -> None:
        """Say so when segments without any role get no code because the gold coded some roles only:
        segmented without metadata, a whole corpus would be left uncoded without a word."""
        if not self.roles or ROLE not in segments.columns:
            return
        roleless = ~eligible & (segments[ROLE].fillna("").astype(str).str.strip() == "").to_numpy()
        if roleless.any():
            warnings.warn(f"{int(roleless.sum())} of {len(segments)} segments have no role and get no code: the "
                          f"mapper codes only the roles its gold coded ({', '.join(self.roles)}); give the documents' "
                          "roles (--metadata with a role column, or --speaker-roles; metadata=/speaker_roles= in "
                          "Python) when segmenting", PsythemesWarning, stacklevel=4)

    def predict_single(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> list[str | None]:
        """One code (or ``None``) per segment: the most probable class (``None`` for roles not coded)."""
        p = self._proba_matrix(check_segments(segments), all_segments)
        if not len(p):
            return []
        best = p.argmax(axis=1)
        if self.mode_ == "multi":
            # the most probable of the codes over their own thresholds
            over = np.where(p >= self._threshold_vector(), p, -np.inf)
            best = over.argmax(axis=1)
            return [self.classes_[j] if np.isfinite(over[i, j]) else None for i, j in enumerate(best)]
        return [None if p[i, j] < 0 or self.classes_[j] == NO_CODE else self.classes_[j] for i, j in enumerate(best)]

    def predict(self, segments: pd.DataFrame, all_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Codes per segment with :data:`~psythemes.schema.CODE_COLUMNS` (score = probability)."""
        segments = check_segments(segments)
        p = self._proba_matrix(segments, all_segments)
        thresholds = self._threshold_vector() if self.mode_ == "multi" else np.zeros(0)
        rows = []
        for i in range(len(segments)):
            seg = segments.iloc[i]
            if self.mode_ == "single":
                j = int(p[i].argmax())
                hits = [] if self.classes_[j] == NO_CODE or p[i, j] < 0 else [j]
            else:
                hits = [int(j) for j in np.argsort(-p[i]) if p[i, j] >= thresholds[j]]
            for j in hits:
                rows.append([seg[DOC], seg[SEG], int(seg[START]), int(seg[END]), self.classes_[j],
                             round(float(p[i, j]), 4), self.method])
        return pd.DataFrame(rows, columns=CODE_COLUMNS)

    # -- persistence (psythemes.mapping.persistence) --------------------------------------------

    def save(self, directory: str | Path, *, training_data: str = "", metrics: Mapping[str, Any] | None = None,
             notes: str = "", embedding_backend: str | None = None) -> Path:
        """Write the model to ``directory``: ``model.json``, ``weights.npz``, ``codebook.yaml``, ``card.json``,
        ``model_card.md``.

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

        Returns
        -------
        Path
            The folder.
        """
        return save_model(self, directory, training_data=training_data, metrics=metrics, notes=notes,
                          embedding_backend=embedding_backend)

    @classmethod
    def load(cls, directory: str | Path, embedder: Any = None) -> FewShotMapper:
        """Read a model written by :meth:`save` (no code is executed from the folder).

        Without ``embedder``, segments are embedded with the backend the model was trained on
        (``embedding_backend`` in ``model.json``; the default backend when it is not recorded).
        """
        saved = read_model(directory)
        spec = saved.spec
        params = dict(spec["params"])
        params.setdefault("sentence_ends", "none")  # models saved before the parameter existed
        model = cls(codebook=saved.codebook, embedder=embedder, cues=spec.get("cues") or None, **params)
        model.codebook_ = saved.codebook
        model.embedding_backend_ = spec.get("embedding_backend")
        model.embedder_ = embedder_or_default(embedder, model.embedding_backend_)
        used = getattr(model.embedder_, "backend_", None)
        if model.embedding_backend_ and used and used != model.embedding_backend_:
            warnings.warn(f"the model was trained on {model.embedding_backend_} embeddings and is given {used} "
                          f"embeddings (close, not identical); embed with backend={model.embedding_backend_!r} "
                          "to match", stacklevel=2)
        model.mode_ = spec["mode"]
        model.classes_ = list(spec["classes"])
        model.coef_ = saved.arrays["coef"].astype(np.float64)
        model.intercept_ = saved.arrays["intercept"].astype(np.float64)
        model.dense_mean_, model.dense_scale_ = saved.arrays["dense_mean"], saved.arrays["dense_scale"]
        model.n_train_, model.n_docs_ = spec["n_train"], spec["n_docs"]
        model.C_ = spec.get("C_used", model.C)
        if model.mode_ == "multi":  # models saved before per-code thresholds used their one threshold
            model.thresholds_ = {c: float(t) for c, t in (spec.get("thresholds") or {}).items()}
            if not model.thresholds_:
                fixed = 0.5 if model.threshold == "auto" else float(model.threshold)
                model.thresholds_ = dict.fromkeys(model.classes_, fixed)
        else:
            model.thresholds_ = {}
        model.n_pseudo_ = dict(spec.get("n_pseudo") or {})
        model.train_docs_ = [str(d) for d in spec.get("train_docs") or []]
        model._make_zero_shot()
        for key, vectorizer in saved.vectorizers.items():
            setattr(model, f"{key}_vec_", vectorizer)
        return model
