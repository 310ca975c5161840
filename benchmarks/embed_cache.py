"""Wall time of repeated ``Embedder.encode`` calls answered from the embedding cache.

Usage: ``PYTHONPATH=src .venv/bin/python benchmarks/embed_cache.py [--calls 20] [--texts 100]``

Copies this model's folder of the per-user embedding cache (the demo corpus' vectors, after a
``psythemes extract`` of ``corpora/psychosomatic-demo``) into a temporary folder, makes sure
the first ``--texts`` participant segments of the demo corpus are cached there (untimed), then
times ``--calls`` consecutive ``encode`` calls of those texts on one new ``Embedder``: the
cost of asking the cache again and again, as the mappers and theme labels do within a run.
Prints the times and writes ``benchmarks/results/embed_cache.json`` (``--label`` names the
code measured, e.g. ``before``/``after``; results of other labels in the file are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "embed_cache.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--label", default="current")
    args = parser.parse_args()

    from psythemes.embed import Embedder, default_cache_dir
    from psythemes.io import read_transcripts
    from psythemes.segment import segment_transcripts

    demo = ROOT / "corpora" / "psychosomatic-demo"
    segments = segment_transcripts(read_transcripts(demo / "transcripts", metadata=demo / "metadata.csv"))
    texts = segments["text"].fillna("").astype(str).tolist()[: args.texts]

    probe = Embedder(cache_dir=False)
    source = default_cache_dir() / probe.model_fingerprint_[:32]
    with tempfile.TemporaryDirectory(prefix="psythemes-embed-cache-") as tmp:
        cache = Path(tmp) / "embeddings"
        if source.is_dir():
            shutil.copytree(source, cache / source.name)
        warm = Embedder(cache_dir=cache)
        warm.encode(texts)  # untimed: embeds whatever the copied cache lacks
        shards = sorted((cache / source.name).glob("shard-*.emb"))
        n_cached = len(shards)
        embedder = Embedder(cache_dir=cache)
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            embedder.encode(texts)
            times.append(time.perf_counter() - t0)
        assert embedder.stats_["n_encoded"] == 0, embedder.stats_
        n_vectors = sum(p.stat().st_size for p in shards)
    load = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    result = {
        "label": args.label,
        "calls": args.calls,
        "texts": len(texts),
        "backend": probe.backend_,
        "cache_shards": n_cached,
        "cache_bytes": n_vectors,
        "total_s": round(sum(times), 4),
        "first_call_s": round(times[0], 4),
        "later_calls_mean_s": round(sum(times[1:]) / max(len(times) - 1, 1), 5),
        "load": [round(x, 2) for x in load],
        "uptime": uptime,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"{args.calls} encode calls of {len(texts)} cached texts ({probe.backend_}, cache of {n_cached} shards, "
          f"{n_vectors / 1e6:.1f} MB): total {result['total_s']:.3f} s, first call {result['first_call_s']:.4f} s, "
          f"later calls {result['later_calls_mean_s'] * 1000:.2f} ms each  [{args.label}; load {load[0]:.2f}]")
    runs = {}
    if RESULTS.exists():
        runs = json.loads(RESULTS.read_text(encoding="utf-8")).get("runs", {})
    runs[args.label] = result
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
