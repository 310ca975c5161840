"""Shared fixtures: paths to the example data, the demo corpus and ../shared (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# urllib3 (pulled in by spaCy and transformers) probes IPv6 support with a socket when first
# imported; import it here, before pytest-socket blocks sockets for the tests themselves.
import urllib3  # noqa: F401

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]

# One embedding cache for the whole test session, outside the repository: tests that embed
# the demo corpus share it, and nothing is written into the checkout.
if "PSYTHEMES_CACHE" not in os.environ:
    import tempfile

    os.environ["PSYTHEMES_CACHE"] = tempfile.mkdtemp(prefix="psythemes-test-cache-")
DATA = Path(__file__).resolve().parent / "data"
DEMO = ROOT / "corpora" / "psychosomatic-demo"
SHARED = Path(os.environ.get("PSYTHEMES_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Small example transcripts written for the tests (tests/data)."""
    return DATA


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The bundled synthetic demo corpus."""
    if not (DEMO / "metadata.csv").exists():
        pytest.skip(f"demo corpus not found at {DEMO}")
    return DEMO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project root; tests that need it skip with a reason when it is missing."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (set PSYTHEMES_SHARED to its path)")
    return SHARED
