"""The theme cache: one fit's results on disk (``ThemeDiscoverer(memory=...)``).

An entry, ``<memory>/<key>/``, holds tables as Parquet, arrays as ``.npy`` (no pickle), scalars
as JSON and the two figures as gzipped HTML.  The key hashes the code (every module of this
package), the library versions, the parameters, the segment table with its metadata and the
embeddings.  An entry is built in a temporary folder and renamed into place: it is complete or
absent, and never changed afterwards; delete the folder at will.

The entry knows nothing about :class:`~psythemes.themes.ThemeDiscoverer`: :meth:`ThemeCacheEntry.store`
takes the fitted results as a mapping and :meth:`ThemeCacheEntry.load` returns the same mapping.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PsythemesWarning
from .figures import FIGURES

__all__ = ["ThemeCacheEntry", "CACHE_FORMAT", "TABLES", "ARRAYS", "SCALARS"]

#: 3: theme quotes are their own table; the figures are stored with the fit
CACHE_FORMAT = "psythemes-themes-3"
#: results stored as Parquet tables, as ``.npy`` arrays, and as JSON scalars
#: (attribute -> file stem)
TABLES = {"themes_": "themes", "segment_themes_": "segment_themes", "quotes_": "theme_quotes"}
ARRAYS = {"theme_centroids_": "theme_centroids", "labels_": "labels"}
SCALARS = ("preset_", "initial_outlier_share_", "outlier_share_", "names_", "stability_", "random_state_",
           "clustering_fallback_")
# whatever can change a fit's results besides its inputs and parameters
_CACHE_LIBRARIES = ("psythemes", "bertopic", "scikit-learn", "umap-learn", "hdbscan", "numpy", "scipy", "pandas",
                    "plotly")


def _code_version() -> str:
    from ..caching import code_version

    return "|".join(code_version(str(p), _CACHE_LIBRARIES) for p in sorted(Path(__file__).parent.glob("*.py")))


class ThemeCacheEntry:
    """The results of one fit, stored in ``folder``.

    Parameters
    ----------
    folder : Path
    """

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_fit(cls, memory: Path, params: dict[str, Any], frame: pd.DataFrame, X: np.ndarray) -> ThemeCacheEntry:
        """The entry of a fit with these parameters on this segment table and these embeddings."""
        from ..caching import update_with_table

        digest = hashlib.sha256(f"{CACHE_FORMAT}|{_code_version()}".encode())
        digest.update(json.dumps({"params": params, "shape": list(X.shape)}, sort_keys=True, default=str).encode())
        update_with_table(digest, frame, index=False)
        digest.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
        return cls(memory / digest.hexdigest()[:40])

    def load(self) -> dict[str, Any] | None:
        """The stored results (as given to :meth:`store`), or None when there is no entry.

        A damaged entry (unreadable, or its content hashes do not match) is deleted with a
        warning and counts as none.
        """
        state_path = self.folder / "state.json"
        if not state_path.is_file():
            return None
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("format") != CACHE_FORMAT:
                raise ValueError(f"format {state.get('format')!r}")
            from ..caching import verify_content

            verify_content(self.folder, state.get("sha256"))  # e.g. theme ids shuffled on disk
            results: dict[str, Any] = {name: pd.read_parquet(self.folder / f"{stem}.parquet")
                                       for name, stem in TABLES.items()}
            results["prevalence_"] = {col: pd.read_parquet(self.folder / f"prevalence-{i}.parquet")
                                      for i, col in enumerate(state["prevalence"])}
            results.update({name: np.load(self.folder / f"{stem}.npy", allow_pickle=False)
                            for name, stem in ARRAYS.items()})
            results["figures_"] = {name: gzip.decompress((self.folder / f"{name}.gz").read_bytes()).decode("utf-8")
                                   for name in FIGURES}
            results.update({name: state["scalars"][name] for name in SCALARS})
        except (OSError, ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError) as err:
            warnings.warn(f"{self.folder}: damaged theme cache entry ({err}); deleted, the themes are fitted again",
                          PsythemesWarning, stacklevel=4)
            shutil.rmtree(self.folder, ignore_errors=True)
            return None
        return results

    def store(self, results: Mapping[str, Any]) -> None:
        """Store fitted results: every name of :data:`TABLES`, :data:`ARRAYS`, :data:`SCALARS`,
        ``prevalence_`` (column -> table) and ``figures_`` (file name -> HTML).

        Never fails the fit: a cache that cannot be written is skipped with a warning.
        """
        if self.folder.is_dir():
            return
        tmp = self.folder.parent / f".tmp-{self.folder.name}-{uuid.uuid4().hex[:12]}"
        try:
            tmp.mkdir(parents=True)
            for name, stem in TABLES.items():
                results[name].to_parquet(tmp / f"{stem}.parquet", index=False)
            for i, table in enumerate(results["prevalence_"].values()):
                table.to_parquet(tmp / f"prevalence-{i}.parquet", index=False)
            for name, stem in ARRAYS.items():
                np.save(tmp / f"{stem}.npy", np.asarray(results[name]), allow_pickle=False)
            for name in FIGURES:
                (tmp / f"{name}.gz").write_bytes(gzip.compress(results["figures_"][name].encode("utf-8"), mtime=0))
            from ..caching import content_hashes

            files = sorted(p.name for p in tmp.iterdir() if p.is_file())
            state = {"format": CACHE_FORMAT, "sha256": content_hashes(tmp, files),
                     "prevalence": list(results["prevalence_"]),
                     "scalars": {name: results[name] for name in SCALARS}}
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")  # last: marks a complete entry
            os.replace(tmp, self.folder)
        except OSError as err:
            if not self.folder.is_dir():  # not just a concurrent run that stored the same entry first
                warnings.warn(f"could not write the theme cache ({err}); continuing without it",
                              PsythemesWarning, stacklevel=4)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
