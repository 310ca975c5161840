"""``psythemes cache info`` and ``psythemes cache clear``: the per-user cache (psythemes.cachedir)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import add_group

cache_app = add_group("cache", "Show or empty the per-user cache (embeddings, ONNX export, themes, report plots).")


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


@cache_app.command("info")
def cache_info_command() -> None:
    """Where the cache is, how big each part is, and which parts hold verbatim text."""
    from ..cachedir import cache_info, cache_root

    infos = cache_info()
    print(f"cache: {cache_root()} ($PSYTHEMES_CACHE overrides)")
    for info in infos:
        if info.part.name == "other" and not info.n_files:
            continue
        flag = "  VERBATIM TEXT" if info.part.verbatim_text else ""
        print(f"  {info.part.name:<10} {_size(info.n_bytes):>9}  {info.n_files:>6} files  {info.part.holds}{flag}")
    total = sum(i.n_bytes for i in infos)
    print(f"  {'total':<10} {_size(total):>9}")
    old = Path(".psythemes-cache")
    if old.is_dir() and old.resolve() != cache_root().resolve():
        print(f"note: {old.resolve()} is a cache of an older psythemes (one per working folder); "
              "it may hold verbatim text: remove it by hand when no longer needed")


@cache_app.command("clear")
def cache_clear_command(
    part: Annotated[list[str] | None, typer.Option(
        "--part", help="Remove only this part (repeatable): embeddings, onnx, themes or report; default: all.",
        show_default=False, metavar="PART")] = None,
) -> None:
    """Remove the cache (or some of its parts); results folders are not touched."""
    from ..cachedir import cache_root, clear_cache

    freed = clear_cache(parts=list(part) if part else None)
    print(f"removed {_size(freed)} from {cache_root()}")
