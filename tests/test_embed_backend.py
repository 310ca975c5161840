"""The embedding backends: choice, cache separation, missing onnxruntime, onnx ~ torch."""

from __future__ import annotations

import builtins
import hashlib
import json

import numpy as np
import pytest

from psythemes.embed import BACKENDS, DEFAULT_BACKEND, Embedder
from psythemes.errors import InputError

DIM = 8
TEXTS = ["I feel the tension in my shoulders.", "Mm-hmm.", "Let's try a breathing exercise."]


class FakeEncoder:
    """Stands in for a model of either backend: deterministic vectors that depend on the backend."""

    def __init__(self, salt: str):
        self.salt, self.calls = salt, []
        self.dimension = DIM

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256((self.salt + t).encode()).digest()[:8], "little"))
                .normal(size=DIM) for t in texts]
        return np.array(rows, dtype=np.float32).reshape(len(texts), DIM)


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": DIM, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}))
    (folder / "config.json").write_text('{"hidden_size": 8}')
    return folder


@pytest.fixture
def fakes(monkeypatch):
    torch_model, onnx_model = FakeEncoder("torch"), FakeEncoder("onnx")
    monkeypatch.setattr(Embedder, "_load_model", lambda self: torch_model)
    monkeypatch.setattr(Embedder, "onnx_model_", property(lambda self: onnx_model))
    monkeypatch.delenv("PSYTHEMES_EMBED_BACKEND", raising=False)
    return torch_model, onnx_model


def test_default_backend_is_onnx_and_env_overrides(monkeypatch):
    monkeypatch.delenv("PSYTHEMES_EMBED_BACKEND", raising=False)
    assert DEFAULT_BACKEND == "onnx" and DEFAULT_BACKEND in BACKENDS and Embedder().backend_ == "onnx"
    monkeypatch.setenv("PSYTHEMES_EMBED_BACKEND", "torch")
    assert Embedder().backend_ == "torch"
    assert Embedder(backend="torch").backend_ == "torch"  # the parameter wins
    assert "backend='torch'" in repr(Embedder(backend="torch"))


def test_unknown_backend_is_input_error(model_dir, tmp_path):
    with pytest.raises(InputError, match="backend"):
        Embedder(model=model_dir, cache_dir=tmp_path / "c", backend="tensorflow").encode(["x"])


def test_backends_never_share_cached_vectors(model_dir, tmp_path, fakes):
    torch_model, onnx_model = fakes
    cache = tmp_path / "cache"
    a = Embedder(model=model_dir, cache_dir=cache, backend="torch")
    b = Embedder(model=model_dir, cache_dir=cache, backend="onnx")
    va, vb = a.encode(TEXTS), b.encode(TEXTS)
    assert b.stats_["n_encoded"] == 3  # nothing taken from the torch vectors
    assert a.model_fingerprint_ != b.model_fingerprint_
    assert not np.allclose(va, vb)
    # each backend finds its own vectors again
    again_onnx = Embedder(model=model_dir, cache_dir=cache, backend="onnx")
    np.testing.assert_array_equal(again_onnx.encode(TEXTS), vb)
    assert again_onnx.stats_["n_encoded"] == 0
    again_torch = Embedder(model=model_dir, cache_dir=cache, backend="torch")
    np.testing.assert_array_equal(again_torch.encode(TEXTS), va)
    assert len(torch_model.calls) == 1 and len(onnx_model.calls) == 1
    notes = {json.loads(p.read_text())["backend"] for p in cache.glob("*/model.json")}
    assert notes == {"torch", "onnx"}


def test_torch_fingerprint_unchanged_by_backend_option(model_dir):
    from psythemes.embed import model_fingerprint

    assert Embedder(model=model_dir, backend="torch").model_fingerprint_ == model_fingerprint(model_dir)


def test_missing_onnxruntime_is_a_clear_error(model_dir, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    e = Embedder(model=model_dir, cache_dir=tmp_path / "cache", backend="onnx")
    with pytest.raises(InputError, match="onnxruntime"):
        e.encode(TEXTS)
    assert not list((tmp_path / "cache").glob("*/shard-*"))  # nothing cached


def test_onnx_backend_rejects_unsupported_pooling(model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": DIM, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    e = Embedder(model=model_dir, cache_dir=tmp_path / "cache", backend="onnx")
    with pytest.raises(InputError, match="mean pooling"):
        e.encode(TEXTS)


@pytest.mark.slow
def test_onnx_vectors_close_to_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    texts = ["My shoulders were up by my ears.", "We practised breathing together.", "Mm-hmm.",
             "The GP referred me to the physiotherapist.", "  I noticed my jaw was clenched.  "]
    torch_vecs = Embedder(cache_dir=tmp_path / "cache", backend="torch").encode(texts)
    onnx_e = Embedder(cache_dir=tmp_path / "cache", backend="onnx")
    onnx_vecs = onnx_e.encode(texts)
    assert onnx_vecs.shape == torch_vecs.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(onnx_vecs, axis=1), 1.0, atol=1e-5)
    cosine = np.einsum("ij,ij->i", onnx_vecs, torch_vecs)
    # int8 weights: close, not identical (mean ~0.99 on the demo corpus)
    assert cosine.min() > 0.95, cosine
    # exported once per model per machine into the per-user cache (here $PSYTHEMES_CACHE), whatever
    # folder the embeddings are cached in, and never into the model folder
    from psythemes.embed import cache_root

    assert onnx_e.onnx_model_.export_dir.parent == cache_root() / "onnx"
    assert not (tmp_path / "cache" / "onnx").exists()
    # each text runs alone, so its vector depends on the text only: not on the other texts of
    # the call, their order or the number of workers - bit for bit
    from psythemes.embed_onnx import OnnxEncoder

    encoder = onnx_e.onnx_model_
    one_worker = OnnxEncoder(encoder.model_path, encoder.export_dir, workers=1)
    reordered = one_worker.encode(texts[::-1] + ["Something else entirely, much longer than the rest of them."])
    np.testing.assert_array_equal(reordered[:5][::-1], encoder.encode(texts))
    np.testing.assert_array_equal(one_worker.encode(texts[2:3])[0], encoder.encode(texts)[2])
    assert encoder.session_.get_session_options().intra_op_num_threads == 1
    # exact u8u8 products (asked for on CPUs without VNNI) give the same vectors where both are exact
    exact = OnnxEncoder(encoder.model_path, encoder.export_dir, exact_int8=True)
    assert exact.session_.get_session_options().get_session_config_entry("session.x64quantprecision") == "1"
    if not encoder.exact_int8_:
        np.testing.assert_array_equal(exact.encode(texts), encoder.encode(texts))


def test_cpu_check_for_saturating_int8_kernels(tmp_path):
    from psythemes.embed_onnx import cpu_may_saturate_int8

    def cpuinfo(flags):
        path = tmp_path / f"cpuinfo-{len(flags)}"
        path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse4_1 avx2 {flags}\n\n"
                        f"processor\t: 1\nflags\t\t: fpu\n")
        return path

    assert cpu_may_saturate_int8(cpuinfo("avx512f"), machine="x86_64") is True  # AVX-512 without VNNI
    assert cpu_may_saturate_int8(cpuinfo("avx512f avx512_vnni"), machine="x86_64") is False
    assert cpu_may_saturate_int8(cpuinfo("avx_vnni"), machine="AMD64") is False
    assert cpu_may_saturate_int8(tmp_path / "missing", machine="x86_64") is True  # unknown: assume the worst
    assert cpu_may_saturate_int8(tmp_path / "missing", machine="arm64") is False


def test_onnx_workers_must_be_positive(model_dir, tmp_path):
    from psythemes.embed_onnx import OnnxEncoder

    for bad in (0, -1, 1.5):
        with pytest.raises(InputError, match="workers must be a positive integer"):
            _ = OnnxEncoder(model_dir, tmp_path / "export", workers=bad).workers_
    assert OnnxEncoder(model_dir, tmp_path / "export").workers_ >= 1


def test_onnx_worker_errors_reach_the_caller(model_dir, tmp_path):
    from types import SimpleNamespace

    from psythemes.embed_onnx import OnnxEncoder

    class Tokenizer:
        sizes: list[int] = []

        def encode_batch(self, texts):
            self.sizes.append(len(texts))
            return [SimpleNamespace(ids=[1] * len(t), attention_mask=[1] * len(t), type_ids=[0] * len(t))
                    for t in texts]

    class Session:
        def __init__(self):
            self.calls = 0

        def run(self, outputs, feed):
            self.calls += 1
            if feed["input_ids"].shape[1] == 7:  # the text "broken!"
                raise RuntimeError("kernel failed")
            return [np.ones((1, DIM), dtype=np.float32)]

    encoder = OnnxEncoder(model_dir, tmp_path / "export", workers=2)
    session = Session()
    encoder._session, encoder._input_names, encoder._tokenizer = session, {"input_ids", "attention_mask"}, Tokenizer()
    texts = [f"text number {i:04d}" for i in range(200)] + ["broken!"]
    with pytest.raises(RuntimeError, match="kernel failed"):
        encoder.encode(texts)
    np.testing.assert_array_equal(encoder.encode(texts[:3], show_progress=True), np.ones((3, DIM), dtype=np.float32))
    # texts are tokenised block by block as they are embedded, never all at once
    Tokenizer.sizes.clear()
    encoder.encode(texts[:200])
    assert sum(Tokenizer.sizes) == 200 and max(Tokenizer.sizes) < 64


def test_unwritable_export_folder_is_a_clear_error(model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from psythemes.embed_onnx import OnnxEncoder

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="cannot create the folder for the ONNX export"):
        OnnxEncoder(model_dir, blocker / "onnx").model_file()


@pytest.mark.slow
def test_no_cache_writes_nothing_into_the_cache_folder(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path / "cache"))
    e = Embedder(cache_dir=False, backend="onnx")
    vectors = e.encode(["We practised breathing together.", "Mm-hmm."])
    assert vectors.shape == (2, 384)
    assert not (tmp_path / "cache").exists()  # the export went to a temporary folder
    scratch = e.onnx_model_.export_dir
    assert scratch.is_dir() and not scratch.is_relative_to(tmp_path / "cache")
