"""Where the Dask client's memory goes in the report and write stages (the profiling behind
docs/scaling.md, "The write and report stages"); not a benchmark with a result file.

Usage (from the repository root; Linux: reads /proc/self/status)::

    # 1. a Dask run of extract (2 workers) on N generated segments (dask_scale.py's corpus), with
    #    the client's RSS before, and its peak during, every report and write call; the report's
    #    inputs are pickled into FOLDER and the outputs copied to FOLDER/out
    PYTHONPATH=src .venv/bin/python benchmarks/experiments/dask_write_profile.py run --n 100000 --folder /tmp/prof
    # 2. results.xlsx written again from one CSV (e.g. FOLDER/out/segments.csv, or it repeated)
    PYTHONPATH=src .venv/bin/python benchmarks/experiments/dask_write_profile.py workbook /tmp/prof/out/segments.csv
    # 3. the report's steps on the pickled inputs repeated K times (segment and document ids made distinct)
    PYTHONPATH=src .venv/bin/python benchmarks/experiments/dask_write_profile.py report --folder /tmp/prof --times 4

``run`` uses ``cache_dir=FOLDER/cache`` so that a second run does not embed again.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dask_scale as ds  # noqa: E402


def _measure(name: str, fn: Any) -> Any:
    from psythemes.distributed import release_memory

    release_memory()
    before = ds._rss_mb()["rss"]
    ds._reset_peak()
    out = fn()
    now = ds._rss_mb()
    print(f"{name:32s} peak +{now['peak'] - before:7.1f} MB, after +{now['rss'] - before:7.1f} MB", flush=True)
    return out


def run(n: int, folder: Path) -> None:
    from distributed import Client, LocalCluster

    import psythemes.codebook as codebook
    import psythemes.io as io_mod
    import psythemes.jobs as jobs
    import psythemes.outputs as outputs
    import psythemes.pipeline as pipeline
    import psythemes.report as report
    import psythemes.saturation as saturation
    import psythemes.tables as tables
    import psythemes.workbook as workbook
    from psythemes.distributed import extract

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / f"generated_{n}.csv"
    if not corpus.exists():
        ds.make_corpus(n, folder)
    depth = [0]

    def wrap(module: Any, name: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def logged(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:  # only the outermost call
                return fn(*args, **kwargs)
            depth[0] += 1
            before = ds._rss_mb()["rss"]
            ds._reset_peak()
            try:
                return fn(*args, **kwargs)
            finally:
                now = ds._rss_mb()
                depth[0] -= 1
                print(f"{name:28s} before {before:8.1f} peak {now['peak']:8.1f} (+{now['peak'] - before:6.1f}) "
                      f"after {now['rss']:8.1f}", flush=True)

        setattr(module, name, logged)

    for module, name in [(tables, "write_segments"), (tables, "write_codes"), (outputs, "write_table"),
                         (jobs, "write_theme_outputs"), (workbook, "write_workbook"),
                         (io_mod, "write_transcripts_jsonl"), (pipeline, "_theme_code_shares"),
                         (report, "render_report"), (saturation, "run_saturation"),
                         (report, "saturation_section"), (codebook, "save_codebook"), (outputs, "write_text")]:
        wrap(module, name)
    render, count = report.render_report, saturation.run_saturation

    def keep_render(data: Any, **kwargs: Any) -> Any:
        with open(folder / "report_data.pkl", "wb") as fh:
            pickle.dump(data, fh)
        return render(data, **kwargs)

    def keep_saturation(*args: Any, **kwargs: Any) -> Any:
        with open(folder / "saturation_args.pkl", "wb") as fh:
            pickle.dump((args, kwargs), fh)
        return count(*args, **kwargs)

    report.render_report, saturation.run_saturation = keep_render, keep_saturation
    memory = ds.StageMemory()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        extract([corpus], Path(out) / "out", scheduler=client, codebook="psychosomatic", preset="fast",
                cache_dir=folder / "cache", qdpx=False, n_boot=0, on_stage=memory)
        memory.finish()
        shutil.copytree(Path(out) / "out", folder / "out", dirs_exist_ok=True)
    print(f"extract {time.perf_counter() - started:.1f} s; client by stage {memory.by_stage}")


def workbook_from(csv: Path) -> None:
    from psythemes.workbook import write_workbook

    with tempfile.TemporaryDirectory() as tmp:
        _measure(f"workbook from {csv.name}", lambda: write_workbook(Path(tmp) / "results.xlsx", [csv]))


def report_steps(folder: Path, times: int) -> None:
    import pandas as pd

    from psythemes import report, saturation

    with open(folder / "report_data.pkl", "rb") as fh:
        data = pickle.load(fh)
    with open(folder / "saturation_args.pkl", "rb") as fh:
        _, options = pickle.load(fh)

    def repeat(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        return pd.concat([table.assign(**{c: table[c] + f"#{k}" for c in columns}) for k in range(times)],
                         ignore_index=True)

    segments = repeat(data.segments, ["segment_id", "doc_id"])
    codes = repeat(data.codes, ["segment_id", "doc_id"])
    themes = repeat(data.segment_themes, ["segment_id"])
    metadata = repeat(data.metadata, ["doc_id"])
    data = dataclasses.replace(data, segments=segments, codes=codes, segment_themes=themes, metadata=metadata,
                               extra_sections=[])
    print(f"{len(segments)} segments, {segments['doc_id'].nunique()} transcripts")
    results = _measure("run_saturation", lambda: saturation.run_saturation(
        segments, codes, themes, **{**options, "metadata": metadata}))
    _measure("saturation_section", lambda: report.saturation_section(results))
    _measure("word_counts", lambda: report.word_counts(segments["text"]))
    context = report._Context(data, report._FigureCache(None))
    for build in report.SECTIONS:
        _measure(build.__name__, functools.partial(build, data, context))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["run", "workbook", "report"])
    parser.add_argument("csv", nargs="?", type=Path, help="workbook: the CSV file")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "psythemes-write-profile")
    parser.add_argument("--times", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT / "src"))
    if args.what == "run":
        run(args.n, args.folder)
    elif args.what == "workbook":
        workbook_from(args.csv)
    else:
        report_steps(args.folder, args.times)


if __name__ == "__main__":
    main()
