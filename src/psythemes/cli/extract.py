"""``psythemes extract``: the main job, read → segment → embed → themes → map → evaluate → report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ._app import ENCODING_HELP, app, warnings_as_lines


@app.command()
def extract(
    inputs: Annotated[list[Path], typer.Argument(help="Transcript files or folders, or one .qdpx project.",
                                                 show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False)],
    metadata: Annotated[Path | None, typer.Option(help="Sidecar CSV: doc_id, participant, role, wave, ...")] = None,
    codebook: Annotated[str | None, typer.Option(
        help="Codebook file (.yaml, .csv, .qdc) or shipped name; default: the .qdpx project's, else 'psychosomatic'.")] = None,
    gold: Annotated[list[Path] | None, typer.Option(
        help="Human codes: CSV (doc_id,start,end,code,coder), .qdpx or a filled-in review sheet; repeat to mix.")] = None,
    gold_coders: Annotated[str | None, typer.Option(
        help="Coders whose codes are gold, comma-separated [default: all but 'psythemes'].")] = None,
    format: Annotated[str, typer.Option(help="Input format, auto from the file suffix.")] = "auto",
    encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP)] = None,
    speaker_roles: Annotated[str | None, typer.Option(help='e.g. "Interviewer=interviewer,P*=patient".')] = None,
    unit: Annotated[str, typer.Option(help="turn, sentence or window.")] = "turn",
    keep_interviewer: Annotated[bool, typer.Option("--keep-interviewer", help="Analyse interviewer turns too.")] = False,
    preset: Annotated[str, typer.Option(help="Theme discovery: default (UMAP+HDBSCAN) or fast (PCA+KMeans).")] = "default",
    min_topic_size: Annotated[int, typer.Option(min=2, help="Smallest theme.")] = 10,
    n_themes: Annotated[int | None, typer.Option(help="Number of themes (fast) / merge down to (default).")] = None,
    reduce_outliers: Annotated[bool, typer.Option("--reduce-outliers", help="Assign outliers to their nearest theme.")] = False,
    method: Annotated[str, typer.Option(help="zero-shot, or few-shot with --mapper.")] = "zero-shot",
    mapper: Annotated[Path | None, typer.Option(help="Trained mapper folder (psythemes train).")] = None,
    model: Annotated[Path | None, typer.Option(help="Local sentence-transformers folder (default: bundled MiniLM).")] = None,
    backend: Annotated[str | None, typer.Option(
        help="Embedding backend: onnx (int8, about 3x faster) or torch; default: the --mapper's own, else onnx "
             "(or $PSYTHEMES_EMBED_BACKEND). See docs/performance.md.")] = None,
    context: Annotated[str | None, typer.Option(help="previous_turn: embed segments with the turn before.")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not read or write the caches (embeddings, fitted themes, report plots).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every random part.")] = 0,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for confidence intervals.")] = 1000,
    no_qdpx: Annotated[bool, typer.Option("--no-qdpx", help="Skip the REFI-QDA export.")] = False,
) -> None:
    """Run every stage and write all tables, report.html, project.qdpx and manifest.json into OUT."""
    from ..pipeline import STAGES, extract as run_extract

    with warnings_as_lines(), _StageProgress(STAGES) as on_stage:
        result = run_extract(
            inputs, out, metadata=metadata, codebook=codebook, gold=gold or None, format=format,
            gold_coders=[c.strip() for c in gold_coders.split(",") if c.strip()] if gold_coders else None, encoding=encoding,
            speaker_roles=speaker_roles, unit=unit, interviewer="keep" if keep_interviewer else "drop",
            preset=preset, min_topic_size=min_topic_size, n_themes=n_themes, reduce_outliers=reduce_outliers,
            method=method, model=mapper, embedding_model=model, embedding_backend=backend, context=context,
            cache_dir=False if no_cache else None, n_boot=n_boot, random_state=seed,
            qdpx=not no_qdpx, on_stage=on_stage,
        )
    counts = result.manifest["counts"]
    line = (f"{counts['transcripts']} transcripts, {counts['segments']} segments, {counts['themes']} themes "
            f"({100 * counts['outlier_share']:.0f}% outliers), {len(result.codes)} machine codes")
    if result.evaluation is not None:
        s = result.evaluation.summary
        line += f"; vs gold: mean kappa {s.get('mean_kappa', float('nan')):.2f}, macro-F1 {s.get('macro_f1', float('nan')):.2f}"
    print(f"{line} -> {out}")
    print(f"report: {Path(out) / 'report.html'}")


class _StageProgress:
    """One progress display across the pipeline's stages (stderr, terminals only)."""

    def __init__(self, stages: tuple[str, ...]):
        self.stages = stages
        self.progress = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda stage: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
        self.progress.start()
        task = self.progress.add_task("starting", total=len(self.stages))

        def on_stage(stage: str) -> None:
            done = self.stages.index(stage) if stage in self.stages else 0
            self.progress.update(task, description=stage, completed=done)

        return on_stage

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False
