"""Active learning benchmark: does `psythemes next` reach a given kappa with fewer labels?

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/active_learning.py            # AnnoMI + ESConv, 5 seeds
    PYTHONPATH=src .venv/bin/python benchmarks/active_learning.py --quick    # 2 seeds, fewer budgets

The loop of issue #17 is simulated with each corpus's gold labels as the oracle.  Per seed,
30 % of the transcripts are held out as the test set; the other 70 % are the pool a
researcher codes from.  Three ways of choosing what to label are compared, all scored with
the same simple classifier (multinomial logistic regression on the all-MiniLM-L6-v2 utterance
embeddings, C = 1) on the held-out transcripts, as Cohen's kappa:

* ``active``: :class:`psythemes.active.ActiveSampler` (cold start by diversity, then
  uncertainty + diversity, balanced over predicted codes and transcripts), in batches up to
  each budget;
* ``random_segments``: utterances drawn at random from the pool;
* ``random_transcripts``: whole transcripts drawn at random (how a team usually codes), at
  5, 10 and 20 % of all transcripts.

Tasks: AnnoMI main therapist behaviour (4 codes, 133 transcripts) and ESConv supporter
strategy (8 codes) on the dialogues of ESConv's ``valid`` and ``test`` files (390 of 1,300,
see ``ESCONV_SPLITS``).

Target (issue #17): ``active`` reaches the kappa of random labelling of 20 % of the
transcripts with at most a third of those labels.  Embeddings are cached as in
``benchmarks/scoreboard.py`` (``.psythemes-cache/scoreboard/``).  Writes
``benchmarks/results/active_learning.json`` and ``active_learning.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import scoreboard as sb  # noqa: E402  (corpus loaders and the embedding cache)

from psythemes.active import ActiveSampler  # noqa: E402
from psythemes.mapping import agreement_scores  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TEST_SHARE = 0.3
TRANSCRIPT_SHARES = (0.05, 0.10, 0.20)


def _task_annomi() -> tuple[np.ndarray, list[str], np.ndarray]:
    segs, labels = sb.load_annomi()
    emb = sb.corpus_embedder("annomi", segs["text"].tolist())
    mask = labels["therapist"].notna().to_numpy()
    X = emb._vectors[mask]
    return X, labels["therapist"][mask].astype(str).tolist(), segs["doc_id"].to_numpy()[mask]


#: ESConv splits simulated: valid + test (390 of the 1,300 dialogues).  Embedding all 38,365
#: utterances took longer than the time this benchmark had on the shared 2-core machine.
ESCONV_SPLITS = ("valid", "test")


def _task_esconv() -> tuple[np.ndarray, list[str], np.ndarray]:
    segs, labels, splits = sb.load_esconv()
    keep = np.isin(np.asarray(splits), ESCONV_SPLITS)
    segs = segs[keep].reset_index(drop=True)
    labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    emb = sb.corpus_embedder("esconv-" + "-".join(ESCONV_SPLITS), segs["text"].tolist())
    mask = np.array([lab is not None for lab in labels])
    X = emb._vectors[mask]
    return X, [labels[i] for i in np.flatnonzero(mask)], segs["doc_id"].to_numpy()[mask]


TASKS = {"annomi_therapist": _task_annomi, "esconv": _task_esconv}


def _kappa(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    if len(set(y[train])) < 2:
        return 0.0  # one class known: every prediction the same, kappa 0
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X[train], y[train])
    return float(agreement_scores(list(y[test]), list(model.predict(X[test])))["kappa"])


def _budgets(l20: int, quick: bool) -> list[int]:
    # dense up to a third of the 20 %-of-transcripts labels (the target), sparser up to all of them
    third = l20 / 3
    fractions = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] if not quick else [0.25, 0.5, 1.0, 2.0, 3.0]
    return sorted({max(20, int(round(f * third))) for f in fractions})


def run_seed(X: np.ndarray, y: np.ndarray, docs: np.ndarray, seed: int, quick: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    transcripts = np.unique(docs)
    shuffled = rng.permutation(transcripts)
    n_test = int(round(TEST_SHARE * len(transcripts)))
    test_docs = set(shuffled[:n_test])
    pool_docs = shuffled[n_test:]
    test = np.flatnonzero(np.isin(docs, list(test_docs)))
    pool = np.flatnonzero(~np.isin(docs, list(test_docs)))
    out: dict[str, Any] = {"seed": seed, "n_test": int(len(test)), "n_pool": int(len(pool))}

    # whole transcripts at random, from the pool, as a share of ALL transcripts
    by_share = {}
    for share in TRANSCRIPT_SHARES:
        k = max(1, int(round(share * len(transcripts))))
        chosen = set(pool_docs[:k])  # pool_docs is already in random order
        train = np.flatnonzero(np.isin(docs, list(chosen)))
        by_share[f"{int(share * 100)}%"] = {"n_transcripts": k, "n_labels": int(len(train)),
                                            "kappa": _kappa(X, y, train, test)}
    out["random_transcripts"] = by_share
    l20 = by_share["20%"]["n_labels"]
    budgets = _budgets(l20, quick)
    out["budgets"] = budgets

    order = rng.permutation(pool)
    out["random_segments"] = [_kappa(X, y, order[:b], test) for b in budgets]

    curve = []
    labelled = np.array([], dtype=int)
    t0 = time.time()
    for b in budgets:
        need = b - len(labelled)
        if need > 0:
            sampler = ActiveSampler(n=need, random_state=seed)
            picked = sampler.select(X, labelled, list(y[labelled]), docs, candidates=pool)
            labelled = np.concatenate([labelled, picked])
        curve.append(_kappa(X, y, labelled, test))
    out["active"] = curve
    out["active_seconds"] = round(time.time() - t0, 1)
    return out


def _mean_sd(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    # budgets differ slightly per seed (the 20 % transcripts hold different numbers of
    # utterances); curves are summarised per budget *index*, with the mean budget
    n_points = min(len(r["budgets"]) for r in runs)
    points = []
    for j in range(n_points):
        a_m, a_s = _mean_sd([r["active"][j] for r in runs])
        r_m, r_s = _mean_sd([r["random_segments"][j] for r in runs])
        b_m, _ = _mean_sd([r["budgets"][j] for r in runs])
        points.append({"n_labels_mean": round(b_m, 1), "active_kappa_mean": round(a_m, 4), "active_kappa_sd": round(a_s, 4),
                       "random_segments_kappa_mean": round(r_m, 4), "random_segments_kappa_sd": round(r_s, 4)})
    transcripts = {}
    for share in runs[0]["random_transcripts"]:
        k_m, k_s = _mean_sd([r["random_transcripts"][share]["kappa"] for r in runs])
        n_m, _ = _mean_sd([r["random_transcripts"][share]["n_labels"] for r in runs])
        transcripts[share] = {"n_labels_mean": round(n_m, 1), "kappa_mean": round(k_m, 4), "kappa_sd": round(k_s, 4)}
    # the target, per seed: labels active needs (first budget) to reach that seed's kappa of
    # random 20 % transcripts, as a share of that seed's 20 % label count
    needed = []
    for r in runs:
        ref, l20 = r["random_transcripts"]["20%"]["kappa"], r["random_transcripts"]["20%"]["n_labels"]
        hit = next((b for b, k in zip(r["budgets"], r["active"], strict=True) if k >= ref), None)
        needed.append(None if hit is None else round(hit / l20, 4))
    reached = [n for n in needed if n is not None]
    return {
        "curve": points,
        "random_transcripts": transcripts,
        "active_labels_to_reach_random_20pct_kappa_share": needed,
        "target_met_in_seeds": sum(n <= 1 / 3 + 1e-9 for n in reached),
        "n_seeds": len(runs),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in results["tasks"]]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        s = results["tasks"][task]["summary"]
        x = [p["n_labels_mean"] for p in s["curve"]]
        for key, label, color in (("active", "active (psythemes next)", "C0"),
                                  ("random_segments", "random segments", "C1")):
            m = np.array([p[f"{key}_kappa_mean"] for p in s["curve"]])
            sd = np.array([p[f"{key}_kappa_sd"] for p in s["curve"]])
            ax.plot(x, m, marker="o", color=color, label=label)
            ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.2)
        rt = s["random_transcripts"]
        ax.errorbar([v["n_labels_mean"] for v in rt.values()], [v["kappa_mean"] for v in rt.values()],
                    yerr=[v["kappa_sd"] for v in rt.values()], fmt="s", color="C2",
                    label="random transcripts (5/10/20 %)")
        ref = rt["20%"]
        ax.axhline(ref["kappa_mean"], color="C2", lw=0.8, ls="--")
        ax.axvline(ref["n_labels_mean"] / 3, color="grey", lw=0.8, ls=":", label="1/3 of the 20 % labels")
        ax.set_title(f"{task} ({s['n_seeds']} seeds, mean ± sd)")
        ax.set_xlabel("labelled segments")
        ax.set_ylabel("Cohen's kappa on held-out transcripts")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds and fewer budgets")
    parser.add_argument("--only", choices=sorted(TASKS), action="append")
    parser.add_argument("--few-budgets", action="store_true",
                        help="5 label budgets instead of 8 (ESConv on a busy machine)")
    args = parser.parse_args(argv)
    n_seeds = 2 if args.quick else args.seeds
    results: dict[str, Any] = {"command": "benchmarks/active_learning.py " + " ".join(argv or sys.argv[1:]),
                               "esconv_splits": list(ESCONV_SPLITS),
                               "load_average_start": os.getloadavg(), "test_share": TEST_SHARE,
                               "classifier": "LogisticRegression(C=1) on all-MiniLM-L6-v2 embeddings", "tasks": {}}
    t0 = time.time()
    suffix = "_quick" if args.quick else ""
    for name in args.only or sorted(TASKS):
        X, labels, docs = TASKS[name]()
        y = np.asarray(labels)
        print(f"{name}: {len(y)} labelled utterances in {len(np.unique(docs))} transcripts, "
              f"{len(set(labels))} codes", flush=True)
        runs = []
        for seed in range(n_seeds):
            run = run_seed(X, y, docs, seed, args.quick or args.few_budgets)
            runs.append(run)
            print(f"  seed {seed}: 20 % transcripts = {run['random_transcripts']['20%']['n_labels']} labels, "
                  f"kappa {run['random_transcripts']['20%']['kappa']:.3f}; active "
                  + ", ".join(f"{b}:{k:.3f}" for b, k in zip(run["budgets"], run["active"], strict=True))
                  + f" ({run['active_seconds']} s)", flush=True)
            # written after every seed, so a run cut short still leaves its seeds on disk
            results["tasks"][name] = {"n_utterances": int(len(y)), "n_transcripts": int(len(np.unique(docs))),
                                      "summary": summarise(runs), "runs": runs,
                                      # per task: --only runs of other tasks keep their own
                                      "run": {"command": results["command"],
                                              "load_average_start": results["load_average_start"],
                                              "load_average_end": os.getloadavg(),
                                              "seconds": round(time.time() - t0, 1)}}
            _write(results, args, suffix, t0)
        summary = results["tasks"][name]["summary"]
        ref = summary["random_transcripts"]["20%"]
        print(f"  random 20 % transcripts: {ref['n_labels_mean']:.0f} labels, kappa {ref['kappa_mean']:.3f} ± "
              f"{ref['kappa_sd']:.3f}", flush=True)
        for p in summary["curve"]:
            print(f"  {p['n_labels_mean']:>7.0f} labels  active {p['active_kappa_mean']:.3f} ± {p['active_kappa_sd']:.3f}"
                  f"  random {p['random_segments_kappa_mean']:.3f} ± {p['random_segments_kappa_sd']:.3f}", flush=True)
        print(f"  share of the 20 % labels active needed per seed: {summary['active_labels_to_reach_random_20pct_kappa_share']}"
              f" (target <= 0.333 met in {summary['target_met_in_seeds']}/{summary['n_seeds']} seeds)", flush=True)
    print(f"-> {RESULTS / f'active_learning{suffix}.json'}, {RESULTS / f'active_learning{suffix}.png'}")
    return 0


def _write(results: dict[str, Any], args: argparse.Namespace, suffix: str, t0: float) -> None:
    results = dict(results)
    results["seconds"] = round(time.time() - t0, 1)
    results["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = RESULTS / f"active_learning{suffix}.json"
    if args.only and previous.exists():  # --only: keep the other tasks of an earlier run
        earlier = json.loads(previous.read_text(encoding="utf-8"))
        results["tasks"] = {**{k: v for k, v in earlier.get("tasks", {}).items() if k not in results["tasks"]},
                            **results["tasks"]}
    previous.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    plot(results, RESULTS / f"active_learning{suffix}.png")


if __name__ == "__main__":
    raise SystemExit(main())
