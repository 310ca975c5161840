"""The main job: read → segment → embed → themes → map → (evaluate) → report, in one call.

:func:`extract` runs every stage in memory and writes nothing until all stages have
succeeded; then each output is written atomically and ``manifest.json`` last, so a failed
or interrupted run leaves the previous results in ``out_dir`` as they were.  The CLI
command ``psythemes extract`` is a thin wrapper around it.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, PsythemesWarning
from .qdpx import MACHINE_CODER, POSITION_UNITS  # coder name of machine codes in the export (never gold unless named)
from .schema import GOLD_COLUMNS, Transcript

__all__ = ["ExtractResult", "extract", "STAGES"]

#: Stages in the order they run (``on_stage`` receives these names).
STAGES = ("read", "segment", "embed", "themes", "map", "evaluate", "report", "write")



@dataclass
class ExtractResult:
    """Tables produced by :func:`extract` (also written to ``out_dir``).

    Attributes
    ----------
    transcripts : list of Transcript
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

    transcripts: list[Transcript]
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
    interviewer: str = "drop",
    backchannels: str = "drop",
    preset: str = "default",
    min_topic_size: int = 10,
    n_themes: int | None = None,
    reduce_outliers: bool = False,
    theme_runs: int = 1,
    method: str = "zero-shot",
    model: str | Path | None = None,
    embedding_model: str | Path | None = None,
    embedding_backend: str | None = None,
    context: str | None = None,
    single_label: bool | None = None,
    cache_dir: str | Path | None | bool = None,
    overlap: float = 0.5,
    n_boot: int = 1000,
    random_state: int = 0,
    qdpx: bool = True,
    pseudonymise: Any = False,
    pseudonym_key: str | Path | None = None,
    on_stage: Callable[[str], None] | None = None,
    qdpx_positions: str = "auto",
    scheduler: Any = None,
) -> ExtractResult:
    """Run the whole psythemes pipeline on transcripts.

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
    unit, interviewer, backchannels
        See :func:`psythemes.segment.segment_transcripts`.  By default interviewer turns and
        backchannels are set aside (kept in ``segments_dropped.csv``): themes and codes are
        about what participants say.
    preset, min_topic_size, n_themes, reduce_outliers
        See :class:`psythemes.discover.ThemeDiscoverer`.
    theme_runs : int, default 1
        ``ThemeDiscoverer(n_runs=...)``: fit the themes with this many seeds, report the most
        central run, mark themes that do not reappear (``stability``/``stable`` columns, report).
    method : {"zero-shot", "few-shot"}
        ``few-shot`` needs ``model``, a mapper saved by ``psythemes train``.
    single_label : bool, optional
        Every segment gets exactly its best code (see :class:`psythemes.mapping.ZeroShotMapper`);
        default: zero-shot multi-label with abstention, few-shot as the model was trained.
    embedding_model, embedding_backend, context, cache_dir
        See :class:`psythemes.embed.Embedder` (``model``, ``backend``, ``context``, ``cache_dir``).
        With a trained ``model`` and no ``embedding_backend``, the backend the mapper was
        trained on (:func:`psythemes.mapping.model_embedding_backend`).  The same ``cache_dir``
        also keeps fitted themes (``themes/``, see ``ThemeDiscoverer(memory=...)``) and drawn
        report plots (``report/``); ``False`` turns all three caches off.
    overlap, n_boot
        See :func:`psythemes.evaluate.evaluate`.
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

    Returns
    -------
    ExtractResult
    """
    from . import codebook as codebook_mod
    from .defaults import check_codebook_given, default_codebook
    from .themes import ThemeDiscoverer
    from .embed import Embedder
    from .segment import segment_transcripts

    from .validate import check_seed

    check_seed(random_state)
    if method not in ("zero-shot", "few-shot"):
        raise InputError(f"unknown method {method!r}; choose zero-shot or few-shot")
    if method == "few-shot" and model is None:
        raise InputError("method few-shot needs a trained mapper (model=...; see `psythemes train`)")
    paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if not paths:
        raise InputError("no input given")
    check_codebook_given(codebook, paths, model=model)
    if out_dir is not None:
        from .staging import check_out_dir

        # before any work: an unusable output folder must not be found after all the computing
        out_dir = check_out_dir(out_dir, inputs=paths)

    dask = scheduler  # a psythemes.distributed.DaskRunner, or None: everything in this process
    timings: dict[str, float] = {}
    clock = functools.partial(_stage, timings=timings, on_stage=on_stage)

    # --- read
    with clock("read"):
        if qdpx_positions not in ("auto", *POSITION_UNITS):
            raise InputError(f"qdpx_positions must be auto, utf16 or codepoints, not {qdpx_positions!r}")
        transcripts, project = _read_inputs(paths, format=format, metadata=metadata, speaker_roles=speaker_roles,
                                            encoding=encoding, qdpx_positions=qdpx_positions)
        if codebook is None:
            codebook = default_codebook(paths, project=project, model=model)
        book = codebook if isinstance(codebook, codebook_mod.Codebook) else codebook_mod.load_codebook(codebook)
        if dask:
            _check_dask_mapping(book, method=method, single_label=single_label, theme_runs=theme_runs)
        gold_table = _load_gold(gold, project, book, transcripts, qdpx_positions=qdpx_positions,
                                coders=gold_coders)
        pseudo = None
        if pseudonymise is not False and pseudonymise is not None:
            from .pseudonymise import pseudonymise_for_extract

            transcripts, gold_table, pseudo = pseudonymise_for_extract(
                pseudonymise, transcripts, gold_table, key_path=pseudonym_key, out_dir=out_dir,
                cache_dir=_cache_folder(cache_dir, ""))

    # --- segment
    with clock("segment"):
        segments, dropped = (dask.segment_transcripts if dask else segment_transcripts)(
            transcripts, unit=unit, interviewer=interviewer, backchannels=backchannels,
            speaker_roles=speaker_roles, return_dropped=True,
        )
        if len(segments) < 2:
            raise InputError(f"only {len(segments)} segment(s) to analyse; need at least 2")
        from .themes import SMALL_CORPUS

        if preset == "default" and isinstance(min_topic_size, int) and min_topic_size > len(segments) >= SMALL_CORPUS:
            # HDBSCAN's limit, found before the embedding work rather than after it
            raise InputError(f"--min-topic-size {min_topic_size} is more than the {len(segments)} segments to analyse")

    # --- embed
    with clock("embed"):
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
        discoverer = ThemeDiscoverer(
            preset=preset, min_topic_size=min_topic_size, n_themes=n_themes,
            reduce_outliers=reduce_outliers, random_state=random_state, embedder=embedder,
            memory=_cache_folder(cache_dir, "themes"), n_runs=theme_runs,
        )
        discoverer = (dask.fit_themes if dask else type(discoverer).fit)(discoverer, segments, embeddings,
                                                                           metadata=meta_frame)

    # --- map
    with clock("map"):
        if dask:
            codes, theme_codes = dask.map(segments, discoverer, book, embedder, method=method, model=model)
        else:
            codes, theme_codes = _map(segments, discoverer, book, embedder, method=method, model=model,
                                      single_label=single_label, embeddings=embeddings)

    # --- evaluate
    evaluation = None
    with clock("evaluate"):
        if gold_table is not None:
            from .evaluate import evaluate

            evaluation = evaluate(
                codes, gold_table, segments, codes=book.names, overlap=overlap,
                n_boot=n_boot, random_state=random_state,
            )

    manifest = _manifest(
        paths=paths, transcripts=transcripts, segments=segments, embedder=embedder, book=book,
        options={
            "format": format, "speaker_roles": speaker_roles, "encoding": encoding, "unit": unit,
            "qdpx_positions": qdpx_positions,
            "interviewer": interviewer, "backchannels": backchannels, "preset": preset,
            "preset_used": discoverer.preset_,
            "min_topic_size": min_topic_size, "n_themes": n_themes, "reduce_outliers": reduce_outliers,
            "theme_runs": theme_runs,
            "method": method, "model": str(model) if model else None, "context": context,
            "embedding_backend": embedder.backend_,
            "overlap": overlap, "n_boot": n_boot, "gold": str(gold) if isinstance(gold, (str, Path)) else
            ([str(g) for g in gold] if isinstance(gold, (list, tuple)) else
             ("dataframe" if gold is not None else None)),
            "gold_coders": list(gold_coders) if gold_coders is not None else None,
            "metadata": str(metadata) if isinstance(metadata, (str, Path)) else None,
            "pseudonymised": pseudo.counts() if pseudo is not None else None,
            **({"dask": dask.describe()} if dask else {}),
        },
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

        saturation = run_saturation(segments, codes, discoverer.segment_themes_, metadata=meta_frame, gold=gold_table,
                                    random_state=random_state)

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
                theme_code_shares=_theme_code_shares(result),
                agreement=evaluation.per_code if evaluation is not None else None,
                confusion=evaluation.confusion if evaluation is not None else None,
                disagreements=evaluation.disagreements if evaluation is not None else None,
                human_baseline=evaluation.human_baseline if evaluation is not None else None,
                segment_themes=discoverer.segment_themes_,
                theme_quotes=discoverer.quotes_,
                link_files=True,
                summary={**({"outlier_share": discoverer.outlier_share_, "n_themes": len(discoverer.themes_)}),
                         **(_headline(evaluation) if evaluation is not None else {})},
                manifest={k: manifest[k] for k in ("psythemes", "created", "model", "options", "timings_s")},
                extra_sections=[saturation_section(saturation, cache_dir=_cache_folder(cache_dir, "report"))],
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
            _write_outputs(stage.path, result, discoverer, report_html, qdpx=qdpx)
            # the manifest is part of the swap, so its "write" time ends before the swap
            manifest["timings_s"] = {**{k: round(v, 3) for k, v in timings.items()},
                                     "write": round(time.perf_counter() - started, 3)}
            stage.commit(manifest)
    return result


# ----------------------------------------------------------------------------- stages


def _theme_code_shares(result: ExtractResult) -> pd.DataFrame:
    from .theme_quality import theme_code_shares

    return theme_code_shares(result.segment_themes, result.themes, result.codes, result.gold, result.segments)


@contextlib.contextmanager
def _stage(name: str, timings: dict[str, float], on_stage: Callable[[str], None] | None) -> Iterator[None]:
    """Announce a stage (progress display) and record how long it took."""
    if on_stage is not None:
        on_stage(name)
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - start


def _read_inputs(paths: list[Path], *, format: str, metadata: Any, speaker_roles: Any, encoding: str | None = None,
                 qdpx_positions: str = "auto"):
    from . import io as io_mod

    project_paths = [p for p in paths if p.suffix.lower() in (".qdpx", ".qde")]
    if project_paths and len(paths) > 1:
        raise InputError("give a REFI-QDA project (.qdpx/.qde) on its own, not together with other inputs")
    project = None
    if project_paths:
        from .qdpx import project_transcripts, read_qdpx

        # read once: the project gives the transcripts and, later, its codebook and codings
        io_mod.check_encoding(encoding)  # unused by a project's XML, but a misspelt name is still an error
        project = read_qdpx(project_paths[0], positions=qdpx_positions)
        transcripts = io_mod.annotate_transcripts(
            project_transcripts(project), metadata=metadata, speaker_roles=speaker_roles)
    else:
        transcripts = io_mod.read_transcripts(paths, format=format, metadata=metadata,
                                              speaker_roles=speaker_roles, encoding=encoding)
    if not transcripts:
        raise InputError("no transcripts found in the inputs")
    return transcripts, project


def _load_gold(gold: Any, project: Any, book: Any, transcripts: list[Transcript], *,
               qdpx_positions: str = "auto", coders: list[str] | None = None) -> pd.DataFrame | None:
    from .evaluate import load_gold

    if gold is None:
        if project is None or project.codings.empty:
            return None
        from .qdpx import gold_codings

        table = gold_codings(project, coders)
        if table.empty:  # only machine codes in the project: nothing to evaluate against
            return None
    elif isinstance(gold, pd.DataFrame):
        table = gold
    else:
        table = load_gold(list(gold) if isinstance(gold, (list, tuple)) else gold, codes=book.names, coders=coders,
                          qdpx_positions=qdpx_positions)
    missing = [c for c in GOLD_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"gold codes lack column(s) {missing}")
    from .validate import check_known_codes, check_spans

    # the same checks for gold from a .qdpx or a DataFrame as load_gold makes for a CSV
    source = gold if isinstance(gold, (str, Path)) else ("the project's codings" if gold is None else None)
    check_known_codes(table, book.names, what="gold codes", path=source)
    check_spans(table, what="gold codes", path=source, allow_empty=False)
    known = {t.doc_id: len(t.text) for t in transcripts}
    unknown = sorted(set(table["doc_id"].astype(str)) - set(known))
    if unknown:
        warnings.warn(
            f"{len(unknown)} gold document(s) not among the inputs are ignored: {', '.join(unknown[:5])}",
            PsythemesWarning, stacklevel=3,
        )
        table = table[~table["doc_id"].astype(str).isin(unknown)]
    outside = table[[int(e) > known[str(d)] for d, e in zip(table["doc_id"], table["end"])]]
    if not outside.empty:
        first = outside.iloc[0]
        raise InputError(
            f"{len(outside)} gold span(s) end beyond their transcript's text, e.g. {first['doc_id']} "
            f"[{first['start']}, {first['end']}) — were they made on a different version of the text?"
        )
    return table.reset_index(drop=True)


def _cache_folder(cache_dir: str | Path | None | bool, name: str) -> Path | None:
    """Folder ``name`` of the cache (fitted ``themes``, drawn ``report`` plots) beside the
    embeddings of ``cache_dir``; None when the cache is off."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        from .embed import cache_root

        return cache_root() / name
    return Path(cache_dir) / name


def _metadata_frame(transcripts: list[Transcript]) -> pd.DataFrame:
    rows = [{"doc_id": t.doc_id, **{k: v for k, v in t.metadata.items() if not str(k).startswith("qda_")}}
            for t in transcripts]
    return pd.DataFrame(rows)


def _check_dask_mapping(book: Any, *, method: str, single_label: bool | None, theme_runs: int) -> None:
    """What the Dask runner cannot do yet, refused before any work (each worker would fit its own
    corpus calibration on its partition, and the answers would differ from one process)."""
    from .mapping import needs_corpus_calibration

    unsupported = []
    if method != "few-shot" and needs_corpus_calibration(book):
        unsupported.append("a codebook whose codes have definitions only (calibrated on the corpus)")
    if single_label is not None:
        unsupported.append("--single-label/--multi-label")
    if theme_runs > 1:
        unsupported.append("several theme runs")
    if unsupported:
        raise InputError(f"--scheduler does not support {' or '.join(unsupported)} yet; run without "
                         "--scheduler, or give codes examples (docs/scaling.md)")


def _map(segments: pd.DataFrame, discoverer: Any, book: Any, embedder: Any, *, method: str, model: Any,
         single_label: bool | None = None, embeddings: np.ndarray | None = None):
    from .tables import quote_texts
    from .embed import KnownVectors
    from .mapping import FewShotMapper, ZeroShotMapper, calibration_corpus, map_themes

    if embeddings is not None and getattr(embedder, "context", None) is None:
        # the embed stage's vectors are those of the segment texts: hand them on, embed nothing twice
        embedder = KnownVectors(embedder, segments["text"].fillna("").astype(str).tolist(), embeddings)

    # the segments calibrate codes that have no examples (psythemes.selftrain; no labels used)
    zero_shot = ZeroShotMapper(book, embedder=embedder, single_label=bool(single_label)).fit(calibration_corpus(book, segments))
    if method == "few-shot":
        mapper = FewShotMapper.load(model, embedder=embedder)
        if single_label is not None:
            mapper.single_label = bool(single_label)
        codes = mapper.predict(segments)
    else:
        codes = zero_shot.predict(segments)
    theme_codes = map_themes(discoverer.themes_, discoverer.theme_centroids_, zero_shot,
                             quotes=quote_texts(discoverer.themes_, discoverer.quotes_))
    return codes, theme_codes


def _headline(evaluation: Any) -> dict[str, Any]:
    keep = {}
    for key, value in evaluation.summary.items():
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            keep[key] = float(value)
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


def _manifest(*, paths, transcripts, segments, embedder, book, options, random_state, timings, discoverer,
              evaluation, cache_use) -> dict[str, Any]:
    from . import __version__
    from .io import expand_paths
    from .staging import sha256_file

    model_info: dict[str, Any] = {"path": str(embedder.model_path_)}
    try:
        model_info["fingerprint"] = embedder.model_fingerprint_
    except AttributeError:
        pass
    return {
        "psythemes": __version__,
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0].endswith("psythemes") else None,
        "versions": _versions(),
        "model": model_info,
        "codebook": {"name": book.name, "hash": book.hash(), "codes": book.names},
        "options": options,
        "random_state": random_state,
        "inputs": [{"path": str(p), "sha256": sha256_file(p)} for p in expand_paths(paths)],
        "counts": {
            "transcripts": len(transcripts),
            "segments": int(len(segments)),
            "themes": int(len(discoverer.themes_)),
            "outlier_share": float(discoverer.outlier_share_),
        },
        "cache": {**cache_use, "themes_from_cache": bool(getattr(discoverer, "from_cache_", False))},
        "evaluation": _headline(evaluation) if evaluation is not None else None,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def _write_outputs(out_dir: Path, result: ExtractResult, discoverer: Any, report_html: str, *, qdpx: bool) -> list[str]:
    from .codebook import save_codebook
    from .jobs import write_theme_outputs
    from .io import write_transcripts_jsonl
    from .outputs import prepare_out_dir, write_table, write_text

    out = prepare_out_dir(out_dir)
    written: list[Path] = [write_transcripts_jsonl(out / "transcripts.jsonl", result.transcripts)]
    written.append(write_table(out / "segments.csv", result.segments))
    written.append(write_table(out / "segments_dropped.csv", result.dropped))
    written.extend(write_theme_outputs(out, discoverer))
    written.append(write_table(out / "codes.csv", result.codes))
    written.append(write_table(out / "theme_codes.csv", result.theme_codes))
    written.append(write_table(out / "theme_code_shares.csv", _theme_code_shares(result)))
    written.append(write_table(out / "codes.parquet", result.codes))
    written.append(write_table(out / "themes.parquet", result.themes))
    for suffix in (".yaml", ".csv", ".qdc"):
        written.append(Path(save_codebook(result.codebook, out / f"codebook{suffix}")))
    if result.evaluation is not None:
        from .evaluate import write_evaluation

        paths = write_evaluation(result.evaluation, out)
        written.extend(paths.values() if isinstance(paths, dict) else paths)
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
        written.append(write_qdpx(out / "project.qdpx", result.transcripts, codes=result.codebook,
                                  codings=codings, name="psythemes extract", themes=result.themes,
                                  theme_quotes=discoverer.quotes_))
    return sorted({str(Path(p).relative_to(out)) for p in written})
