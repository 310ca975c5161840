"""Embedder: cache hits, partial re-embedding, damaged shards, order, normalisation, bad models."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psythemes import embed as embed_mod
from psythemes.embed import (
    CONTEXT_PREFIX,
    CONTEXT_SEP,
    Embedder,
    EmbeddingCache,
    context_texts,
    default_cache_dir,
    model_fingerprint,
)
from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import SEGMENT_COLUMNS

DIM = 8


class FakeModel:
    """Stands in for a SentenceTransformer: deterministic, non-unit vectors; records every call."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).normal(size=DIM) * 3.0)
        return np.array(rows, dtype=np.float32).reshape(len(texts), DIM)

    @property
    def encoded(self) -> list[str]:
        return [t for call in self.calls for t in call]


@pytest.fixture
def fake(monkeypatch) -> FakeModel:
    model = FakeModel()
    monkeypatch.setattr(Embedder, "_load_model", lambda self: model)
    # the fake stands in for the torch backend's model; the cache works the same for both
    monkeypatch.setenv("PSYTHEMES_EMBED_BACKEND", "torch")
    return model


@pytest.fixture
def fake_model_dir(tmp_path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x"}]')
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 40_000)  # ~10 MB: edge-hashed
    return folder


@pytest.fixture
def embedder(tmp_path, fake, fake_model_dir) -> Embedder:
    return Embedder(model=fake_model_dir, cache_dir=tmp_path / "cache")


TEXTS = ["I feel the tension in my shoulders.", "Mm-hmm.", "Let's try a breathing exercise.", "Mm-hmm.", ""]


def test_cache_hit_embeds_nothing(tmp_path, fake, fake_model_dir):
    first = Embedder(model=fake_model_dir, cache_dir=tmp_path / "cache").encode(TEXTS)
    assert sorted(fake.encoded) == sorted(set(TEXTS))  # duplicates embedded once
    fake.calls.clear()
    again = Embedder(model=fake_model_dir, cache_dir=tmp_path / "cache")  # a new run
    second = again.encode(TEXTS)
    assert fake.calls == []
    assert again.stats_ == {"n_texts": 5, "n_unique": 4, "n_cached": 4, "n_encoded": 0}
    np.testing.assert_array_equal(first, second)


def test_changed_text_embeds_only_new_texts(embedder, fake):
    embedder.encode(TEXTS)
    fake.calls.clear()
    edited = [*TEXTS[:2], "Let's try a different exercise.", "A brand new segment."]
    embedder.encode(edited)
    assert sorted(fake.encoded) == ["A brand new segment.", "Let's try a different exercise."]


def test_vectors_normalised_and_order_preserved(embedder, fake):
    out = embedder.encode(TEXTS)
    assert out.dtype == np.float32 and out.shape == (5, DIM)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    for i, text in enumerate(TEXTS):
        raw = FakeModel().encode([text])[0]
        np.testing.assert_allclose(out[i], raw / np.linalg.norm(raw), rtol=1e-6)
    np.testing.assert_array_equal(out[1], out[3])


def test_normalize_false_returns_raw_vectors(tmp_path, fake, fake_model_dir):
    out = Embedder(model=fake_model_dir, cache_dir=tmp_path / "c", normalize=False).encode(TEXTS[:1])
    np.testing.assert_allclose(out[0], FakeModel().encode(TEXTS[:1])[0], rtol=1e-6)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_damaged_shard_is_detected_and_rebuilt(tmp_path, fake, fake_model_dir, damage):
    expected = Embedder(model=fake_model_dir, cache_dir=tmp_path / "cache").encode(TEXTS)
    # a new run reads the shards again (one Embedder reads them once, see the test below)
    embedder = Embedder(model=fake_model_dir, cache_dir=tmp_path / "cache")
    shards = sorted(embedder.cache_.directory.glob("shard-*.emb"))
    assert len(shards) == 1
    data = bytearray(shards[0].read_bytes())
    if damage == "flip":
        data[-3] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"not a shard at all")
    shards[0].write_bytes(bytes(data))
    fake.calls.clear()
    with pytest.warns(PsythemesWarning, match="damaged embedding cache shard"):
        again = embedder.encode(TEXTS)
    assert sorted(fake.encoded) == sorted(set(TEXTS))  # nothing from the damaged shard was trusted
    np.testing.assert_allclose(again, expected, rtol=1e-6)
    assert not shards[0].exists()
    fake.calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt cache is clean
        embedder.encode(TEXTS)
    assert fake.calls == []


def test_no_temporary_files_left_and_shards_merge(embedder, fake, monkeypatch):
    monkeypatch.setattr(embed_mod, "MAX_SHARDS", 2)
    for i in range(5):
        embedder.encode([f"text number {i}"])
    folder = embedder.cache_.directory
    assert len(list(folder.glob("shard-*.emb"))) <= 2
    assert not list(folder.glob("*.tmp"))
    fake.calls.clear()
    embedder.encode([f"text number {i}" for i in range(5)])
    assert fake.calls == []


def test_cache_is_read_once_per_embedder(embedder, fake, monkeypatch):
    """Repeated encode calls answer from memory; new vectors join the memory and the disk."""
    embedder.encode(TEXTS)
    reads = []
    real = EmbeddingCache._read_shard
    monkeypatch.setattr(EmbeddingCache, "_read_shard", staticmethod(lambda path: reads.append(path) or real(path)))
    fresh = Embedder(model=embedder.model, cache_dir=embedder.cache_dir)
    for _ in range(3):
        fresh.encode(TEXTS)
    assert len(reads) == 1  # one shard, read by the first call only
    fake.calls.clear()
    fresh.encode(["a new text"])
    fresh.encode(["a new text", *TEXTS])
    assert fake.encoded == ["a new text"] and len(reads) == 1
    assert fresh.cache_ is fresh.cache_  # one cache object per folder
    assert len(list(fresh.cache_.directory.glob("shard-*.emb"))) == 2  # the new vector is on disk too


def test_other_writers_shards_are_seen_by_a_new_embedder(tmp_path, fake, fake_model_dir):
    a = Embedder(model=fake_model_dir, cache_dir=tmp_path / "c")
    a.encode(["from run a"])
    Embedder(model=fake_model_dir, cache_dir=tmp_path / "c").encode(["from run b"])
    fake.calls.clear()
    a.encode(["from run b"])  # written by another run after a read the cache: embedded again
    assert fake.encoded == ["from run b"]
    fake.calls.clear()
    a.cache_.load(refresh=True)
    a.encode(["from run b", "from run a"])
    assert fake.calls == []


def test_two_writers_share_one_cache(tmp_path, fake, fake_model_dir):
    a = Embedder(model=fake_model_dir, cache_dir=tmp_path / "c")
    b = Embedder(model=fake_model_dir, cache_dir=tmp_path / "c")
    a.encode(["from run a"])
    b.encode(["from run b"])
    fake.calls.clear()
    Embedder(model=fake_model_dir, cache_dir=tmp_path / "c").encode(["from run a", "from run b"])
    assert fake.calls == []


def test_cache_disabled_writes_nothing(tmp_path, fake, fake_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    e = Embedder(model=fake_model_dir, cache_dir=False)
    e.encode(TEXTS)
    e.encode(TEXTS)
    assert len(fake.calls) == 2
    assert not (tmp_path / ".psythemes-cache").exists()


def test_default_cache_dir_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("PSYTHEMES_CACHE", raising=False)
    import platformdirs  # one per-user cache, not a .psythemes-cache in the working folder

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("psythemes", appauthor=False)) / "embeddings"
    monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"


def test_fingerprint_follows_content_not_location(fake_model_dir, tmp_path):
    before = model_fingerprint(fake_model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(fake_model_dir, copy)
    assert model_fingerprint(copy) == before
    (copy / "config.json").write_text('{"hidden_size": 16}')
    assert model_fingerprint(copy) != before


def test_different_model_different_cache(tmp_path, fake, fake_model_dir):
    Embedder(model=fake_model_dir, cache_dir=tmp_path / "c").encode(["same text"])
    other = tmp_path / "other"
    shutil.copytree(fake_model_dir, other)
    (other / "config.json").write_text('{"hidden_size": 9}')
    fake.calls.clear()
    Embedder(model=other, cache_dir=tmp_path / "c").encode(["same text"])
    assert fake.encoded == ["same text"]


@pytest.mark.parametrize("kind", ["missing", "file", "not_st"])
def test_bad_model_path_is_input_error(tmp_path, kind):
    path = tmp_path / "m"
    if kind == "file":
        path.write_text("x")
    elif kind == "not_st":
        path.mkdir()
        (path / "config.json").write_text("{}")
    with pytest.raises(InputError) as err:
        Embedder(model=path, cache_dir=False).encode(["hello"])
    assert str(path) in str(err.value)


def test_bad_context_is_input_error(embedder):
    with pytest.raises(InputError, match="context"):
        Embedder(context="next_turn", cache_dir=False).encode(["x"])


def _frame(rows):
    df = pd.DataFrame(rows, columns=["doc_id", "speaker", "start", "text"])
    df["segment_id"] = df.doc_id + ":" + df.start.astype(str)
    df["role"] = ""
    df["end"] = df.start + df.text.str.len()
    df["t_start"] = df["t_end"] = np.nan
    return df[SEGMENT_COLUMNS]


def test_context_previous_turn_of_another_speaker():
    seg = _frame(
        [
            ("A", "T", 0, "How have the headaches been?"),
            ("A", "P", 40, "Worse."),
            ("A", "P", 47, "Much worse this week."),  # same turn, next sentence
            ("A", "T", 80, "Tell me more."),
            ("B", "P", 0, "First words of doc B."),  # no previous turn in its own document
        ]
    ).iloc[[3, 0, 4, 2, 1]]  # frame order is not text order
    out = context_texts(seg)
    ctx = lambda prev, text: f"{CONTEXT_PREFIX}{prev}{CONTEXT_SEP}{text}"  # noqa: E731
    assert out == [
        ctx("Much worse this week.", "Tell me more."),
        "How have the headaches been?",
        "First words of doc B.",
        ctx("How have the headaches been?", "Much worse this week."),
        ctx("How have the headaches been?", "Worse."),
    ]


def test_context_is_cut_to_its_end():
    long_turn = " ".join(f"word{i}" for i in range(200))
    out = context_texts(_frame([("A", "T", 0, long_turn), ("A", "P", 2000, "Yes.")]))
    prev = out[1][len(CONTEXT_PREFIX) : out[1].index(CONTEXT_SEP)]
    assert len(prev) <= embed_mod.CONTEXT_MAX_CHARS and long_turn.endswith(prev) and prev.startswith("word")


def test_context_changes_the_cache_key(embedder, fake):
    seg = _frame([("A", "T", 0, "How are you?"), ("A", "P", 20, "Fine.")])
    embedder.embed_segments(seg)
    fake.calls.clear()
    embedder.context = "previous_turn"
    embedder.embed_segments(seg)
    assert fake.encoded == [f"{CONTEXT_PREFIX}How are you?{CONTEXT_SEP}Fine."]


def test_embed_segments_keeps_frame_order(embedder):
    seg = _frame([("A", "T", 0, "one"), ("A", "P", 5, "two"), ("A", "T", 9, "three")]).iloc[[2, 0, 1]]
    out = embedder.embed_segments(seg)
    np.testing.assert_allclose(out, embedder.encode(["three", "one", "two"]))


def test_shard_format_roundtrip(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache.append(keys, vecs)
    table = cache.load()
    np.testing.assert_array_equal(table[keys[1]], vecs[1])


@pytest.mark.slow
def test_real_model_cache_and_parity(tmp_path):
    from sentence_transformers import SentenceTransformer

    texts = ["My shoulders were up by my ears.", "We practised breathing.", "Mm-hmm.", "The GP referred me."]
    e = Embedder(cache_dir=tmp_path / "cache", backend="torch")
    ours = e.encode(texts)
    assert ours.shape == (4, 384) and e.stats_["n_encoded"] == 4
    raw = SentenceTransformer(str(e.model_path_), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, raw, atol=1e-5)
    again = Embedder(cache_dir=tmp_path / "cache", backend="torch")
    np.testing.assert_array_equal(again.encode(texts), ours)
    assert again.stats_["n_encoded"] == 0 and not hasattr(again, "_st_model")  # the model was never loaded


def test_known_vectors_answer_known_texts_and_embed_only_the_rest():
    """extract hands the embed stage's vectors on to the mappers: no text is embedded twice."""
    from psythemes.embed import KnownVectors

    class Counting:
        backend_ = "fake"

        def __init__(self):
            self.asked: list[str] = []

        def encode(self, texts):
            self.asked.extend(texts)
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    inner = Counting()
    known = np.array([[9.0, 9.0], [8.0, 8.0]], dtype=np.float32)
    wrapped = KnownVectors(inner, ["a", "bb"], known)
    out = wrapped.encode(["bb", "new text", "a", "bb"])
    assert inner.asked == ["new text"]
    assert out.tolist() == [[8.0, 8.0], [8.0, 1.0], [9.0, 9.0], [8.0, 8.0]]
    assert wrapped.encode(["a"]).tolist() == [[9.0, 9.0]] and inner.asked == ["new text"]
    assert wrapped.backend_ == "fake"  # everything else is the wrapped embedder's
    with pytest.raises(ValueError):
        KnownVectors(inner, ["a"], known)


CONTEXT_SEGMENTS = [
    ("A", "T", 0, "How have the headaches been?"),
    ("A", "P", 40, "Yes."),  # the same text twice, after different questions
    ("A", "T", 60, "And do you sleep well?"),
    ("A", "P", 90, "Yes."),
    ("A", "P", 100, "My shoulders are tense all day."),
]


def test_context_vectors_are_handed_to_the_mappers_row_by_row(embedder, fake):
    """--context: a mapper asking for the segment texts gets each segment's own context vector."""
    from psythemes.embed import KnownVectors, vectors_for_mapping

    embedder.context = "previous_turn"
    seg = _frame(CONTEXT_SEGMENTS)
    emb = embedder.embed_segments(seg)
    assert not np.allclose(emb[1], emb[3])  # "Yes." after two different questions
    known = vectors_for_mapping(embedder, seg, emb)
    assert isinstance(known, KnownVectors)
    fake.calls.clear()
    np.testing.assert_array_equal(known.encode(seg["text"].tolist()), emb)
    assert fake.calls == []
    assert vectors_for_mapping(embedder, seg, None) is embedder
    # a mapper trained on texts alone keeps getting text-only vectors, and is told so
    with pytest.warns(PsythemesWarning, match="trained mapper codes each segment from its text alone"):
        assert vectors_for_mapping(embedder, seg, emb, trained=True) is embedder
    embedder.context = None
    assert isinstance(vectors_for_mapping(embedder, seg, emb, trained=True), KnownVectors)


def test_extract_codes_use_the_theme_vectors_with_context(embedder, fake):
    """pipeline._map with context: zero-shot codes come from the embed stage's (context) vectors,
    so no segment text is embedded alone, and scores follow those vectors."""
    from types import SimpleNamespace

    from psythemes import pipeline
    from psythemes.codebook import Code, Codebook
    from psythemes.mapping import ZeroShotMapper

    book = Codebook("t", (Code("tension", "bodily tension", examples=("My neck is stiff.", "I feel tense.")),
                          Code("sleep", "sleep problems", examples=("I cannot sleep.", "I wake up at night."))))
    embedder.context = "previous_turn"
    seg = _frame(CONTEXT_SEGMENTS)
    emb = embedder.embed_segments(seg)
    themes = SimpleNamespace(themes_=pd.DataFrame({"theme_id": [0], "top_quotes": ["[]"]}), theme_centroids_=emb[:1])
    fake.calls.clear()
    codes, _, _ = pipeline._map(seg, themes, book, embedder, mapper=None, method="zero-shot", model=None,
                                embeddings=emb)
    plain_only = {t for t in seg["text"] if t not in context_texts(seg)}
    assert plain_only and not plain_only & set(fake.encoded)  # "Yes." was never embedded without context
    # the same codes as a mapper whose embedder returns the context vectors for the segments
    reference = ZeroShotMapper(book, embedder=embedder, single_label=False)
    reference.fit()
    embedder_calls = embedder.encode
    embedder.encode = lambda texts: emb if list(texts) == seg["text"].tolist() else embedder_calls(texts)
    try:
        expected = reference.predict(seg)
    finally:
        del embedder.encode
    pd.testing.assert_frame_equal(codes.reset_index(drop=True), expected.reset_index(drop=True))


def test_encode_refuses_one_str(embedder) -> None:
    """A str is a sequence of characters: it would give one vector per letter, silently."""
    with pytest.raises(InputError, match=r"not one str: pass \[text\]"):
        embedder.encode("I slept badly")
    assert embedder.encode(["I slept badly"]).shape[0] == 1


def test_embed_segments_refuses_a_list(embedder) -> None:
    with pytest.raises(InputError, match=r"takes a segment table \(DataFrame\), not list; .* encode\(texts\)"):
        embedder.embed_segments(["I slept badly"])
