"""Defaults that depend on the study: psythemes never guesses them silently.

The codebook decides every code a segment can get, so a run without one used to fall back to
the psychosomatic study's codebook and coded (say) a diabetes interview with ``common_ground``
and therapy examples as evidence.  Now a codebook comes from the user (``--codebook``), from
a ``.qdpx`` project or a trained mapper that carries one, or, for the bundled demo corpus
only, is the shipped study codebook, and the run says so.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .errors import InputError, PsythemesWarning

#: The shipped codebook of the psychosomatic-therapy study (``--codebook psychosomatic``).
STUDY_CODEBOOK = "psychosomatic"

#: Message of the error raised when no codebook is given and none can be taken from the input.
NO_CODEBOOK = ("no codebook given: pass --codebook FILE (codebook='FILE' in Python; YAML, CSV or REFI-QDA .qdc; "
               f"see docs/codebook.md), or --codebook {STUDY_CODEBOOK} for the shipped codebook of the "
               "psychosomatic-therapy study")


def demo_corpus_dir() -> Path:
    """Where the bundled demo corpus lies in a source checkout (it may not exist)."""
    return Path(__file__).resolve().parents[2] / "corpora" / "psychosomatic-demo"


def is_demo_input(paths: list[Path]) -> bool:
    """Whether every input lies inside the bundled demo corpus (not a copy of it)."""
    demo = demo_corpus_dir()
    if not paths or not demo.is_dir():
        return False
    return all(Path(p).resolve().is_relative_to(demo) for p in paths)


def is_project_input(paths: list[Path]) -> bool:
    """Whether the input is a REFI-QDA project (whose codebook may be used)."""
    return any(Path(p).suffix.lower() in (".qdpx", ".qde") for p in paths)


def check_codebook_given(codebook: Any, paths: list[Path], *, model: Any = None) -> None:
    """Raise :class:`InputError` before any work when no codebook can be had for ``paths``.

    A ``.qdpx`` input is checked later (whether the project holds a codebook is known only
    once it is read); see :func:`default_codebook`.
    """
    if codebook is None and model is None and not is_project_input(paths) and not is_demo_input(paths):
        raise InputError(NO_CODEBOOK)


def default_codebook(paths: list[Path], *, project: Any = None, model: Any = None) -> Any:
    """The codebook to use when none was given: the project's, the mapper's, or the demo's.

    Parameters
    ----------
    paths : list of Path
        The inputs of the run.
    project : psythemes.qdpx project, optional
        A read ``.qdpx`` input; its codebook wins when it has one.
    model : path, optional
        A trained mapper folder; its ``codebook.yaml`` is used.

    Returns
    -------
    Codebook or path or str
        Something :func:`psythemes.codebook.load_codebook` accepts.

    Raises
    ------
    InputError
        No codebook can be had (:data:`NO_CODEBOOK`).
    """
    if project is not None and getattr(project, "codebook", None) is not None:
        from .codebook import checked_codebook

        # the rules every codebook file meets (a project's codes are read for its codings too)
        return checked_codebook(project.codebook, paths[0])
    if model is not None and (Path(model) / "codebook.yaml").is_file():
        return Path(model) / "codebook.yaml"
    if is_demo_input(paths):
        warnings.warn(f"no --codebook given: the bundled demo corpus is coded with the shipped "
                      f"{STUDY_CODEBOOK!r} codebook", PsythemesWarning, stacklevel=2)
        return STUDY_CODEBOOK
    if project is not None:
        raise InputError(f"the project holds no codebook; {NO_CODEBOOK}", path=paths[0])
    raise InputError(NO_CODEBOOK)
