"""An ONNX Runtime backend for :class:`psythemes.embed.Embedder`: the same model, int8-quantised.

:class:`OnnxEncoder` turns a local sentence-transformers model folder (a BERT-type
transformer + mean pooling, optionally + normalisation, like the bundled all-MiniLM-L6-v2)
into an ONNX graph that computes the sentence embedding itself, quantises its weights to
int8 and runs it with ONNX Runtime.  Everything happens locally and once per model:

1. ``torch.onnx.export`` of the transformer with eager attention (fusable by ONNX
   Runtime), with mean pooling over the attention mask and - when the model folder has a
   ``Normalize`` module - L2 normalisation inside the graph, exactly as sentence-transformers
   computes them;
2. ``onnxruntime.quantization.quantize_dynamic`` of the ``MatMul`` weights to int8, one
   scale per output channel (per-tensor scales lost too much: mean cosine 0.94 against
   the torch vectors, against 0.99 per channel);
3. the result is kept in ``<export_dir>/model.int8.onnx`` with a ``meta.json`` that says
   how it was made; later runs load it directly.

Tokenisation uses the model folder's ``tokenizer.json`` (Hugging Face ``tokenizers``) with
the model's ``max_seq_length``.  Each text runs through the graph **alone** (batch of one, no
padding), on a single-threaded session shared by one worker thread per CPU: dynamic int8
quantisation scales the activations of each call by that call's own range, so in a batch a
vector would depend on the texts it was batched with (cosine down to 0.94 against the same
text alone, batch 16).  Alone, a text's vector depends on the text only - bit for bit,
whatever the worker count or the order - and this was also the fastest setting measured
(``benchmarks/onnx_settings.py``): small single-threaded matrix products keep both cores
busy where one two-threaded call per batch does not.
Vectors are close to the torch backend's but not identical (int8 weights): that is why the
embedding cache keeps the two apart (:data:`BACKEND_TAG` is part of the model identity).

Needs ``onnxruntime`` and ``onnx`` (for the export and the quantiser), and torch +
transformers once, for the export.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, PsythemesWarning
from .outputs import write_json

__all__ = ["OnnxEncoder", "BACKEND_TAG", "check_onnx_available", "cpu_may_saturate_int8"]

#: Identity of the export + quantisation recipe; part of the embedding cache key.  Bump it
#: whenever a change here could change the vectors.
BACKEND_TAG = "onnx-int8-dynamic-matmul-perchannel-v2-alone"
MODEL_FILE = "model.int8.onnx"
_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_onnx_available() -> None:
    """Raise :class:`InputError` when onnxruntime or onnx cannot be imported."""
    missing = []
    for module in ("onnxruntime", "onnx"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise InputError(
            f"the 'onnx' embedding backend needs {' and '.join(missing)} (pip install onnxruntime onnx); "
            "or use backend='torch'"
        )


def cpu_may_saturate_int8(cpuinfo: str | Path = "/proc/cpuinfo", machine: str | None = None) -> bool:
    """True when ONNX Runtime's fast int8 kernels may saturate on this CPU: an x86 CPU whose
    flags (``/proc/cpuinfo``) show neither AVX-512 VNNI nor AVX-VNNI, or whose flags cannot be
    read (other systems: assume the worst).  Other architectures: False."""
    import platform

    arch = (machine if machine is not None else platform.machine()).lower()
    if arch not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    try:
        text = Path(cpuinfo).read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return not ({"avx512_vnni", "avx_vnni"} & flags)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read model configuration: {err}", path=path) from err


def model_layout(model_path: str | Path) -> dict[str, Any]:
    """What the sentence-transformers folder computes: ``max_seq_length``, ``dimension``, ``normalize``.

    Raises :class:`InputError` for models this backend cannot reproduce (pooling other than
    the mean, extra modules such as Dense layers).
    """
    root = Path(model_path)
    modules = _read_json(root / "modules.json") if (root / "modules.json").is_file() else []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if unsupported or "Transformer" not in kinds or "Pooling" not in kinds:
        raise InputError(
            f"the 'onnx' backend supports Transformer + mean Pooling (+ Normalize) models; this one has {kinds}",
            path=root,
        )
    pooling_dir = next(m.get("path", "") for m in modules if str(m.get("type", "")).endswith("Pooling"))
    pooling = _read_json(root / pooling_dir / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise InputError(f"the 'onnx' backend supports mean pooling only, this model uses {modes}", path=root)
    st_config = root / "sentence_bert_config.json"
    max_len = _read_json(st_config).get("max_seq_length") if st_config.is_file() else None
    if max_len is None:
        max_len = int(_read_json(root / "config.json").get("max_position_embeddings", 512))
    return {
        "max_seq_length": int(max_len),
        "dimension": int(pooling["word_embedding_dimension"]),
        "normalize": "Normalize" in kinds,
    }


class OnnxEncoder:
    """Sentence embeddings with ONNX Runtime from an int8-quantised export of a local model.

    Parameters
    ----------
    model_path : str or Path
        Local sentence-transformers model folder (Transformer + mean Pooling [+ Normalize]).
    export_dir : str or Path
        Folder for the exported, quantised model (created; reused on later runs).
    workers : int, optional
        Texts embedded at the same time, each on one thread; default: the number of CPUs
        this process may use.  The vectors do not depend on it.
    exact_int8 : bool, optional
        Ask ONNX Runtime for exact u8u8 int8 products (``session.x64quantprecision``) instead
        of its fast u8s8 kernels, whose 16-bit intermediates can saturate on x86 CPUs without
        VNNI and spoil the vectors.  Default: only where the CPU may need it
        (:func:`cpu_may_saturate_int8`).  Where both are exact (VNNI CPUs) the vectors are the
        same bit for bit, but u8u8 is much slower (``docs/performance.md``, *The ONNX
        backend*; ``benchmarks/onnx_settings.py``).

    Attributes
    ----------
    layout_ : dict
        ``max_seq_length``, ``dimension``, ``normalize`` of the model.
    """

    def __init__(self, model_path: str | Path, export_dir: str | Path, workers: int | None = None,
                 exact_int8: bool | None = None):
        self.model_path = Path(model_path)
        self.export_dir = Path(export_dir)
        self.workers = workers
        self.exact_int8 = exact_int8
        self.layout_ = model_layout(self.model_path)

    @property
    def dimension(self) -> int:
        return self.layout_["dimension"]

    # -- export ------------------------------------------------------------------------------
    def model_file(self) -> Path:
        """Path of the quantised model, exported on first use."""
        path = self.export_dir / MODEL_FILE
        if path.is_file():
            problem = self._export_problem(path)
            if problem is not None:
                # a truncated or altered export would break this run and every later one
                warnings.warn(f"{path}: {problem}; the model is exported again", PsythemesWarning, stacklevel=3)
                path.unlink(missing_ok=True)
        if not path.is_file():
            self._export(path)
        return path

    def _export_problem(self, path: Path) -> str | None:
        """Why the export at ``path`` cannot be trusted (None: its hash matches meta.json's)."""
        from .staging import sha256_file

        try:
            recorded = json.loads((self.export_dir / "meta.json").read_text(encoding="utf-8")).get("sha256")
        except (OSError, ValueError, AttributeError):
            return "the ONNX export has no readable meta.json (interrupted export?)"
        if not recorded:
            return "the ONNX export has no recorded hash (made by an older psythemes)"
        if sha256_file(path) != recorded:
            return "the ONNX export does not match its recorded hash (damaged or truncated)"
        return None

    def _export(self, target: Path) -> None:
        check_onnx_available()
        # torch's exporter imports torch._dynamo, which creates an (empty) inductor cache folder
        # in the system temp folder at import; keep it inside psythemes' own cache instead
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(self.export_dir.parent / "torchinductor"))
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        t0 = time.perf_counter()
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(
                f"cannot create the folder for the ONNX export of the embedding model ({err.strerror or err}); "
                "point $PSYTHEMES_CACHE (or --cache-dir) to a writable folder, or use the torch backend",
                path=self.export_dir,
            ) from None
        # unique names: concurrent runs never write the same file; the rename is atomic
        tag = uuid.uuid4().hex[:12]
        fp32 = self.export_dir / f".export-{tag}.onnx"
        int8 = self.export_dir / f".quantised-{tag}.onnx"
        try:
            # eager attention exports as plain MatMul/Softmax, which ONNX Runtime fuses
            model = AutoModel.from_pretrained(str(self.model_path), attn_implementation="eager", local_files_only=True)
            wrapper = _PooledModel(model.eval(), normalize=self.layout_["normalize"])
            example = {k: torch.ones((2, 8), dtype=torch.long) for k in _INPUTS}
            example["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
            axes = {k: {0: "batch", 1: "sequence"} for k in _INPUTS}
            with torch.no_grad(), warnings.catch_warnings():
                # the tracer's notes on transformers' Python-side shape checks: the traced graph
                # has dynamic batch and sequence axes and is checked against torch in the tests
                warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
                warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
                # torch >= 2.9 calls the TorchScript exporter "legacy"; the newer one needs onnxscript,
                # which is not installed, and torch is pinned, so the legacy exporter stays available
                warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export",
                                        category=DeprecationWarning)
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
                torch.onnx.export(
                    wrapper, tuple(example[k] for k in _INPUTS), str(fp32), input_names=list(_INPUTS),
                    output_names=["sentence_embedding"], dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                    opset_version=_OPSET, dynamo=False,
                )
            # the quantiser logs a generic hint ("consider pre-processing") to the root logger; the
            # pre-processing is optional, and the quantised vectors are checked against torch in the tests
            hint = _DropMessage("pre-processing before quantization")
            logging.getLogger().addFilter(hint)
            try:
                quantize_dynamic(
                    str(fp32), str(int8), op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8
                )
            finally:
                logging.getLogger().removeFilter(hint)
            os.replace(int8, target)
        finally:
            fp32.unlink(missing_ok=True)
            int8.unlink(missing_ok=True)
        import onnxruntime

        from .staging import sha256_file

        write_json(self.export_dir / "meta.json", {
            "source_model": str(self.model_path), "recipe": BACKEND_TAG, "opset": _OPSET,
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "export_s": round(time.perf_counter() - t0, 2), **self.layout_,
            "sha256": sha256_file(target),  # checked before every use (model_file)
        })

    # -- inference ---------------------------------------------------------------------------
    @property
    def workers_(self) -> int:
        """Worker threads: ``workers``, else the CPUs this process may use."""
        if self.workers is not None:
            if not isinstance(self.workers, int) or self.workers < 1:
                raise InputError(f"workers must be a positive integer, not {self.workers!r}")
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)

    @property
    def exact_int8_(self) -> bool:
        """Whether ONNX Runtime is asked for exact (u8u8) int8 products: ``exact_int8``, else
        :func:`cpu_may_saturate_int8`."""
        return cpu_may_saturate_int8() if self.exact_int8 is None else bool(self.exact_int8)

    @property
    def session_(self) -> Any:
        if getattr(self, "_session", None) is None:
            check_onnx_available()
            import onnxruntime as ort

            # second line of defence (psythemes/__init__ sets ORT_DISABLE_TELEMETRY before any
            # import): no telemetry events from here on, even when onnxruntime was imported first
            ort.disable_telemetry_events()
            options = ort.SessionOptions()
            # one thread per call: the parallelism is across texts (see the module docstring);
            # ONNX Runtime sessions may be run from several threads at once
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            if self.exact_int8_:
                # exact u8u8 products instead of u8s8 ones with 16-bit intermediates that can
                # saturate on x86 CPUs without VNNI (ONNX Runtime's session option for this)
                options.add_session_config_entry("session.x64quantprecision", "1")
            self._session = ort.InferenceSession(str(self.model_file()), options, providers=["CPUExecutionProvider"])
            self._input_names = {i.name for i in self._session.get_inputs()}
        return self._session

    @property
    def tokenizer_(self) -> Any:
        if getattr(self, "_tokenizer", None) is None:
            from tokenizers import Tokenizer

            path = self.model_path / "tokenizer.json"
            if not path.is_file():
                raise InputError("the 'onnx' backend needs the model's fast tokenizer (tokenizer.json)",
                                 path=self.model_path)
            tok = Tokenizer.from_file(str(path))
            tok.enable_truncation(self.layout_["max_seq_length"])
            tok.no_padding()  # each text runs alone
            self._tokenizer = tok
        return self._tokenizer

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts, each alone; float32, shape ``(len(texts), dimension)``, rows in the order of ``texts``.

        ``show_progress`` draws a progress bar (tqdm) on stderr.
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not len(texts):
            return out
        session, tok = self.session_, self.tokenizer_
        # sentence-transformers strips each text before tokenising; so do we
        stripped = [str(t).strip() for t in texts]
        names = [n for n in _INPUTS if n in self._input_names]
        # longest first, handed out in small blocks: workers finish at about the same time.  Each
        # block is tokenised when it is embedded: tokenised texts are large Python objects, and
        # holding all of them at once would make memory grow with the corpus
        order = np.argsort([-len(t) for t in stripped], kind="stable")
        blocks = iter(np.array_split(order, max(1, len(order) // _BLOCK)))
        lock, stop = threading.Lock(), threading.Event()
        bar = _progress_bar(len(texts)) if show_progress else None

        def work() -> None:
            while not stop.is_set():
                with lock:
                    rows = next(blocks, None)
                if rows is None:
                    return
                for i, enc in zip(rows, tok.encode_batch([stripped[i] for i in rows]), strict=True):
                    columns = {"input_ids": enc.ids, "attention_mask": enc.attention_mask,
                               "token_type_ids": enc.type_ids}
                    feed = {n: np.array([columns[n]], dtype=np.int64) for n in names}
                    out[i] = session.run(None, feed)[0][0]
                if bar is not None:
                    with lock:
                        bar.update(len(rows))

        workers = min(self.workers_, len(texts))
        try:
            if workers == 1:
                work()
                return out
            with ThreadPoolExecutor(workers, thread_name_prefix="psythemes-onnx") as pool:
                jobs = [pool.submit(work) for _ in range(workers)]
                try:
                    for job in jobs:
                        job.result()  # re-raises a worker's error
                except BaseException:
                    stop.set()  # an error or Ctrl-C: the other workers stop after their current block
                    raise
            return out
        finally:
            if bar is not None:
                bar.close()


class _DropMessage(logging.Filter):
    """Drops log records whose message contains ``text``."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Embedding (onnx)", unit="text")


#: Texts handed to a worker at a time.
_BLOCK = 32


def _pooled_model_class() -> type:
    import torch

    class PooledModel(torch.nn.Module):
        """Transformer + mean pooling (+ L2 normalisation) as sentence-transformers computes them."""

        def __init__(self, model: Any, normalize: bool):
            super().__init__()
            self.model, self.normalize = model, normalize

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1) if self.normalize else pooled

    return PooledModel


def _PooledModel(model: Any, normalize: bool) -> Any:  # noqa: N802  (a factory: torch is imported lazily)
    return _pooled_model_class()(model, normalize)
