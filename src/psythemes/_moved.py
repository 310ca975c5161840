"""Names that moved to another module stay importable from their old one (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def forward(module: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module`` that finds each name of ``moved`` in its new
    module (a name relative to the ``psythemes`` package, e.g. ``"jobs"``), imported on first use."""

    def __getattr__(name: str) -> Any:
        if name in moved:
            return getattr(importlib.import_module(f"psythemes.{moved[name]}"), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
