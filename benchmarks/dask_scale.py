"""The main job on a Dask LocalCluster with 1 and 2 workers: throughput per stage, scaling, peak memory.

Usage (from the repository root; needs ``psythemes[dask]`` and ../shared/corpora)::

    .venv/bin/python benchmarks/dask_scale.py --n 5000        # what was run (busy shared machine)
    # the issue's size: one worker count per invocation (each about 20-45 min), then their scaling
    .venv/bin/python benchmarks/dask_scale.py --n 1000000 --workers 1
    .venv/bin/python benchmarks/dask_scale.py --n 1000000 --workers 2 --label same-vm
    .venv/bin/python benchmarks/dask_scale.py --combine benchmarks/results/dask_scale_1000000_w1.json \
        benchmarks/results/dask_scale_1000000_w2_same-vm.json   # -> dask_scale_1000000.json with the scaling

The corpus: ``--n`` *distinct* participant turns, each two or three sentences drawn (seeded) from
the sentences of AnnoMI and ESConv and joined, so no two segments share a text and nothing is
served from a cache; 50 turns per transcript, written as one utterance CSV.  Each configuration
runs in a fresh process (so the client's peak RSS is its own) with ``cache_dir=False`` (cold:
every vector computed) on ``psythemes.distributed.local_cluster(K)`` (the cluster ``--scheduler local:K``
starts: K processes of one thread, Dask's dashboard diagnostics off),
``preset="fast"``, the shipped ``psychosomatic`` codebook, no gold, outputs written.

Recorded per run: seconds and segments/s per stage (from the run's manifest), cluster start
time, the time to load the model on every worker (done before the run, so that the embed stage
measures throughput), peak RSS of each worker process (``ru_maxrss`` read on the worker at the end) and of the
client process, the client's memory per stage (``client_rss_mb_by_stage``: RSS when the stage ends and the
stage's own peak, read from ``/proc/self/status``; the peak is reset at each stage start through
``/proc/self/clear_refs``), ``uptime`` load before and after, the machine's own speed before and after
(``probe_texts_per_s``: one thread embedding 3,000 of the texts, pinned to each CPU in turn, so that a drift
in speed between the 1- and the 2-worker run is seen and not taken for scaling), and the git commit the code
was run from (``uncommitted_changes``: tracked files differed from it).
Scaling efficiency per stage =
``throughput(2 workers) / (2 * throughput(1 worker))``.  Writes ``benchmarks/results/dask_scale_<N>.json``
(``--label L`` appends ``_L``, so an A/B run does not overwrite the reference).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "corpora"
STAGES = ("read", "segment", "embed", "themes", "map", "evaluate", "report", "write")
TURNS_PER_DOC = 50
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss_mb() -> dict[str, float]:
    """This process's resident memory now and its peak since the last :func:`_reset_peak`, in MB (Linux)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss": fields.get("VmRSS", float("nan")), "peak": fields.get("VmHWM", float("nan"))}


def _reset_peak() -> bool:
    """Start the peak (``VmHWM``) afresh, so that the next reading is one stage's own peak (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class StageMemory:
    """``on_stage`` callback: the client's RSS when each stage ends and its peak during the stage.

    ``by_stage[stage]`` = ``{"rss": RSS at the end, "peak": highest RSS during that stage}`` where the
    kernel lets the peak be reset (else ``peak`` is the peak so far, said by ``peak_is_per_stage``).
    """

    def __init__(self) -> None:
        self.by_stage: dict[str, dict[str, float]] = {}
        self._current: str | None = None
        self.peak_is_per_stage = True
        self.overall_peak = _rss_mb()["peak"]

    def __call__(self, stage: str) -> None:
        self.finish()
        self.peak_is_per_stage = _reset_peak() and self.peak_is_per_stage
        self._current = stage

    def finish(self) -> None:
        if self._current is not None:
            self.by_stage[self._current] = reading = _rss_mb()
            self.overall_peak = max(self.overall_peak, reading["peak"])
            self._current = None

    def peak_mb(self) -> float:
        """The highest RSS seen: resetting the kernel's peak also resets ``ru_maxrss``."""
        return round(max(self.overall_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1)


def _git() -> dict[str, Any]:
    """The commit the benchmark ran from, and whether the working tree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    # tracked files only: result files written by earlier runs do not change what runs
    return {"git_commit": git("rev-parse", "HEAD") or None,
            "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no"))}


def sentence_pool() -> list[str]:
    """Distinct sentences (3-40 words) of AnnoMI's utterances and ESConv's turns, in file order."""
    import pandas as pd

    texts = pd.read_csv(SHARED / "annomi" / "AnnoMI-simple.csv")["utterance_text"].fillna("").astype(str).tolist()
    for split in ("train", "valid", "test"):
        with open(SHARED / "esconv" / f"{split}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                texts.extend(turn["text"] for turn in json.loads(line)["dialog"])
    seen: dict[str, None] = {}
    for text in texts:
        for sentence in SENTENCE_END.split(" ".join(str(text).split())):
            if 3 <= len(sentence.split()) <= 40:
                seen.setdefault(sentence, None)
    return list(seen)


def make_corpus(n: int, folder: Path, seed: int = 0) -> Path:
    """One utterance CSV of ``n`` distinct participant turns (seeded recombination of sentences)."""
    import numpy as np
    import pandas as pd

    pool = sentence_pool()
    rng = np.random.default_rng(seed)
    turns: dict[str, None] = {}
    while len(turns) < n:
        k = int(rng.integers(2, 4))
        turns.setdefault(" ".join(pool[i] for i in rng.choice(len(pool), size=k, replace=False)), None)
    texts = list(turns)
    rows = pd.DataFrame({
        "doc_id": [f"gen{i // TURNS_PER_DOC:06d}" for i in range(n)],
        "speaker": "Participant",
        "start": [float(10 * (i % TURNS_PER_DOC)) for i in range(n)],
        "end": [float(10 * (i % TURNS_PER_DOC) + 9) for i in range(n)],
        "text": texts,
    })
    path = folder / f"generated_{n}.csv"
    rows.to_csv(path, index=False)
    return path


def run_single_process(corpus: Path) -> dict[str, Any]:
    """The same job without Dask (``--workers 0``): the single-process baseline, cold."""
    from psythemes.pipeline import extract

    load_before = _load()
    memory = StageMemory()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        result = extract([corpus], Path(out) / "out", codebook="psychosomatic", preset="fast", cache_dir=False,
                         qdpx=False, n_boot=0, on_stage=memory)
        total_s = time.perf_counter() - t0
        memory.finish()
    timings = result.manifest["timings_s"]
    n = int(result.manifest["counts"]["segments"])
    return {
        "workers": 0,
        "segments": n,
        "texts_embedded": result.manifest["cache"]["texts_embedded"],
        "texts_from_cache": result.manifest["cache"]["texts_from_cache"],
        "extract_s": round(total_s, 2),
        "stage_s": timings,
        "segments_per_s": {s: round(n / timings[s], 1) for s in STAGES if timings.get(s)},
        "peak_rss_mb_workers": [],
        "peak_rss_mb_client": memory.peak_mb(),
        "client_rss_mb_by_stage": memory.by_stage,
        "client_peak_is_per_stage": memory.peak_is_per_stage,
        "load_before": load_before,
        "load_after": _load(),
    }


def run_one(corpus: Path, workers: int, partitions: int | None) -> dict[str, Any]:
    """One run in this process (called in a fresh child per configuration); 0 workers: no Dask."""
    if workers == 0:
        return run_single_process(corpus)
    from distributed import Client

    from psythemes.distributed import _embedder_spec, _worker_embedder, extract, local_cluster
    from psythemes.embed import Embedder

    load_before = _load()
    started = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        cluster_s = time.perf_counter() - started
        # load the model on every worker first (what extract's embed stage would do on its first
        # partition), so the stage figures are throughput; the load time is recorded apart
        spec = _embedder_spec(Embedder(cache_dir=False))
        t0 = time.perf_counter()
        # as a task on each worker (not client.run): only inside a task does the worker's Embedder
        # learn the worker's thread count, which its ONNX encoder then uses
        addresses = list(client.scheduler_info(n_workers=-1)["workers"])
        client.gather([client.submit(lambda a: _worker_embedder(spec).encode(["warm up"]).shape, a, workers=[a],
                                     allow_other_workers=False, pure=False) for a in addresses])
        model_load_s = time.perf_counter() - t0
        memory_before_mb = _rss_mb()
        memory = StageMemory()
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            result = extract([corpus], Path(out) / "out", scheduler=client, partitions=partitions,
                             codebook="psychosomatic", preset="fast", cache_dir=False, qdpx=False, n_boot=0,
                             on_stage=memory)
            total_s = time.perf_counter() - t0
            memory.finish()
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        # read in the worker's own module (a global named here would travel as the client's copy)
        threads = client.run(lambda: [e.onnx_model_.workers_ for e in
                                      importlib.import_module("psythemes.distributed")._WORKER_EMBEDDERS.values()])
    timings = result.manifest["timings_s"]
    n = int(result.manifest["counts"]["segments"])
    return {
        "workers": workers,
        "segments": n,
        "partitions": result.manifest["options"]["dask"]["partitions"],
        "texts_embedded": result.manifest["cache"]["texts_embedded"],
        "texts_from_cache": result.manifest["cache"]["texts_from_cache"],
        "cluster_start_s": round(cluster_s, 2),
        "worker_model_load_s": round(model_load_s, 2),
        "extract_s": round(total_s, 2),
        "stage_s": timings,
        "segments_per_s": {s: round(n / timings[s], 1) for s in STAGES if timings.get(s)},
        "onnx_threads_per_worker": sorted(t for ts in threads.values() for t in ts),
        "peak_rss_mb_workers": sorted(round(v / 1024, 1) for v in worker_rss.values()),
        "peak_rss_mb_client": memory.peak_mb(),
        "client_rss_mb_before_extract": memory_before_mb,
        "client_rss_mb_by_stage": memory.by_stage,
        "client_peak_is_per_stage": memory.peak_is_per_stage,
        "load_before": load_before,
        "load_after": _load(),
    }


PROBE_TEXTS = 3000


def speed_probe(corpus: Path) -> float:
    """Texts/s of one thread embedding the corpus' first ``PROBE_TEXTS`` texts, cold (after a warm-up).

    Run pinned to one CPU (``taskset``) before and after each configuration, so that a change in the
    machine's own speed between the 1- and the 2-worker run shows in the result instead of passing
    for scaling.
    """
    import pandas as pd

    from psythemes.embed import Embedder

    texts = pd.read_csv(corpus, nrows=PROBE_TEXTS)["text"].tolist()
    embedder = Embedder(cache_dir=False)
    embedder.encode(texts[:32])
    t0 = time.perf_counter()
    embedder.encode(texts)
    return round(len(texts) / (time.perf_counter() - t0), 1)


def _probe_all_cpus(corpus: Path) -> dict[str, float]:
    """:func:`speed_probe` on each CPU in turn, each in a fresh process pinned to it."""
    speeds = {}
    for cpu in sorted(os.sched_getaffinity(0)):
        child = subprocess.run(["taskset", "-c", str(cpu), sys.executable, __file__, "--probe", str(corpus)],
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        if child.returncode != 0:
            sys.exit(f"the speed probe failed:\n{child.stderr[-3000:]}")
        speeds[f"cpu{cpu}"] = float(child.stdout.strip().splitlines()[-1])
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="distinct segments to generate")
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to run, comma-separated; 0: one process without Dask")
    parser.add_argument("--partitions", type=int, default=None,
                        help="partitions (default: psythemes.distributed.default_partitions, 4 per worker or more)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default=None,
                        help="suffix of the result file (dask_scale_<N>[_w...]_<label>.json), e.g. before/after")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="RESULT",
                        help="combine result files of separate --workers 1 / --workers 2 invocations into "
                             "dask_scale_<N>[_<label>].json with the scaling (nothing is run)")
    parser.add_argument("--child", nargs=2, metavar=("CORPUS", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--probe", metavar="CORPUS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(speed_probe(Path(args.probe)))
        return
    if args.combine:
        combine(args.combine, args.label)
        return
    if args.child:
        print(json.dumps(run_one(Path(args.child[0]), int(args.child[1]), args.partitions)))
        return

    with tempfile.TemporaryDirectory(prefix="dask-scale-") as tmp:
        t0 = time.perf_counter()
        corpus = make_corpus(args.n, Path(tmp), seed=args.seed)
        print(f"generated {args.n} distinct turns in {time.perf_counter() - t0:.1f} s")
        runs = []
        for workers in (int(w) for w in args.workers.split(",")):
            cmd = [sys.executable, __file__, "--child", str(corpus), str(workers)]
            if args.partitions:
                cmd += ["--partitions", str(args.partitions)]
            probe_before = _probe_all_cpus(corpus)
            child = subprocess.run(cmd, capture_output=True, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            if child.returncode != 0:
                sys.exit(f"the {workers}-worker run failed:\n{child.stderr[-3000:]}")
            run = json.loads(child.stdout.strip().splitlines()[-1])
            run["probe_texts_per_s"] = {"before": probe_before, "after": _probe_all_cpus(corpus)}
            runs.append(run)
            print(f"{workers} worker(s): {run['segments']} segments, extract {run['extract_s']} s, "
                  f"stages {run['stage_s']}, segments/s {run['segments_per_s']}, "
                  f"peak RSS workers {run['peak_rss_mb_workers']} MB, client {run['peak_rss_mb_client']} MB, "
                  f"client by stage {run['client_rss_mb_by_stage']}, "
                  f"load {run['load_before']} -> {run['load_after']}, "
                  f"one-thread probe texts/s {run['probe_texts_per_s']}")
    speedup, scaling = _scaling(runs)
    result = {
        "command": " ".join(["benchmarks/dask_scale.py", *sys.argv[1:]]),
        **_git(),
        "n_requested": args.n,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "uptime": _uptime()},
        "note": "2-core machine, other jobs possibly running (see load); cold: cache_dir=False",
        "runs": runs,
        "speedup_2_vs_1": speedup,
        "scaling_efficiency_2_vs_1": scaling,
        "targets": TARGETS,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.workers == "1,2" else "_w" + args.workers.replace(",", "-")
    if args.label:
        suffix += "_" + re.sub(r"[^A-Za-z0-9.-]+", "-", args.label)
    path = RESULTS / f"dask_scale_{args.n}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


TARGETS = {"embed_speedup_2_vs_1": 1.7, "peak_rss_mb_per_worker": 2048, "peak_rss_mb_client": 2048,
           "n_segments": 1_000_000}


def _scaling(runs: list[dict[str, Any]]) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """Speed-up and efficiency (speed-up / 2) of 2 workers over 1 per stage, or (None, None)."""
    by = {r["workers"]: r for r in runs}
    if not (1 in by and 2 in by):
        return None, None
    stages = [s for s in STAGES if s in by[1]["segments_per_s"] and s in by[2]["segments_per_s"]]
    speedup = {s: round(by[2]["segments_per_s"][s] / by[1]["segments_per_s"][s], 3) for s in stages}
    scaling = {s: round(by[2]["segments_per_s"][s] / (2 * by[1]["segments_per_s"][s]), 3) for s in stages}
    print(f"2 vs 1 worker: speed-up {speedup}; efficiency {scaling}")
    return speedup, scaling


def combine(paths: list[Path], label: str | None = None) -> dict[str, Any]:
    """One result from runs measured by separate invocations (``--workers 1`` then ``--workers 2``),
    written to ``dask_scale_<N>[_<label>].json``.

    Each run keeps the commit, load and uptime of the invocation that measured it; the scaling is
    computed from their per-stage throughput as in a ``--workers 1,2`` run.
    """
    parts = [json.loads(Path(p).read_text()) for p in paths]
    if len({part["n_requested"] for part in parts}) != 1 or len({part["seed"] for part in parts}) != 1:
        sys.exit("the results to combine were run on different corpora (--n or --seed differ)")
    runs = [dict(run, measured_by={k: part.get(k) for k in ("command", "git_commit", "uncommitted_changes", "machine")})
            for part in parts for run in part["runs"]]
    speedup, scaling = _scaling(runs)
    result = {
        "command": " ".join(["benchmarks/dask_scale.py", "--combine", *map(str, paths)]),
        "combined_from": [str(Path(p).name) for p in paths],
        "n_requested": parts[0]["n_requested"],
        "seed": parts[0]["seed"],
        "note": parts[0]["note"] + "; the runs were measured one after the other by separate invocations",
        "runs": runs,
        "speedup_2_vs_1": speedup,
        "scaling_efficiency_2_vs_1": scaling,
        "targets": TARGETS,
    }
    suffix = "_" + re.sub(r"[^A-Za-z0-9.-]+", "-", label) if label else ""
    out = RESULTS / f"dask_scale_{parts[0]['n_requested']}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
