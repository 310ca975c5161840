"""The main job on a Dask LocalCluster (2 worker processes) gives the single-process answers."""

from __future__ import annotations

import importlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed", reason='Dask is an optional extra: pip install "psythemes[dask]"')

from psythemes.distributed import DaskRunner  # noqa: E402
from psythemes.distributed import extract as dask_extract  # noqa: E402
from psythemes.errors import InputError  # noqa: E402
from psythemes.pipeline import extract  # noqa: E402

pytestmark = [pytest.mark.slow]

#: 12 of the demo's 64 transcripts (about 240 participant turns): under 2 minutes at load 14 on 2 cores
N_DOCS = 12


@pytest.fixture(scope="module")
def corpus(demo_dir):
    files = sorted((demo_dir / "transcripts").iterdir())[:N_DOCS]
    gold = pd.read_csv(demo_dir / "codes" / "reference.csv")
    gold = gold[gold["doc_id"].isin({f.stem for f in files})].reset_index(drop=True)
    return files, gold, demo_dir / "metadata.csv"


def _options(corpus, tmp_path, name):
    files, gold, metadata = corpus
    # cache off in both runs: every vector is computed, by this process or by the workers
    return dict(inputs=files, out_dir=tmp_path / name, metadata=metadata, codebook="psychosomatic", gold=gold,
                preset="fast", n_boot=50, qdpx=False, cache_dir=False, random_state=3)


# LocalCluster talks to its worker processes over TCP on 127.0.0.1 only
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_local_cluster_gives_the_single_process_codes_agreement_and_themes(corpus, tmp_path):
    import dask
    from distributed import Client

    from psythemes.distributed import local_cluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = extract(**_options(corpus, tmp_path, "single"))
        # the cluster --scheduler local:2 starts: its workers run without the dashboard's profiler
        with local_cluster(2) as cluster, Client(cluster) as client:
            key = "distributed.worker.profile.enabled"
            profiling = client.run(lambda: importlib.import_module("dask").config.get(key))
            assert set(profiling.values()) == {False}
            assert dask.config.get(key)  # the caller's settings are untouched
            # 5 partitions over 2 workers: partition boundaries fall inside the run of documents
            full = dask_extract(**_options(corpus, tmp_path, "dask"), scheduler=client, partitions=5)
            n = len(single.segments)
            sampled = dask_extract(**_options(corpus, tmp_path, "sampled"), scheduler=client, partitions=5,
                                   theme_sample=n // 2)
    assert full.manifest["options"]["dask"]["workers"] == 2
    assert full.manifest["options"]["dask"]["partitions"] == 5
    # the client kept the transcripts in the (temporary) work folder; they read back after the run
    from psythemes.distributed import StoredTranscripts

    assert isinstance(full.transcripts, StoredTranscripts) and len(full.transcripts.paths) == 5
    assert list(full.transcripts) == list(single.transcripts)

    pd.testing.assert_frame_equal(full.segments, single.segments)
    pd.testing.assert_frame_equal(full.dropped, single.dropped)
    pd.testing.assert_frame_equal(full.codes, single.codes)
    pd.testing.assert_frame_equal(full.evaluation.per_code, single.evaluation.per_code)
    assert full.evaluation.summary == single.evaluation.summary
    # the corpus is smaller than theme_sample: the theme model is fitted on all of it
    pd.testing.assert_frame_equal(full.themes, single.themes)
    pd.testing.assert_frame_equal(full.segment_themes, single.segment_themes)
    pd.testing.assert_frame_equal(full.theme_codes, single.theme_codes)
    for name in ("codes.csv", "segments.csv", "segments_dropped.csv", "themes.csv", "segment_themes.csv",
                 "agreement.csv", "transcripts.jsonl", "codebook.csv", "theme_codes.csv", "theme_code_shares.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    # theme_code_shares.csv above and the report's table come from one computation per run
    pd.testing.assert_frame_equal(full.theme_code_shares, single.theme_code_shares)
    # the saturation plot was drawn by a worker: the same picture as the one drawn in one process
    plots = [re.findall(r"alt='new codes and themes per added transcript' src='data:image/png;base64,([^']+)'",
                        (tmp_path / name / "report.html").read_text(encoding="utf-8")) for name in ("dask", "single")]
    assert len(plots[1]) == 1 and plots[0] == plots[1]
    openpyxl = pytest.importorskip("openpyxl")
    books = [openpyxl.load_workbook(tmp_path / name / "results.xlsx") for name in ("dask", "single")]
    assert books[0].sheetnames == books[1].sheetnames
    for sheet in books[1].sheetnames:
        assert list(books[0][sheet].values) == list(books[1][sheet].values), sheet

    # sample fit: codes never depend on themes; themes come from the seeded half
    pd.testing.assert_frame_equal(sampled.codes, single.codes)
    assert sampled.manifest["options"]["dask"]["theme_sample_used"] == n // 2
    # the sample fit's reference: the same seeded sample fitted in this process
    rows = np.sort(np.random.default_rng(3).choice(n, size=n // 2, replace=False))
    from psythemes.discover import ThemeDiscoverer
    from psythemes.embed import Embedder
    from psythemes.pipeline import _metadata_frame

    embedder = Embedder(cache_dir=False)
    reference = ThemeDiscoverer(preset="fast", random_state=3, embedder=embedder).fit(
        single.segments.iloc[rows].reset_index(drop=True),
        embedder.embed_segments(single.segments.iloc[rows]),
        metadata=_metadata_frame(single.transcripts))
    ours = sampled.themes
    for column in ("theme_id", "label", "keywords", "top_quotes"):
        assert ours[column].tolist() == reference.themes_[column].tolist(), column
    assigned = sampled.segment_themes.set_index("segment_id")
    fitted = reference.segment_themes_.set_index("segment_id")
    assert (assigned.loc[fitted.index, "theme_id"] == fitted["theme_id"]).all()
    assert len(assigned) == n and ours["size"].sum() == n


def test_unknown_scheduler_is_an_input_error():
    with pytest.raises(InputError, match="unknown scheduler"):
        DaskRunner("spark://nowhere")
    with pytest.raises(InputError, match="local:N"):
        DaskRunner("local:two")


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_cli_scheduler_local_writes_the_usual_outputs(demo_dir, tmp_path, capsys):
    from psythemes.cli import main

    sub = demo_dir / "transcripts"
    inputs = [str(sub / n) for n in ("P01-W1.txt", "P01-W2.txt", "P02-W1.txt", "T01.txt", "T02.txt")]
    common = ["--metadata", str(demo_dir / "metadata.csv"), "--codebook", "psychosomatic", "--preset", "fast",
              "--n-boot", "0", "--no-qdpx", "--no-cache"]
    assert main(["extract", *inputs, *common, "--out", str(tmp_path / "one")]) == 0
    assert main(["extract", *inputs, *common, "--out", str(tmp_path / "dask"), "--scheduler", "local:1"]) == 0
    assert "5 transcripts" in capsys.readouterr().out
    for name in ("codes.csv", "segments.csv", "themes.csv", "theme_codes.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_theme_sample_needs_a_scheduler(demo_dir, tmp_path, capsys):
    from psythemes.cli import main

    rc = main(["extract", str(demo_dir / "transcripts" / "T01.txt"), "--codebook", "psychosomatic",
               "--out", str(tmp_path / "x"), "--theme-sample", "100"])
    assert rc == 2 and "--theme-sample works with --scheduler" in capsys.readouterr().err


def test_a_single_process_run_never_imports_dask():
    import subprocess
    import sys

    code = ("import sys, psythemes, psythemes.pipeline, psythemes.cli.extract\n"
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_partition_without_segments_and_a_theme_sample(demo_dir, tmp_path):
    # a transcript of interviewer turns only leaves its partition empty once they are set aside
    only_questions = tmp_path / "Q01.txt"
    only_questions.write_text("Interviewer: How was the first session for you?\n\n"
                              "Interviewer: And what did you expect before it started?\n", encoding="utf-8")
    sub = demo_dir / "transcripts"
    inputs = [sub / "P01-W1.txt", only_questions, sub / "P02-W1.txt", sub / "P02-W2.txt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = extract(inputs, None, codebook="psychosomatic", preset="fast", n_themes=3, cache_dir=False)
        n = len(single.segments)
        result = dask_extract(inputs, tmp_path / "out", scheduler="local:1", partitions=4, theme_sample=n - 5,
                              codebook="psychosomatic", preset="fast", n_themes=3, cache_dir=False, qdpx=False)
    assert "Q01" not in set(result.segments["doc_id"]) and "Q01" in set(result.dropped["doc_id"])
    pd.testing.assert_frame_equal(result.codes, single.codes)
    assert len(result.segment_themes) == n and result.themes["size"].sum() == n
    assert result.manifest["options"]["dask"]["theme_sample_used"] == n - 5


def test_default_partitions_bound_the_text_per_partition():
    from psythemes.distributed import DEFAULT_PARTITION_CHARS, default_partitions

    # small corpora: four per worker, so the work balances
    assert default_partitions(1, 10_000) == 4
    assert default_partitions(2, 10_000) == 8
    # large ones: no partition above the bound, whatever the worker count (a worker's memory
    # follows its partition, so one worker must not get a quarter of a million segments)
    n_chars = 160_000_000  # about the 1M-segment benchmark corpus
    for workers in (1, 2, 16):
        parts = default_partitions(workers, n_chars)
        assert parts >= 4 * workers
        assert n_chars / parts <= DEFAULT_PARTITION_CHARS
