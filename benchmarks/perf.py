"""Stage benchmarks of psythemes: time, throughput and peak memory per stage, from the demo corpus to 100k segments.

Usage (from the repository root)::

    .venv/bin/python benchmarks/perf.py                       # everything (~15-20 min on 2 busy cores)
    .venv/bin/python benchmarks/perf.py --sizes demo,10k      # small sizes only
    .venv/bin/python benchmarks/perf.py --parts embedding     # one part: startup, embedding, stages, onnx_kappa

Parts (each writes ``benchmarks/results/perf_<part>.json``; the plot is ``perf_scaling.png``):

``startup``
    ``psythemes --help`` and ``psythemes agree --help`` in fresh processes (median of 5).
``embedding``
    The embedding stage against its reference ("limit"): raw ``SentenceTransformer.encode``
    (batch 64) on the same texts (a seeded sample of the demo corpus' participant segments),
    ``Embedder.embed_segments`` with an empty cache (torch and onnx backends), alternating the
    order every repetition and comparing the best runs; then the same segments from a warm
    cache with a new ``Embedder``; and the cosine similarity of the onnx vectors to torch's.
``stages``
    ``psythemes.pipeline.extract`` end to end (read, segment, embed, themes, map, evaluate
    against the gold codes, report, write), one fresh process per run, per-stage times from
    the run's manifest, peak RSS of the process (``VmHWM`` of the child, read at its end).  Sizes: ``demo`` (the
    demo corpus as shipped) and scaled corpora of about 10k and 100k participant segments,
    generated reproducibly from the demo corpus (see :func:`make_scaled_corpus`): every
    synthetic transcript recombines blocks of turns of one demo transcript, so its texts are
    demo texts and hit the embedding cache warmed by the cold demo run.  Runs: demo cold
    (empty cache) and cached with the ``fast`` preset (the >= 10x target), every size cached
    with ``fast`` and, up to 10k (``--default-max``), ``default``.
``onnx_kappa``
    AnnoMI machine-vs-gold kappa with torch and onnx embeddings: the zero-shot and few-shot
    runs of ``benchmarks/scoreboard.py`` (same code, same splits), once per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEMO = ROOT / "corpora" / "psychosomatic-demo"
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"demo": None, "10k": 10_000, "100k": 100_000}
PARTS = ("startup", "embedding", "stages", "onnx_kappa")
STAGE_NAMES = ("read", "segment", "embed", "themes", "map", "evaluate", "report", "write")
TARGETS = {"embed_ratio": 0.95, "cache_speedup": 10.0, "rss_100k_mb": 4096, "startup_s": 1.0, "onnx_speedup": 2.0,
           "onnx_kappa_delta": 0.01}


# ----------------------------------------------------------------------------- helpers


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
            "note": "shared 2-core machine with other busy processes: timings are noisy"}


def peak_rss_mb() -> float:
    """Peak resident memory of this process (``VmHWM``).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that high-water mark over
    ``fork`` + ``exec``, so a child of a big parent would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_result(part: str, result: dict[str, Any]) -> Path:
    from psythemes.outputs import write_json

    path = RESULTS / f"perf_{part}.json"
    write_json(path, result)
    print(f"-> {path.relative_to(ROOT)}", flush=True)
    return path


def run_child(args: list[str], timeout: float | None = None) -> tuple[dict[str, Any], float, float]:
    """Run ``perf.py _child ...`` in a fresh interpreter: (its JSON report, wall s, peak RSS MB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "_child", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True)
    # the child reports its own peak RSS (VmHWM at its end covers its whole life)
    out, err = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}")
    report = json.loads(out.strip().splitlines()[-1])
    return report, wall, report["peak_rss_mb"]


# ----------------------------------------------------------------------------- scaled corpora


def make_scaled_corpus(target: int, folder: Path, seed: int = 0) -> dict[str, Any]:
    """Write a corpus of about ``target`` participant segments built from the demo corpus.

    Reproducible (``seed``): demo transcripts are taken in a seeded random order, over and
    over; each synthetic transcript ``S<nnnnn>-<source>`` holds the turns of one demo
    transcript, cut into blocks of 6 consecutive turns that are put in a seeded random
    order, written as plain ``Speaker: text`` lines.  Turns that span several lines (16 of
    2,414) are left out.  Gold codes (``codes/reference.csv``) of spans inside a kept turn are
    carried over to their new offsets; the metadata row of the source is copied.  Texts
    are demo texts, so the scaled corpora exercise every stage at scale while the embedding
    cache of the demo corpus serves them (embedding throughput is measured separately).
    """
    import numpy as np
    import pandas as pd

    from psythemes.io import read_transcripts
    from psythemes.segment import segment_transcripts

    transcripts = read_transcripts([DEMO / "transcripts"], metadata=DEMO / "metadata.csv")
    # segments as extract makes them (interviewer turns and backchannels set aside)
    per_doc = segment_transcripts(transcripts, interviewer="drop", backchannels="drop")["doc_id"].value_counts().to_dict()
    gold = pd.read_csv(DEMO / "codes" / "reference.csv", keep_default_na=False)
    meta = pd.read_csv(DEMO / "metadata.csv", dtype=str, keep_default_na=False).set_index("doc_id")
    # per demo transcript, once: its single-line turns as (label, body, gold spans relative to the body)
    prepared = []
    for t in transcripts:
        g = gold[gold["doc_id"] == t.doc_id]
        g_start, g_end = g["start"].to_numpy(), g["end"].to_numpy()
        turns = []
        for u in t.turns:
            body = t.text[u.start:u.end]
            if "\n" in body:
                continue
            inside = np.flatnonzero((g_start >= u.start) & (g_end <= u.end))
            spans = [(int(g_start[i]) - u.start, int(g_end[i]) - u.start, g["code"].iloc[i], g["coder"].iloc[i])
                     for i in inside]
            turns.append((f"{u.speaker}: ", body, spans))
        prepared.append(turns)
    rng = np.random.default_rng(seed)
    (folder / "transcripts").mkdir(parents=True, exist_ok=True)
    docs, gold_rows, meta_rows, expected, k = [], [], [], 0, 0
    while expected < target:
        for src in rng.permutation(len(transcripts)):
            t, turns = transcripts[int(src)], prepared[int(src)]
            blocks = [turns[i:i + 6] for i in range(0, len(turns), 6)]
            lines, pos, spans = [], 0, []
            for b in rng.permutation(len(blocks)):
                for label, body, rel in blocks[int(b)]:
                    body_start = pos + len(label)
                    spans.extend((body_start + s, body_start + e, code, coder) for s, e, code, coder in rel)
                    lines.append(label + body)
                    pos += len(label) + len(body) + 1
            doc_id = f"S{k:05d}-{t.doc_id}"
            text = "\n".join(lines) + "\n"
            (folder / "transcripts" / f"{doc_id}.txt").write_text(text, encoding="utf-8")
            for s, e, code, coder in spans:
                gold_rows.append((doc_id, s, e, code, coder, text[s:e]))
            if t.doc_id in meta.index:
                meta_rows.append({"doc_id": doc_id, **meta.loc[t.doc_id].to_dict()})
            docs.append(doc_id)
            expected += per_doc.get(t.doc_id, 0)
            k += 1
            if expected >= target:
                break
    (folder / "codes").mkdir(exist_ok=True)
    pd.DataFrame(gold_rows, columns=["doc_id", "start", "end", "code", "coder", "text"]).to_csv(
        folder / "codes" / "reference.csv", index=False)
    pd.DataFrame(meta_rows).to_csv(folder / "metadata.csv", index=False)
    return {"target_segments": target, "seed": seed, "n_transcripts": len(docs), "n_gold_spans": len(gold_rows),
            "expected_segments": int(expected)}


def corpus_for(size: str, workdir: Path) -> tuple[Path, dict[str, Any]]:
    if SIZES[size] is None:
        return DEMO, {"source": "corpora/psychosomatic-demo as shipped"}
    folder = workdir / f"corpus-{size}"
    if not (folder / "metadata.csv").is_file():
        t0 = time.perf_counter()
        info = make_scaled_corpus(SIZES[size], folder)
        info["generate_s"] = round(time.perf_counter() - t0, 1)
        (folder / "info.json").write_text(json.dumps(info))
    return folder, json.loads((folder / "info.json").read_text())


# ----------------------------------------------------------------------------- child: one extract run


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--cache", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--repeat", type=int, default=1, help="extract runs in this process (later ones: warm imports)")
    args = parser.parse_args(argv)
    os.environ["PSYTHEMES_EMBED_BACKEND"] = args.backend
    t0 = time.perf_counter()
    from psythemes.embed import EmbeddingCache  # noqa: F401  (sets the offline variables)
    from psythemes.pipeline import extract

    import_s = time.perf_counter() - t0
    corpus = Path(args.corpus)
    runs = []
    for _ in range(args.repeat):
        before = set(Path(args.cache).rglob("shard-*.emb"))
        t1 = time.perf_counter()
        res = extract(corpus / "transcripts", args.out, metadata=corpus / "metadata.csv", codebook="psychosomatic",
                      gold=corpus / "codes" / "reference.csv", preset=args.preset, cache_dir=args.cache)
        extract_s = time.perf_counter() - t1
        new_rows = 0
        for shard in set(Path(args.cache).rglob("shard-*.emb")) - before:
            with open(shard, "rb") as fh:
                new_rows += int.from_bytes(fh.read(12)[8:12], "little")  # header: magic, n rows, ...
        runs.append({"extract_s": round(extract_s, 3), "timings_s": res.manifest["timings_s"], "texts_embedded": new_rows})
    report = {
        "import_s": round(import_s, 3), **runs[0], "n_transcripts": len(res.transcripts),
        "n_segments": int(len(res.segments)), "n_themes": int(len(res.themes)), "n_codes": int(len(res.codes)),
        "mean_kappa": res.evaluation.summary.get("mean_kappa") if res.evaluation is not None else None,
        "in_process_repeats": runs[1:],
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(report))
    return 0


# ----------------------------------------------------------------------------- parts


def part_startup(args: argparse.Namespace) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("psythemes")
    out: dict[str, Any] = {"machine": machine(), "target_s": TARGETS["startup_s"]}
    for label, cmd in (("psythemes --help", [str(exe), "--help"]), ("psythemes agree --help", [str(exe), "agree", "--help"])):
        subprocess.run(cmd, check=True, capture_output=True)  # warm the file cache
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[label] = {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                      "runs_s": [round(t, 3) for t in times]}
        print(f"{label:<24} median {statistics.median(times):.3f} s (min {min(times):.3f})", flush=True)
    return out


def _demo_segments():
    from psythemes.io import read_transcripts
    from psythemes.segment import segment_transcripts

    transcripts = read_transcripts([DEMO / "transcripts"], metadata=DEMO / "metadata.csv")
    return segment_transcripts(transcripts, interviewer="drop", backchannels="drop")  # as extract does


def part_embedding(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from psythemes.embed import Embedder

    segments = _demo_segments()
    all_segments = segments
    if args.embed_n and args.embed_n < len(segments):
        pick = np.sort(np.random.default_rng(0).choice(len(segments), args.embed_n, replace=False))
        segments = segments.iloc[pick].reset_index(drop=True)
    texts = segments["text"].tolist()
    n = len(texts)
    bs = args.batch_size
    print(f"embedding: {n} demo segments (of {len(all_segments)}), batch {bs}, torch threads {torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    obs = args.other_batch_size
    torch_e = Embedder(batch_size=bs, show_progress=False, backend="torch")
    assert segments.equals(segments.reset_index(drop=True))
    raw = SentenceTransformer(str(torch_e.model_path_), device="cpu")
    onnx_e = Embedder(batch_size=bs, show_progress=False, backend="onnx", cache_dir=workdir / "onnx-warmup")
    t0 = time.perf_counter()
    onnx_e.encode(texts[:8])  # exports + quantises the model on first use (once per machine)
    onnx_setup_s = time.perf_counter() - t0
    torch_other = Embedder(batch_size=obs, show_progress=False, backend="torch")
    torch_other._st_model = torch_e.st_model_  # the same model object
    raw.encode(texts[:64], batch_size=bs)  # warm-up
    torch_e.cache_dir = False
    torch_e.encode(texts[:64])

    # the onnx backend embeds each text alone (no batch size to vary)
    encoders = {"embedder_torch": torch_e, "embedder_onnx": onnx_e, f"embedder_torch_bs{obs}": torch_other}
    runs: dict[str, list[float]] = {"raw_encode": [], **{k: [] for k in encoders}}
    vectors: dict[str, Any] = {}
    order = list(runs)
    for rep in range(args.reps):
        rot = order[rep % len(order):] + order[:rep % len(order)]  # a different one goes first each repetition
        for who in rot:
            t = time.perf_counter()
            if who == "raw_encode":
                vectors[who] = raw.encode(texts, batch_size=bs, normalize_embeddings=True, show_progress_bar=False)
            else:
                encoder = encoders[who]
                encoder.cache_dir = workdir / f"emb-{who}-{rep}"
                vectors[who] = encoder.embed_segments(segments)
                assert encoder.stats_["n_cached"] == 0
            runs[who].append(time.perf_counter() - t)
        print(f"  rep {rep}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()) +
              f" (load {os.getloadavg()[0]:.2f})", flush=True)
    ref, ours, fast = vectors["raw_encode"], vectors["embedder_torch"], vectors["embedder_onnx"]
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    cos = np.einsum("ij,ij->i", fast, ours)
    # a cached second run: new Embedder, warm cache, full demo segment table
    warm = workdir / "emb-warm"
    Embedder(batch_size=bs, cache_dir=warm, show_progress=False).embed_segments(all_segments)
    cached = []
    for _ in range(3):
        t = time.perf_counter()
        again = Embedder(batch_size=bs, cache_dir=warm)
        again.embed_segments(all_segments)
        cached.append(time.perf_counter() - t)
        assert again.stats_["n_encoded"] == 0
    best = {k: min(v) for k, v in runs.items()}
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
        "texts": {"n": n, "source": f"seeded sample (seed 0) of the {len(all_segments)} participant segments of the demo corpus",
                  "mean_chars": round(float(np.mean([len(t) for t in texts])), 1)},
        "batch_size": bs, "torch_threads": torch.get_num_threads(),
        "runs_s": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "sentences_per_s": {k: round(n / v, 1) for k, v in best.items()},
        "ratio_embedder_torch_to_raw": round(best["raw_encode"] / best["embedder_torch"], 3),
        "target_ratio": TARGETS["embed_ratio"],
        "onnx_speedup_vs_embedder_torch": round(best["embedder_torch"] / best["embedder_onnx"], 2),
        "onnx_speedup_vs_best_torch": round(min(best["embedder_torch"], best[f"embedder_torch_bs{obs}"])
                                            / best["embedder_onnx"], 2),
        "onnx_speedup_vs_raw_encode": round(best["raw_encode"] / best["embedder_onnx"], 2),
        "note": f"best of the alternating repetitions on the same texts; torch at batch {bs} (the Embedder's default) "
                f"unless a name ends in _bs{obs}; onnx embeds each text alone, one worker thread per CPU",
        "target_onnx_speedup": TARGETS["onnx_speedup"],
        "onnx_first_use_s": round(onnx_setup_s, 1),
        "onnx_cosine_to_torch": {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4),
                                 "p01": round(float(np.quantile(cos, 0.01)), 4)},
        "cached": {"n_segments": len(all_segments), "runs_s": [round(x, 4) for x in cached],
                   "segments_per_s": round(len(all_segments) / min(cached), 0)},
    }
    print(f"  raw encode {result['sentences_per_s']['raw_encode']}/s, Embedder torch "
          f"{result['sentences_per_s']['embedder_torch']}/s (ratio {result['ratio_embedder_torch_to_raw']}), "
          f"onnx {result['sentences_per_s']['embedder_onnx']}/s (x{result['onnx_speedup_vs_embedder_torch']}; "
          f"x{result['onnx_speedup_vs_best_torch']} vs the faster torch batch size), "
          f"cosine onnx/torch mean {result['onnx_cosine_to_torch']['mean']} min {result['onnx_cosine_to_torch']['min']}",
          flush=True)
    return result


def part_stages(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    cache = workdir / "stage-cache"
    shutil.rmtree(cache, ignore_errors=True)
    runs: list[dict[str, Any]] = []
    corpora: dict[str, Any] = {}

    def one(size: str, preset: str, label: str, repeat: int = 1, backend: str | None = None,
            cache_dir: Path = cache) -> dict[str, Any]:
        backend = backend or args.backend
        folder, info = corpus_for(size, workdir)
        corpora[size] = info
        out = workdir / f"out-{size}-{preset}-{label}"
        shutil.rmtree(out, ignore_errors=True)
        load = os.getloadavg()[0]
        report, wall, rss = run_child(["--corpus", str(folder), "--preset", preset, "--cache", str(cache_dir),
                                       "--out", str(out), "--backend", backend, "--repeat", str(repeat)])
        n = report["n_segments"]
        rec = {"size": size, "preset": preset, "run": label, "backend": backend, "n_segments": n,
               "n_transcripts": report["n_transcripts"], "process_wall_s": round(wall, 2), **report,
               "throughput_segments_per_s": {k: round(n / v, 1) if v > 0 else None for k, v in report["timings_s"].items()},
               "load_avg_before": round(load, 2)}
        runs.append(rec)
        shutil.rmtree(out, ignore_errors=True)
        stages = " ".join(f"{k} {v:.2f}" for k, v in report["timings_s"].items())
        again = "".join(f" / in-process re-run {r['extract_s']:.1f} s" for r in report["in_process_repeats"])
        print(f"  {size:>5} {preset:<7} {label:<10} {backend:<5} {n:>6} segs  extract {report['extract_s']:.1f} s{again}  "
              f"[{stages}]  embedded {report['texts_embedded']}  peak RSS {rss:.0f} MB  load {load:.1f}", flush=True)
        return rec

    def export_onnx(cache_dir: Path) -> None:
        """Export the onnx model into ``cache_dir`` beforehand: a one-time step per machine (timed
        in part embedding), left out of the cold runs."""
        subprocess.run([sys.executable, "-c", ("import sys; from psythemes.embed import Embedder; "
                        "Embedder(cache_dir=sys.argv[1], backend='onnx').encode(['warm-up'])"),
                        str(cache_dir)], check=True, capture_output=True, cwd=ROOT)

    print("stages (one fresh process per run):", flush=True)
    other = "onnx" if args.backend == "torch" else "torch"
    shutil.rmtree(workdir / f"stage-cache-{other}", ignore_errors=True)
    for backend, folder in ((args.backend, cache), (other, workdir / f"stage-cache-{other}")):
        if backend == "onnx":
            export_onnx(folder)
    # empty embedding cache: embeds the demo corpus and the codebook; then a cached re-run in the same process
    cold = one("demo", "fast", "cold", repeat=2)
    cached = [one("demo", "fast", "cached") for _ in range(args.reps_cached)]
    # the same cold run with the other embedding backend (its own cache: vectors never mix)
    one("demo", "fast", "cold", repeat=1, backend=other, cache_dir=workdir / f"stage-cache-{other}")
    for size in args.sizes:
        if size != "demo":
            one(size, "fast", "cached")
        if SIZES[size] is None or SIZES[size] <= SIZES[args.default_max]:
            one(size, "default", "cached")
    best_cached = min(r["extract_s"] for r in cached)
    result = {
        "command": "see the top-level 'command'",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
        "corpora": corpora, "runs": runs,
        "demo_cache_speedup": {"cold_extract_s": cold["extract_s"], "cached_extract_s_best": best_cached,
                               "speedup": round(cold["extract_s"] / best_cached, 2),
                               "cold_process_s": cold["process_wall_s"],
                               "cached_process_s_best": min(r["process_wall_s"] for r in cached),
                               "cached_in_process_extract_s": cold["in_process_repeats"][0]["extract_s"],
                               "speedup_in_process": round(cold["extract_s"] / cold["in_process_repeats"][0]["extract_s"], 2),
                               "target": TARGETS["cache_speedup"],
                               "note": "speedup: cold vs cached extract() call, each in a fresh process (a cold run imports "
                                       "torch and bertopic, a cached one neither); speedup_in_process: the second extract() "
                                       "call in the cold run's process (imports already done, as in a notebook)"},
    }
    big = [r for r in runs if r["size"] == "100k" and r["preset"] == "fast"]
    if big:
        result["rss_100k_fast_mb"] = big[0]["peak_rss_mb"]
        result["target_rss_mb"] = TARGETS["rss_100k_mb"]
    return result


def plot_scaling(stages: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    fast = sorted((r for r in stages["runs"] if r["preset"] == "fast" and r["run"] == "cached"), key=lambda r: r["n_segments"])
    by_size: dict[int, dict[str, Any]] = {}
    for r in fast:  # best of the repeated demo runs
        if r["n_segments"] not in by_size or r["extract_s"] < by_size[r["n_segments"]]["extract_s"]:
            by_size[r["n_segments"]] = r
    xs = sorted(by_size)
    for stage in STAGE_NAMES:
        ys = [max(by_size[x]["timings_s"].get(stage, 0.0), 1e-3) for x in xs]
        ax.plot(xs, ys, marker="o", label=f"{stage} (fast)")
    default = sorted((r for r in stages["runs"] if r["preset"] == "default"), key=lambda r: r["n_segments"])
    if default:
        ax.plot([r["n_segments"] for r in default], [r["timings_s"]["themes"] for r in default], marker="s",
                linestyle="--", color="black", label="themes (default: UMAP+HDBSCAN)")
    if xs:
        ref = by_size[xs[0]]["timings_s"]["segment"]
        ax.plot(xs, [ref * x / xs[0] for x in xs], color="grey", linestyle=":", label="linear (slope 1)")
    if xs:
        ax.plot(xs, [by_size[x]["extract_s"] for x in xs], marker="D", color="black", linewidth=2,
                label="total extract() (fast)")
    for backend, colour in (("torch", "red"), ("onnx", "darkorange")):
        cold = next((r for r in stages["runs"] if r["run"] == "cold" and r["backend"] == backend), None)
        if cold and xs:
            rate = cold["n_segments"] / cold["timings_s"]["embed"]
            ax.scatter([cold["n_segments"]], [cold["timings_s"]["embed"]], marker="*", s=150, color=colour,
                       label=f"embed, cold ({backend}, empty cache)", zorder=5)
            ax.plot(xs, [x / rate for x in xs], color=colour, linestyle=":", linewidth=1,
                    label=f"embed, cold ({backend}), extrapolated at {rate:.0f} segments/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("participant segments")
    ax.set_ylabel("wall time (s)")
    ax.set_title("psythemes extract: time per stage vs corpus size (embeddings cached)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"-> {path.relative_to(ROOT)}", flush=True)


def part_onnx_kappa(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scoreboard as sb

    from psythemes.embed import Embedder

    all_segs, labels = sb.load_annomi()
    texts = all_segs["text"].tolist()
    cache = ROOT / ".psythemes-cache" / "embeddings"  # the project's default cache: reruns are free

    class BackendEmbedder(sb.LookupEmbedder):
        """The scoreboard's lookup embedder, with prototypes embedded by the chosen backend."""

        def __init__(self, texts: list[str], vectors: np.ndarray, embedder: Embedder):
            super().__init__(texts, vectors)
            self._embedder = embedder

        def _model_encode(self, texts: list[str]) -> np.ndarray:
            self.calls_to_model += len(texts)
            return self._embedder.encode(texts)

    out: dict[str, Any] = {"machine": machine(), "n_utterances": len(texts)}
    # torch: the scoreboard's own cached vectors (raw SentenceTransformer.encode, normalised);
    # onnx: the Embedder with the onnx backend (cached in the project's default cache)
    vectors = {"torch": sb.corpus_embedder("annomi", texts)._vectors.astype(np.float32)}
    e = Embedder(cache_dir=cache, backend="onnx", show_progress=False)
    t = time.perf_counter()
    vectors["onnx"] = e.encode(texts)
    out["onnx_embed_s"] = round(time.perf_counter() - t, 1)
    out["onnx_texts_embedded"] = e.stats_["n_encoded"]
    print(f"  AnnoMI onnx: {len(texts)} utterances in {out['onnx_embed_s']} s "
          f"({e.stats_['n_encoded']} distinct texts embedded, {e.stats_['n_cached']} from the cache)", flush=True)
    cos = np.einsum("ij,ij->i", vectors["torch"], vectors["onnx"])
    out["cosine_onnx_torch"] = {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4),
                                "p01": round(float(np.quantile(cos, 0.01)), 4)}
    scores: dict[str, dict[str, float]] = {}
    for backend in ("torch", "onnx"):
        emb = BackendEmbedder(texts, vectors[backend], Embedder(cache_dir=cache, backend=backend, show_progress=False))
        for role in ("therapist", "client"):
            mask = labels[role].notna().to_numpy()
            segs = all_segs[mask].reset_index(drop=True)
            gold = labels[role][mask].tolist()
            codebook = str(sb.CODEBOOKS / f"annomi_{role}.yaml")
            cues = sb.ANNOMI_THERAPIST_CUES if role == "therapist" else sb.ANNOMI_CLIENT_CUES
            fallback = "other" if role == "therapist" else "neutral"
            _, test = sb.grouped_splits(segs["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
            tsegs, tgold = segs.iloc[test], [gold[i] for i in test]
            print(f"  [{backend}] annomi_{role}", flush=True)
            zs = sb.run_zero_shot("zero-shot, prototypes + cues (80% test)", codebook, tsegs, tgold, emb, cues=cues,
                                  fallback=fallback, cue_weight=sb.ANNOMI_CUE_WEIGHT)
            zs_all = sb.run_zero_shot("zero-shot, prototypes + cues (all)", codebook, segs, gold, emb, cues=cues,
                                      fallback=fallback, cue_weight=sb.ANNOMI_CUE_WEIGHT)
            fs = sb.run_fewshot_curve("few-shot 20% (emb + context + n-grams)", codebook, segs, gold, all_segs, emb,
                                      [0.2], 2, sb.FULL)["20%"]
            scores.setdefault(f"annomi_{role}_zero_shot_test", {})[backend] = zs["kappa"]
            scores.setdefault(f"annomi_{role}_zero_shot_all", {})[backend] = zs_all["kappa"]
            scores.setdefault(f"annomi_{role}_few_shot_20pct_2seeds", {})[backend] = fs["kappa_mean"]
    for rec in scores.values():
        rec["delta"] = round(rec["onnx"] - rec["torch"], 4)
    out["kappa"] = scores
    out["max_abs_delta"] = max(abs(r["delta"]) for r in scores.values())
    out["target_max_abs_delta"] = TARGETS["onnx_kappa_delta"]
    out["command"] = ".venv/bin/python benchmarks/perf.py --parts onnx_kappa"
    for k, r in scores.items():
        print(f"  {k:<44} torch {r['torch']:.4f}  onnx {r['onnx']:.4f}  delta {r['delta']:+.4f}", flush=True)
    return out


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="demo,10k,100k", help="comma-separated: demo, 10k, 100k")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}")
    parser.add_argument("--reps", type=int, default=5, help="alternating repetitions of the embedding comparison")
    parser.add_argument("--reps-cached", type=int, default=2, help="cached demo extract runs")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size of the embedding comparison (the Embedder's default)")
    parser.add_argument("--other-batch-size", type=int, default=64, help="second batch size of the torch backend")
    parser.add_argument("--embed-n", type=int, default=512, help="texts in the embedding comparison (0 = all demo segments)")
    parser.add_argument("--default-max", default="10k", choices=list(SIZES), help="largest size run with the default preset")
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx"],
                        help="embedding backend of the stage runs (default: psythemes' default, onnx)")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from perf_stages.json")
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one, removed at the end)")
    args = parser.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for s in args.sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}")
    for p in parts:
        if p not in PARTS:
            parser.error(f"unknown part {p!r}")
    if args.replot:
        plot_scaling(json.loads((RESULTS / "perf_stages.json").read_text()), RESULTS / "perf_scaling.png")
        return 0
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    command = ".venv/bin/python benchmarks/perf.py " + " ".join(argv)
    tmp = None
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="psythemes-perf-")
        workdir = Path(tmp.name)
    t0 = time.perf_counter()
    try:
        if "startup" in parts:
            res = part_startup(args)
            res["command"] = command
            write_result("startup", res)
        if "embedding" in parts:
            res = part_embedding(args, workdir)
            res["command"] = command
            write_result("embedding", res)
        if "stages" in parts:
            res = part_stages(args, workdir)
            res["command"] = command
            write_result("stages", res)
            plot_scaling(res, RESULTS / "perf_scaling.png")
        if "onnx_kappa" in parts:
            res = part_onnx_kappa(args, workdir)
            res["command"] = command
            write_result("onnx_kappa", res)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
