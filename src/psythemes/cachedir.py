"""The per-user cache folder: what it holds, how big it is, and emptying it.

Every cache lives under :func:`cache_root` (``$PSYTHEMES_CACHE``, else the platform's
per-user cache folder), and :func:`cache_folder` is the one rule that turns a ``cache_dir``
setting into the folder of one part; the embedder, the pipeline and the CLI all ask it.  Two of its parts hold
**verbatim participant text**
(fitted themes keep quotes and labels, report plots carry theme labels and quotes), so they
must be handled like the transcripts: ``psythemes cache clear`` removes them, and
``--no-cache`` keeps a run from writing any cache at all.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

__all__ = ["CachePart", "PARTS", "cache_root", "cache_folder", "cache_info", "clear_cache"]


@dataclass(frozen=True)
class CachePart:
    """One folder of the cache and what it holds.

    Attributes
    ----------
    name : str
        Folder name under the cache root.
    holds : str
        What the files are, in a few words.
    verbatim_text : bool
        Whether the files contain participant text word for word.
    """

    name: str
    holds: str
    verbatim_text: bool


#: The parts of the cache, in the order ``cache info`` lists them.
PARTS: tuple[CachePart, ...] = (
    CachePart("embeddings", "sentence vectors of segments, keyed by a SHA-256 of each text (no text)", False),
    CachePart("onnx", "the int8 ONNX export of the embedding model (model weights, no data)", False),
    CachePart("themes", "fitted theme models: labels, keywords and verbatim quotes of segments", True),
    CachePart("report", "report plots: images with theme labels made of participants' words", True),
)


@dataclass(frozen=True)
class PartInfo:
    """Size of one cache part (:func:`cache_info`)."""

    part: CachePart
    path: Path
    n_files: int
    n_bytes: int


def cache_root() -> Path:
    """The folder of every psythemes cache (``embeddings/``, ``onnx/``, ``themes/``, ``report/``).

    ``$PSYTHEMES_CACHE`` if that variable is set, else the per-user cache folder of the
    platform (``~/.cache/psythemes`` on Linux, ``~/Library/Caches/psythemes`` on macOS,
    ``%LOCALAPPDATA%\\psythemes\\Cache`` on Windows; :mod:`platformdirs`): one cache per user,
    not a ``.psythemes-cache`` in whatever folder a command runs from.  ``psythemes cache info``
    shows it, ``psythemes cache clear`` empties it.
    """
    root = os.environ.get("PSYTHEMES_CACHE")
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir("psythemes", appauthor=False))


def cache_folder(cache_dir: str | Path | bool | None, part: str = "") -> Path | None:
    """The folder of cache ``part`` for a ``cache_dir`` setting (the one cache-folder rule).

    Parameters
    ----------
    cache_dir : path, None, True or False
        ``False``: caching is off (returns None).  ``None`` or ``True``: the per-user cache,
        ``cache_root() / part``.  A path: ``path / part``, except for ``part="embeddings"``,
        whose shard folders lie in ``path`` itself: ``Embedder(cache_dir=...)`` and
        ``--cache-dir`` name the embedding folder, and ``extract`` keeps its ``themes/`` and
        ``report/`` in that same folder.
    part : str
        One of :data:`PARTS` (``embeddings``, ``onnx``, ``themes``, ``report``), or ``""``
        for the folder itself.

    Returns
    -------
    Path or None
    """
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return cache_root() / part
    return Path(cache_dir) if part == "embeddings" else Path(cache_dir) / part


def _root(root: str | Path | None) -> Path:
    return cache_root() if root is None else Path(root)


def _size(folder: Path) -> tuple[int, int]:
    n_files = n_bytes = 0
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                n_files += 1
                n_bytes += path.stat().st_size
    return n_files, n_bytes


def cache_info(root: str | Path | None = None) -> list[PartInfo]:
    """Files and bytes of each part of the cache (absent parts count 0).

    Parameters
    ----------
    root : path, optional
        Cache root; default :func:`cache_root`.

    Returns
    -------
    list of PartInfo
        One entry per :data:`PARTS`, then one ``other`` entry for anything else in the folder.
    """
    base = _root(root)
    infos = [PartInfo(part, base / part.name, *_size(base / part.name)) for part in PARTS]
    known = {part.name for part in PARTS}
    n_files = n_bytes = 0
    if base.is_dir():
        for child in base.iterdir():
            if child.name not in known:
                if child.is_dir():
                    f, b = _size(child)
                else:
                    f, b = 1, child.stat().st_size
                n_files, n_bytes = n_files + f, n_bytes + b
    infos.append(PartInfo(CachePart("other", "files psythemes did not name", False), base, n_files, n_bytes))
    return infos


def clear_cache(root: str | Path | None = None, parts: list[str] | None = None) -> int:
    """Remove cache parts (default: all of :data:`PARTS`); return the bytes freed.

    Only psythemes' own folders are removed, never the root itself or files beside them, so
    a ``$PSYTHEMES_CACHE`` pointed at a folder with other content loses nothing else.

    Raises
    ------
    InputError
        ``parts`` names a folder that is not a cache part.
    """
    names = [part.name for part in PARTS]
    chosen = names if parts is None else list(parts)
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise InputError(f"unknown cache part(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    base = _root(root)
    freed = 0
    for name in chosen:
        folder = base / name
        if folder.is_dir():
            freed += _size(folder)[1]
            shutil.rmtree(folder)
    return freed
