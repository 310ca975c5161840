"""ONNX Runtime settings for the int8 embedding backend: thread spinning, batch size, batch dependence.

Usage (from the repository root)::

    .venv/bin/python benchmarks/onnx_settings.py            # writes benchmarks/results/onnx_settings.json

Why: ``benchmarks/perf.py`` compares the backends with the settings psythemes ships (ONNX
Runtime's idle threads sleep, batch 16).  This script measures the settings that could change
the verdict on the "onnx >= 2x torch" target, and what they cost:

* ``allow_spinning``: ONNX Runtime's own default lets idle worker threads spin; psythemes turns
  that off because spinning took CPU from working threads on a busy machine;
* the batch size (1, 8, 16);
* batch dependence: dynamic int8 quantisation scales each batch by its own range, so an onnx
  vector depends slightly on the texts it was batched with; at batch 1 it depends on the text
  alone (as torch vectors do, within float noise).

Each configuration runs in a fresh process (no other thread pool alive beside it), on the same
512 texts as ``perf.py --parts embedding`` (a seeded sample of the demo corpus' participant
segments), best of 3 runs.  The torch reference is the Embedder's torch backend at batch 16.
The quantised model is taken from ``perf.py``'s export (``--export-dir``) or exported there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "benchmarks" / "results"
DEMO = ROOT / "corpora" / "psychosomatic-demo"
CONFIGS = [  # (backend, batch size, allow_spinning)
    ("torch", 16, None),
    ("onnx", 16, False),
    ("onnx", 16, True),
    ("onnx", 8, True),
    ("onnx", 1, False),
    ("onnx", 1, True),
]


def sample_texts(n: int = 512) -> list[str]:
    import numpy as np

    from psythemes.io import read_transcripts
    from psythemes.segment import segment_transcripts

    segments = segment_transcripts(read_transcripts([DEMO / "transcripts"], metadata=DEMO / "metadata.csv"),
                                   interviewer="drop", backchannels="drop")
    pick = np.sort(np.random.default_rng(0).choice(len(segments), n, replace=False))
    return segments["text"].iloc[pick].tolist()


def child(backend: str, batch_size: int, spinning: bool | None, export_dir: Path, reps: int) -> dict[str, Any]:
    """One configuration, timed in this (fresh) process."""
    import numpy as np

    from psythemes.embed import Embedder, default_model_path
    from psythemes.embed_onnx import OnnxEncoder

    texts = sample_texts()
    if backend == "torch":
        encoder = Embedder(cache_dir=False, batch_size=batch_size, backend="torch", show_progress=False)
        run = encoder.encode
    else:
        onnx = OnnxEncoder(default_model_path(), export_dir, allow_spinning=bool(spinning))

        def run(batch: list[str]) -> Any:
            return onnx.encode(batch, batch_size=batch_size)
    run(texts[:16])  # load, warm up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        vectors = run(texts)
        times.append(time.perf_counter() - t)
    out = {"backend": backend, "batch_size": batch_size, "allow_spinning": spinning,
           "runs_s": [round(x, 3) for x in times], "sentences_per_s": round(len(texts) / min(times), 1),
           "load_avg_before": round(os.getloadavg()[0], 2)}
    if backend == "onnx":
        # batch dependence: the first 64 texts alone (batch 1) against the same texts in this run
        single = OnnxEncoder(default_model_path(), export_dir).encode(texts[:64], batch_size=1)
        cos = np.einsum("ij,ij->i", single, vectors[:64]) / (
            np.linalg.norm(single, axis=1) * np.linalg.norm(vectors[:64], axis=1))
        out["cosine_to_batch1_min"] = round(float(cos.min()), 5)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--export-dir", type=Path, default=None,
                    help="folder of the quantised model (default: a temporary folder, exported once)")
    ap.add_argument("--out", type=Path, default=RESULTS / "onnx_settings.json")
    ap.add_argument("_child", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        backend, bs, spin, export_dir = args._child
        spinning = None if spin == "none" else spin == "1"
        print(json.dumps(child(backend, int(bs), spinning, Path(export_dir), args.reps)))
        return 0

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = args.export_dir or Path(tmp) / "onnx"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        runs = []
        for backend, bs, spin in CONFIGS:
            flag = "none" if spin is None else str(int(spin))
            proc = subprocess.run([sys.executable, __file__, "--reps", str(args.reps), backend, str(bs), flag,
                                   str(export_dir)], capture_output=True, text=True, env=env, cwd=ROOT)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit(f"configuration {backend} batch {bs} spinning {spin} failed")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(rec)
            extra = f"  cosine to batch-1 vectors, min {rec['cosine_to_batch1_min']}" if backend == "onnx" else ""
            print(f"{backend:<5} batch {bs:>2} spinning {str(spin):<5} {rec['sentences_per_s']:>6.1f} sentences/s "
                  f"(runs {rec['runs_s']}, load {rec['load_avg_before']}){extra}", flush=True)
    torch_rate = runs[0]["sentences_per_s"]
    for rec in runs[1:]:
        rec["speedup_vs_torch"] = round(rec["sentences_per_s"] / torch_rate, 2)
    result = {"command": "python benchmarks/onnx_settings.py" + (" " + " ".join(argv) if argv else ""),
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
              "texts": "512 demo participant segments, seed 0 (as perf.py --parts embedding)",
              "runs": runs, "seconds": round(time.time() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from psythemes.outputs import write_json

    write_json(args.out, result)
    print("speed-up vs torch (batch 16): " + ", ".join(
        f"onnx b{r['batch_size']} spin {r['allow_spinning']}: {r['speedup_vs_torch']}x" for r in runs[1:]))
    print(f"-> {args.out.relative_to(ROOT)} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
