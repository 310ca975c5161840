"""The configured parts of :func:`psythemes.extract`, and the parts of a run in a file.

A parts file (YAML or JSON) names the parts of :func:`psythemes.extract` and their parameters,
in the same shape as the ``parts`` section that every run writes into ``manifest.json``::

    segmenter: {class: WindowSegmenter, window_size: 4, stride: 2}
    discoverer: {preset: fast, n_themes: 12, top_n_words: 8}
    mapper: {threshold: 0.4, max_codes: 2}
    evaluation_options: {consensus: union, ci: 0.9}

so ``psythemes extract ... --parts old-run/manifest.json`` runs again with the analysis parts
of an earlier run (its ``read_options`` are left out: the inputs are given again).  Parts that
hold other parts get the run's own (a recorded ``embedder`` inside the discoverer or the mapper
is left out), and the mapper always codes with the run's codebook.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import InputError, did_you_mean

__all__ = ["PART_NAMES", "PART_SHORTCUTS", "ReadOptions", "EvaluationOptions", "read_parts", "build_parts",
           "describe_part"]

#: Parts a file may configure, in the order :func:`psythemes.extract` runs them.
PART_NAMES = ("read_options", "segmenter", "embedder", "discoverer", "mapper", "evaluation_options")


@dataclass(frozen=True, eq=False)
class ReadOptions:
    """How :func:`extract` reads its inputs (see :func:`psythemes.io.read_transcripts`).

    Attributes
    ----------
    format : str
        Input format, ``"auto"`` from the file suffix.
    metadata : path or DataFrame, optional
        Metadata sidecar (``doc_id`` + participant, role, wave, ...).
    speaker_roles : str or mapping, optional
        Speaker globs to roles (``"Interviewer=interviewer,P*=patient"``).
    encoding : str, optional
        Text encoding of transcript files (default: detect).
    label_patterns : sequence of str, optional
        Extra speaker-label regexes for plain text.
    qdpx_positions : {"auto", "utf16", "codepoints"}
        How a ``.qdpx`` input or gold counts selection positions.
    """

    format: str = "auto"
    metadata: Any = None
    speaker_roles: Any = None
    encoding: str | None = None
    label_patterns: tuple[str, ...] | None = None
    qdpx_positions: str = "auto"

    def manifest_params(self) -> dict[str, Any]:
        """JSON-friendly values for the run manifest (a metadata table is named, not copied)."""
        out = dict(vars(self))
        if isinstance(self.metadata, (str, Path)):
            out["metadata"] = str(self.metadata)
        elif self.metadata is not None:
            out["metadata"] = "dataframe"
        out["label_patterns"] = list(self.label_patterns) if self.label_patterns else None
        return out


@dataclass(frozen=True)
class EvaluationOptions:
    """How :func:`extract` compares machine codes with the gold (see :func:`psythemes.evaluate.evaluate`).

    Attributes
    ----------
    overlap : float
        Share of span or segment that aligns a gold span with a segment.
    consensus : {"majority", "union", "intersection"}
        How several gold coders make the reference.
    ci : float or None
        Confidence level of the bootstrap intervals.
    n_boot : int
        Bootstrap resamples.
    gold_coders : tuple of str, optional
        Coders whose codes are gold (default: every coder except ``psythemes``).
    roles : "gold", tuple of str or None
        Units of which roles are evaluated: ``"gold"`` those the gold codes when it codes some
        roles only, a tuple those roles, ``None`` all (see :func:`psythemes.evaluate.evaluate`).
    documents : {"gold", "all"}
        Which documents each coder coded: those with their gold rows, or all (see
        :func:`psythemes.evaluate.evaluate`).
    """

    overlap: float = 0.5
    consensus: str = "majority"
    ci: float | None = 0.95
    n_boot: int = 1000
    gold_coders: tuple[str, ...] | None = None
    roles: str | tuple[str, ...] | None = "gold"
    documents: Literal["gold", "all"] = "gold"

    def manifest_params(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["gold_coders"] = list(self.gold_coders) if self.gold_coders is not None else None
        out["roles"] = list(self.roles) if isinstance(self.roles, tuple) else self.roles
        return out


#: The keyword shortcuts of :func:`extract` that build each configured part; a part handed in
#: whole replaces them (giving both is an error).
PART_SHORTCUTS: dict[str, tuple[str, ...]] = {
    "read_options": ("format", "metadata", "speaker_roles", "encoding", "qdpx_positions"),
    "segmenter": ("unit", "lang"),
    "embedder": ("embedding_model", "embedding_backend", "context"),
    "discoverer": ("preset", "min_topic_size", "n_themes", "reduce_outliers", "theme_runs", "theme_fallback"),
    "mapper": ("method", "model", "single_label", "roles"),
    "evaluation_options": ("overlap", "n_boot", "gold_coders", "evaluate_roles"),
}


def _classes() -> dict[str, dict[str, Any]]:
    from .discover import ThemeDiscoverer
    from .embed import Embedder
    from .mapping import ZeroShotMapper
    from .segment import SentenceSegmenter, TurnSegmenter, WindowSegmenter

    return {
        "read_options": {"ReadOptions": ReadOptions},
        "segmenter": {"TurnSegmenter": TurnSegmenter, "SentenceSegmenter": SentenceSegmenter,
                      "WindowSegmenter": WindowSegmenter},
        "embedder": {"Embedder": Embedder},
        "discoverer": {"ThemeDiscoverer": ThemeDiscoverer},
        "mapper": {"ZeroShotMapper": ZeroShotMapper},
        "evaluation_options": {"EvaluationOptions": EvaluationOptions},
    }


def read_parts(path: str | Path) -> dict[str, dict[str, Any]]:
    """The part settings of a YAML/JSON parts file, or of a run's ``manifest.json``.

    Raises
    ------
    InputError
        Unreadable file, not a mapping, or a part name that is not one of :data:`PART_NAMES`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("parts file not found", path=path)
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        raise InputError(f"cannot read parts file: {err}", path=path) from None
    if isinstance(data, Mapping) and "psythemes" in data and "parts" not in data:
        raise InputError("this run manifest records no parts (an older psythemes wrote it): give a parts file",
                         path=path)
    if isinstance(data, Mapping) and isinstance(data.get("parts"), Mapping) and "psythemes" in data:
        # a run's manifest: its analysis parts; how the old run read its inputs is not this run's
        # business, and a trained few-shot mapper is given again as --mapper, not rebuilt
        data = {k: v for k, v in data["parts"].items() if k != "read_options"
                and not (k == "mapper" and isinstance(v, Mapping) and v.get("class") == "FewShotMapper")}
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise InputError("a parts file maps part names to their parameters (see docs/architecture.md)", path=path)
    unknown = [k for k in data if k not in PART_NAMES]
    if unknown:
        raise InputError(f"unknown part(s) {', '.join(map(repr, unknown))}{did_you_mean(unknown[0], PART_NAMES)}; "
                         f"parts: {', '.join(PART_NAMES)}", path=path)
    return {name: dict(params) for name, params in data.items()}


def build_parts(settings: Mapping[str, Mapping[str, Any]], *, codebook: Any = None,
                source: str | Path | None = None) -> dict[str, Any]:
    """Parts built from :func:`read_parts` settings, ready for :func:`psythemes.extract`.

    Parameters
    ----------
    settings : mapping
        Part name -> parameters (a ``class`` entry picks the class where a part has several).
    codebook : Codebook, path or name, optional
        The run's codebook, given to the mapper (a recorded ``codebook`` is not used).
    source : path, optional
        The parts file, named in errors.

    Returns
    -------
    dict
        Part name -> configured object, for ``extract(**parts)``.

    Raises
    ------
    InputError
        An unknown class or parameter (with the closest name).
    """
    classes = _classes()
    parts: dict[str, Any] = {}
    for name, params in settings.items():
        params = dict(params)
        options = classes[name]
        class_name = params.pop("class", next(iter(options)))
        if name == "mapper" and class_name == "FewShotMapper":
            raise InputError("mapper: a FewShotMapper is trained, not configured; leave it out of the parts file and "
                             "give the trained model (--mapper DIR)", path=source)
        if class_name not in options:
            raise InputError(f"{name}: unknown class {class_name!r}{did_you_mean(class_name, options)}; "
                             f"choose {', '.join(options)}", path=source)
        cls = options[class_name]
        # a part inside a part (the discoverer's embedder) is the run's own; the mapper codes with the run's codebook
        params = {k: v for k, v in params.items() if not (isinstance(v, Mapping) and "class" in v)}
        if name == "mapper":
            params["codebook"] = codebook  # None: the run's codebook, as extract finds it
        if name in ("read_options", "evaluation_options"):
            params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        valid = _param_names(cls)
        bad = [k for k in params if k not in valid]
        if bad:
            raise InputError(f"{name}: {class_name} has no parameter {bad[0]!r}{did_you_mean(bad[0], valid)}",
                             path=source)
        parts[name] = cls(**params)
    return parts


def _param_names(cls: type) -> list[str]:
    import dataclasses

    from .base import Params

    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    if issubclass(cls, Params):
        return cls.param_names()
    raise TypeError(f"{cls.__name__} is not a configurable part")


#: Parameters of parts that say where results are cached (left out of :func:`describe_part`).
_CACHE_SETTINGS = frozenset({"memory", "cache_dir"})


def describe_part(name: str, settings: Mapping[str, Any]) -> str:
    """One line for a recorded part: its class and the parameters that differ from the class's
    defaults (``WindowSegmenter(window_size=2, stride=2)``), for the report."""
    import inspect

    settings = dict(settings)
    class_name = str(settings.pop("class", ""))
    cls = _classes().get(name, {}).get(class_name)
    if cls is None:
        return class_name or name
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    changed = []
    for key, value in settings.items():
        default = defaults.get(key, inspect.Parameter.empty)
        if isinstance(value, Mapping) or default is inspect.Parameter.empty:
            continue  # a nested part, or nothing to compare with
        if key in _CACHE_SETTINGS:
            continue  # where results are cached does not change them, and names the user's home folder
        value = str(value) if isinstance(value, Path) else value
        as_recorded = list(default) if isinstance(default, tuple) else default
        if isinstance(default, Path):
            as_recorded = str(default)
        if value != as_recorded:
            changed.append(f"{key}={value!r}")
    return f"{class_name}({', '.join(changed)})"
