"""``psythemes pseudonymise``: replace identifiers in transcripts, key kept apart (see psythemes.pseudonymise)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import ENCODING_HELP, KEEP_HELP, NAMES_HELP, app, warnings_as_lines


@app.command()
def pseudonymise(
    inputs: Annotated[list[Path], typer.Argument(help="Transcript files or folders (with --restore: any text "
                                                      "files written from pseudonymised transcripts).",
                                                 show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False)],
    key: Annotated[Path | None, typer.Option(
        help="Key file (surrogate -> original, owner-only); an existing one is extended. "
             "Default: OUT.key.json beside the output folder.")] = None,
    names: Annotated[Path | None, typer.Option(help=NAMES_HELP)] = None,
    keep: Annotated[Path | None, typer.Option(help=KEEP_HELP)] = None,
    restore: Annotated[bool, typer.Option(
        "--restore", help="Put the originals back, using --key: a pseudonymised transcript as its original "
                          "file (byte for byte where that was UTF-8 text; a warning names any other, and any "
                          "edited since), other files with each surrogate's first-seen original.")] = False,
    format: Annotated[str, typer.Option(help="Input format, auto from the file suffix.")] = "auto",
    encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP)] = None,
) -> None:
    """Replace names, places, organisations, dates, ages over 89, e-mails, phone and ID numbers and URLs
    with surrogates (PERSON_3, ...) the same way in every file; write OUT/DOC_ID.txt and the key apart."""
    from ..errors import InputError
    from ..jobs import pseudonymise_files, restore_files

    with warnings_as_lines():
        if restore:
            if key is None:
                raise InputError("--restore needs --key, the key written when the files were pseudonymised")
            # which files come back byte for byte, which as normalised text and which only
            # approximately (edited since): warned per file, counted here
            written, check = restore_files(inputs, out, key_path=key)
            print(f"{len(written)} files restored -> {out}" + (f" ({check.summary()})" if written else ""))
            return
        result, key_path = pseudonymise_files(inputs, out, key_path=key, names=names, keep=keep,
                                              format=format, encoding=encoding)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts().items() if n)
    print(f"{len(result.transcripts)} transcripts, {len(result.identifiers)} identifiers replaced "
          f"({counts or 'none'}) -> {out}")
    print(f"key: {key_path} (owner-only; keep it apart from the outputs)")
