"""Writing results without ever leaving a half-written file behind.

Every output goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic on POSIX and Windows), so an interrupted or failed run leaves
the previous results intact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from .staging import checkpoint, clean_temporary_files

__all__ = [
    "atomic_open",
    "write_text",
    "write_bytes",
    "write_json",
    "to_jsonable",
    "write_jsonl",
    "write_table",
    "prepare_out_dir",
]


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; results should get the usual permissions
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        checkpoint(str(path.name))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically."""
    with atomic_open(path, "wb", encoding=None) as fh:
        fh.write(data)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write one JSON document (UTF-8, indented, keys in given order) atomically.

    NaN and infinities (undefined statistics) are written as ``null``: JSON has no NaN.
    """
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    return write_text(path, text + "\n")


def write_jsonl(path: str | Path, records: Any) -> Path:
    """Write an iterable of JSON objects, one per line, atomically."""
    with atomic_open(path, "w") as fh:
        for rec in records:
            fh.write(json.dumps(to_jsonable(rec), ensure_ascii=False, allow_nan=False, default=_json_default))
            fh.write("\n")
    return Path(path)


def write_table(path: str | Path, table: pd.DataFrame) -> Path:
    """Write a table as CSV (or Parquet for a ``.parquet`` suffix) atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        with atomic_open(path, "wb", encoding=None) as fh:
            table.to_parquet(fh, index=False)
    else:
        with atomic_open(path, "w") as fh:
            table.to_csv(fh, index=False, lineterminator="\n")
    return path


def prepare_out_dir(path: str | Path) -> Path:
    """Create the output folder if needed and return it; refuse a path that is a file."""
    from .errors import InputError

    path = Path(path)
    if str(path).strip() == "":
        raise InputError("output folder is empty; give one, e.g. --out results")
    if path.exists() and not path.is_dir():
        raise InputError("output path exists and is not a folder", path=path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise InputError(f"cannot create the output folder: {err.strerror}", path=path) from None
    except PermissionError:
        raise InputError("output folder is not writable (permission denied)", path=path) from None
    clean_temporary_files(path)  # left by a killed run
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` with NaN/inf floats (also numpy ones) replaced by ``None``, recursively."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 0) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths turn up in manifests and metric dicts
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
