"""What Dask's dashboard diagnostics cost the embedding on a small machine (the measurement behind
``psythemes.distributed.LOCAL_CLUSTER_CONFIG``; docs/scaling.md).

Each configuration starts a LocalCluster of ``--workers`` one-thread worker processes, gives each
worker two tasks that embed 2,500 AnnoMI utterances (each made distinct, so no cache helps) with
the ONNX encoder on one thread, and prints the texts per second of every task, the total, and the
CPU the client (scheduler and nannies) and each worker used over the wall time.
Configurations: ``default`` (Dask's settings), ``shipped`` (LOCAL_CLUSTER_CONFIG) and one with
each of its settings alone.

Usage (from the repository root; needs ``psythemes[dask]`` and ../shared/corpora/annomi)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/dask_diagnostics_overhead.py --workers 2 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
ANNOMI = ROOT.parent / "shared" / "corpora" / "annomi" / "AnnoMI-full.csv"
TEXTS_PER_TASK = 2500


def configurations() -> dict[str, dict[str, object]]:
    from psythemes.distributed import LOCAL_CLUSTER_CONFIG

    alone = {f"only {key.rsplit('.', 2)[-2]}": {key: value} for key, value in LOCAL_CLUSTER_CONFIG.items()}
    return {"default": {}, "shipped": dict(LOCAL_CLUSTER_CONFIG), **alone}


def embed_task(seed: int) -> float:
    """Texts per second of one task on this worker (the model is loaded before the clock starts)."""
    import pandas as pd

    from psythemes.distributed import _embedder_spec, _worker_embedder
    from psythemes.embed import Embedder

    texts = pd.read_csv(ANNOMI)["utterance_text"].astype(str).tolist()
    rng = random.Random(seed)
    texts = [f"{t} {rng.random()}" for t in rng.sample(texts, TEXTS_PER_TASK)]
    embedder = _worker_embedder(_embedder_spec(Embedder(cache_dir=False)))
    embedder.encode(["warm up"])
    t0 = time.perf_counter()
    embedder.onnx_model_.encode(texts)
    return len(texts) / (time.perf_counter() - t0)


def _process_cpu_s(pid: int) -> float:
    ticks = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(") ", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run(name: str, settings: dict[str, object], workers: int) -> None:
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(settings), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                 dashboard_address=None) as cluster, Client(cluster) as client:
        client_0 = _process_cpu_s(os.getpid())
        workers_0 = client.run(time.process_time)
        t0 = time.perf_counter()
        rates = client.gather(client.map(embed_task, range(2 * workers), pure=False))
        wall = time.perf_counter() - t0
        client_cpu = _process_cpu_s(os.getpid()) - client_0
        workers_1 = client.run(time.process_time)
    print(f"{name:>22}: texts/s per task {[round(r, 1) for r in rates]}, "
          f"total {TEXTS_PER_TASK * 2 * workers / wall:.1f} (model loads included), "
          f"CPU of a core: client {100 * client_cpu / wall:.1f} %, "
          f"workers {[round(100 * (workers_1[k] - workers_0[k]) / wall, 1) for k in workers_0]} %", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="configurations to run (default: all)")
    args = parser.parse_args()
    if not ANNOMI.is_file():
        sys.exit(f"skipped: {ANNOMI} is missing")
    chosen = {k: v for k, v in configurations().items() if not args.only or k in args.only}
    for _ in range(args.repeat):
        for name, settings in chosen.items():
            run(name, settings, args.workers)


if __name__ == "__main__":
    main()
