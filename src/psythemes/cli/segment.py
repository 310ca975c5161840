"""CLI command(s) for the segment stage; registered on import (see ``psythemes.cli``)."""

from __future__ import annotations

from ._app import app  # noqa: F401
