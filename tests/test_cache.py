"""The per-user cache: where it is, `psythemes cache info|clear`, and --no-cache writing none."""

from __future__ import annotations

from pathlib import Path

import pytest

from psythemes.cachedir import PARTS, cache_info, clear_cache
from psythemes.cli import main
from psythemes.embed import cache_root, default_cache_dir
from psythemes.errors import InputError


def test_cache_root_is_per_user_not_the_working_folder(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PSYTHEMES_CACHE", raising=False)
    assert cache_root() == Path(platformdirs.user_cache_dir("psythemes", appauthor=False))
    assert not cache_root().is_relative_to(tmp_path)
    monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine" and default_cache_dir() == tmp_path / "mine" / "embeddings"


def test_one_cache_folder_rule(tmp_path, monkeypatch, fake_embedding_model):
    """cachedir.cache_folder is the one rule: the embedder, extract and the CLI all ask it."""
    from psythemes import cachedir, embed, pipeline
    from psythemes.embed import Embedder

    monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path / "root"))
    assert embed.cache_root is cachedir.cache_root  # the old import path still works
    assert pipeline._cache_folder is cachedir.cache_folder
    assert cachedir.cache_folder(False, "themes") is None
    for part in ("embeddings", "onnx", "themes", "report"):
        assert cachedir.cache_folder(None, part) == cachedir.cache_folder(True, part) == tmp_path / "root" / part
    given = tmp_path / "given"
    # a given folder holds the embedding shards itself and extract's themes/ and report/ inside it
    assert cachedir.cache_folder(given, "embeddings") == given
    assert cachedir.cache_folder(given, "themes") == given / "themes" and cachedir.cache_folder(given, "") == given
    default = Embedder(model=fake_embedding_model, backend="torch").cache_.directory
    assert default.parent == tmp_path / "root" / "embeddings"
    assert Embedder(model=fake_embedding_model, backend="torch", cache_dir=given).cache_.directory.parent == given


@pytest.fixture
def fake_embedding_model(tmp_path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    return folder


@pytest.fixture
def filled_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("PSYTHEMES_CACHE", str(root))
    for name, size in (("embeddings/abc/shard-1.emb", 1000), ("onnx/abc/model.int8.onnx", 3000),
                       ("themes/x.pkl", 500), ("report/y.png", 200)):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (root / "notes.txt").write_text("mine", encoding="utf-8")
    return root


def test_cache_info_lists_parts_sizes_and_verbatim_text(filled_cache, capsys):
    infos = {i.part.name: i for i in cache_info()}
    assert {n: (i.n_files, i.n_bytes) for n, i in infos.items()} == {
        "embeddings": (1, 1000), "onnx": (1, 3000), "themes": (1, 500), "report": (1, 200), "other": (1, 4)}
    assert [p.name for p in PARTS if p.verbatim_text] == ["themes", "report"]
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"cache: {filled_cache} ($PSYTHEMES_CACHE overrides)"
    themes_line = next(line for line in out.splitlines() if line.strip().startswith("themes"))
    assert "VERBATIM TEXT" in themes_line and "500 B" in themes_line
    assert "VERBATIM TEXT" not in next(line for line in out.splitlines() if line.strip().startswith("embeddings"))
    assert "total" in out and "4.6 KB" in out


def test_cache_clear_parts_then_all_keeps_foreign_files(filled_cache, capsys):
    assert main(["cache", "clear", "--part", "themes", "--part", "report"]) == 0
    assert capsys.readouterr().out.strip() == f"removed 700 B from {filled_cache}"
    assert not (filled_cache / "themes").exists() and (filled_cache / "onnx").is_dir()
    assert main(["cache", "clear"]) == 0
    assert "removed 3.9 KB" in capsys.readouterr().out
    assert sorted(p.name for p in filled_cache.iterdir()) == ["notes.txt"]  # not psythemes' file: kept
    assert main(["cache", "clear", "--part", "everything"]) == 2
    assert "unknown cache part(s) everything" in capsys.readouterr().err
    with pytest.raises(InputError):
        clear_cache(parts=["../x"])


@pytest.mark.slow
def test_no_cache_run_writes_no_cache(tmp_path, monkeypatch, demo_dir, capsys):
    """extract --no-cache: no embeddings, themes or report plots anywhere (the ONNX export, if not
    made yet, goes to a temporary folder: test_embed_backend checks that)."""
    monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    inputs = [str(demo_dir / "transcripts" / n) for n in ("P01-W1.txt", "P02-W1.txt", "T01.txt")]
    rc = main(["extract", *inputs, "--codebook", "psychosomatic", "--out", str(tmp_path / "out"), "--preset",
               "fast", "--n-boot", "0", "--no-qdpx", "--no-cache", "-v", "--backend", "torch"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "stages: read " in out and " embed " in out  # --verbose: seconds per stage
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".psythemes-cache").exists()
    assert (tmp_path / "out" / "report.html").is_file()


def test_cache_info_points_out_an_old_per_folder_cache(filled_cache, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    (work / ".psythemes-cache" / "themes").mkdir(parents=True)
    monkeypatch.chdir(work)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"note: {work / '.psythemes-cache'} is a cache of an older psythemes" in out and "verbatim" in out
