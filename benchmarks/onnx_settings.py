"""The onnx embedding backend's worker count, its speed against torch, and its independence of batch-mates.

Usage (from the repository root)::

    .venv/bin/python benchmarks/onnx_settings.py            # writes benchmarks/results/onnx_settings.json

Why: the onnx backend embeds each text alone on a single-threaded ONNX Runtime session, with
one worker thread per CPU (see ``psythemes.embed_onnx``).  This script measures

* the throughput with 1, 2 and 3 workers, against the torch backend at batch 16 (the
  Embedder's default), each in a fresh process, best of 3 runs;
* the cost of exact u8u8 int8 products (``OnnxEncoder(exact_int8=True)``, what psythemes asks
  for on x86 CPUs without VNNI) when forced on this CPU;
* that the vectors do not depend on the worker count or on the other texts of a call: every
  configuration's vectors are compared, bit for bit, with those of one worker embedding the
  texts in reverse order (with psythemes' default kernels for this CPU).

Texts: the same 512 segments as ``perf.py --parts embedding`` (a seeded sample of the demo
corpus' participant segments).  The quantised model is taken from ``--export-dir`` or
exported there (a temporary folder by default).
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
# (backend, batch size or workers, exact_int8: None = psythemes' choice for this CPU)
CONFIGS = [("torch", 16, None), ("onnx", 1, None), ("onnx", 2, None), ("onnx", 3, None), ("onnx", 2, True)]


def sample_texts(n: int = 512) -> list[str]:
    """The texts of ``perf.py --parts embedding``."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from perf import _demo_segments

    segments = _demo_segments()
    pick = np.sort(np.random.default_rng(0).choice(len(segments), n, replace=False))
    return segments["text"].iloc[pick].tolist()


def child(backend: str, size: int, exact: bool | None, export_dir: Path, reps: int) -> dict[str, Any]:
    """One configuration, timed in this (fresh) process; ``size``: torch batch size or onnx workers."""
    import numpy as np

    from psythemes.embed import Embedder, default_model_path
    from psythemes.embed_onnx import OnnxEncoder

    texts = sample_texts()
    if backend == "torch":
        run = Embedder(cache_dir=False, batch_size=size, backend="torch", show_progress=False).encode
    else:
        run = OnnxEncoder(default_model_path(), export_dir, workers=size, exact_int8=exact).encode
    run(texts[:16])  # load, warm up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        vectors = run(texts)
        times.append(time.perf_counter() - t)
    out = {"backend": backend, ("batch_size" if backend == "torch" else "workers"): size,
           "runs_s": [round(x, 3) for x in times], "sentences_per_s": round(len(texts) / min(times), 1),
           "load_avg_before": round(os.getloadavg()[0], 2)}
    if backend == "onnx":
        out["exact_int8"] = OnnxEncoder(default_model_path(), export_dir, exact_int8=exact).exact_int8_
        reference = OnnxEncoder(default_model_path(), export_dir, workers=1).encode(texts[::-1])[::-1]
        out["identical_to_one_worker_reversed"] = bool(np.array_equal(reference, vectors))
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
        backend, size, exact, export_dir = args._child
        print(json.dumps(child(backend, int(size), None if exact == "auto" else exact == "1", Path(export_dir), args.reps)))
        return 0

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = args.export_dir or Path(tmp) / "onnx"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        runs = []
        for backend, size, exact in CONFIGS:
            flag = "auto" if exact is None else str(int(exact))
            proc = subprocess.run([sys.executable, __file__, "--reps", str(args.reps), backend, str(size), flag,
                                   str(export_dir)], capture_output=True, text=True, env=env, cwd=ROOT)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit(f"configuration {backend} {size} failed")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(rec)
            what = f"batch {size:>2}" if backend == "torch" else f"workers {size}" + (" exact" if exact else "")
            extra = (f"  identical to 1 worker, reversed order: {rec['identical_to_one_worker_reversed']}"
                     if backend == "onnx" else "")
            print(f"{backend:<5} {what:<16} {rec['sentences_per_s']:>6.1f} sentences/s "
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
        f"onnx {r['workers']} workers{' exact u8u8' if r['exact_int8'] else ''}: {r['speedup_vs_torch']}x" for r in runs[1:]))
    print(f"-> {args.out.relative_to(ROOT)} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
