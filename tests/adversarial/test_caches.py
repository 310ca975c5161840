"""Damaged caches are noticed (content hashes) and rebuilt with a warning, never used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psythemes.errors import PsythemesWarning


@pytest.fixture(scope="module")
def corpus():
    from tests.test_discover import make_corpus

    return make_corpus()


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    return entry


def test_theme_cache_entry_with_shuffled_theme_ids_is_refitted(corpus, tmp_path):
    from psythemes.discover import ThemeDiscoverer

    seg, X, _ = corpus
    cache = tmp_path / "cache"
    first = ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    entry = _entry(cache)
    table = pd.read_parquet(entry / "segment_themes.parquet")
    table["theme_id"] = np.random.default_rng(0).permutation(table["theme_id"].to_numpy())
    table.to_parquet(entry / "segment_themes.parquet", index=False)  # still valid parquet, wrong content
    with pytest.warns(PsythemesWarning, match="segment_themes.parquet changed since it was stored"):
        again = ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    assert again.from_cache_ is False
    pd.testing.assert_frame_equal(again.segment_themes_, first.segment_themes_)
    assert ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X).from_cache_ is True


@pytest.mark.parametrize("damage", ["drop-hashes", "truncate-npy"])
def test_theme_cache_entry_without_hashes_or_truncated_is_refitted(corpus, tmp_path, damage):
    from psythemes.discover import ThemeDiscoverer

    seg, X, _ = corpus
    cache = tmp_path / "cache"
    ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    entry = _entry(cache)
    if damage == "drop-hashes":
        state = json.loads((entry / "state.json").read_text())
        del state["sha256"]
        (entry / "state.json").write_text(json.dumps(state))
    else:
        data = (entry / "labels.npy").read_bytes()
        (entry / "labels.npy").write_bytes(data[: len(data) // 2])
    with pytest.warns(PsythemesWarning, match="damaged theme cache entry"):
        assert ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X).from_cache_ is False


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "no-meta"])
def test_damaged_onnx_export_is_exported_again(tmp_path, damage):
    from psythemes.embed import default_model_path
    from psythemes.embed_onnx import OnnxEncoder

    texts = ["I felt the tension again.", "A long walk helps."]
    first = OnnxEncoder(default_model_path(), tmp_path / "export").encode(texts)
    model = tmp_path / "export" / "model.int8.onnx"
    if damage == "truncate":
        model.write_bytes(model.read_bytes()[:1000])
    else:
        (tmp_path / "export" / "meta.json").unlink()
    with pytest.warns(PsythemesWarning, match="exported again"):
        again = OnnxEncoder(default_model_path(), tmp_path / "export").encode(texts)
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert json.loads((tmp_path / "export" / "meta.json").read_text())["sha256"]
