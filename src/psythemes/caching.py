"""Keys for psythemes' result caches (fitted themes, report plots).

A cached result may be reused only if nothing that made it has changed: the code, the
libraries it ran on, and the data it was computed from.  These helpers hash those parts the
same way for every cache, so the caches differ only in what they store.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["code_version", "update_with_table"]


@functools.cache
def code_version(source_file: str, distributions: tuple[str, ...]) -> str:
    """Versions of ``distributions`` plus the SHA-256 of ``source_file`` (an editable install
    keeps its version number while the code changes), as one JSON string; computed once per
    process.

    Parameters
    ----------
    source_file : str
        The module whose code makes the cached result (usually its ``__file__``).
    distributions : tuple of str
        Installed distributions whose versions matter; an absent one counts as ``None``.

    Returns
    -------
    str
    """
    from importlib import metadata as md

    versions: dict[str, str | None] = {}
    for dist in distributions:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    source = hashlib.sha256(Path(source_file).read_bytes()).hexdigest()
    return json.dumps({"versions": versions, "source": source}, sort_keys=True)


def update_with_table(digest: Any, table: pd.DataFrame, *, index: bool) -> None:
    """Feed a table's columns, dtypes, content (and index, if ``index``) into ``digest``.

    Cells pandas cannot hash (lists, dicts) are hashed through the table's CSV text instead.
    """
    header: dict[str, Sequence[str]] = {"columns": [str(c) for c in table.columns],
                                        "dtypes": [str(t) for t in table.dtypes]}
    if index:
        header["index"] = [str(i) for i in table.index]
    digest.update(json.dumps(header, sort_keys=True).encode())
    try:
        digest.update(pd.util.hash_pandas_object(table, index=index).to_numpy().tobytes())
    except TypeError:
        digest.update(table.to_csv(index=index).encode("utf-8", "surrogatepass"))


def content_hashes(folder: Path, names: Sequence[str]) -> dict[str, str]:
    """SHA-256 of each named file of a cache entry, recorded when the entry is stored."""
    from .staging import sha256_file

    return {name: sha256_file(folder / name) for name in names}


def verify_content(folder: Path, recorded: Any) -> None:
    """Raise ValueError naming the first file of a cache entry whose bytes differ from when it was
    stored (or when no hashes were recorded): the caller deletes the entry and rebuilds it."""
    if not isinstance(recorded, dict) or not recorded:
        raise ValueError("no content hashes recorded")
    for name, digest in content_hashes(folder, list(recorded)).items():
        if digest != recorded[name]:
            raise ValueError(f"{name} changed since it was stored")
