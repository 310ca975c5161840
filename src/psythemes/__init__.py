"""psythemes: NLP-assisted thematic analysis of qualitative transcripts.

Stages work in memory: :mod:`psythemes.io` (read), :mod:`psythemes.segment`,
:mod:`psythemes.embed`, :mod:`psythemes.themes` (candidate themes), :mod:`psythemes.codebook`,
:mod:`psythemes.mapping`, :mod:`psythemes.agreement`, :mod:`psythemes.evaluate`,
:mod:`psythemes.report`, :mod:`psythemes.qdpx`.  :mod:`psythemes.tables` owns the tables on disk,
:mod:`psythemes.jobs` the file-level jobs, :mod:`psythemes.pipeline` the whole job (``extract``,
configured with the parts of :mod:`psythemes.config`); :mod:`psythemes.cli` is a thin layer over
them (docs/architecture.md).

Importing ``psythemes`` is cheap: stages load on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# No model hub, ever: set before any stage can import transformers or huggingface_hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# ONNX Runtime (>= 1.2x on Linux) starts a telemetry client when it is imported: it stores a
# device id and queued events under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and may try to
# reach Microsoft's collector.  Its own switch must be set before the import (calling
# disable_telemetry_events() afterwards is too late for the store); forced, not a default:
# patient data tools make no network attempt at all.  See psythemes.embed_onnx.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"

# public name -> module that defines it (loaded lazily, PEP 562)
_LAZY = {
    # data model and errors
    "Transcript": "schema",
    "Segment": "schema",
    "Turn": "schema",
    "InputError": "errors",
    "PsythemesError": "errors",
    # one call per stage
    "read_transcripts": "io",
    "read_metadata": "io",
    "segment_transcripts": "segment",
    "Embedder": "embed",
    "ThemeDiscoverer": "discover",
    "Codebook": "codebook",
    "load_codebook": "codebook",
    "default_codebook": "codebook",
    "ZeroShotMapper": "mapping",
    "FewShotMapper": "mapping",
    "map_themes": "mapping",
    "read_qdpx": "qdpx",
    "write_qdpx": "qdpx",
    "write_report": "report",
    "table_one": "report",
    # the main job (stage modules such as psythemes.evaluate / psythemes.agreement are imported by name)
    "extract": "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'psythemes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
