"""The Typer application object and small helpers shared by the command modules."""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import logging
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import typer


class Typer(typer.Typer):
    """A Typer whose every command also takes ``-q/--quiet`` and ``-v/--verbose``.

    Added here, once, so a new command cannot forget them (tests/test_cli_conventions.py
    checks every command).  Sub-groups (``psythemes codebook ...``) use this class too.
    """

    def command(self, *args: Any, **kwargs: Any) -> Callable:  # noqa: D102
        register = super().command(*args, **kwargs)
        return lambda func: register(with_verbosity(func))


app = Typer(
    name="psythemes",
    help="NLP-assisted thematic analysis of interview and focus-group transcripts.\n\n"
    "Add --debug anywhere to see a traceback instead of a one-line error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

def add_group(name: str, help: str) -> Typer:
    """A command group ``psythemes NAME ...`` (its commands get -q/-v like every command)."""
    group = Typer(help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
    app.add_typer(group, name=name)
    return group


#: Process-wide CLI state: ``debug`` (set by ``main``), ``verbosity`` -1 quiet, 0 normal, 1 verbose.
state = SimpleNamespace(debug=False, verbosity=0)

_QUIET_HELP = "Print nothing but errors (no summary, warnings or progress)."
_VERBOSE_HELP = "Also print other libraries' warnings, each stage's timing, and transcript words in messages."


def with_verbosity(func: Callable) -> Callable:
    """Give a command function ``-q/--quiet`` and ``-v/--verbose`` (handled here, not passed on)."""
    signature = inspect.signature(func, eval_str=True)
    extra = [
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=Annotated[bool, typer.Option("--quiet", "-q", help=_QUIET_HELP)]),
        inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=Annotated[bool, typer.Option("--verbose", "-v", help=_VERBOSE_HELP)]),
    ]

    @functools.wraps(func)
    def command(*args: Any, quiet: bool = False, verbose: bool = False, **kwargs: Any) -> Any:
        if quiet and verbose:
            raise typer.BadParameter("choose one of --quiet and --verbose", param_hint="'--quiet'")
        from ..errors import set_show_text

        state.verbosity = -1 if quiet else (1 if verbose else 0)
        set_show_text(verbose)  # messages quote transcript text only when asked (docs/privacy.md)
        try:
            if quiet:
                # errors still reach the terminal: main() prints them after the command has ended;
                # with stderr not a terminal here, no library draws a progress bar either
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    return func(*args, **kwargs)
            return func(*args, **kwargs)
        finally:
            state.verbosity = 0
            set_show_text(False)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
              else p for p in signature.parameters.values()]
    command.__signature__ = signature.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    # evaluated annotations: the command modules' own names (Path, ...) are not visible here
    command.__annotations__ = {p.name: p.annotation for p in [*params, *extra]
                               if p.annotation is not inspect.Parameter.empty}
    del command.__wrapped__  # typer reads the signature above, not the wrapped function's
    return command


def show_progress() -> bool:
    """Whether to draw progress bars: on a terminal (stderr) and not ``--quiet``."""
    return state.verbosity >= 0 and sys.stderr.isatty()

#: Help of the pseudonymisation word lists, shared by ``pseudonymise`` and ``extract --pseudonymise``.
NAMES_HELP = "Word list of names to replace too, one a line ('PLACE: Hebden Bridge' for another kind)."
KEEP_HELP = "Word list of terms never to replace (look like names but are not), one a line."
#: Help of ``themes --fallback`` / ``extract --theme-fallback``; ``{runs}`` is that command's runs option.
FALLBACK_HELP = ("The default preset's finer second clustering when one cluster holds over half of the segments: "
                 "auto = when that happens (with {runs}: in every run once one seed needs it), always, never.")

class _MessageHandler(logging.Handler):
    """Hands each log message to ``show``."""

    def __init__(self, show: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        self.show(record.getMessage())


@contextlib.contextmanager
def library_messages(show: Callable[[str], None], logger: str = "psythemes") -> Iterator[None]:
    """Hand the library's INFO messages (e.g. which run of a stability check is fitted) to ``show``
    while the block runs; the logger's level is put back afterwards."""
    log = logging.getLogger(logger)
    handler, level = _MessageHandler(show), log.level
    log.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        log.setLevel(logging.INFO)  # a script's DEBUG level stays: lowering it would hide its messages
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextlib.contextmanager
def working(what: str) -> Any:
    """A spinner with the elapsed time on stderr while a long step without its own bar runs
    (theme fitting, bootstrap intervals), followed by the library's latest message about it;
    nothing when :func:`show_progress` is false."""
    if not show_progress():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(what) as status, library_messages(lambda m: status.update(f"{what}: {m}")):
        yield

#: Help of ``--speaker-roles``, shared by the commands that read transcript files.
SPEAKER_ROLES_HELP = ('Speaker globs to roles, e.g. "Interviewer=interviewer,P*=patient" (first match wins); '
                      "repeat the option to add more.")


def speaker_roles_spec(values: list[str] | None) -> str | None:
    """Every ``--speaker-roles`` given, as one specification: repeating the option adds to it
    (typer would otherwise keep only the last, and silently drop the roles given before)."""
    return ",".join(values) if values else None


def comma_list(value: str | None) -> list[str] | None:
    """A comma-separated option (``--roles therapist,nurse``) as its non-empty items; None when not given."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


#: Help of ``--metadata``, shared by the commands that read transcript files.
QDPX_POSITIONS_HELP = ("How a .qdpx input or gold counts selection positions: auto (detect, warn when guessing), "
                       "utf16 (NVivo, ATLAS.ti, MAXQDA) or codepoints (QualCoder). See docs/formats.md.")
METADATA_HELP = "Metadata table (.csv, .tsv or .xlsx), one row per transcript: doc_id, participant, role, wave, ..."

#: Help of ``--all-documents-coded`` (evaluate, extract).
ALL_DOCUMENTS_CODED_HELP = ("Every coder coded every document of the segments: a document without any gold code "
                            "counts as 'no code' throughout (default: only the documents a coder has gold rows in "
                            "are scored).")

#: Help of ``--encoding``, shared by the commands that read transcript files.
ENCODING_HELP = "Text encoding of transcript files (default: detect; e.g. cp1252, latin-1)."


#: The values ``--format`` takes besides ``auto``: the keys of :data:`psythemes.io.READERS`, written
#: out here so that building the help does not import the readers (and pandas) at start-up;
#: tests/test_io_styles.py checks that the two agree.
FORMAT_NAMES = ("text", "vtt", "srt", "sbv", "docx", "odt", "csv", "tsv", "jsonl", "qdpx")

FORMAT_HELP = (f"Input format: auto (from the file suffix), {', '.join(FORMAT_NAMES)}. Zoom, Teams, YouTube, "
               "WhisperX, QualCoder and Markdown transcripts are text or vtt (see docs/formats.md).")


def print_error(message: str) -> None:
    """One line on stderr, prefixed ``error:``."""
    print(f"error: {message}", file=sys.stderr)


def print_warning(message: str) -> None:
    """One line on stderr, prefixed ``warning:`` (nothing with ``--quiet``)."""
    if state.verbosity < 0:
        return
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

    def __exit__(self, *exc: Any) -> Literal[False]:
        self._catcher.__exit__(*exc)
        from ..errors import PsythemesWarning

        if state.verbosity < 0:  # --quiet
            return False
        seen: set[str] = set()
        for w in self.caught:
            text = str(w.message)
            # only psythemes' own warnings speak to the user; third-party notices (e.g. umap's
            # "Tensorflow not installed") are noise on the command line, unless --verbose
            ours = issubclass(w.category, PsythemesWarning)
            if (ours or state.verbosity > 0) and text not in seen:
                seen.add(text)
                print_warning(text if ours else f"{w.category.__name__} ({w.filename}:{w.lineno}): {text}")
        return False
