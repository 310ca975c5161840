"""The main job: read → segment → embed → themes → map → (evaluate) → report, in one call.

:func:`extract` runs every stage in memory and writes nothing until all stages have
succeeded; then each output is written atomically and ``manifest.json`` last, so a failed
or interrupted run leaves the previous results in ``out_dir`` as they were.  The CLI
command ``psythemes extract`` is a thin wrapper around it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .cachedir import cache_folder as _cache_folder
from .config import (  # themes/, report/ beside the embeddings
    PART_SHORTCUTS,
    EvaluationOptions,
    ReadOptions,
)
from .errors import InputError
from .qdpx import (  # coder name of machine codes in the export (never gold unless named)
    MACHINE_CODER,
    POSITION_UNITS,
)
from .schema import GOLD_COLUMNS, Transcript

__all__ = ["ExtractResult", "extract", "STAGES", "ReadOptions", "EvaluationOptions", "PART_SHORTCUTS"]

#: Stages in the order they run (``on_stage`` receives these names).
STAGES = ("read", "segment", "embed", "themes", "map", "evaluate", "report", "write")


@dataclass
class ExtractResult:
    """Tables produced by :func:`extract` (also written to ``out_dir``).

    Attributes
    ----------
    transcripts : sequence of Transcript
        A list; on Dask (:func:`psythemes.distributed.extract`) a
        :class:`~psythemes.distributed.StoredTranscripts` read from the work folder when used.
    segments : DataFrame
        Units of analysis that were embedded, themed and coded.
    dropped : DataFrame
        Segments set aside (interviewer turns, backchannels), kept for reference.
    themes, segment_themes : DataFrame
        Candidate themes and each segment's theme.
    codes : DataFrame
        Machine codes (``CODE_COLUMNS`` + ``evidence``).
    theme_codes : DataFrame
        Best code per theme with scores.
    evaluation : psythemes.evaluate.Evaluation or None
        Agreement with the gold codes, when gold was given.
    codebook : psythemes.codebook.Codebook
    gold : DataFrame or None
    manifest : dict
        Versions, model, options, seeds, input hashes, timings per stage, outputs.
    out_dir : Path or None
    """

    transcripts: Sequence[Transcript]
    segments: pd.DataFrame
    dropped: pd.DataFrame
    themes: pd.DataFrame
    segment_themes: pd.DataFrame
    codes: pd.DataFrame
    theme_codes: pd.DataFrame
    codebook: Any
    evaluation: Any = None
    gold: pd.DataFrame | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    #: psythemes.pseudonymise.PseudonymisationResult when run with ``pseudonymise``; its
    #: ``key`` holds the originals and is written only to ``pseudonym_key``.
    pseudonymisation: Any = None
    #: Share of each theme's segments per code (``theme_code_shares.csv``), computed once for the
    #: report and the file (at a million segments its merge of codes and themes is not small).
    theme_code_shares: pd.DataFrame | None = None
    #: New codes and themes per added transcript (``psythemes.saturation``; ``saturation.csv``).
    saturation: list[Any] = field(default_factory=list)


def extract(
    inputs: str | Path | Iterable[str | Path],
    out_dir: str | Path | None = None,
    *,
    metadata: str | Path | pd.DataFrame | None = None,
    codebook: Any = None,
    gold: str | Path | list[str | Path] | pd.DataFrame | None = None,
    gold_coders: list[str] | None = None,
    format: str = "auto",
    speaker_roles: str | dict[str, str] | None = None,
    encoding: str | None = None,
    unit: str = "turn",
    lang: str = "en",
    interviewer: str = "drop",
    backchannels: str = "drop",
    preset: str = "default",
    min_topic_size: int = 10,
    n_themes: int | None = None,
    reduce_outliers: bool = False,
    theme_runs: int = 1,
    theme_fallback: str = "auto",
    method: str = "zero-shot",
    model: str | Path | None = None,
    embedding_model: str | Path | None = None,
    embedding_backend: str | None = None,
    context: str | None = None,
    single_label: bool | None = None,
    roles: Sequence[str] | None = None,
    cache_dir: str | Path | None | bool = None,
    overlap: float = 0.5,
    n_boot: int = 1000,
    evaluate_roles: str | Sequence[str] | None = "gold",
    evaluate_documents: Literal["gold", "all"] = "gold",
    random_state: int = 0,
    qdpx: bool = True,
    pseudonymise: Any = False,
    pseudonym_key: str | Path | None = None,
    on_stage: Callable[[str], None] | None = None,
    qdpx_positions: str = "auto",
    scheduler: Any = None,
    read_options: ReadOptions | None = None,
    segmenter: Any = None,
    embedder: Any = None,
    discoverer: Any = None,
    mapper: Any = None,
    evaluation_options: EvaluationOptions | None = None,
) -> ExtractResult:
    """Run the whole psythemes pipeline on transcripts.

    Each stage is a configured part, BERTopic-style: :class:`ReadOptions`, a segmenter
    (:func:`psythemes.segment.make_segmenter`), an :class:`~psythemes.embed.Embedder`, a
    :class:`~psythemes.discover.ThemeDiscoverer`, a mapper
    (:class:`~psythemes.mapping.ZeroShotMapper` or :class:`~psythemes.mapping.FewShotMapper`) and
    :class:`EvaluationOptions`.  Hand a part in to reach every one of its parameters; the
    keyword shortcuts below build the default parts (:data:`PART_SHORTCUTS`), and a part and
    its shortcuts cannot both be given.  The manifest records every part's parameters.

    Parameters
    ----------
    inputs : path or iterable of paths
        Transcript files or folders (any format :mod:`psythemes.io` reads), or one REFI-QDA
        project (``.qdpx``/``.qde``), whose codebook and codings are used when ``codebook`` /
        ``gold`` are not given.
    out_dir : path, optional
        Where to write every table, ``report.html``, ``project.qdpx`` and ``manifest.json``;
        ``None`` writes nothing.
    metadata : path or DataFrame, optional
        Metadata sidecar (``doc_id`` + participant, role, wave, ...).
    codebook : Codebook, path or name, optional
        Required, except for a ``.qdpx`` input that holds a codebook, a trained mapper
        (``model``, its own codebook) or the bundled demo corpus (the shipped
        ``"psychosomatic"`` codebook, with a warning); see :mod:`psythemes.defaults`.
    gold : path (CSV or .qdpx) or DataFrame, optional
        Human codes as spans (``GOLD_COLUMNS``); enables the evaluate stage.  Several files
        (CSV, ``.qdpx``, filled-in review sheets) may be mixed, see
        :func:`psythemes.evaluate.load_gold`.
    gold_coders : list of str, optional
        Coders whose codes are gold.  Default: every coder except ``psythemes``, so machine
        codes of an earlier export never count as human codes.
    format, speaker_roles, encoding
        See :func:`psythemes.io.read_transcripts`.  ``encoding`` forces the text encoding of
        transcript files (default ``None``: detect).
    qdpx_positions : {"auto", "utf16", "codepoints"}
        How a ``.qdpx`` input or gold counts selection positions (see
        :func:`psythemes.qdpx.read_qdpx`); ``"auto"`` detects it and warns when it guesses.
    unit, lang, interviewer, backchannels
        See :func:`psythemes.segment.segment_transcripts`.  By default interviewer turns and
        backchannels are set aside (kept in ``segments_dropped.csv``): themes and codes are
        about what participants say.
    preset, min_topic_size, n_themes, reduce_outliers
        See :class:`psythemes.discover.ThemeDiscoverer`.
    theme_runs : int, default 1
        ``ThemeDiscoverer(n_runs=...)``: fit the themes with this many seeds, report the most
        central run, mark themes that do not reappear (``stability``/``stable`` columns, report).
    theme_fallback : {"auto", "always", "never"}, default "auto"
        ``ThemeDiscoverer(fallback=...)``: the ``default`` preset's finer second clustering when
        one cluster holds over half of the segments (with ``theme_runs > 1``: in every run once
        one seed needs it).
    method : {"zero-shot", "few-shot"}
        ``few-shot`` needs ``model``, a mapper saved by ``psythemes train``; a ``model`` given
        means few-shot.
    single_label : bool, optional
        Every segment gets exactly its best code (see :class:`psythemes.mapping.ZeroShotMapper`);
        default: zero-shot multi-label with abstention, few-shot as the model was trained.
    roles : sequence of str, optional
        Zero-shot: code only segments of these roles (``role`` column, case-insensitive), e.g.
        ``["therapist"]`` when only therapist turns are coded; the mapper calibrates on them too.
        A trained few-shot model codes the roles its gold coded.  No segment with any of them is
        an error (it would code nothing).
    embedding_model, embedding_backend, context, cache_dir
        See :class:`psythemes.embed.Embedder` (``model``, ``backend``, ``context``, ``cache_dir``).
        With a trained ``model`` and no ``embedding_backend``, the backend the mapper was
        trained on (:func:`psythemes.mapping.model_embedding_backend`).  The same ``cache_dir``
        also keeps fitted themes (``themes/``, see ``ThemeDiscoverer(memory=...)``) and drawn
        report plots (``report/``); ``False`` turns all three caches off.
    overlap, n_boot
        See :func:`psythemes.evaluate.evaluate`.
    evaluate_roles : "gold", sequence of str or None
        The ``roles`` of :func:`psythemes.evaluate.evaluate`: by default, when the gold codes the
        units of some roles only, agreement is measured on those (a warning says so).
    evaluate_documents : {"gold", "all"}
        The ``documents`` of :func:`psythemes.evaluate.evaluate`: ``"all"`` when the coders coded
        every transcript, those without any code too.
    random_state : int
        Seed of every random part (discovery, bootstrap).
    qdpx : bool
        Also export ``project.qdpx`` (transcripts, codebook, machine and gold codes).
    pseudonymise : bool or psythemes.pseudonymise.Pseudonymiser
        Replace names, places, dates, contact details and ID numbers with surrogates right
        after reading, before anything is segmented, embedded, cached or written (``True``:
        a default :class:`~psythemes.pseudonymise.Pseudonymiser`); gold spans are moved to the
        pseudonymised text.  See docs/privacy.md.
    pseudonym_key : path, optional
        Where to write the key (surrogate -> original, owner-only permissions); must lie
        outside ``out_dir`` and the cache.  Without it the originals cannot be restored.
    on_stage : callable, optional
        Called with each stage name (:data:`STAGES`) as it starts (progress display).
    scheduler : psythemes.distributed.DaskRunner, optional
        Segment, embed, fit themes and map on a Dask cluster; use
        :func:`psythemes.distributed.extract` (``pip install "psythemes[dask]"``).
    read_options : ReadOptions, optional
        Instead of ``format``, ``metadata``, ``speaker_roles``, ``encoding``, ``qdpx_positions``
        (and ``label_patterns``, reachable only here).
    segmenter : TurnSegmenter, SentenceSegmenter or WindowSegmenter, optional
        Instead of ``unit`` and ``lang`` (window size, stride, language, spaCy model are its parameters).
    embedder : Embedder, optional
        Instead of ``embedding_model``, ``embedding_backend``, ``context``.
    discoverer : ThemeDiscoverer, optional
        Instead of ``preset``, ``min_topic_size``, ``n_themes``, ``reduce_outliers``,
        ``theme_runs`` (top words, quotes, seed words are its parameters).  Used as given; its
        ``embedder``, when None, becomes the run's embedder.
    mapper : ZeroShotMapper or FewShotMapper, optional
        Instead of ``method``, ``model``, ``single_label``, ``roles`` (threshold, max codes, cues are its
        parameters).  An unfitted zero-shot mapper is fitted on the run's segments; a few-shot
        mapper must be fitted or loaded.  Without ``codebook``, the mapper's codebook is used.
    evaluation_options : EvaluationOptions, optional
        Instead of ``overlap``, ``n_boot``, ``gold_coders``, ``evaluate_roles`` (consensus and CI
        level are its parameters).

    Returns
    -------
    ExtractResult
    """
    from . import codebook as codebook_mod
    from .defaults import check_codebook_given, default_codebook
    from .segment import segment_transcripts
    from .validate import check_seed

    check_seed(random_state)
    given = {k: v for k, v in locals().items() if k in _SHORTCUT_NAMES}
    _check_parts_or_shortcuts(given, {"read_options": read_options, "segmenter": segmenter, "embedder": embedder,
                                      "discoverer": discoverer, "mapper": mapper,
                                      "evaluation_options": evaluation_options})
    if method not in ("zero-shot", "few-shot"):
        raise InputError(f"unknown method {method!r}; choose zero-shot or few-shot")
    if model is not None:
        method = "few-shot"  # a trained mapper codes (as `psythemes map --model` does), never silently unused
    if method == "few-shot" and model is None:
        raise InputError("method few-shot needs a trained mapper (model=...; see `psythemes train`)")
    from .mapping import check_roles_option, check_roles_present

    check_roles_option(roles, method)
    paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if not paths:
        raise InputError("no input given")
    if codebook is None and mapper is not None:
        codebook = _mapper_codebook(mapper)
    check_codebook_given(codebook, paths, model=model)
    read = read_options or ReadOptions(format=format, metadata=metadata, speaker_roles=speaker_roles,
                                       encoding=encoding, qdpx_positions=qdpx_positions)
    scoring = evaluation_options or EvaluationOptions(
        overlap=overlap, n_boot=n_boot, gold_coders=tuple(gold_coders) if gold_coders is not None else None,
        roles=evaluate_roles if evaluate_roles is None or isinstance(evaluate_roles, str) else tuple(evaluate_roles),
        documents=evaluate_documents)
    if out_dir is not None:
        from .staging import check_out_dir

        # before any work: an unusable output folder must not be found after all the computing
        out_dir = check_out_dir(out_dir, inputs=paths)

    dask = scheduler  # a psythemes.distributed.DaskRunner, or None: everything in this process
    timings: dict[str, float] = {}
    # on Dask the client is meant to stay small: what a stage freed goes back to the system
    # (a runner without release_memory simply keeps what it freed)
    release_memory: Callable[[], None] | None = getattr(dask, "release_memory", None) if dask else None
    clock = functools.partial(_stage, timings=timings, on_stage=on_stage, after=release_memory)

    # --- read
    with clock("read"):
        if read.qdpx_positions not in ("auto", *POSITION_UNITS):
            raise InputError(f"qdpx_positions must be auto, utf16 or codepoints, not {read.qdpx_positions!r}")
        transcripts: Sequence[Transcript]
        transcripts, project = _read_inputs(paths, read)
        if codebook is None:
            codebook = default_codebook(paths, project=project, model=model)
        book = codebook if isinstance(codebook, codebook_mod.Codebook) else codebook_mod.load_codebook(codebook)
        if mapper is not None:
            _check_mapper_codebook(mapper, book)
        if dask:
            _check_dask_mapping(book, method=method, single_label=single_label, discoverer=discoverer,
                                mapper=mapper, theme_runs=theme_runs, roles=roles)
        gold_table = _load_gold(gold, project, book, transcripts, qdpx_positions=read.qdpx_positions,
                                coders=list(scoring.gold_coders) if scoring.gold_coders is not None else None)
        pseudo = None
        if pseudonymise is not False and pseudonymise is not None:
            from .pseudonymise import pseudonymise_for_extract

            transcripts, gold_table, pseudo = pseudonymise_for_extract(
                pseudonymise, transcripts, gold_table, key_path=pseudonym_key, out_dir=out_dir,
                cache_dir=_cache_folder(cache_dir, ""))

    # --- segment
    with clock("segment"):
        if dask:
            # to the work folder: the workers read their partitions there, and the client keeps
            # a handle that reads them back when needed instead of every transcript
            transcripts = dask.store_transcripts(transcripts)
        if segmenter is None:
            from .segment import make_segmenter

            # the transcripts carry the roles resolved at reading (speaker_roles is not applied twice)
            segmenter = make_segmenter(unit, lang=lang, bridge_backchannels=backchannels == "merge")
        segments, dropped = (dask.segment_transcripts if dask else segment_transcripts)(
            transcripts, interviewer=interviewer, backchannels=backchannels, segmenter=segmenter,
            return_dropped=True,
        )
        if len(segments) < 2:
            raise InputError(f"only {len(segments)} segment(s) to analyse; need at least 2")
        if roles:
            check_roles_present(segments, roles)
        from .themes import SMALL_CORPUS

        if (discoverer is None and preset == "default" and isinstance(min_topic_size, int)
                and min_topic_size > len(segments) >= SMALL_CORPUS):
            # HDBSCAN's limit, found before the embedding work rather than after it
            raise InputError(f"--min-topic-size {min_topic_size} is more than the {len(segments)} segments to analyse")

    # --- embed
    with clock("embed"):
        if embedder is None:
            from .embed import Embedder

            if embedding_backend is None and model is not None:
                # a trained mapper gets the kind of vectors it was trained on
                from .mapping import model_embedding_backend

                embedding_backend = model_embedding_backend(model)
            embedder = Embedder(model=embedding_model, cache_dir=cache_dir, context=context, backend=embedding_backend)
        embeddings = dask.embed(embedder, segments) if dask else embedder.embed_segments(segments)
        stats = getattr(embedder, "stats_", {})
        cache_use = {"texts_embedded": int(stats.get("n_encoded", 0)),
                     "texts_from_cache": int(stats.get("n_cached", 0))}

    # --- themes
    with clock("themes"):
        meta_frame = _metadata_frame(transcripts)
        if discoverer is None:
            from .discover import ThemeDiscoverer

            discoverer = ThemeDiscoverer(
                preset=preset, min_topic_size=min_topic_size, n_themes=n_themes,
                reduce_outliers=reduce_outliers, random_state=random_state, embedder=embedder,
                memory=_cache_folder(cache_dir, "themes"), n_runs=theme_runs, fallback=theme_fallback,
            )
        elif discoverer.get_params(deep=False).get("embedder") is None:
            discoverer = copy.copy(discoverer).set_params(embedder=embedder)  # the caller's object stays as it was
        discoverer = (dask.fit_themes if dask else type(discoverer).fit)(discoverer, segments, embeddings,
                                                                           metadata=meta_frame)

    # --- map
    with clock("map"):
        if dask:
            codes, theme_codes = dask.map(segments, discoverer, book, embedder, method=method, model=model)
            used_mapper = None
        else:
            codes, theme_codes, used_mapper = _map(segments, discoverer, book, embedder, mapper=mapper, method=method,
                                                   model=model, single_label=single_label, roles=roles,
                                                   embeddings=embeddings)

    # --- evaluate
    evaluation = None
    with clock("evaluate"):
        if gold_table is not None:
            from .evaluate import evaluate

            evaluation = evaluate(
                codes, gold_table, segments, codes=book.codable_names, overlap=scoring.overlap,
                consensus=scoring.consensus,
                ci=scoring.ci, n_boot=scoring.n_boot, random_state=random_state, roles=scoring.roles,
                documents=scoring.documents,
            )

    parts = {"read_options": read, "segmenter": segmenter, "embedder": embedder, "discoverer": discoverer,
             "mapper": used_mapper, "evaluation_options": scoring}
    manifest = _manifest(
        paths=paths, transcripts=transcripts, segments=segments, dropped=dropped, embedder=embedder, book=book,
        options={
            **read.manifest_params(),
            "interviewer": interviewer, "backchannels": backchannels,
            "preset_used": discoverer.preset_,
            "method": method if mapper is None else type(mapper).__name__,
            "model": str(model) if model else None,
            "embedding_backend": embedder.backend_,
            "gold": str(gold) if isinstance(gold, (str, Path)) else
            ([str(g) for g in gold] if isinstance(gold, (list, tuple)) else
             ("dataframe" if gold is not None else None)),
            **scoring.manifest_params(),
            "pseudonymised": pseudo.counts() if pseudo is not None else None,
            **({"dask": dask.describe()} if dask else {}),
        },
        parts=_parts_manifest(parts),
        random_state=random_state, timings=timings, discoverer=discoverer, evaluation=evaluation,
        cache_use=cache_use,
    )

    result = ExtractResult(
        transcripts=transcripts, segments=segments, dropped=dropped, themes=discoverer.themes_,
        segment_themes=discoverer.segment_themes_, codes=codes, theme_codes=theme_codes, codebook=book,
        evaluation=evaluation, gold=gold_table, manifest=manifest, out_dir=out_dir, pseudonymisation=pseudo,
    )

    # --- report (rendered in memory; written with the rest)
    with clock("report"):
        from .report import ReportData, render_report
        from .saturation import run_saturation, saturation_section

        # on Dask what each step freed goes back to the system before the next one adds its own
        result.theme_code_shares = _theme_code_shares(result)
        saturation = run_saturation(segments, codes, discoverer.segment_themes_, metadata=meta_frame, gold=gold_table,
                                    random_state=random_state)
        result.saturation = saturation
        if release_memory is not None:
            release_memory()
        saturation_html = saturation_section(saturation, cache_dir=_cache_folder(cache_dir, "report"),
                                             run=getattr(dask, "run_on_worker", None) if dask else None)
        if release_memory is not None:
            release_memory()

        report_html = render_report(
            ReportData(
                title="psythemes report",
                segments=segments,
                metadata=meta_frame,
                themes=discoverer.themes_,
                themes_by_role=discoverer.by_role_,
                themes_by_wave=discoverer.by_wave_,
                codebook=book,
                codes=codes,
                theme_codes=theme_codes,
                theme_code_shares=result.theme_code_shares,
                agreement=evaluation.per_code if evaluation is not None else None,
                confusion=evaluation.confusion if evaluation is not None else None,
                disagreements=evaluation.disagreements if evaluation is not None else None,
                human_baseline=evaluation.human_baseline if evaluation is not None else None,
                segment_themes=discoverer.segment_themes_,
                theme_quotes=discoverer.quotes_,
                link_files=True,
                summary={**({"outlier_share": discoverer.outlier_share_, "n_themes": len(discoverer.themes_)}),
                         **(_headline(evaluation) if evaluation is not None else {})},
                manifest={k: manifest[k] for k in ("psythemes", "created", "model", "options", "parts", "timings_s")},
                set_aside=manifest["counts"]["set_aside"],
                extra_sections=[saturation_html],
            ),
            figure_cache=_cache_folder(cache_dir, "report"),
        )

    if pseudo is not None and pseudonym_key is not None:
        pseudo.key.save(pseudonym_key)  # apart from the outputs, owner-only; first, so no output lacks its key
    if out_dir is not None:
        from .staging import StagedFolder

        # everything goes into a staging folder that is swapped in whole (see psythemes.staging):
        # a reader sees the old run or the new, and only psythemes' own unchanged files go away
        with clock("write"), StagedFolder(out_dir) as stage:
            started = time.perf_counter()
            assert stage.path is not None  # set on entering the staging folder
            _write_outputs(stage.path, result, discoverer, report_html, qdpx=qdpx)
            # the manifest is part of the swap, so its "write" time ends before the swap
            manifest["timings_s"] = {**{k: round(v, 3) for k, v in timings.items()},
                                     "write": round(time.perf_counter() - started, 3)}
            stage.commit(manifest)
    return result


# ----------------------------------------------------------------------------- stages


def _theme_code_shares(result: ExtractResult) -> pd.DataFrame:
    from .theme_quality import theme_code_shares

    return theme_code_shares(result.segment_themes, result.themes, result.codes, result.gold, result.segments,
                             evaluation=result.evaluation)  # its aligned gold, not a second alignment


@contextlib.contextmanager
def _stage(name: str, timings: dict[str, float], on_stage: Callable[[str], None] | None,
           after: Callable[[], None] | None = None) -> Iterator[None]:
    """Announce a stage (progress display), run ``after`` when it succeeds, record how long it took."""
    if on_stage is not None:
        on_stage(name)
    start = time.perf_counter()
    try:
        yield
        if after is not None:
            after()
    finally:
        timings[name] = time.perf_counter() - start


def _read_inputs(paths: list[Path], read: ReadOptions) -> tuple[list[Transcript], Any]:
    from . import io as io_mod

    project_paths = [p for p in paths if p.suffix.lower() in (".qdpx", ".qde")]
    if project_paths and len(paths) > 1:
        raise InputError("give a REFI-QDA project (.qdpx/.qde) on its own, not together with other inputs")
    project = None
    if project_paths:
        from .qdpx import project_transcripts, read_qdpx

        # read once: the project gives the transcripts and, later, its codebook and codings
        io_mod.check_encoding(read.encoding)  # unused by a project's XML, but a misspelt name is still an error
        project = read_qdpx(project_paths[0], positions=read.qdpx_positions)
        transcripts = io_mod.annotate_transcripts(
            project_transcripts(project), metadata=read.metadata, speaker_roles=read.speaker_roles)
    else:
        transcripts = io_mod.read_transcripts(paths, format=read.format, metadata=read.metadata,
                                              speaker_roles=read.speaker_roles, encoding=read.encoding,
                                              label_patterns=read.label_patterns)
    if not transcripts:
        raise InputError("no transcripts found in the inputs")
    return transcripts, project


def _load_gold(gold: Any, project: Any, book: Any, transcripts: Sequence[Transcript], *,
               qdpx_positions: str = "auto", coders: list[str] | None = None) -> pd.DataFrame | None:
    """Gold spans from a file, a DataFrame or the input project's codings, with the checks and
    the policy of :func:`psythemes.tables.read_gold` (spans past their text's end are dropped
    and counted; codes must be the codebook's); documents not among the inputs are left out."""
    from .tables import clean_gold, read_gold

    lengths = {t.doc_id: len(t.text) for t in transcripts}
    if gold is None:
        if project is None or project.codings.empty:
            return None
        from .qdpx import gold_codings

        table = gold_codings(project, coders)
        if table.empty:  # only machine codes in the project: nothing to evaluate against
            return None
        table = clean_gold(table, book, lengths)
    elif isinstance(gold, pd.DataFrame):
        table = clean_gold(gold, book, lengths)
    else:
        table = read_gold(list(gold) if isinstance(gold, (list, tuple)) else gold, codes=book, coders=coders,
                          qdpx_positions=qdpx_positions, text_lengths=lengths,
                          texts={t.doc_id: t.text for t in transcripts})
    # the reader counted spans on documents the inputs lack (with a warning): nothing here can code them
    return table[table["doc_id"].isin(set(lengths))].reset_index(drop=True)


def _metadata_frame(transcripts: Iterable[Transcript]) -> pd.DataFrame:
    rows = [{"doc_id": t.doc_id, **{k: v for k, v in t.metadata.items() if not str(k).startswith("qda_")}}
            for t in transcripts]
    return pd.DataFrame(rows)


def _check_dask_mapping(book: Any, *, method: str, single_label: bool | None, discoverer: Any, mapper: Any,
                        theme_runs: int, roles: Sequence[str] | None = None) -> None:
    """What the Dask runner cannot do yet, refused before any work (each worker would fit its own
    corpus calibration on its partition, and the answers would differ from one process)."""
    from .mapping import needs_corpus_calibration

    unsupported = []
    if mapper is not None:
        unsupported.append("a mapper handed in as a part")
    elif method != "few-shot" and needs_corpus_calibration(book):
        unsupported.append("a codebook whose codes have definitions only (calibrated on the corpus)")
    if single_label is not None:
        unsupported.append("--single-label/--multi-label")
    if roles:
        unsupported.append("--roles")
    runs = discoverer.get_params(deep=False).get("n_runs", 1) if discoverer is not None else theme_runs
    if runs > 1:
        unsupported.append("several theme runs")
    if unsupported:
        raise InputError(f"--scheduler does not support {' or '.join(unsupported)} yet; run without "
                         "--scheduler, or give codes examples (docs/scaling.md)")


def _map(segments: pd.DataFrame, discoverer: Any, book: Any, embedder: Any, *, mapper: Any, method: str, model: Any,
         single_label: bool | None = None, roles: Sequence[str] | None = None, embeddings: np.ndarray | None = None
         ) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """Machine codes, theme -> code suggestions and the mapper that made the codes."""
    from .embed import vectors_for_mapping
    from .mapping import FewShotMapper, ZeroShotMapper, calibration_corpus, map_themes
    from .tables import quote_texts

    # the embed stage's vectors are handed on (embedded once; with context, codes use them too)
    known = vectors_for_mapping(embedder, segments, embeddings)

    # the segments calibrate codes that have no examples (psythemes.selftrain; no labels used)
    zero_shot = ZeroShotMapper(book, embedder=known, single_label=bool(single_label),
                               roles=list(roles) if roles else None)
    zero_shot.fit(calibration_corpus(book, segments))
    if mapper is not None:
        mapper = _ready_mapper(mapper, book, segments, known)
    elif method == "few-shot":
        mapper = FewShotMapper.load(model, embedder=vectors_for_mapping(embedder, segments, embeddings, trained=True))
        if single_label is not None:
            mapper.single_label = bool(single_label)
    else:
        mapper = zero_shot
    codes = mapper.predict(segments)
    # a discoverer's quotes_ table; a stand-in with themes_ alone gives its top_quotes cells
    theme_codes = map_themes(discoverer.themes_, discoverer.theme_centroids_, zero_shot,
                             quotes=quote_texts(discoverer.themes_, getattr(discoverer, "quotes_", None)))
    return codes, theme_codes, mapper


def _fitted(part: Any) -> bool:
    """Whether ``fit`` (or ``load``) has run: learned attributes end in ``_`` (scikit-learn's rule)."""
    return any(k.endswith("_") and not k.startswith("__") for k in vars(part))


def _ready_mapper(mapper: Any, book: Any, segments: pd.DataFrame, embedder: Any) -> Any:
    """A mapper handed in as a part, fitted if it is a zero-shot one that is not; the caller's
    object stays as it was (a copy gets the run's embedder when it has none)."""
    from .mapping import ZeroShotMapper, calibration_corpus

    if _fitted(mapper):
        return mapper
    if not isinstance(mapper, ZeroShotMapper):
        raise InputError(f"{type(mapper).__name__} handed to extract must be fitted or loaded first "
                         "(see `psythemes train` and FewShotMapper.load)")
    mapper = copy.copy(mapper)
    own = mapper.get_params(deep=False)
    if own.get("embedder") is None:
        mapper.set_params(embedder=embedder)
    if own.get("codebook") is None:
        mapper.set_params(codebook=book)  # the run's codebook (given, the project's or the demo's)
    return mapper.fit(calibration_corpus(book, segments))


def _check_mapper_codebook(mapper: Any, book: Any) -> None:
    """A mapper part with a codebook of its own codes that codebook: it must be the run's."""
    from .codebook import load_codebook

    own = _mapper_codebook(mapper)
    if own is not None and not load_codebook(own).same_codes(book):
        raise InputError("the mapper handed in has a codebook of its own that is not the run's codebook; give one "
                         "of them only")


def _mapper_codebook(mapper: Any) -> Any:
    """The codebook a mapper part was configured or fitted with."""
    book = getattr(mapper, "codebook_", None)
    return book if book is not None else mapper.get_params(deep=False).get("codebook")


_SHORTCUT_NAMES = frozenset(name for names in PART_SHORTCUTS.values() for name in names)


def _check_parts_or_shortcuts(given: dict[str, Any], parts: dict[str, Any]) -> None:
    """A part handed in whole and a shortcut that builds the same part cannot both be given."""
    defaults = {name: p.default for name, p in inspect.signature(extract).parameters.items()}
    for part, names in PART_SHORTCUTS.items():
        if parts.get(part) is None:
            continue
        clash = [n for n in names if _differs(given.get(n), defaults[n])]
        if clash:
            raise InputError(f"both a {part} part and {', '.join(clash)} were given: set {', '.join(clash)} "
                             f"inside the {part} part, or leave the part out")


def _differs(value: Any, default: Any) -> bool:
    if value is default:
        return False
    if default is None or isinstance(value, pd.DataFrame):
        return True
    return bool(value != default)


def _parts_manifest(parts: dict[str, Any]) -> dict[str, Any]:
    """Each configured part: its class and parameters (``get_params``), as the run used them."""
    out: dict[str, Any] = {}
    for name, part in parts.items():
        if part is None:
            continue
        params = part.manifest_params() if hasattr(part, "manifest_params") else {}
        out[name] = {"class": type(part).__name__, **params}
    return out


def _headline(evaluation: Any) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    for key, value in evaluation.summary.items():
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            keep[key] = float(value)
    keep["roles_evaluated"] = evaluation.summary.get("roles_evaluated")  # None: every role
    # the report's first screen names the coders and the reference
    keep["coders"] = list(evaluation.summary.get("coders") or [])
    keep["consensus"] = evaluation.summary.get("consensus")
    return keep


# ----------------------------------------------------------------------------- manifest and outputs


def _versions() -> dict[str, str]:
    from importlib import metadata as md

    out = {"python": platform.python_version()}
    for dist in ("psythemes", "torch", "sentence-transformers", "transformers", "onnxruntime", "bertopic", "umap-learn",
                 "hdbscan", "scikit-learn", "spacy", "numpy", "pandas", "krippendorff"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def _recorded_command(argv: Sequence[str]) -> str | None:
    """The ``psythemes`` command line for the manifest (None when run from Python), with the
    pseudonymisation key's path left out: no output may say where the key is (docs/privacy.md)."""
    if not argv or not argv[0].endswith("psythemes"):
        return None
    from .pseudonymise import redact_key_options

    return " ".join(redact_key_options(argv))


def _manifest(*, paths, transcripts, segments, dropped, embedder, book, options, parts, random_state, timings,
              discoverer, evaluation, cache_use) -> dict[str, Any]:
    from . import __version__
    from .io import expand_paths
    from .segment import set_aside_counts
    from .staging import sha256_file

    model_info: dict[str, Any] = {"path": str(embedder.model_path_)}
    try:
        model_info["fingerprint"] = embedder.model_fingerprint_
    except AttributeError:
        pass
    return {
        "psythemes": __version__,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": _recorded_command(sys.argv),
        "versions": _versions(),
        "model": model_info,
        "codebook": {"name": book.name, "hash": book.hash(), "codes": book.names},
        "options": options,
        "parts": parts,
        "random_state": random_state,
        "inputs": [{"path": str(p), "sha256": sha256_file(p)} for p in expand_paths(paths)],
        "counts": {
            "transcripts": len(transcripts),
            "segments": int(len(segments)),
            "set_aside": set_aside_counts(dropped),
            "themes": int(len(discoverer.themes_)),
            "outlier_share": float(discoverer.outlier_share_),
        },
        "cache": {**cache_use, "themes_from_cache": bool(getattr(discoverer, "from_cache_", False))},
        "evaluation": _headline(evaluation) if evaluation is not None else None,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def _write_outputs(out_dir: Path, result: ExtractResult, discoverer: Any, report_html: str, *, qdpx: bool) -> list[str]:
    from .codebook import save_codebook
    from .io import write_transcripts_jsonl
    from .jobs import write_theme_outputs
    from .outputs import prepare_out_dir, write_table, write_text
    from .tables import write_codes, write_evaluation, write_segments

    out = prepare_out_dir(out_dir)
    written: list[Path] = [write_transcripts_jsonl(out / "transcripts.jsonl", result.transcripts)]
    written.append(write_segments(out / "segments.csv", result.segments))
    written.append(write_segments(out / "segments_dropped.csv", result.dropped))
    written.extend(write_theme_outputs(out, discoverer))
    written.append(write_codes(out / "codes.csv", result.codes))
    written.append(write_table(out / "theme_codes.csv", result.theme_codes))
    assert result.theme_code_shares is not None, "the report stage computes the shares first"
    written.append(write_table(out / "theme_code_shares.csv", result.theme_code_shares))
    from .saturation import saturation_table

    written.append(write_table(out / "saturation.csv", saturation_table(result.saturation)))
    written.append(write_codes(out / "codes.parquet", result.codes))
    written.append(write_table(out / "themes.parquet", result.themes))
    for suffix in (".yaml", ".csv", ".qdc"):
        written.append(Path(save_codebook(result.codebook, out / f"codebook{suffix}")))
    if result.evaluation is not None:
        written.extend(write_evaluation(result.evaluation, out).values())
    written.append(write_text(out / "report.html", report_html))
    from .workbook import write_workbook

    # every table once more as a sheet of one workbook, for Excel (the CSVs stay the reference)
    written.append(write_workbook(out / "results.xlsx", sorted(p for p in map(Path, written) if p.suffix == ".csv")))
    if qdpx:
        from .qdpx import write_qdpx

        # machine codes carry their score and evidence (a note per coding) and the candidate
        # themes travel as their own code group, so a QDA program shows why each was suggested
        keep = [c for c in ("doc_id", "start", "end", "code", "score", "evidence") if c in result.codes.columns]
        machine = result.codes[keep].assign(coder=MACHINE_CODER)
        codings = pd.concat([machine, result.gold[GOLD_COLUMNS]] if result.gold is not None else [machine],
                            ignore_index=True)
        written.append(write_qdpx(out / "project.qdpx", list(result.transcripts), codes=result.codebook,
                                  codings=codings, name="psythemes extract", themes=result.themes,
                                  theme_quotes=discoverer.quotes_))
    return sorted({str(Path(p).relative_to(out)) for p in written})
