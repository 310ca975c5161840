"""File-level jobs: read the input files, run the in-memory stages, write the output tables.

The CLI commands are thin layers over these functions; :func:`psythemes.extract` writes its
tables through the same readers and writers (:mod:`psythemes.tables`), so a file means the same
whatever route wrote it.  Stage modules (:mod:`psythemes.segment`, :mod:`psythemes.discover`,
:mod:`psythemes.mapping`, ...) never touch files.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import io as _io
from . import mapping as _mapping
from .codebook import Codebook, load_codebook
from .errors import InputError, PsythemesWarning
from .mapping import (
    FewShotMapper,
    ZeroShotMapper,
    calibration_corpus,
    grouped_cross_validate,
    infer_scheme,
    labels_from_gold,
    map_themes,
    warn_thin_cross_validation,
)
from .schema import interviewer_rows
from .segment import segment_transcripts
from .staging import keeping_edited
from .tables import (
    gold_texts,
    read_gold,
    read_metadata,
    read_segments,
    segment_table_path,
    write_codes,
    write_segments,
)

__all__ = [
    "segment_files",
    "SegmentRun",
    "load_segments",
    "set_aside_mask",
    "map_segments_to_files",
    "train_to_folder",
    "discover_themes",
    "write_theme_outputs",
]

_DOC, _SEG, _TEXT, _ROLE = "doc_id", "segment_id", "text", "role"


@dataclass
class SegmentRun:
    """What :func:`segment_files` did."""

    n_transcripts: int
    n_segments: int
    n_dropped: int
    unit: str
    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)


#: File names written by :func:`segment_files`.
SEGMENTS_FILE, DROPPED_FILE, TRANSCRIPTS_FILE = "segments.csv", "segments_dropped.csv", "transcripts.jsonl"


def segment_files(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    *,
    format: str = "auto",
    metadata: str | Path | pd.DataFrame | None = None,
    speaker_roles: Mapping[str, str] | str | None = None,
    unit: str = "turn",
    window_size: int = 3,
    stride: int = 1,
    interviewer: str = "keep",
    backchannels: str = "keep",
    lang: str = "en",
    spacy_model: str | None = None,
    label_patterns: Sequence[str] | None = None,
    encoding: str | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> SegmentRun:
    """Read transcript files, segment them and write the results (the ``segment`` command).

    Writes ``segments.csv`` (kept segments), ``segments_dropped.csv`` (dropped ones, possibly
    empty) and ``transcripts.jsonl`` (the normalised transcripts that offsets refer to) into
    ``out_dir``.  Everything is read and segmented before anything is written, and each file
    is written atomically, so a failed run leaves earlier results as they were.

    Parameters
    ----------
    paths : iterable of paths
        Files and folders, see :func:`psythemes.io.read_transcripts`.
    out_dir : path
        Output folder (created if needed).
    format, metadata, speaker_roles, label_patterns, encoding, on_file
        See :func:`psythemes.io.read_transcripts`.
    unit, window_size, stride, interviewer, backchannels, lang, spacy_model
        See :func:`segment_transcripts`.

    Returns
    -------
    SegmentRun
        Counts and output paths.  Problems that do not stop the run are issued as
        :class:`~psythemes.errors.PsythemesWarning`.
    """
    from .outputs import prepare_out_dir

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", path=out_dir)
    transcripts = _io.read_transcripts(paths, format=format, metadata=metadata, speaker_roles=speaker_roles,
                                       label_patterns=label_patterns, encoding=encoding, on_file=on_file)
    kept, dropped = segment_transcripts(
        transcripts, unit=unit, window_size=window_size, stride=stride, interviewer=interviewer,
        backchannels=backchannels, lang=lang, spacy_model=spacy_model,
        return_dropped=True)
    out_dir = prepare_out_dir(out_dir)
    with keeping_edited(out_dir):
        outputs = {
            "segments": write_segments(out_dir / SEGMENTS_FILE, kept),
            "dropped": write_segments(out_dir / DROPPED_FILE, dropped),
            "transcripts": _io.write_transcripts_jsonl(out_dir / TRANSCRIPTS_FILE, transcripts),
        }
    return SegmentRun(n_transcripts=len(transcripts), n_segments=len(kept), n_dropped=len(dropped), unit=unit,
                      out_dir=out_dir, outputs=outputs)


def load_segments(
    paths: Sequence[str | Path],
    *,
    unit: str = "turn",
    metadata: str | Path | None = None,
    speaker_roles: str | Mapping[str, str] | None = None,
    encoding: str | None = None,
    interviewer: str = "keep",
    backchannels: str = "keep",
) -> tuple[pd.DataFrame, pd.DataFrame | None, bool]:
    """Segments from a ``segments.csv`` or from transcripts (read and segmented here).

    Parameters
    ----------
    paths : sequence of path
        One segments table (a CSV with the columns :func:`psythemes.tables.read_segments` requires,
        whatever others it has), read with its own segment ids and offsets; or transcript
        files/folders.
    unit : str
        Segmentation unit for transcripts (``turn``, ``sentence``, ``window``).
    metadata : path, optional
        Metadata CSV (``doc_id`` column plus variables such as ``wave``), read by
        :func:`psythemes.tables.read_metadata`.
    speaker_roles : str or mapping, optional
        Speaker globs to roles, for transcripts (see :func:`psythemes.io.read_transcripts`).
    encoding : str, optional
        Text encoding of the transcript files (default: detect; see
        :func:`psythemes.io.read_transcripts`).  Not used for a ``segments.csv``.
    interviewer, backchannels : {"keep", "drop"}
        Leave out interviewer segments (role ``interviewer``) and backchannels ("mm-hmm"),
        as :func:`psythemes.extract` does; for a ``segments.csv`` by its ``role`` column and
        :func:`psythemes.segment.is_backchannel` on the text.

    Returns
    -------
    segments : pandas.DataFrame
    doc_metadata : pandas.DataFrame or None
        Per-document variables (``doc_id`` + columns) for the prevalence tables.
    segmented : bool
        True when the segments were made here from transcripts.

    The number of segments left out is in ``segments.attrs["n_set_aside"]``, by kind
    (``interviewer``, ``backchannel``) in ``segments.attrs["set_aside"]``.
    """
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("no input given")
    for p in files:
        if not p.exists():
            raise InputError("input not found", path=p)
    meta_frame = read_metadata(metadata) if metadata is not None else None
    if len(files) == 1 and segment_table_path(files[0]) is not None:
        table = read_segments(files[0])  # a folder: its segments.csv, said
        by_role = set_aside_mask(table, interviewer=interviewer, backchannels="keep")
        chat = set_aside_mask(table, interviewer="keep", backchannels=backchannels) & ~by_role
        drop = by_role | chat
        kept = table[~drop].reset_index(drop=True)
        kept.attrs["n_set_aside"] = int(drop.sum())
        kept.attrs["set_aside"] = {kind: n for kind, n in (("interviewer", int(by_role.sum())),
                                                           ("backchannel", int(chat.sum()))) if n}
        return kept, meta_frame, False
    try:
        from .io import read_transcripts
        from .segment import segment_transcripts, set_aside_counts
    except ImportError as err:
        raise InputError(f"reading transcripts needs psythemes.io and psythemes.segment ({err})") from err
    transcripts = read_transcripts(files, metadata=meta_frame, speaker_roles=speaker_roles, encoding=encoding)
    segments, dropped = segment_transcripts(transcripts, unit=unit, interviewer=interviewer,
                                            backchannels=backchannels, return_dropped=True)
    segments.attrs["n_set_aside"] = len(dropped)
    segments.attrs["set_aside"] = set_aside_counts(dropped)
    if meta_frame is None:
        # scalar variables only (the reader also stores e.g. a speaker -> role mapping there)
        records = [
            {_DOC: t.doc_id, **{k: v for k, v in t.metadata.items() if v is None or np.isscalar(v)}}
            for t in transcripts
            if t.metadata
        ]
        meta_frame = pd.DataFrame(records) if records else None
    return segments, meta_frame, True


def _segment_table(path: str | Path, command: str) -> pd.DataFrame:
    """``read_segments(path)``, with a clear error when ``path`` is a transcript or a folder:
    ``map`` and ``train`` read the table that ``psythemes segment`` writes."""
    p = Path(path)
    if p.is_dir() and segment_table_path(p) is not None:
        return read_segments(p)  # the output folder of segment or extract: its segments.csv, said
    if p.is_dir() or (p.suffix.lower() != ".csv" and p.suffix.lower() in _io.FORMAT_BY_SUFFIX):
        raise InputError(f"'psythemes {command}' reads a segments.csv, not transcripts; make one with "
                         f"'psythemes segment {p.name} --out DIR' (or run 'psythemes extract')", path=p)
    return read_segments(p)


def set_aside_mask(table: pd.DataFrame, *, interviewer: str = "keep", backchannels: str = "keep") -> np.ndarray:
    """Rows of a segment table that :func:`psythemes.extract` would set aside: interviewer turns
    (``role`` column) with ``interviewer="drop"``, backchannels (:func:`psythemes.segment.is_backchannel`
    on the text) with ``backchannels="drop"``."""
    drop = np.zeros(len(table), dtype=bool)
    if interviewer == "drop" and _ROLE in table.columns:
        drop |= (table[_ROLE].astype(str) == "interviewer").to_numpy()
    if backchannels == "drop":
        from .segment import is_backchannel

        drop |= table[_TEXT].astype(str).map(is_backchannel).to_numpy(dtype=bool)
    return drop


def _read_gold_csv(path: str | Path, codebook: Codebook, segments: pd.DataFrame | None = None,
                   qdpx_positions: str = "auto") -> pd.DataFrame:
    # spans beyond their text are dropped (with a warning) when transcripts.jsonl lies beside segments.csv
    lengths = segments.attrs.get("text_lengths") if segments is not None else None
    return read_gold(path, codes=codebook, text_lengths=lengths, qdpx_positions=qdpx_positions,
                     texts=gold_texts(segments) if segments is not None else None)


def _few_shot_training(cb: Codebook, segments: pd.DataFrame, train: str | Path, single_label: bool | None,
                       qdpx_positions: str = "auto") -> tuple[pd.DataFrame, list[Any], dict[str, Any]]:
    """Training segments, labels and the inferred scheme (announced as a PsythemesWarning)."""

    gold = _read_gold_csv(train, cb, segments, qdpx_positions)
    y_all = labels_from_gold(segments, gold)
    keep = np.flatnonzero(segments[_DOC].astype(str).isin(set(gold[_DOC].astype(str))).to_numpy())
    reviewed = gold.attrs.get("reviewed_spans")
    if reviewed is not None:  # review sheets label the segments decided on, not whole documents
        from .review import reviewed_rows

        keep = reviewed_rows(segments, reviewed, gold.attrs.get("full_docs", ()))
    if not len(keep):
        raise InputError("no segment belongs to a document of the gold table", path=train)
    seg = segments.iloc[keep].reset_index(drop=True)
    y = [y_all[i] for i in keep]
    # interviewer turns and backchannels that no code is on: map leaves them uncoded and evaluate
    # sets them aside, so they are no "no code" examples either (unless the gold codes interviewer turns)
    coded = np.array([len(v) > 0 for v in y], dtype=bool)
    asking = interviewer_rows(seg)
    aside = set_aside_mask(seg, interviewer="keep" if (coded & asking).any() else "drop", backchannels="drop") & ~coded
    if aside.any() and not aside.all():
        warnings.warn(f"{int(aside.sum())} interviewer turn(s) or backchannel(s) without a gold code are not "
                      "training examples (map leaves them uncoded)", PsythemesWarning, stacklevel=3)
        seg = seg[~aside].reset_index(drop=True)
        y = [v for v, a in zip(y, aside, strict=True) if not a]
    scheme = infer_scheme(seg, y, single_label)
    if scheme["single_label"]:
        y_one = labels_from_gold(seg, gold, single=True)  # several codes on a unit: the one most coders gave
    warnings.warn(f"from the gold: {scheme['message']}", PsythemesWarning, stacklevel=3)
    keep = np.ones(len(seg), dtype=bool)
    if scheme["roles"]:
        keep &= np.isin(seg[_ROLE].fillna("").astype(str), scheme["roles"])
    if scheme["single_label"]:
        # one code per unit: an uncoded unit is not coded yet, not "no code"; two codes: the most voted
        keep &= np.array([len(v) > 0 for v in y])
        y = y_one
    seg = seg[keep].reset_index(drop=True)
    y = [v for v, k in zip(y, keep, strict=True) if k]
    if not len(seg):
        raise InputError("no gold-coded segment to train on", path=train)
    return seg, y, scheme


def _fit_mapper(method: str, codebook: str | Path | None, segments: pd.DataFrame, *, train: str | Path | None,
                model: str | Path | None, threshold: str | float, max_codes: int | None, embedder: Any = None,
                single_label: bool | None = None, roles: Sequence[str] | None = None,
                qdpx_positions: str = "auto", self_training: bool | str = "auto",
                n_jobs: int | None = None) -> tuple[Any, set[str]]:
    """The fitted mapper, and the ids of the segments it was trained on (a few-shot mapper fitted
    here on ``train``; empty otherwise)."""
    if model is not None:
        mapper = FewShotMapper.load(model, embedder=embedder)
        given = load_codebook(codebook) if codebook is not None else None
        if given is not None and not given.same_codes(mapper.codebook_):
            theirs, mine = set(mapper.codebook_.names), set(given.names)
            differ = (f"codes only in --codebook: {', '.join(sorted(mine - theirs)) or 'none'}; only in the model's: "
                      f"{', '.join(sorted(theirs - mine)) or 'none'}" if mine != theirs
                      else "the same code names, with other definitions, criteria, examples or tree")
            raise InputError(f"the model was trained with another codebook ({differ}); leave out --codebook to use "
                             "the model's own, or train again with this codebook", path=model)
        if single_label is not None:
            mapper.single_label = bool(single_label)
        learned = set(getattr(mapper, "train_docs_", ()))
        again = sorted(learned & set(segments[_DOC].astype(str)))
        if again:
            # their codes repeat the gold the model learned: scored against it, agreement it never earned
            warnings.warn(f"{len(again)} of the documents to code are ones the model was trained on "
                          f"({', '.join(again[:5])}{' ...' if len(again) > 5 else ''}): their codes repeat its gold; "
                          "evaluate the model on other documents", PsythemesWarning, stacklevel=3)
        return mapper, set()
    cb = load_codebook(codebook if codebook is not None else "psychosomatic")
    if method == "few-shot":
        if train is None:
            raise InputError("--method few-shot needs --train GOLD.csv or --model DIR")
        seg, y, scheme = _few_shot_training(cb, segments, train, single_label, qdpx_positions)
        mapper = FewShotMapper(cb, embedder=embedder, single_label=scheme["single_label"], roles=scheme["roles"],
                               n_jobs=n_jobs).fit(seg, y, all_segments=segments,
                                                  unlabelled=_mapping.not_trained_on(segments, seg))
        return mapper, set(seg[_SEG].astype(str))
    if method != "zero-shot":
        raise InputError(f"unknown method {method!r} (zero-shot or few-shot)")
    try:
        thr: Any = float(threshold)
    except (TypeError, ValueError):
        thr = threshold
    return ZeroShotMapper(cb, embedder=embedder, threshold=thr, max_codes=max_codes, single_label=bool(single_label),
                          roles=list(roles) if roles else None, self_training=self_training,
                          ).fit(calibration_corpus(cb, segments)), set()


def _theme_inputs(themes_dir: Path, segments: pd.DataFrame, mapper: Any,
                  ) -> tuple[pd.DataFrame, np.ndarray, dict[Any, list[str]]]:
    from .schema import SEGMENT_THEME_COLUMNS

    themes_path, assign_path = themes_dir / "themes.csv", themes_dir / "segment_themes.csv"
    for p in (themes_path, assign_path):
        if not p.is_file():
            raise InputError("--themes folder lacks this file", path=p)
    themes = pd.read_csv(themes_path, keep_default_na=False)
    assign = pd.read_csv(assign_path, dtype={SEGMENT_THEME_COLUMNS[0]: str}, keep_default_na=False)
    if "theme_id" not in themes.columns or not set(SEGMENT_THEME_COLUMNS[:2]) <= set(assign.columns):
        raise InputError("themes.csv needs theme_id; segment_themes.csv needs segment_id, theme_id", path=themes_dir)
    emb = mapper.embed(segments)
    row_of = {s: i for i, s in enumerate(segments[_SEG].tolist())}
    # the discoverer's own quotes, as extract uses them (theme_quotes.csv; the top_quotes cells of
    # an older or hand-made themes.csv otherwise)
    from .tables import THEME_QUOTES_FILE, quote_texts, read_theme_quotes

    quotes_path = themes_dir / THEME_QUOTES_FILE
    theme_quotes = quote_texts(themes, read_theme_quotes(quotes_path) if quotes_path.is_file() else None)
    centroids, quotes = [], {}
    keep_rows = []
    for k, tid in enumerate(themes["theme_id"].tolist()):
        members = [row_of[s] for s in assign.loc[assign["theme_id"] == tid, SEGMENT_THEME_COLUMNS[0]] if s in row_of]
        if not members:
            continue
        c = emb[members].mean(axis=0)
        c /= max(float(np.linalg.norm(c)), 1e-12)
        centroids.append(c)
        keep_rows.append(k)
        quotes[tid] = theme_quotes[tid]
    dim = emb.shape[1] if emb.size else 1
    return themes.iloc[keep_rows].reset_index(drop=True), np.array(centroids).reshape(-1, dim), quotes


def map_segments_to_files(
    segments: str | Path,
    out_dir: str | Path,
    *,
    codebook: str | Path | None = None,
    method: str = "zero-shot",
    train: str | Path | None = None,
    model: str | Path | None = None,
    themes: str | Path | None = None,
    threshold: str | float = "auto",
    max_codes: int | None = None,
    embedder: Any = None,
    single_label: bool | None = None,
    roles: Sequence[str] | None = None,
    interviewer: str = "drop",
    backchannels: str = "drop",
    qdpx_positions: str = "auto",
    self_training: bool | str = "auto",
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Map a ``segments.csv`` to a codebook and write ``codes.csv`` (and ``theme_codes.csv``).

    Parameters
    ----------
    segments : path
        Segment table from ``psythemes segment``.
    out_dir : path
        Output folder.
    codebook : str or path, optional
        Codebook file or shipped name; default ``psychosomatic``, or the model's own codebook with ``model``.
    method : {"zero-shot", "few-shot"}
        ``few-shot`` trains on ``train`` (gold spans for some of these documents) unless ``model`` is given.
    train : path, optional
        Gold codes, as :func:`psythemes.tables.read_gold` reads them (CSV, ``.qdpx``, review sheet).
    model : path, optional
        Folder written by :meth:`FewShotMapper.save` (implies few-shot).
    themes : path, optional
        Folder with ``themes.csv`` and ``segment_themes.csv``; theme-to-code suggestions use a
        zero-shot mapper on the theme centroids.
    threshold, max_codes, self_training
        Zero-shot options (see :class:`ZeroShotMapper`).
    n_jobs : int, optional
        Few-shot training: processes for the cross-validation fits (see :class:`FewShotMapper`).
    embedder : object, optional
    single_label : bool, optional
        Every eligible segment gets exactly its best code.  None: zero-shot multi-label with
        abstention; few-shot infers it from the gold (and codes only the roles the gold codes).
    roles : sequence of str, optional
        Zero-shot: code only segments of these roles (``role`` column, case-insensitive); the
        mapper calibrates on them too.  Few-shot takes the roles from the gold; giving them
        there is an error.
    qdpx_positions : {"auto", "utf16", "codepoints"}
        The unit of selection positions of a ``.qdpx`` ``train`` (see :func:`psythemes.qdpx.read_qdpx`).
    interviewer, backchannels : {"drop", "keep"}
        Zero-shot: interviewer turns and backchannels ("mm-hmm") get no code, as in
        :func:`psythemes.extract` (see :func:`set_aside_mask`); interviewer turns are kept when
        ``roles`` names the interviewer role.  A few-shot mapper codes what its gold codes.

    Returns
    -------
    dict
        Counts and paths for the CLI summary (``n_set_aside``: segments left uncoded by
        ``interviewer`` / ``backchannels``).
    """
    from .outputs import prepare_out_dir, write_table
    from .staging import check_out_dir

    check_out_dir(out_dir, stage_command=True)  # before the embedding work, not after it
    frame = _segment_table(segments, "map")
    if themes is not None:  # checked before anything is written
        for name in ("themes.csv", "segment_themes.csv"):
            if not (Path(themes) / name).is_file():
                raise InputError("--themes folder lacks this file", path=Path(themes) / name)
    if model is not None:
        method = "few-shot"
    _mapping.check_roles_option(roles, method)
    if roles:
        _mapping.check_roles_present(frame, roles)
    aside = np.zeros(len(frame), dtype=bool)
    if method == "zero-shot":
        coded_roles = {r.strip().lower() for r in roles or ()}
        aside = set_aside_mask(frame, interviewer="keep" if "interviewer" in coded_roles else interviewer,
                               backchannels=backchannels)
    to_code = frame[~aside].reset_index(drop=True)
    out = prepare_out_dir(out_dir)
    mapper, trained_on = _fit_mapper(method, codebook, to_code, train=train, model=model, threshold=threshold,
                                     self_training=self_training,
                                     max_codes=max_codes, embedder=embedder, single_label=single_label, roles=roles,
                                     qdpx_positions=qdpx_positions, n_jobs=n_jobs)
    if isinstance(mapper, FewShotMapper):
        codes = mapper.predict(frame, all_segments=frame)
    else:
        codes = mapper.predict(to_code)
    # the segments a mapper was just trained on are coded by hand: predicting them would repeat the
    # gold, and scoring those predictions against it would report agreement the mapper never earned
    codes = codes[~codes[_SEG].astype(str).isin(trained_on)].reset_index(drop=True)
    theme_codes = None
    if themes is not None:
        zs = (mapper if isinstance(mapper, ZeroShotMapper)
              else ZeroShotMapper(mapper.codebook_, embedder=mapper.embedder_).fit())
        theme_table, centroids, quotes = _theme_inputs(Path(themes), frame, zs)
        theme_codes = map_themes(theme_table, centroids, zs, quotes=quotes)
    with keeping_edited(out):
        write_codes(out / "codes.csv", codes)
        if theme_codes is not None:
            write_table(out / "theme_codes.csv", theme_codes)
    warnings: list[str] = []
    result: dict[str, Any] = {"out_dir": str(out), "method": mapper.method, "n_segments": len(frame),
                              "n_set_aside": int(aside.sum()), "n_trained_on": len(trained_on),
                              "n_codes": len(codes),
                              "n_coded_segments": int(codes[_SEG].nunique()) if len(codes) else 0, "warnings": warnings,
                              # a multi-label few-shot model's threshold per code (empty otherwise)
                              "thresholds": dict(mapper.thresholds_) if isinstance(mapper, FewShotMapper) else {}}
    if theme_codes is not None:
        result["n_themes"] = len(theme_codes)
    return result


def train_to_folder(
    segments: str | Path,
    gold: str | Path,
    out_dir: str | Path,
    *,
    codebook: str | Path = "psychosomatic",
    cv: int = 5,
    random_state: int = 0,
    embedder: Any = None,
    single_label: bool | None = None,
    qdpx_positions: str = "auto",
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Train a :class:`FewShotMapper` on gold spans and save it (with grouped-CV metrics in its card).

    Only segments of documents that appear in the gold table are used for training (a
    document without gold rows is not "coded as nothing"); all segments serve as context.
    Whether the scheme is single-label and which roles are coded is inferred from the gold
    (:func:`infer_scheme`, announced as a warning) unless ``single_label`` is given.
    ``qdpx_positions``: the unit of a ``.qdpx`` gold's selection positions (see
    :func:`psythemes.qdpx.read_qdpx`).  ``n_jobs``: processes for the cross-validation fits
    (see :class:`FewShotMapper`); the model is the same whatever the number.
    """
    from .staging import check_out_dir

    # before the gold is read and the mapper fitted: an unusable --out must not be found at the end
    golds = list(gold) if isinstance(gold, (list, tuple)) else [gold]
    out_dir = check_out_dir(out_dir, inputs=[segments, *golds])
    cb = load_codebook(codebook)
    frame = _segment_table(segments, "train")
    train, y, scheme = _few_shot_training(cb, frame, gold, single_label, qdpx_positions)
    embedder = embedder if embedder is not None else _mapping.default_embedder()
    metrics: dict[str, Any] = {}
    params = {"single_label": scheme["single_label"], "roles": scheme["roles"], "n_jobs": n_jobs}
    n_docs = int(train[_DOC].nunique())
    if cv >= 2:
        warn_thin_cross_validation(train[_DOC].astype(str).tolist(), y, cb.codable_names, n_splits=cv)
    if cv >= 2 and n_docs >= 2:
        summary = grouped_cross_validate(
            lambda: FewShotMapper(cb, embedder=embedder, random_state=random_state, **params), train, y,
            n_splits=cv, all_segments=frame)
        metrics = {k: v for k, v in summary.items() if k != "folds"}
    model = FewShotMapper(cb, embedder=embedder, random_state=random_state, **params).fit(
        train, y, all_segments=frame, unlabelled=_mapping.not_trained_on(frame, train))
    gold_names = " + ".join(Path(g).name for g in (gold if isinstance(gold, (list, tuple)) else [gold]))
    training_data = f"{Path(segments).name} + {gold_names}: {len(train)} segments, {n_docs} documents"
    with keeping_edited(out_dir):
        out = model.save(out_dir, training_data=training_data, metrics=metrics)
    return {"out_dir": str(out), "n_segments": len(train), "n_docs": n_docs, "thresholds": dict(model.thresholds_),
            **metrics}


# -- themes: the ``themes`` command and the theme outputs of ``extract`` ----------------------


def write_theme_outputs(out_dir: str | Path, discoverer: Any, *, include_segments: bool = False) -> list[Path]:
    """Write a fitted discoverer's tables and figures (:func:`psythemes.tables.write_themes`).

    The ``themes`` command (through :func:`discover_themes`) and :func:`psythemes.extract`
    both write their theme files here, so ``themes.csv``, ``theme_quotes.csv``,
    ``segment_themes.csv``, ``themes_by_*.csv``, ``themes_run.json`` and ``figures/`` mean the
    same from either route.
    """
    from .tables import write_themes

    return write_themes(out_dir, discoverer, include_segments=include_segments)


def discover_themes(
    segments: pd.DataFrame,
    *,
    embedder: Any = None,
    embeddings: np.ndarray | None = None,
    metadata: Mapping[str, Any] | pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
    include_segments: bool = False,
    **params: Any,
) -> Any:
    """Embed segments (cached) and discover themes; write the results when ``out_dir`` is given.

    Parameters
    ----------
    segments : pandas.DataFrame
        Segment table.
    embedder : Embedder, optional
        Default: ``Embedder()`` (bundled model, default cache).
    embeddings : numpy.ndarray, optional
        Precomputed embeddings (then ``embedder`` only serves seed words).
    metadata : mapping or DataFrame, optional
        See :meth:`ThemeDiscoverer.fit`.
    out_dir : path, optional
        Folder for :func:`write_theme_outputs`.
    include_segments : bool
        Also write ``segments.csv``.
    **params
        :class:`ThemeDiscoverer` parameters.

    Returns
    -------
    ThemeDiscoverer
        Fitted.
    """
    from .embed import Embedder
    from .themes import ThemeDiscoverer

    if out_dir is not None:
        from .staging import check_out_dir

        check_out_dir(out_dir, stage_command=True)  # before the embedding work, not after it
    from .validate import check_seed

    check_seed(params.get("random_state"))  # also before the embedding work
    if embeddings is None:
        embedder = embedder if embedder is not None else Embedder()
        if len(segments) < 2:
            raise InputError(f"theme discovery needs at least 2 segments, got {len(segments)}")
        embeddings = embedder.embed_segments(segments)
    discoverer = ThemeDiscoverer(embedder=embedder, **params).fit(segments, embeddings, metadata=metadata)
    if out_dir is not None:
        with keeping_edited(out_dir):
            write_theme_outputs(out_dir, discoverer, include_segments=include_segments)
    return discoverer


# ============================================================================= review loop and pseudonymisation
# ``psythemes review``, ``psythemes next`` and ``psythemes pseudonymise``: the file-level jobs of
# psythemes.review, psythemes.active and psythemes.pseudonymise (which work in memory).

__all__ += ["review_run", "next_batch", "labelled_segments", "pseudonymise_files", "restore_files",
            "default_key_path"]

if TYPE_CHECKING:
    from .pseudonymise import PseudonymisationResult, RestoreCheck


def review_run(run_dir: str | Path, out: str | Path, *, reviewer: str = "", min_score: float | None = None,
               overwrite: bool = False) -> dict:
    """``psythemes review``: write the review sheet of a run.

    An existing sheet (or ``.csv`` copy) at ``out`` that holds decisions, or a file that is no
    review sheet, is an :class:`InputError` unless ``overwrite`` (see
    :func:`psythemes.review.check_review_out`).

    Returns
    -------
    dict
        ``n_rows``, ``n_segments``, ``out`` and, when ``out`` is an ``.xlsx``, ``csv`` (the
        same rows as UTF-8-with-BOM CSV beside it).
    """
    from .review import check_review_out, review_table
    from .tables import read_run

    out = check_review_out(out, csv_copy=True, run_dir=run_dir, overwrite=overwrite)
    run = read_run(run_dir)
    suggestions = run.codes
    if min_score is not None:
        suggestions = suggestions[suggestions["score"] >= min_score]
    table = review_table(run, suggestions=suggestions, reviewer=reviewer)
    return {"n_rows": len(table), "n_segments": int(table["segment_id"].nunique()),
            **_write_sheet_and_copy(table, out, run.codebook.codable_names)}


def _write_sheet_and_copy(table: pd.DataFrame, out: Path, codes: Sequence[str]) -> dict[str, str]:
    """Write a review sheet (``out``) and, beside an ``.xlsx``, the same rows as CSV for programs
    other than Excel and LibreOffice; ``{"out": ..., "csv": ...}`` as written."""
    from .tables import write_review_sheet

    written = {"out": str(write_review_sheet(table, out, codes=codes))}
    if out.suffix.lower() == ".xlsx":
        written["csv"] = str(write_review_sheet(table, out.with_suffix(".csv"), codes=codes))
    return written


def labelled_segments(segments: pd.DataFrame, gold_paths: Sequence[str | Path], *, codes: Sequence[str] | Codebook,
                      coders: Sequence[str] | None = None,
                      qdpx_positions: str = "auto") -> tuple[np.ndarray, list[list[str]]]:
    """Which segments are labelled by the given gold files, and their codes.

    A review sheet labels the segments it has decisions for; a gold CSV or ``.qdpx`` labels
    every segment of each document it has codes in (the coverage rule of
    :mod:`psythemes.evaluate`).  ``qdpx_positions``: the unit of a ``.qdpx``'s selection positions
    (see :func:`psythemes.qdpx.read_qdpx`).

    Returns
    -------
    (ndarray, list)
        Row positions in ``segments`` and, per position, the sorted codes.
    """
    from .tables import is_review_sheet, read_review

    labelled = np.zeros(len(segments), dtype=bool)
    tables = []
    key = list(zip(segments["doc_id"].astype(str), segments["start"].astype(int), segments["end"].astype(int),
                   strict=True))
    position = {k: i for i, k in enumerate(key)}
    for path in map(Path, gold_paths):
        if is_review_sheet(path):
            decided = read_review(path, codes=codes)
            for rec in decided.reviewed.itertuples(index=False):
                i = position.get((str(rec.doc_id), int(rec.start), int(rec.end)))
                if i is not None:
                    labelled[i] = True
            tables.append(decided.gold)
        else:
            table = read_gold(path, codes=codes, coders=coders, texts=gold_texts(segments),
                              qdpx_positions=qdpx_positions)
            labelled |= segments["doc_id"].astype(str).isin(set(table["doc_id"].astype(str))).to_numpy()
            tables.append(table)
    rows = np.flatnonzero(labelled)
    gold = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["doc_id", "start", "end", "code"])
    labels = labels_from_gold(segments, gold) if len(gold) else [[] for _ in range(len(segments))]
    return rows, [labels[i] for i in rows]


def next_batch(run_dir: str | Path, out: str | Path, *, n: int = 50, gold: Sequence[str | Path] = (),
               gold_coders: Sequence[str] | None = None, reviewer: str = "", random_state: int = 0,
               cache_dir: Any = None, overwrite: bool = False, qdpx_positions: str = "auto") -> dict[str, Any]:
    """``psythemes next``: write a review sheet of the ``n`` segments to code next.

    ``out`` may not be one of the ``gold`` files, and an existing sheet at ``out`` that holds
    decisions is an :class:`InputError` unless ``overwrite`` (see
    :func:`psythemes.review.check_review_out`); both are checked before the embedding work.

    Returns
    -------
    dict
        ``n_selected``, ``n_labelled``, ``n_left`` (segments not labelled before this batch),
        ``n_docs``, ``cold_start`` (no classifier could be fitted yet), ``out`` and, when ``out``
        is an ``.xlsx``, ``csv`` (the same rows as CSV beside it, as ``review`` writes).
    """
    from .active import NO_CODE, ActiveSampler
    from .embed import Embedder
    from .review import check_review_out, review_table
    from .tables import read_run

    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    out = check_review_out(out, csv_copy=True, inputs=list(gold), run_dir=run_dir, overwrite=overwrite)
    run = read_run(run_dir)
    segments = run.segments.reset_index(drop=True)
    rows, labels = labelled_segments(segments, list(gold), codes=run.codebook, coders=gold_coders,
                                     qdpx_positions=qdpx_positions)
    manifest = run.manifest if isinstance(run.manifest, dict) else {}
    options = manifest.get("options", {})
    # the run's embedder (parts; runs written before parts were recorded keep context in options)
    context = (manifest.get("parts", {}).get("embedder") or {}).get("context", options.get("context"))
    model_path = (manifest.get("model") or {}).get("path")
    embedder = Embedder(model=model_path if model_path and Path(model_path).exists() else None,
                        context=context, backend=options.get("embedding_backend"), cache_dir=cache_dir)
    X = np.asarray(embedder.embed_segments(segments), dtype=np.float32)
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    top_code = (run.codes[run.codes["code"].astype(str) != ""].sort_values("score", ascending=False)
                .drop_duplicates("segment_id").set_index("segment_id")["code"])
    prior = [str(top_code.get(s, NO_CODE)) for s in segments["segment_id"]]
    sampler = ActiveSampler(n=n, random_state=random_state)
    picked = sampler.select(X, rows, labels, segments["doc_id"], prior_codes=prior, multilabel=True)
    if not len(picked):
        raise InputError("every segment of the run is already labelled: nothing left to choose")
    # show the classifier's guess where there is one, else the run's own suggestions
    picked_ids = segments["segment_id"].iloc[picked].tolist()
    if sampler.classifier_ is not None:
        pos = {int(p): k for k, p in enumerate(np.setdiff1d(np.arange(len(segments)), rows))}
        guesses = [sampler.predicted_[pos[int(p)]] for p in picked]
        suggestions = pd.DataFrame({"segment_id": picked_ids,
                                    "code": [g if g != NO_CODE else "" for g in guesses],
                                    "score": [round(1 - float(sampler.uncertainty_[pos[int(p)]]), 3) for p in picked],
                                    "evidence": "chosen by psythemes next (uncertain)"})
    else:
        suggestions = run.codes[run.codes["segment_id"].isin(picked_ids)]
    table = review_table(run, segment_ids=picked_ids, suggestions=suggestions, reviewer=reviewer)
    return {"n_selected": len(picked_ids), "n_labelled": int(len(rows)),
            "n_left": int(len(segments) - len(rows)),
            "n_docs": int(segments["doc_id"].iloc[picked].nunique()), "cold_start": sampler.classifier_ is None,
            **_write_sheet_and_copy(table, out, run.codebook.codable_names)}


def default_key_path(out_dir: str | Path) -> Path:
    """Where ``psythemes pseudonymise`` keeps the key when none is named: beside the output
    folder (``OUT.key.json``), never inside it."""
    out_dir = Path(out_dir)
    return out_dir.parent / f"{out_dir.name}.key.json"


def _refuse_inputs(targets: Iterable[Path], inputs: Iterable[Path]) -> None:
    sources = {p.resolve() for p in inputs}
    for target in targets:
        if target.resolve() in sources:
            raise InputError("would overwrite an input file; choose another --out folder", path=target)


def pseudonymise_files(inputs: str | Path | Iterable[str | Path], out_dir: str | Path, *,
                       key_path: str | Path | None = None, names: Any = None, keep: Any = None,
                       format: str = "auto", encoding: str | None = None) -> tuple[PseudonymisationResult, Path]:
    """Pseudonymise transcript files into ``out_dir`` (one ``DOC_ID.txt`` each) and write the key.

    An existing key at ``key_path`` is read first and extended, so files pseudonymised in
    several batches share their surrogates.  Inputs are never modified.  Returns the result
    and the key's path.
    """
    from .io import expand_paths, read_transcripts
    from .outputs import prepare_out_dir, write_text
    from .pseudonymise import Pseudonymiser, PseudonymKey, check_key_path

    out_dir = Path(out_dir)
    key_path = check_key_path(key_path if key_path is not None else default_key_path(out_dir), out_dir)
    files = expand_paths([inputs] if isinstance(inputs, (str, Path)) else list(inputs))
    transcripts = read_transcripts(files, format=format, encoding=encoding)
    targets = [out_dir / f"{t.doc_id}.txt" for t in transcripts]
    _refuse_inputs(targets, files)
    earlier = PseudonymKey.load(key_path) if key_path.exists() else None
    result = Pseudonymiser(names=names, keep=keep, key=earlier).fit_transform(transcripts)
    prepare_out_dir(out_dir)
    # the key first: pseudonymised files without their key could never be restored
    result.key.save(key_path)
    with keeping_edited(out_dir):
        for target, t in zip(targets, result.transcripts, strict=True):
            write_text(target, t.text)
    return result, key_path


def restore_files(inputs: str | Path | Iterable[str | Path], out_dir: str | Path, *,
                  key_path: str | Path) -> tuple[list[Path], RestoreCheck]:
    """Write each input file into ``out_dir`` with the originals back (see
    :func:`psythemes.pseudonymise.restore_text`).

    A pseudonymised transcript written by :func:`pseudonymise_files` comes back exactly; any
    other text file (a CSV, the report) gets each surrogate's first-seen original.
    Returns the files written and :func:`psythemes.pseudonymise.check_restore_files` of the
    inputs: which came back exactly (it warns about transcripts edited since they were
    pseudonymised).
    """
    from .io import decode_bytes, expand_paths, normalise_text
    from .outputs import prepare_out_dir, write_text
    from .pseudonymise import PseudonymKey, check_restore_files, restore_text

    key = PseudonymKey.load(key_path)
    out_dir = Path(out_dir)
    paths = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    files = [Path(p) for p in paths if Path(p).is_file()] + expand_paths([p for p in paths if Path(p).is_dir()])
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise InputError("no such file or folder", path=missing[0])
    targets = [out_dir / f.name for f in files]
    _refuse_inputs(targets, files)
    prepare_out_dir(out_dir)
    texts = []  # all read before anything is written: an unreadable file leaves the folder as it was
    for source in files:
        try:
            raw = source.read_bytes()
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=source) from None
        texts.append(restore_text(normalise_text(decode_bytes(raw, source)), key))
    with keeping_edited(out_dir):
        written = [write_text(target, text) for target, text in zip(targets, texts, strict=True)]
    return written, check_restore_files(files, key)
