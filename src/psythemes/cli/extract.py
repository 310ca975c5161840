"""``psythemes extract``: the main job, read → segment → embed → themes → map → evaluate → report."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ._app import (
    ALL_DOCUMENTS_CODED_HELP,
    ENCODING_HELP,
    FALLBACK_HELP,
    FORMAT_HELP,
    KEEP_HELP,
    METADATA_HELP,
    NAMES_HELP,
    QDPX_POSITIONS_HELP,
    SPEAKER_ROLES_HELP,
    app,
    comma_list,
    library_messages,
    show_progress,
    speaker_roles_spec,
    state,
    warnings_as_lines,
)


@app.command()
def extract(
    inputs: Annotated[list[Path], typer.Argument(help="Transcript files or folders, or one .qdpx project.",
                                                 show_default=False, metavar="FILES")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False, metavar="DIR")],
    metadata: Annotated[Path | None, typer.Option(help=METADATA_HELP, metavar="FILE")] = None,
    codebook: Annotated[str | None, typer.Option(
        help="Codebook file (.yaml, .csv, .tsv, .xlsx, .docx, .qdc, .qdpx), or 'psychosomatic' for the shipped study "
             "codebook. Required, except for a .qdpx project with a codebook, a --mapper, or the bundled demo corpus.",
        metavar="FILE|NAME")] = None,
    gold: Annotated[list[Path] | None, typer.Option(
        help="Human codes: CSV (doc_id,start,end,code,coder), .qdpx, a filled-in review sheet or a table of "
             "quotes (document, code, quote); repeat to mix.",
        metavar="FILE")] = None,
    gold_coders: Annotated[str | None, typer.Option(
        help="Coders whose codes are gold, comma-separated [default: all but 'psythemes'].",
        metavar="NAME,...")] = None,
    format: Annotated[str, typer.Option(help=FORMAT_HELP, metavar="FORMAT")] = "auto",
    encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP, metavar="NAME")] = None,
    speaker_roles: Annotated[list[str] | None, typer.Option(
        help=SPEAKER_ROLES_HELP, metavar="GLOB=ROLE,...")] = None,
    unit: Annotated[Literal["turn", "sentence", "window"], typer.Option(help="Segmentation unit.")] = "turn",
    lang: Annotated[str, typer.Option(
        help="Language for the rule-based sentence splitter (--unit sentence or window).", metavar="LANG")] = "en",
    keep_interviewer: Annotated[bool, typer.Option(
        "--keep-interviewer", help="Analyse interviewer turns too.")] = False,
    keep_backchannels: Annotated[bool, typer.Option(
        "--keep-backchannels", help="Analyse backchannel turns ('mm-hmm', 'yeah') too.")] = False,
    preset: Annotated[Literal["default", "fast"], typer.Option(
        help="Theme discovery: default (UMAP+HDBSCAN) or fast (PCA+KMeans).")] = "default",
    min_topic_size: Annotated[int, typer.Option(min=2, help="Smallest theme.")] = 10,
    n_themes: Annotated[int | None, typer.Option(
        min=2, help="Number of themes (fast) / merge down to (default).")] = None,
    reduce_outliers: Annotated[bool, typer.Option(
        "--reduce-outliers", help="Assign outliers to their nearest theme.")] = False,
    theme_runs: Annotated[int, typer.Option(
        min=1, help="Stability check: fit the themes with this many seeds, report the most central run and "
                    "flag themes that do not reappear (themes.csv columns stability, stable; the report).",
        metavar="N")] = 1,
    theme_fallback: Annotated[Literal["auto", "always", "never"], typer.Option(
        help=FALLBACK_HELP.format(runs="--theme-runs"))] = "auto",
    method: Annotated[Literal["zero-shot", "few-shot"], typer.Option(
        help="zero-shot, or few-shot with --mapper (a --mapper means few-shot).")] = "zero-shot",
    mapper: Annotated[Path | None, typer.Option(help="Trained mapper folder (psythemes train).", metavar="DIR")] = None,
    single_label: Annotated[bool | None, typer.Option(
        "--single-label/--multi-label", help="Every segment gets exactly its best code, or any number incl. none "
        "(zero-shot self-trained on the corpus, as for codes without examples: at most one; see "
        "docs/mapping.md) (default: multi-label for zero-shot, the --mapper's own for few-shot).",
        show_default=False)] = None,
    roles: Annotated[str | None, typer.Option(
        help="Zero-shot: code only segments of these roles, comma-separated (e.g. therapist); others get no code. "
             "A --mapper codes the roles its gold coded.", metavar="ROLE,...")] = None,
    model: Annotated[Path | None, typer.Option(
        help="Local sentence-transformers folder (default: bundled MiniLM).", metavar="DIR")] = None,
    backend: Annotated[Literal["onnx", "torch"] | None, typer.Option(
        help="Embedding backend: onnx (int8, faster) or torch; default: the --mapper's own, else onnx "
             "(or $PSYTHEMES_EMBED_BACKEND). See docs/performance.md.")] = None,
    context: Annotated[Literal["previous_turn"] | None, typer.Option(
        help="previous_turn: embed each segment with the end of the turn before it; the themes and the "
             "zero-shot codes both use these vectors (a trained --mapper codes from the text alone, as "
             "trained).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not read or write the caches (embeddings, fitted themes, report plots).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every random part.")] = 0,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for confidence intervals.")] = 1000,
    all_roles: Annotated[bool, typer.Option(
        "--all-roles", help="Measure agreement on the segments of every role (default: when the gold codes "
                            "some roles only, e.g. therapist turns, on those; a warning says so).")] = False,
    all_documents_coded: Annotated[bool, typer.Option(
        "--all-documents-coded", help=ALL_DOCUMENTS_CODED_HELP)] = False,
    no_qdpx: Annotated[bool, typer.Option("--no-qdpx", help="Skip the REFI-QDA export.")] = False,
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise", help="Replace names, places, dates, contacts and ID numbers before anything else "
                               "(docs/privacy.md).")] = False,
    pseudonym_key: Annotated[Path | None, typer.Option(
        help="With --pseudonymise: write the key here (outside OUT); without it nothing can be restored.",
        metavar="FILE")] = None,
    names: Annotated[Path | None, typer.Option(help="With --pseudonymise: " + NAMES_HELP, metavar="FILE")] = None,
    keep: Annotated[Path | None, typer.Option(help="With --pseudonymise: " + KEEP_HELP, metavar="FILE")] = None,
    qdpx_positions: Annotated[Literal["auto", "utf16", "codepoints"], typer.Option(
        help=QDPX_POSITIONS_HELP)] = "auto",
    scheduler: Annotated[str | None, typer.Option(
        help="Run on Dask: local[:N] (N worker processes) or tcp://HOST:PORT; needs psythemes[dask]. "
             "See docs/scaling.md.", metavar="local[:N]|tcp://HOST:PORT")] = None,
    theme_sample: Annotated[int | None, typer.Option(
        min=2, help="With --scheduler: fit themes on a seeded sample of this many segments (default 50000).",
        metavar="N")] = None,
    parts: Annotated[Path | None, typer.Option(
        help="YAML/JSON file of configured parts (segmenter, embedder, discoverer, mapper, evaluation_options, "
             "read_options) with any of their parameters, or an earlier run's manifest.json to run with its "
             "parts again. See docs/architecture.md.", metavar="FILE")] = None,
) -> None:
    """Run every stage and write all tables, report.html, project.qdpx and manifest.json into OUT."""
    from ..pipeline import STAGES
    from ..pipeline import extract as run_extract

    if scheduler is not None:
        from ..distributed import extract as run_extract  # same options, stages on Dask
    elif theme_sample is not None:
        from ..errors import InputError

        raise InputError("--theme-sample works with --scheduler")

    configured = {}
    if parts is not None:
        from ..config import build_parts, read_parts

        configured = build_parts(read_parts(parts), codebook=codebook, source=parts)
    with warnings_as_lines(), _StageProgress(STAGES) as on_stage:
        result = run_extract(
            inputs, out, metadata=metadata, codebook=codebook, gold=gold or None, format=format,
            gold_coders=comma_list(gold_coders),
            encoding=encoding,
            speaker_roles=speaker_roles_spec(speaker_roles), unit=unit, lang=lang,
            interviewer="keep" if keep_interviewer else "drop",
            backchannels="keep" if keep_backchannels else "drop",
            preset=preset, min_topic_size=min_topic_size, n_themes=n_themes, reduce_outliers=reduce_outliers,
            theme_runs=theme_runs, theme_fallback=theme_fallback,
            method=method, model=mapper, embedding_model=model, embedding_backend=backend, context=context,
            single_label=single_label,
            roles=comma_list(roles),
            cache_dir=False if no_cache else None, n_boot=n_boot, random_state=seed,
            evaluate_roles=None if all_roles else "gold",
            evaluate_documents="all" if all_documents_coded else "gold",
            qdpx=not no_qdpx, on_stage=on_stage, qdpx_positions=qdpx_positions, pseudonym_key=pseudonym_key,
            pseudonymise=_pseudonymiser(pseudonymise, names, keep),
            **({"scheduler": scheduler, "theme_sample": theme_sample}  # type: ignore[arg-type]
               if scheduler is not None else {}),
            **configured,
        )
    counts = result.manifest["counts"]
    line = (f"{counts['transcripts']} transcripts, {counts['segments']} segments, {counts['themes']} themes "
            f"({100 * counts['outlier_share']:.0f}% outliers), {len(result.codes)} machine codes")
    if result.evaluation is not None:
        s = result.evaluation.summary
        kappa, f1 = s.get('mean_kappa', float('nan')), s.get('macro_f1', float('nan'))
        line += f"; vs gold: mean kappa {kappa:.2f}, macro-F1 {f1:.2f}"
    print(f"{line} -> {out}")
    set_aside = counts.get("set_aside") or {}
    if set_aside:
        from ..segment import SET_ASIDE_WORDS

        print("set aside (segments_dropped.csv): "
              + ", ".join(f"{n} {SET_ASIDE_WORDS.get(kind, kind)}" for kind, n in set_aside.items()))
    print(f"report: {Path(out) / 'report.html'}")
    if state.verbosity > 0:
        timings = result.manifest.get("timings_s", {})
        print("stages: " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in timings.items()))


def _pseudonymiser(on: bool, names: Path | None, keep: Path | None):
    from ..errors import InputError

    if not on:
        if names is not None or keep is not None:
            raise InputError("--names and --keep work with --pseudonymise")
        return False
    from ..pseudonymise import Pseudonymiser

    return Pseudonymiser(names=names, keep=keep)


class _StageProgress:
    """One progress display across the pipeline's stages (stderr, terminals only), with the
    library's latest message about the stage (e.g. the run of a theme stability check)."""

    def __init__(self, stages: tuple[str, ...]):
        self.stages = stages
        self.progress: Any = None
        self.messages = contextlib.ExitStack()

    def __enter__(self):
        if not show_progress():
            return lambda stage: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[detail]}"), console=Console(stderr=True), transient=True)
        self.progress.start()
        task = self.progress.add_task("starting", total=len(self.stages), detail="")
        self.messages.enter_context(library_messages(lambda message: self.progress.update(task, detail=message)))

        def on_stage(stage: str) -> None:
            done = self.stages.index(stage) if stage in self.stages else 0
            self.progress.update(task, description=stage, completed=done, detail="")

        return on_stage

    def __exit__(self, *exc):
        self.messages.close()
        if self.progress is not None:
            self.progress.stop()
        return False
