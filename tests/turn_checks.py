"""Checks on transcripts shared by the reader tests (imported by test modules)."""

from __future__ import annotations

from psythemes.schema import Transcript


def assert_turn_offsets(tr: Transcript) -> None:
    """Turns are ordered, inside the text, non-overlapping, and their bodies carry no edge whitespace."""
    prev_end = 0
    for t in tr.turns:
        assert prev_end <= t.start < t.end <= len(tr.text)
        body = tr.text[t.start:t.end]
        assert body == body.strip()
        prev_end = t.end
