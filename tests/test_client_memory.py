"""What keeps a Dask run's client small gives the same answers: stored transcripts, streamed CSV
reading, word counts in chunks, random saturation orders one at a time, memory released per stage."""

from __future__ import annotations

import gc
import io as _io
import weakref

import numpy as np
import pandas as pd
import pytest

from psythemes import io, report
from psythemes.distributed import StoredTranscripts, release_memory
from psythemes.errors import InputError
from psythemes.saturation import saturation
from psythemes.schema import Transcript, Turn


def _transcripts(n: int) -> list[Transcript]:
    return [Transcript(doc_id=f"T{i:02d}", text=f"P: words {i}", source="x.csv", format="csv",
                       metadata={"wave": i % 2}, turns=[Turn(speaker="P", start=3, end=3 + len(f"words {i}"))])
            for i in range(n)]


def test_stored_transcripts_read_back_in_order(tmp_path):
    original = _transcripts(7)
    stored = StoredTranscripts.write(tmp_path / "t", [original[:3], original[3:4], original[4:]])
    assert len(stored) == 7 and stored.sizes == [3, 1, 3]
    assert [p.name for p in stored.paths] == ["part-00000.pkl", "part-00001.pkl", "part-00002.pkl"]
    assert list(stored) == original
    assert list(stored) == original  # a second pass reads the files again
    assert stored[0] == original[0] and stored[3] == original[3] and stored[-1] == original[6]
    assert stored[2:5] == original[2:5]
    assert StoredTranscripts.read_partition(stored.paths[1]) == original[3:4]
    with pytest.raises(IndexError):
        stored[7]


def test_stored_transcripts_keep_their_temporary_folder_alive(tmp_path):
    from psythemes.distributed import _TemporaryFolder

    folder = _TemporaryFolder("psythemes-test-")
    stored = StoredTranscripts.write(folder.path / "transcripts", [_transcripts(2)], keep_alive=folder)
    path = folder.path
    gone = weakref.ref(folder)
    del folder
    gc.collect()
    assert gone() is not None and path.is_dir()  # the stored transcripts still read from it
    assert len(list(stored)) == 2
    del stored
    gc.collect()
    assert gone() is None and not path.exists()


def test_release_memory_runs_without_pyarrow_loaded_or_with_it():
    release_memory()
    import pyarrow  # noqa: F401

    release_memory()


def test_csv_lines_are_those_of_stringio():
    for text in ["", "a", "a\n", "\n\n", "a\r\nb\rc\n\nd", 'x,"two\nlines"\ny\u2028z\n']:
        assert list(io._text_lines(text)) == list(_io.StringIO(text)), repr(text)


def test_streamed_csv_reading_keeps_its_checks(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text('doc_id,speaker,text\nA,P,"one,\nmore"\n,,\nB,P,two\nA,I,three\n', encoding="utf-8")
    transcripts = io.read_table(good)
    assert [t.doc_id for t in transcripts] == ["A", "B"]
    assert [len(t.turns) for t in transcripts] == [2, 1]
    assert "one,\nmore" in transcripts[0].text
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,speaker,text\nA,P,one\nA,P,two,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match="row has 4 fields, the header has 3") as err:
        io.read_table(bad)
    assert err.value.line == 3
    empty = tmp_path / "empty.csv"
    empty.write_text("doc_id,speaker,text\n", encoding="utf-8")
    with pytest.raises(InputError, match="table has no rows"):
        io.read_table(empty)


def test_word_counts_in_chunks_equal_one_split(monkeypatch):
    texts = pd.Series(["two words", "", "  spaced\tout\nthree ", None, "one"] * 3, index=range(10, 25))
    expected = texts.astype(str).str.split().str.len()
    monkeypatch.setattr(report, "WORD_COUNT_CHUNK", 4)
    got = report.word_counts(texts)
    pd.testing.assert_series_equal(got, expected)
    assert report.word_counts(texts.iloc[:0]).empty
    # one text at a time splits as str.split() does: any Unicode whitespace, numbers as their text
    odd = pd.Series(["a\u00a0b", "c\u2028d e", "\x1cf", 12.5, None, "x"], dtype=object)
    pd.testing.assert_series_equal(report.word_counts(odd), odd.astype(str).str.split().str.len())
    plain = pd.Series(["a b", "c"])  # no gaps: whole numbers, as before
    pd.testing.assert_series_equal(report.word_counts(plain), plain.astype(str).str.split().str.len())


def test_random_saturation_orders_are_the_draws_of_all_at_once():
    rng = np.random.default_rng(5)
    docs = [f"d{i}" for i in range(30)]
    items = pd.DataFrame({"doc_id": rng.choice(docs, 120), "item": rng.choice(list("abcdefghij"), 120)})
    result = saturation(items, docs=docs, n_orders=40, random_state=7)
    # the reference: every order drawn first, as the function did before
    draws = np.random.default_rng(7)
    orders = [list(draws.permutation(docs)) for _ in range(40)]
    by_doc: dict[str, set[str]] = {}
    for doc, item in zip(items["doc_id"], items["item"], strict=True):
        by_doc.setdefault(doc, set()).add(item)
    new = np.array([[len(by_doc.get(d, set()) - set().union(*[by_doc.get(e, set()) for e in o[:k]]))
                     for k, d in enumerate(o)] for o in orders])
    assert np.array_equal(result.curve["new_mean"].to_numpy(), new.mean(axis=0))
    assert np.array_equal(result.curve["new_high"].to_numpy(), np.percentile(new, 97.5, axis=0))

