"""The Typer application object and small helpers shared by the command modules."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import typer

app = typer.Typer(
    name="psythemes",
    help="NLP-assisted thematic analysis of interview and focus-group transcripts.\n\n"
    "Add --debug anywhere to see a traceback instead of a one-line error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

#: Process-wide CLI state (set by ``main``).
state = SimpleNamespace(debug=False)


def print_error(message: str) -> None:
    """One line on stderr, prefixed ``error:``."""
    print(f"error: {message}", file=sys.stderr)


def print_warning(message: str) -> None:
    """One line on stderr, prefixed ``warning:``."""
    print(f"warning: {message}", file=sys.stderr)


@app.callback()
def _root() -> None:
    """psythemes: read, segment, embed, discover themes, map to a codebook, measure agreement."""
