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

#: Help of ``--encoding``, shared by the commands that read transcript files.
ENCODING_HELP = "Text encoding of transcript files (default: detect; e.g. cp1252, latin-1)."


def _format_help() -> str:
    from ..io import READERS  # every accepted value, so the help cannot fall behind the readers

    return (f"Input format: auto (from the file suffix), {', '.join(READERS)}. Zoom, Teams, YouTube, WhisperX, "
            "QualCoder and Markdown transcripts are text or vtt (see docs/formats.md).")


FORMAT_HELP = _format_help()


def print_error(message: str) -> None:
    """One line on stderr, prefixed ``error:``."""
    print(f"error: {message}", file=sys.stderr)


def print_warning(message: str) -> None:
    """One line on stderr, prefixed ``warning:``."""
    print(f"warning: {message}", file=sys.stderr)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"psythemes {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_print_version,
                                 is_eager=True, expose_value=True),
) -> None:
    """psythemes: read, segment, embed, discover themes, map to a codebook, measure agreement."""


class warnings_as_lines:
    """Collect warnings raised inside the block and print each as one ``warning:`` line after it.

    Library code warns with :class:`psythemes.errors.PsythemesWarning`; the CLI shows those
    without Python's file/line noise and drops other libraries' warnings.
    """

    def __enter__(self) -> list:
        import warnings

        self._catcher = warnings.catch_warnings(record=True)
        self.caught = self._catcher.__enter__()
        warnings.simplefilter("always")
        return self.caught

    def __exit__(self, *exc: object) -> bool:
        self._catcher.__exit__(*exc)
        from ..errors import PsythemesWarning

        seen: set[str] = set()
        for w in self.caught:
            text = str(w.message)
            # only psythemes' own warnings speak to the user; third-party notices (e.g. umap's
            # "Tensorflow not installed") are noise on the command line
            if issubclass(w.category, PsythemesWarning) and text not in seen:
                seen.add(text)
                print_warning(text)
        return False
