"""extract configured with parts (BERTopic-style): each stage handed in whole, its parameters recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from psythemes.codebook import load_codebook
from psythemes.discover import ThemeDiscoverer
from psythemes.embed import Embedder
from psythemes.errors import InputError
from psythemes.mapping import ZeroShotMapper
from psythemes.pipeline import EvaluationOptions, ReadOptions, extract
from psythemes.segment import SentenceSegmenter, WindowSegmenter, make_segmenter

pytestmark = [pytest.mark.slow,
              # a subset of the demo: the other transcripts' metadata rows and gold are ignored, as they should be
              pytest.mark.filterwarnings("ignore:metadata rows match no transcript"),
              pytest.mark.filterwarnings("ignore:.*gold document.*not among the inputs")]


def _inputs(demo_dir: Path) -> list[Path]:
    # a few transcripts keep the runs short; metadata gives roles
    folder = demo_dir / "transcripts"
    return sorted(folder.glob("P0*-W1.txt"))[:4] + sorted(folder.glob("T0*.txt"))[:2]


def test_parts_give_what_their_shortcuts_give(demo_dir: Path) -> None:
    inputs = _inputs(demo_dir)
    common = dict(metadata=demo_dir / "metadata.csv", codebook="psychosomatic", n_boot=0, random_state=0,
                  cache_dir=False)
    by_shortcuts = extract(inputs, preset="fast", n_themes=3, **common)
    by_parts = extract(inputs, discoverer=ThemeDiscoverer(preset="fast", n_themes=3, random_state=0),
                       segmenter=make_segmenter("turn"), embedder=Embedder(cache_dir=False),
                       mapper=ZeroShotMapper("psychosomatic"), **common)
    pd.testing.assert_frame_equal(by_shortcuts.segments, by_parts.segments)
    pd.testing.assert_frame_equal(by_shortcuts.segment_themes, by_parts.segment_themes)
    pd.testing.assert_frame_equal(by_shortcuts.codes, by_parts.codes)


def test_every_part_parameter_is_reachable_and_recorded(demo_dir: Path) -> None:
    discoverer = ThemeDiscoverer(preset="fast", n_themes=2, top_n_words=4, n_quotes=2, random_state=0)
    mapper = ZeroShotMapper(max_codes=1)  # no codebook of its own: the run's
    result = extract(
        _inputs(demo_dir), codebook="psychosomatic", cache_dir=False, random_state=0,
        read_options=ReadOptions(metadata=demo_dir / "metadata.csv"),
        segmenter=WindowSegmenter(window_size=2, stride=2),
        discoverer=discoverer, mapper=mapper,
        evaluation_options=EvaluationOptions(consensus="union", ci=0.9, n_boot=20),
        gold=demo_dir / "codes" / "reference.csv",
    )
    parts = result.manifest["parts"]
    assert parts["segmenter"] == {**parts["segmenter"], "class": "WindowSegmenter", "window_size": 2, "stride": 2}
    assert parts["discoverer"]["top_n_words"] == 4 and parts["discoverer"]["n_quotes"] == 2
    assert parts["mapper"]["class"] == "ZeroShotMapper" and parts["mapper"]["max_codes"] == 1
    assert parts["evaluation_options"]["consensus"] == "union" and parts["evaluation_options"]["ci"] == 0.9
    assert parts["read_options"]["metadata"].endswith("metadata.csv")
    assert result.codes.groupby("segment_id").size().max() == 1  # max_codes=1 took effect
    assert (result.themes["keywords"].str.split(", ").str.len() <= 4).all()  # top_n_words took effect
    assert result.codebook.names == load_codebook("psychosomatic").names
    # the caller's parts are not changed by the run: they can be used again
    assert not any(k.endswith("_") for k in vars(discoverer))
    assert not any(k.endswith("_") for k in vars(mapper))


def test_a_part_and_its_shortcut_cannot_both_be_given(demo_dir: Path) -> None:
    with pytest.raises(InputError, match="both a discoverer part and preset were given"):
        extract(_inputs(demo_dir), codebook="psychosomatic", preset="fast", discoverer=ThemeDiscoverer())
    with pytest.raises(InputError, match="both a segmenter part and unit were given"):
        extract(_inputs(demo_dir), codebook="psychosomatic", unit="sentence", segmenter=SentenceSegmenter())


def test_parts_clone_like_scikit_learn_estimators() -> None:
    from sklearn.base import clone

    for part in (Embedder(batch_size=8), WindowSegmenter(window_size=4), ThemeDiscoverer(preset="fast", n_themes=5),
                 ZeroShotMapper("psychosomatic", threshold=0.3)):
        twin = clone(part)
        assert type(twin) is type(part) and twin is not part
        assert twin.get_params(deep=False).keys() == part.get_params(deep=False).keys()
    assert clone(WindowSegmenter(window_size=4)).window_size == 4
    segmenter = WindowSegmenter().set_params(window_size=5, stride=2)
    assert (segmenter.window_size, segmenter.stride) == (5, 2)
    with pytest.raises(ValueError, match="not a parameter"):
        segmenter.set_params(windowsize=5)


def test_parts_file_runs_again_from_a_manifest(demo_dir: Path, tmp_path: Path) -> None:
    from psythemes.cli import main

    (tmp_path / "parts.yaml").write_text("segmenter: {class: WindowSegmenter, window_size: 2, stride: 2}\n"
                                         "discoverer: {preset: fast, n_themes: 3, top_n_words: 5}\n"
                                         "mapper: {max_codes: 1}\n", encoding="utf-8")
    args = [str(p) for p in _inputs(demo_dir)] + ["--metadata", str(demo_dir / "metadata.csv"), "--codebook",
                                                  "psychosomatic", "--no-qdpx", "--no-cache"]
    assert main(["extract", *args, "--parts", str(tmp_path / "parts.yaml"), "--out", str(tmp_path / "a")]) == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parts"]["segmenter"]["window_size"] == 2 and manifest["parts"]["mapper"]["max_codes"] == 1
    # the manifest is a parts file: the same parts again, the same tables
    assert main(["extract", *args, "--parts", str(tmp_path / "a" / "manifest.json"), "--out", str(tmp_path / "b")]) == 0
    for name in ("segments.csv", "themes.csv", "codes.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize("text, message", [
    ("segmenter: {class: WindowSegmenter, windowsize: 2}\n", "no parameter 'windowsize' (did you mean 'window_size'?)"),
    ("segmenter: {class: WindowSegmentr}\n", "unknown class 'WindowSegmentr' (did you mean 'WindowSegmenter'?)"),
    ("discoverr: {preset: fast}\n", "unknown part(s) 'discoverr' (did you mean 'discoverer'?)"),
    ("- a list\n", "maps part names to their parameters"),
    ("segmenter: {class: [\n", "cannot read parts file"),
    ("psythemes: 0.1.0\noptions: {preset: fast}\n", "records no parts"),
    ("mapper: {class: FewShotMapper, C: 0.1}\n", "a FewShotMapper is trained, not configured"),
])
def test_parts_file_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    from psythemes.config import build_parts, read_parts

    path = tmp_path / "parts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        build_parts(read_parts(path), source=path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_a_mapper_whose_codebook_is_not_the_runs_is_refused_before_any_work(demo_dir: Path) -> None:
    from psythemes.codebook import Code, Codebook

    other = Codebook("other", (Code("pain", "talk of pain"), Code("work", "talk of work")))
    with pytest.raises(InputError, match="codebook of its own"):
        extract(_inputs(demo_dir), codebook="psychosomatic", cache_dir=False, mapper=ZeroShotMapper(other))


def test_extract_command_reaches_the_theme_stability_check(demo_dir: Path, tmp_path: Path) -> None:
    from psythemes.cli import main

    args = [str(p) for p in _inputs(demo_dir)] + ["--metadata", str(demo_dir / "metadata.csv"), "--codebook",
                                                  "psychosomatic", "--no-qdpx", "--no-cache", "--preset", "fast",
                                                  "--n-themes", "3", "--theme-runs", "2"]
    assert main(["extract", *args, "--out", str(tmp_path / "run")]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parts"]["discoverer"]["n_runs"] == 2
    themes = pd.read_csv(tmp_path / "run" / "themes.csv")
    assert {"stability", "stable"} <= set(themes.columns) and themes["stability"].between(0, 1).all()


def test_extract_command_passes_the_theme_fallback_on(demo_dir: Path, tmp_path: Path) -> None:
    from psythemes.cli import main

    args = [str(p) for p in _inputs(demo_dir)] + ["--metadata", str(demo_dir / "metadata.csv"), "--codebook",
                                                  "psychosomatic", "--no-qdpx", "--no-cache", "--min-topic-size", "5",
                                                  "--theme-fallback", "always"]
    assert main(["extract", *args, "--out", str(tmp_path / "run")]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parts"]["discoverer"]["fallback"] == "always"
    run = json.loads((tmp_path / "run" / "themes_run.json").read_text(encoding="utf-8"))
    assert run["clustering_fallback"]["reason"] == "asked"


def test_a_theme_fallback_beside_a_discoverer_part_is_refused(demo_dir: Path) -> None:
    from psythemes.discover import ThemeDiscoverer

    with pytest.raises(InputError, match="theme_fallback"):
        extract(_inputs(demo_dir), codebook="psychosomatic", cache_dir=False, theme_fallback="never",
                discoverer=ThemeDiscoverer())
