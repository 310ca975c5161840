"""The main job on a Dask cluster: segment, embed and map on the workers, themes fitted once.

:func:`extract` runs :func:`psythemes.pipeline.extract` with a :class:`DaskRunner` in charge of
the stages that grow with the data:

* **segment** — transcripts are split into partitions of whole documents (a segment's previous
  turn is always in its own partition) and pickled into the work folder
  (``transcripts/part-NNNNN.pkl``, :class:`StoredTranscripts`); each worker reads its partition
  there, segments it and stores the segments as partitioned Parquet (``segments/part-NNNNN.parquet``);
* **embed** — ``map_partitions`` over that Parquet: each worker process loads the embedding
  model once (:func:`_worker_embedder`) and writes one ``.npy`` of vectors per partition;
* **themes** — one BERTopic fit on the client, on a seeded sample of at most ``theme_sample``
  segments (all of them when the corpus is smaller, which is then exactly the single-process
  fit); segments outside the sample go, on the workers, to the theme whose centroid is most
  similar (the centroids are broadcast);
* **map** — ``map_partitions`` again: each worker fits the zero-shot mapper once and codes its
  partitions from the stored vectors.

Reading the inputs, evaluation, the report and writing stay on the client: the tables are
gathered there and written by the pipeline's own writer, so the outputs are the same files as a
single-process run (the report's saturation plot, a bar per transcript, is drawn on a worker:
:meth:`DaskRunner.run_on_worker`).  The client keeps a :class:`StoredTranscripts` instead of the
transcripts and gives freed memory back after each stage (:meth:`DaskRunner.release_memory`).  See
docs/scaling.md ("The client's memory", and what this means at 100M segments).

Dask is an optional extra (``pip install "psythemes[dask]"``): nothing imports it unless a
scheduler is given.
"""

from __future__ import annotations

import functools
import pickle
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

from .errors import InputError
from .schema import Transcript

__all__ = ["DaskRunner", "StoredTranscripts", "extract", "default_partitions", "local_cluster",
           "DEFAULT_PARTITION_CHARS", "DEFAULT_THEME_SAMPLE", "LOCAL_CLUSTER_CONFIG"]

#: Largest sample the theme model is fitted on (BERTopic holds it, its c-TF-IDF and UMAP in memory).
DEFAULT_THEME_SAMPLE = 50_000

#: Most text (characters) a default partition holds.  A worker's memory grows with the partition
#: it works on (its segments, their vectors and codes), not with the corpus: 4 partitions per worker
#: alone gave one worker 250,000 segments and a 2.5 GB peak on a 1M-segment run (docs/scaling.md).
DEFAULT_PARTITION_CHARS = 4_000_000

#: Dask settings of the LocalCluster psythemes starts (:func:`local_cluster`).  Dask's defaults
#: serve its dashboard: a statistical profiler sampling every worker's stack every 10 ms, an
#: event-loop tick every 20 ms and a system monitor every 500 ms.  A batch run has no dashboard,
#: and on a 2-core machine these took CPU from the embedding: 2 workers embedded 505-513 texts/s
#: with the defaults and 546 without (benchmarks/experiments/dask_diagnostics_overhead.py,
#: docs/scaling.md).  The worker's memory
#: monitor, which pauses or restarts a worker near its memory limit, keeps its default.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}

#: Column holding the partition number in the stored segment Parquet.
_PART = "_partition"


def _client(scheduler: Any) -> tuple[Any, Any]:
    """(client, cluster we started or None) for ``local``, ``local:N``, ``tcp://...`` or a Client."""
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - depends on the install
        raise InputError('a scheduler needs the Dask extra: pip install "psythemes[dask]"') from err
    if isinstance(scheduler, Client):
        return scheduler, None
    text = str(scheduler)
    if text == "local" or text.startswith("local:"):
        count = text.partition(":")[2] or "0"
        if not count.isdigit():
            raise InputError(f"scheduler {text!r}: write local or local:N (N worker processes)")
        cluster = local_cluster(int(count) or None)
        return Client(cluster), cluster
    if text.startswith(("tcp://", "tls://")):
        return Client(text), None
    raise InputError(f"unknown scheduler {text!r}: use local, local:N, tcp://HOST:PORT or a distributed.Client")


def local_cluster(n_workers: int | None = None) -> Any:
    """The LocalCluster that ``scheduler="local[:N]"`` starts: ``n_workers`` processes (default:
    one per core) of one thread each, no dashboard, :data:`LOCAL_CLUSTER_CONFIG`.

    One thread per worker: the embedding model and BLAS already use the cores they get.  The
    caller closes it (``with local_cluster(2) as cluster, Client(cluster) as client: ...``).
    """
    import dask
    from distributed import LocalCluster

    # the settings are read as the scheduler and the workers start (a worker process gets the
    # configuration its nanny had), so they need only hold while the cluster is created
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


class DaskRunner:
    """The segment, embed, themes and map stages of :func:`psythemes.pipeline.extract` on Dask.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local"`` / ``"local:N"`` (a LocalCluster of N worker processes, closed after the
        run), ``"tcp://HOST:PORT"`` (an existing scheduler) or a ``distributed.Client``.
    partitions : int, optional
        Number of partitions (of whole transcripts); default: 4 per worker, or more where that
        would put over ``DEFAULT_PARTITION_CHARS`` characters of text in one partition.
    theme_sample : int, default DEFAULT_THEME_SAMPLE
        Fit the theme model on a seeded sample of at most this many segments.
    work_dir : str or Path, optional
        Where the stored transcripts, the segment Parquet and the vectors go; on a multi-machine
        cluster it must be a folder every worker and the client can read.  Default: a temporary
        folder; its segments and vectors are removed when the run ends, the stored transcripts
        (read by the run's ``ExtractResult.transcripts``) when that result is gone.
    """

    def __init__(self, scheduler: Any, *, partitions: int | None = None, theme_sample: int = DEFAULT_THEME_SAMPLE,
                 work_dir: str | Path | None = None):
        if partitions is not None and partitions < 1:
            raise InputError(f"partitions must be >= 1, not {partitions}")
        if theme_sample < 2:
            raise InputError(f"theme_sample must be >= 2, not {theme_sample}")
        self.scheduler = scheduler
        self.partitions = partitions
        self.theme_sample = theme_sample
        self.work_dir = work_dir
        self.client_, self._cluster = _client(scheduler)
        if work_dir is None:
            self._temporary: _TemporaryFolder | None = _TemporaryFolder("psythemes-dask-")
            self.work_dir_ = self._temporary.path
        else:
            self._temporary = None
            self.work_dir_ = Path(work_dir)
            self.work_dir_.mkdir(parents=True, exist_ok=True)
        self.timings_: dict[str, float] = {}

    # -- what the pipeline calls ---------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Scheduler, workers and partitions of this run (for the manifest)."""
        workers = self.client_.scheduler_info(n_workers=-1).get("workers", {}) if self.client_ else {}
        return {"scheduler": self.scheduler if isinstance(self.scheduler, str) else "client",
                "workers": len(workers), "partitions": getattr(self, "n_partitions_", None),
                "theme_sample": self.theme_sample, "theme_sample_used": getattr(self, "sample_size_", None)}

    def store_transcripts(self, transcripts: Sequence[Transcript]) -> StoredTranscripts:
        """Pickle the transcripts into the work folder, one file per partition of whole documents.

        The workers then read their own partitions, and the client need not hold (nor ship
        through the scheduler) every transcript while the run goes on: the pipeline keeps the
        returned :class:`StoredTranscripts` instead of the list.
        """
        if isinstance(transcripts, StoredTranscripts):
            return transcripts
        n_workers = max(1, len(self.client_.scheduler_info(n_workers=-1).get("workers", {})))
        n_parts = max(1, min(len(transcripts), self.partitions or default_partitions(
            n_workers, sum(len(t.text) for t in transcripts))))
        # contiguous chunks keep the single-process order of documents and segments
        chunks = [c for c in np.array_split(np.arange(len(transcripts)), n_parts) if len(c)]
        return StoredTranscripts.write(self.work_dir_ / "transcripts",
                                       ([transcripts[i] for i in chunk] for chunk in chunks),
                                       keep_alive=self._temporary)

    def segment_transcripts(self, transcripts: Sequence[Transcript], **options: Any
                            ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Segment on the workers (whole transcripts per partition); store the segments as Parquet."""
        import dask

        stored = self.store_transcripts(transcripts)
        folder = self.work_dir_ / "segments"
        folder.mkdir(parents=True, exist_ok=True)
        # each task gets a file name, not the transcripts: the worker reads its partition itself
        tasks = [dask.delayed(_segment_part)(str(path), k, str(folder), options)
                 for k, path in enumerate(stored.paths)]
        parts = dask.compute(*tasks)
        self.n_partitions_ = len(parts)
        self.segments_dir_ = folder
        # a column that is all None in one partition is object there: infer again, as one frame would
        segments = pd.concat([p[0] for p in parts], ignore_index=True).infer_objects()
        dropped = pd.concat([p[1] for p in parts], ignore_index=True).infer_objects()
        self.part_rows_ = [len(p[0]) for p in parts]
        return segments, dropped

    def embed(self, embedder: Any, segments: pd.DataFrame) -> _StoredVectors:
        """Embed every partition on the workers; returns a handle to the stored vectors."""
        spec = _embedder_spec(embedder)
        folder = self.work_dir_ / "vectors"
        folder.mkdir(parents=True, exist_ok=True)
        counts = (self._frame()
                  .map_partitions(_embed_part, spec, str(folder), meta={"n_encoded": "i8", "n_cached": "i8"})
                  .compute())
        # the pipeline reads these into the manifest's cache figures
        embedder.stats_ = {"n_texts": int(len(segments)), "n_encoded": int(counts["n_encoded"].sum()),
                           "n_cached": int(counts["n_cached"].sum())}
        self.vectors_ = _StoredVectors(folder, self.part_rows_)
        return self.vectors_

    def fit_themes(self, discoverer: Any, segments: pd.DataFrame, vectors: _StoredVectors, *,
                   metadata: pd.DataFrame | None = None) -> Any:
        """Fit the theme model once on a seeded sample; assign the other segments on the workers."""
        n = len(segments)
        if n <= self.theme_sample:
            rows = np.arange(n)  # the whole corpus in order: exactly the single-process fit
        else:
            rng = np.random.default_rng(discoverer.random_state)
            rows = np.sort(rng.choice(n, size=self.theme_sample, replace=False))
        self.sample_size_ = int(len(rows))
        discoverer.fit(segments.iloc[rows].reset_index(drop=True), vectors.take(rows), metadata=metadata)
        if len(rows) < n:
            self._assign_rest(discoverer, segments, rows)
        return discoverer

    def map(self, segments: pd.DataFrame, discoverer: Any, book: Any, embedder: Any, *, method: str,
            model: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Machine codes on the workers (from the stored vectors); theme -> code on the client."""
        from .mapping import ZeroShotMapper, map_themes
        from .tables import quote_texts

        spec = _embedder_spec(embedder)
        meta = _code_meta()
        codes = (self._frame()
                 .map_partitions(_map_part, spec, str(self.vectors_.folder), book, method,
                                 str(model) if model is not None else None, meta=meta)
                 .compute())
        codes = codes.reset_index(drop=True)
        zero_shot = ZeroShotMapper(book, embedder=embedder).fit()
        theme_codes = map_themes(discoverer.themes_, discoverer.theme_centroids_, zero_shot,
                                 quotes=quote_texts(discoverer.themes_, discoverer.quotes_))
        return codes, theme_codes

    def run_on_worker(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` in a worker process; its answer comes back (the pipeline draws the
        report's saturation plot so: the client need not hold matplotlib's artists)."""
        return self.client_.submit(function, *args, pure=False).result()

    def release_memory(self) -> None:
        """Give memory the client has freed back to the system (the pipeline calls this after each stage).

        Freed Python objects, NumPy buffers and Arrow buffers stay with their allocators (glibc's
        malloc, Arrow's pool) for reuse; without this a stage's temporary tables would still count
        in the client's resident memory while the next stage adds its own.
        """
        release_memory()

    def close(self) -> None:
        """Close a cluster this runner started and empty a temporary work folder.

        The stored transcripts stay until the last :class:`StoredTranscripts` reading them (the
        run's ``ExtractResult.transcripts``) is gone; the folder goes with them.
        """
        if self._cluster is not None:
            self.client_.close()
            self._cluster.close()
            self._cluster = None
        if self._temporary is not None:
            for name in ("segments", "vectors"):
                shutil.rmtree(self.work_dir_ / name, ignore_errors=True)
            self._temporary = None

    # -- internals -----------------------------------------------------------------------------
    def _frame(self) -> Any:
        import dask
        import dask.dataframe as dd

        # keep pandas' object strings: the gathered tables must equal the single-process ones
        with dask.config.set({"dataframe.convert-string": False}):
            files = sorted(self.segments_dir_.glob("part-*.parquet"))
            return dd.read_parquet([str(f) for f in files])

    def _assign_rest(self, discoverer: Any, segments: pd.DataFrame, rows: np.ndarray) -> None:
        import dask

        from .themes import DECIMALS

        centroids = discoverer.theme_centroids_
        theme_ids = discoverer.themes_["theme_id"].to_numpy(dtype=int)
        in_sample = np.zeros(len(segments), dtype=bool)
        in_sample[rows] = True
        central = self.client_.scatter((centroids, theme_ids), broadcast=True)
        # a partition without segments (say, interviewer turns only) has no vectors file
        tasks = [dask.delayed(_assign_part)(str(path), central)
                 for path, rows_in in zip(self.vectors_.paths(), self.vectors_.part_rows, strict=True) if rows_in]
        assigned = dask.compute(*tasks)
        topics = np.concatenate([a[0] for a in assigned]) if assigned else np.zeros(0, dtype=int)
        similarity = np.concatenate([a[1] for a in assigned]) if assigned else np.zeros(0)
        # sample segments keep the labels of the fit itself
        fitted = discoverer.segment_themes_
        topics[rows] = fitted[fitted.columns[1]].to_numpy(dtype=int)
        probability = np.full(len(segments), np.nan)
        probability[rows] = fitted[fitted.columns[2]].to_numpy(dtype=float)
        similarity[rows] = fitted["similarity"].to_numpy(dtype=float)
        discoverer.segment_themes_ = pd.DataFrame({
            fitted.columns[0]: segments["segment_id"].astype(str).to_numpy(),
            fitted.columns[1]: topics,
            fitted.columns[2]: probability,
            "similarity": np.round(similarity, DECIMALS),
        })
        discoverer.labels_ = topics
        discoverer.segments_ = segments.reset_index(drop=True).copy()
        discoverer.outlier_share_ = float(np.mean(topics == -1))
        counts = pd.Series(topics).value_counts()
        themes = discoverer.themes_.copy()
        themes["size"] = [int(counts.get(t, 0)) for t in themes["theme_id"]]
        themes["share"] = (themes["size"] / len(segments)).round(DECIMALS)
        themes["n_docs"] = [int(segments.loc[topics == t, "doc_id"].nunique()) for t in themes["theme_id"]]
        discoverer.themes_ = themes


def default_partitions(n_workers: int, n_chars: int) -> int:
    """Partitions for a corpus of ``n_chars`` characters on ``n_workers`` workers.

    Four per worker, so that the work balances; more where a partition would otherwise hold over
    ``DEFAULT_PARTITION_CHARS`` characters, so that a worker's peak memory does not grow with the
    corpus.
    """
    return max(4 * max(1, n_workers), -(-n_chars // DEFAULT_PARTITION_CHARS))


def release_memory() -> None:
    """Collect garbage, then ask glibc (``malloc_trim``) and Arrow's pool to return free memory."""
    import gc
    import sys

    gc.collect()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:  # only when something used it: importing it here would cost memory
        pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where there is none (macOS, Windows, musl)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


class _TemporaryFolder:
    """A temporary folder, removed when no object holds this any more (or when Python exits)."""

    def __init__(self, prefix: str):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        weakref.finalize(self, shutil.rmtree, self.path, True)


class StoredTranscripts(Sequence[Transcript]):
    """Transcripts pickled one file per partition (``part-NNNNN.pkl``), read back when needed.

    A read-only sequence in the original order: ``len`` is known without reading, iterating
    reads one partition at a time, so a pass over a million segments' transcripts (metadata,
    ``transcripts.jsonl``, ``project.qdpx``) holds one partition in memory, not all of them.

    Parameters
    ----------
    paths : list of Path
        The partition files, in order.
    sizes : list of int
        Transcripts in each file.
    keep_alive : object, optional
        Held as long as this object lives (the temporary work folder the files are in).
    """

    def __init__(self, paths: list[Path], sizes: list[int], *, keep_alive: Any = None):
        if len(paths) != len(sizes):
            raise ValueError("one size per partition file")
        self.paths = paths
        self.sizes = sizes
        self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=int)]).astype(int)
        self._keep_alive = keep_alive

    @classmethod
    def write(cls, folder: Path, partitions: Iterator[list[Transcript]] | Sequence[list[Transcript]], *,
              keep_alive: Any = None) -> StoredTranscripts:
        """Pickle each partition (a list of transcripts) to ``folder/part-NNNNN.pkl``."""
        folder.mkdir(parents=True, exist_ok=True)
        paths, sizes = [], []
        for k, part in enumerate(partitions):
            path = folder / f"part-{k:05d}.pkl"
            with open(path, "wb") as fh:
                pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
            paths.append(path)
            sizes.append(len(part))
        return cls(paths, sizes, keep_alive=keep_alive)

    @staticmethod
    def read_partition(path: str | Path) -> list[Transcript]:
        """The transcripts of one partition file."""
        with open(path, "rb") as fh:
            part: list[Transcript] = pickle.load(fh)  # our own file, written by write()
        return part

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __iter__(self) -> Iterator[Transcript]:
        for path in self.paths:
            yield from self.read_partition(path)

    @overload
    def __getitem__(self, index: int) -> Transcript: ...

    @overload
    def __getitem__(self, index: slice) -> list[Transcript]: ...

    def __getitem__(self, index: int | slice) -> Transcript | list[Transcript]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("transcript index out of range")
        k = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return self.read_partition(self.paths[k])[index - self._offsets[k]]

    def __repr__(self) -> str:
        return f"StoredTranscripts({len(self)} transcripts in {len(self.paths)} files)"


class _StoredVectors:
    """Embeddings kept on disk, one ``part-NNNNN.npy`` per partition (rows in partition order)."""

    def __init__(self, folder: Path, part_rows: list[int]):
        self.folder = folder
        self.part_rows = part_rows
        self.offsets = np.concatenate([[0], np.cumsum(part_rows)]).astype(int)

    def paths(self) -> list[Path]:
        return [self.folder / f"part-{k:05d}.npy" for k in range(len(self.part_rows))]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of global rows ``rows`` (sorted), read partition by partition (memory-mapped)."""
        out = []
        for k, path in enumerate(self.paths()):
            lo, hi = self.offsets[k], self.offsets[k + 1]
            local = rows[(rows >= lo) & (rows < hi)] - lo
            if len(local):
                out.append(np.asarray(np.load(path, mmap_mode="r")[local]))
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)


# ----------------------------------------------------------------------------- worker side
# These run in the worker processes; module globals keep one model per worker process.

_WORKER_EMBEDDERS: dict[tuple, Any] = {}
_WORKER_MAPPERS: dict[tuple, Any] = {}


def _embedder_spec(embedder: Any) -> tuple:
    cache = embedder.cache_dir
    return (str(embedder.model) if embedder.model is not None else None, embedder.batch_size, embedder.normalize,
            str(cache) if isinstance(cache, Path) else cache, embedder.context, embedder.device, embedder.backend_)


def _worker_embedder(spec: tuple) -> Any:
    """This worker's Embedder for ``spec``: the model is loaded once per worker process."""
    if spec not in _WORKER_EMBEDDERS:
        from .embed import Embedder

        model, batch_size, normalize, cache_dir, context, device, backend = spec
        embedder = Embedder(model=model, batch_size=batch_size, normalize=normalize, cache_dir=cache_dir,
                            context=context, device=device, backend=backend, show_progress=False)
        if backend == "onnx":
            # the encoder would start one thread per CPU in every worker process: give it the
            # worker's own threads, so that N workers on N cores do not run N x N threads
            embedder.onnx_model_.workers = _worker_threads()
        _WORKER_EMBEDDERS[spec] = embedder
    return _WORKER_EMBEDDERS[spec]


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):  # not in a Dask worker
        return None


def _segment_part(transcripts_path: str, number: int, folder: str, options: dict[str, Any]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .segment import segment_transcripts

    transcripts = StoredTranscripts.read_partition(transcripts_path)
    segments, dropped = segment_transcripts(transcripts, **{**options, "return_dropped": True})
    segments.assign(**{_PART: number}).to_parquet(Path(folder) / f"part-{number:05d}.parquet", index=False)
    return segments, dropped


def _part_number(part: pd.DataFrame) -> int | None:
    return int(part[_PART].iloc[0]) if len(part) else None


def _embed_part(part: pd.DataFrame, spec: tuple, folder: str) -> pd.DataFrame:
    number = _part_number(part)
    if number is None:
        return pd.DataFrame({"n_encoded": pd.Series([], dtype="i8"), "n_cached": pd.Series([], dtype="i8")})
    embedder = _worker_embedder(spec)
    vectors = embedder.embed_segments(part.drop(columns=[_PART]))
    np.save(Path(folder) / f"part-{number:05d}.npy", vectors)
    stats = embedder.stats_
    return pd.DataFrame({"n_encoded": [int(stats["n_encoded"])], "n_cached": [int(stats["n_cached"])]})


def _worker_mapper(spec: tuple, book: Any, method: str, model: str | None) -> Any:
    key = (spec, book.hash(), method, model)
    if key not in _WORKER_MAPPERS:
        from .mapping import FewShotMapper, ZeroShotMapper

        embedder = _worker_embedder(spec)
        # few-shot always comes with a model folder
        _WORKER_MAPPERS[key] = (FewShotMapper.load(model, embedder=embedder)  # type: ignore[arg-type]
                                if method == "few-shot"
                                else ZeroShotMapper(book, embedder=embedder).fit())
    return _WORKER_MAPPERS[key]


def _map_part(part: pd.DataFrame, spec: tuple, folder: str, book: Any, method: str, model: str | None) -> pd.DataFrame:
    number = _part_number(part)
    if number is None:
        return _code_meta()
    segments = part.drop(columns=[_PART]).reset_index(drop=True)
    mapper = _worker_mapper(spec, book, method, model)
    embedder = _worker_embedder(spec)
    if spec[4] is None or method == "zero-shot":
        # the stored vectors: no second embedding, and with context the same vectors as the themes
        from .embed import vectors_for_mapping

        vectors = np.load(Path(folder) / f"part-{number:05d}.npy")
        mapper.embedder_ = vectors_for_mapping(embedder, segments, vectors, trained=method == "few-shot")
    try:
        return mapper.predict(segments)
    finally:
        mapper.embedder_ = embedder


def _code_meta() -> pd.DataFrame:
    from .schema import CODE_COLUMNS

    return pd.DataFrame({c: pd.Series([], dtype=object) for c in [*CODE_COLUMNS, "evidence"]})


def _assign_part(path: str, central: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    centroids, theme_ids = central
    vectors = np.load(path)
    if not len(theme_ids):
        return np.full(len(vectors), -1, dtype=int), np.zeros(len(vectors))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = (vectors / np.where(norms > 0, norms, 1.0)) @ centroids.T
    best = sims.argmax(axis=1)
    return theme_ids[best].astype(int), sims[np.arange(len(vectors)), best].astype(float)


# ----------------------------------------------------------------------------- entry point


def extract(inputs: Any, out_dir: str | Path | None = None, *, scheduler: Any = "local", partitions: int | None = None,
            theme_sample: int | None = None, work_dir: str | Path | None = None, **options: Any) -> Any:
    """:func:`psythemes.pipeline.extract` on a Dask cluster; same arguments, same outputs.

    Parameters
    ----------
    inputs, out_dir, **options
        As for :func:`psythemes.pipeline.extract`.
    scheduler : str or distributed.Client
        See :class:`DaskRunner`.
    partitions, theme_sample, work_dir
        See :class:`DaskRunner` (``theme_sample=None``: :data:`DEFAULT_THEME_SAMPLE`).

    Returns
    -------
    psythemes.pipeline.ExtractResult
    """
    from .pipeline import extract as run_extract

    runner = DaskRunner(scheduler, partitions=partitions, work_dir=work_dir,
                        theme_sample=DEFAULT_THEME_SAMPLE if theme_sample is None else theme_sample)
    try:
        return run_extract(inputs, out_dir, scheduler=runner, **options)
    finally:
        runner.close()
