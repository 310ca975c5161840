"""``psythemes review`` and ``psythemes next``: the review loop (see psythemes.review, psythemes.active)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, warnings_as_lines


@app.command("review")
def review_command(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of 'psythemes extract'.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="review.xlsx (a .csv copy is written beside it) or "
                                                          "review.csv.", show_default=False)],
    reviewer: Annotated[str, typer.Option(help="Name pre-filled in the reviewer column (the coder of the "
                                               "decisions when read back as gold).")] = "",
    min_score: Annotated[float | None, typer.Option(help="Only suggestions with at least this score.")] = None,
) -> None:
    """Write a review sheet: one row per machine suggestion, with decision (accept / reject / other code) and memo
    columns. Read it back with --gold review.xlsx."""
    from ..review import review_run

    with warnings_as_lines():
        info = review_run(run_dir, out, reviewer=reviewer, min_score=min_score)
    also = f" (and {info['csv']})" if "csv" in info else ""
    print(f"{info['n_rows']} suggestions on {info['n_segments']} segments -> {info['out']}{also}")
