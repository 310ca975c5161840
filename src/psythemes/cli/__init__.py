"""Command-line interface: a thin layer over the library.

Each command lives in its own small module (``psythemes.cli.<command>``) that parses
options, calls one library function and prints a summary.  Heavy libraries (torch,
BERTopic, spaCy) are imported inside the commands, so ``psythemes --help`` stays fast.

Errors raised on purpose (:class:`psythemes.errors.PsythemesError`) become one line on
stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

from . import _app

app = _app.app

# Importing a command module registers its command on ``app``.
from . import segment as _segment  # noqa: E402,F401
from . import agreement as _agreement  # noqa: E402,F401
from . import themes as _themes  # noqa: E402,F401
from . import mapping as _mapping  # noqa: E402,F401
from . import extract as _extract  # noqa: E402,F401
from . import review as _review  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``psythemes`` console script."""
    from ..errors import PsythemesError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
        _app.state.debug = True
    try:
        app(args=args, prog_name="psythemes", standalone_mode=False)
    except PsythemesError as err:
        if debug:
            raise
        _app.print_error(str(err))
        return err.exit_code
    except KeyboardInterrupt:
        _app.print_error("interrupted; earlier results are left as they were")
        return 130
    except Exception as err:  # click's usage errors and anything unforeseen
        import click

        if isinstance(err, click.exceptions.Exit):
            return err.exit_code
        if isinstance(err, click.ClickException):
            err.show()
            return 2
        if isinstance(err, click.exceptions.Abort):
            return 130
        if debug:
            raise
        _app.print_error(f"unexpected {type(err).__name__}: {err} (run again with --debug for the traceback)")
        return 1
    return 0


__all__ = ["app", "main"]
