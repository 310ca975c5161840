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
# It is removed when the session ends (a full run leaves about 90 MB otherwise).
if "PSYTHEMES_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["PSYTHEMES_CACHE"] = tempfile.mkdtemp(prefix="psythemes-test-cache-")
    atexit.register(shutil.rmtree, os.environ["PSYTHEMES_CACHE"], ignore_errors=True)
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


#: Two short interviews with accented letters and curly quotes, for the encoding options.
CP1252_TRANSCRIPTS = {
    "P01": "Interviewer: How was the café?\n"
           "P01: “Busy”, she said. I felt the tension in my shoulders again.\n"
           "Interviewer: And the breathing exercises?\n"
           "P01: They’re helping, I think. Slowly.\n",
    "P02": "Interviewer: What about your exams?\n"
           "P02: My supervisor’s “deadline” for the thesis worries me.\n"
           "Interviewer: How do you cope?\n"
           "P02: A long walk, then a café crème with a friend.\n",
}


@pytest.fixture
def cp1252_corpus(tmp_path: Path) -> Path:
    """A folder of two transcripts encoded in cp1252 (Windows Western), see ``CP1252_TRANSCRIPTS``."""
    folder = tmp_path / "cp1252"
    folder.mkdir()
    for doc_id, text in CP1252_TRANSCRIPTS.items():
        (folder / f"{doc_id}.txt").write_bytes(text.encode("cp1252"))
    return folder
