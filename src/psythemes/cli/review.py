"""``psythemes review`` and ``psythemes next``: the review loop (the jobs are in psythemes.jobs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._app import QDPX_POSITIONS_HELP, app, comma_list, warnings_as_lines

#: A review sheet holds a researcher's decisions: replacing one takes this option.
OVERWRITE_HELP = "Replace an existing sheet at --out even if it holds decisions (they are lost)."


@app.command("review")
def review_command(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of 'psythemes extract'.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="review.xlsx (a .csv copy is written beside it) or "
                                                          "review.csv.", show_default=False)],
    reviewer: Annotated[str, typer.Option(help="Name pre-filled in the reviewer column (the coder of the "
                                               "decisions when read back as gold).")] = "",
    min_score: Annotated[float | None, typer.Option(help="Only suggestions with at least this score.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Write a review sheet: one row per machine suggestion, with decision (accept / reject / other code) and memo
    columns. Read it back with --gold review.xlsx. A sheet at --out that holds decisions is never replaced
    without --overwrite."""
    from ..jobs import review_run

    with warnings_as_lines():
        info = review_run(run_dir, out, reviewer=reviewer, min_score=min_score, overwrite=overwrite)
    also = f" (and {info['csv']})" if "csv" in info else ""
    print(f"{info['n_rows']} suggestions on {info['n_segments']} segments -> {info['out']}{also}")


@app.command("next")
def next_command(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of 'psythemes extract'.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Review sheet to write (.xlsx or .csv).",
                                      show_default=False)],
    n: Annotated[int, typer.Option("--n", min=1, help="Segments to choose.")] = 50,
    gold: Annotated[list[Path] | None, typer.Option(
        help="Codes so far: filled-in review sheets, gold CSV or .qdpx; repeat to mix.")] = None,
    gold_coders: Annotated[str | None, typer.Option(
        help="Coders whose codes count, comma-separated [default: all but 'psythemes'].")] = None,
    reviewer: Annotated[str, typer.Option(help="Name pre-filled in the reviewer column.")] = "",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    qdpx_positions: Annotated[Literal["auto", "utf16", "codepoints"], typer.Option(
        help=QDPX_POSITIONS_HELP)] = "auto",
) -> None:
    """Choose the segments to code next (uncertain for the classifier, diverse, balanced over codes and
    transcripts) and write them as a review sheet. --out may not be a --gold sheet, and a sheet there that holds
    decisions is never replaced without --overwrite."""
    from ..jobs import next_batch

    coders = comma_list(gold_coders)
    with warnings_as_lines():
        info = next_batch(run_dir, out, n=n, gold=list(gold or []), gold_coders=coders, reviewer=reviewer,
                          random_state=seed, cache_dir=False if no_cache else None, overwrite=overwrite,
                          qdpx_positions=qdpx_positions)
    how = ("no classifier yet (fewer than two codes labelled): a representative sample" if info["cold_start"]
           else f"uncertain for a classifier trained on {info['n_labelled']} labelled segments")
    everything = info["n_selected"] < n and info["n_selected"] == info["n_left"]
    left = f" (all {info['n_left']} not yet labelled)" if everything else ""
    also = f" (and {info['csv']})" if "csv" in info else ""
    print(f"{info['n_selected']} segments{left} from {info['n_docs']} transcripts, {how} -> {info['out']}{also}")
