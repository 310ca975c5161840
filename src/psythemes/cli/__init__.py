"""Command-line interface: a thin layer over the library.

Each command lives in its own small module (``psythemes.cli.<command>``) that parses
options, calls one library function and prints a summary.  Heavy libraries (torch,
BERTopic, spaCy) are imported inside the commands, so ``psythemes --help`` stays fast.

Errors raised on purpose (:class:`psythemes.errors.PsythemesError`) become one line on
stderr and exit code 2; ``--debug`` shows the traceback instead.  Usage errors (unknown
option, missing argument, invalid value, no command) print click's usage message and exit 2.
"""

from __future__ import annotations

import sys

from . import _app

app = _app.app

# Importing a command module registers its command on ``app``; ``--help`` lists them in this
# order: the main job first, then its stages in pipeline order (so not sorted).
# isort: off
from . import extract as _extract  # noqa: E402,F401
from . import segment as _segment  # noqa: E402,F401
from . import themes as _themes  # noqa: E402,F401
from . import mapping as _mapping  # noqa: E402,F401
from . import agreement as _agreement  # noqa: E402,F401
from . import cache as _cache  # noqa: E402,F401
from . import pseudonymise as _pseudonymise  # noqa: E402,F401
from . import review as _review  # noqa: E402,F401
# isort: on


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``psythemes`` console script."""
    from ..errors import PsythemesError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
        _app.state.debug = True
    _terminate_cleanly()
    try:
        rc = app(args=args, prog_name="psythemes", standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into a returned 130, silently
            raise KeyboardInterrupt
    except PsythemesError as err:
        if debug:
            raise
        _app.print_error(str(err))
        return err.exit_code
    except KeyboardInterrupt:
        _app.print_error("interrupted; earlier results are left as they were")
        return 130
    except Exception as err:  # click's usage errors and anything unforeseen
        status = _framework_exit(err)
        if status is not None:
            return status
        if debug:
            raise
        _app.print_error(f"unexpected {type(err).__name__}: {err} (run again with --debug for the traceback)")
        return 1
    return 0


def _framework_exit(err: BaseException) -> int | None:
    """Exit status for click's own exceptions (shown as click shows them), else ``None``.

    typer >= 0.23 bundles a private copy of click (``typer._click``), older typer uses the
    ``click`` package: an ``isinstance`` test against either one misses the other's exceptions
    and turned every usage error into "unexpected NoSuchOption".  So the classes are recognised
    by where they come from (click or typer) and by name, which both copies share.
    """
    mro = type(err).__mro__
    if not any(cls.__module__.split(".")[0] in ("click", "typer") for cls in mro):
        return None
    names = {cls.__name__ for cls in mro}
    if "Exit" in names:  # --help, --version, ctx.exit(n)
        return int(getattr(err, "exit_code", 0) or 0)
    if "Abort" in names:
        _app.print_error("aborted")
        return 130
    if "ClickException" in names and callable(getattr(err, "show", None)):
        # usage errors (unknown option, missing argument, bad value, no arguments: the help)
        # print click's usage line and message; exit 2 like every error raised on purpose
        err.show()  # type: ignore[attr-defined]
        return 2
    return None


def _terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C (staging folders are removed, earlier results stay), exit 143."""
    import signal

    def on_term(signum: int, frame: object) -> None:
        _app.print_error("terminated; earlier results are left as they were")
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (main() called from a worker thread): keep the default
        pass


__all__ = ["app", "main"]
