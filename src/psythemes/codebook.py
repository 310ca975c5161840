"""Codebooks: the codes an analysis maps segments to, with definitions and examples.

A codebook is a YAML file (format in ``docs/codebook.md``)::

    name: psychosomatic
    description: ...
    version: "1.0"
    codes:
      - name: alliance                # identifier, unique across the whole tree
        label: Therapeutic alliance    # what people read
        definition: ...
        include: [criteria, ...]
        exclude: [criteria, ...]
        examples: [positive sentences, ...]
        counter_examples: [near misses, ...]
        seed_words: [...]
        roles: [patient, therapist]
        codable: false                # a heading that only groups its children (default: true)
        children: [more codes, ...]

Codebooks can also be read from and written to a two-column CSV (``name,description``, as
Taguette and many teams export them) and a REFI-QDA codebook (``.qdc``, namespace
``urn:QDA-XML:codebook:1.0``).  Both formats carry only a name and a description per code, so
psythemes writes the criteria and examples as labelled sections of the description and reads
them back: a codebook survives ``yaml -> csv/qdc -> yaml`` unchanged (codebook-level
``description`` and ``version`` excepted for CSV).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import re
import unicodedata
import uuid
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError, PsythemesWarning, did_you_mean

__all__ = [
    "Code",
    "Codebook",
    "load_codebook",
    "save_codebook",
    "default_codebook",
    "shipped_codebooks",
    "codebook_from_dict",
    "codebook_to_dict",
    "checked_codebook",
    "code_guid",
    "code_guids",
    "refi_guid",
    "code_to_refi_element",
    "codebook_to_refi_codes",
    "codes_from_refi",
    "resolve_code_names",
    "code_path_parts",
    "respelt_labels",
    "warn_respelt",
    "CODEBOOK_NS",
    "PROJECT_NS",
]

#: Namespace of a REFI-QDA codebook file (``.qdc``).
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: Namespace of a REFI-QDA project file (``project.qde`` inside a ``.qdpx``).
PROJECT_NS = "urn:QDA-XML:project:1.0"
#: Namespace for the deterministic GUIDs of codes (uuid5 of the code name).
_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://psythemes/codebook/code")

_LIST_FIELDS = ("include", "exclude", "examples", "counter_examples", "seed_words", "roles", "aliases")
_CODE_FIELDS = ("name", "label", "definition", *_LIST_FIELDS, "color", "codable", "children", "guid")
_TOP_FIELDS = ("name", "description", "version", "codes")
# A name is kept exactly as the user wrote it ("DIPLOMACY", "Rust Performs Well"): one line of text,
# no control characters, no leading/trailing blanks.  Gold labels find their code by name,
# case-insensitively or by slug (see :meth:`Codebook.resolve`).
_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]+$")
_COLOR_RE = re.compile(r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")
_GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DEFAULT_NAME = "psychosomatic"

# Section headings used inside CSV/REFI descriptions, in writing order.
_SECTIONS = {
    "identifier": "Identifier",
    "include": "Include",
    "exclude": "Exclude",
    "examples": "Examples",
    "counter_examples": "Counter-examples",
    "seed_words": "Seed words",
    "roles": "Roles",
    "aliases": "Aliases",
    "color": "Color",
    "codable": "Codable",
}
_SECTION_BY_HEADING = {v.lower(): k for k, v in _SECTIONS.items()}


@dataclass(frozen=True)
class Code:
    """One code of a codebook.

    Attributes
    ----------
    name : str
        The name as the user wrote it (one line; ``"DIPLOMACY"``, ``"Rust Performs Well"``), unique in
        the codebook even ignoring case and punctuation; every output uses it.
    label : str
        Human-readable name; :attr:`display` falls back to ``name``.
    definition : str
        What the code means (required, non-empty).
    include, exclude : tuple of str
        Criteria for applying / not applying the code.
    examples, counter_examples : tuple of str
        Positive example utterances and near misses that must *not* get the code.
    seed_words : tuple of str
        Words typical of the code (used by discovery and as weak cues).
    roles : tuple of str
        Speaker roles whose talk the code applies to (empty: any role).
    aliases : tuple of str
        Other names gold codes and review decisions may give the code: its name in an earlier
        version of the codebook (two merged codes: both old names), an abbreviation.  A label
        matched by one is named in a warning; the code keeps its name in every output.
    color : str or None
        ``#RRGGBB`` colour for QDA software.
    codable : bool
        False for a heading that only groups its children (REFI-QDA ``isCodable="false"``, an
        ATLAS.ti code group, an NVivo folder-like parent): it is never assigned to a segment.
    children : tuple of Code
        Sub-codes.
    guid : str or None
        The REFI-QDA GUID the code was read with (from a ``.qdc`` or ``.qdpx``), written back on
        export so the QDA program sees the same code; not part of equality.
    """

    name: str
    definition: str
    label: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    seed_words: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    color: str | None = None
    codable: bool = True
    children: tuple[Code, ...] = ()
    guid: str | None = field(default=None, compare=False)

    @property
    def display(self) -> str:
        """The label, or the name when there is no label."""
        return self.label or self.name

    def walk(self) -> Iterator[Code]:
        """This code, then its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Codebook:
    """A named tree of :class:`Code` objects.

    Attributes
    ----------
    name : str
        Short name of the codebook.
    codes : tuple of Code
        Top-level codes (each may have ``children``).
    description : str
        Free text.
    version : str
        Version string chosen by the authors.
    """

    name: str
    codes: tuple[Code, ...]
    description: str = ""
    version: str = ""
    source: str = field(default="", compare=False)

    def flat(self) -> list[Code]:
        """Every code of the tree, depth first (parents before their children)."""
        return [c for top in self.codes for c in top.walk()]

    @property
    def names(self) -> list[str]:
        """Names of every code, in :meth:`flat` order."""
        return [c.name for c in self.flat()]

    def codable(self) -> list[Code]:
        """The codes a segment may get, in :meth:`flat` order (headings that only group are left out)."""
        return [c for c in self.flat() if c.codable]

    @property
    def codable_names(self) -> list[str]:
        """Names of :meth:`codable` codes: the codes a mapper assigns and agreement is measured on."""
        return [c.name for c in self.codable()]

    @property
    def heading_names(self) -> list[str]:
        """Names of the headings, codes that only group others and are never assigned."""
        return [c.name for c in self.flat() if not c.codable]

    @property
    def aliases(self) -> dict[str, str]:
        """Each alias of a codable code -> the code's name (see :attr:`Code.aliases`)."""
        return {alias: c.name for c in self.codable() for alias in c.aliases}

    @property
    def parent_of(self) -> dict[str, str | None]:
        """Map each code name to its parent's name (``None`` for top-level codes)."""
        out: dict[str, str | None] = {}

        def visit(code: Code, parent: str | None) -> None:
            out[code.name] = parent
            for child in code.children:
                visit(child, code.name)

        for top in self.codes:
            visit(top, None)
        return out

    def __getitem__(self, name: str) -> Code:
        """The code named exactly ``name``; a KeyError says which code a near spelling means
        (``codebook[codebook.resolve(label)]`` looks up as gold labels are matched)."""
        for code in self.flat():
            if code.name == name:
                return code
        meant = _resolve_name(str(name), self.names)
        hint = f": the code is spelt {meant!r} (codebook.resolve(label) matches case, slug and paths)" if meant else ""
        raise KeyError(f"{name!r}{hint}" if hint else name)

    def resolve(self, label: str) -> str:
        """The name of the code ``label`` means: exact, case-insensitive or same slug.

        See :func:`resolve_code_names`.
        """
        return resolve_code_names([label], self.names, aliases=self.aliases)[str(label)]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __len__(self) -> int:
        return len(self.flat())

    def __iter__(self) -> Iterator[Code]:
        return iter(self.flat())

    def manifest_params(self) -> dict[str, Any]:
        """What a run manifest records of the codebook a part was given: its name and content hash."""
        return {"name": self.name, "hash": self.hash()}

    def same_codes(self, other: Codebook) -> bool:
        """Whether ``other`` holds the same codes (names, definitions, criteria, examples, tree):
        what a mapper trained on one needs of the other.  The codebooks' names (a CSV's is its file
        name), descriptions, versions and the codes' GUIDs may differ."""
        return _without_aliases(codebook_to_dict(self, guids=False)["codes"]) == \
            _without_aliases(codebook_to_dict(other, guids=False)["codes"])

    def hash(self) -> str:
        """Stable content hash (sha256 hex of the canonical JSON form); ``source`` and the codes'
        GUIDs are not part of it."""
        data = codebook_to_dict(self, guids=False)
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _without_aliases(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Codes as :func:`codebook_to_dict` writes them, aliases left out: they say how labels are
    read, not what a code means (a model trained before an alias was added still fits)."""
    return [{k: (_without_aliases(v) if k == "children" else v) for k, v in c.items() if k != "aliases"}
            for c in codes]


# --------------------------------------------------------------------------------------------
# dict <-> Codebook, with validation


def _str_list(value: Any, what: str, path: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # a single string where a list is expected is a common YAML slip; accept it as one item
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{what} must be a list of strings, not {type(value).__name__}", path=path)
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise InputError(f"{what}[{i}] must be a string, not {type(item).__name__}", path=path)
        text = str(item).strip()
        if text:
            out.append(text)
    return tuple(out)


def _code_from_dict(data: Any, where: str, path: str | None) -> Code:
    if not isinstance(data, dict):
        raise InputError(f"{where}: each code must be a mapping, not {type(data).__name__}", path=path)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: code has no 'name' (a non-empty string)", path=path)
    name = " ".join(name.split()) if "\n" in name.strip() else name.strip()
    if not _NAME_RE.match(name):
        raise InputError(f"code {name!r}: a name must be one line of text without control characters", path=path)
    where = f"code {name!r}"
    for key in data:
        if key not in _CODE_FIELDS:
            raise InputError(f"{where}: unknown field {key!r}{did_you_mean(str(key), _CODE_FIELDS)}", path=path)
    definition = data.get("definition")
    if definition is None or (isinstance(definition, str) and not definition.strip()):
        raise InputError(f"{where}: empty definition", path=path)
    if not isinstance(definition, str):
        raise InputError(f"{where}: definition must be a string, not {type(definition).__name__}", path=path)
    label = data.get("label") or ""
    if not isinstance(label, str):
        raise InputError(f"{where}: label must be a string, not {type(label).__name__}", path=path)
    color = data.get("color")
    if color is not None and (not isinstance(color, str) or not _COLOR_RE.match(color)):
        raise InputError(f"{where}: color must look like '#1f77b4', got {color!r}", path=path)
    codable = data.get("codable", True)
    if not isinstance(codable, bool):
        raise InputError(f"{where}: codable must be true or false, not {codable!r}", path=path)
    lists = {k: _str_list(data.get(k), f"{where}: {k}", path) for k in _LIST_FIELDS}
    children_raw = data.get("children") or []
    if not isinstance(children_raw, list):
        raise InputError(f"{where}: children must be a list of codes", path=path)
    children = tuple(_code_from_dict(c, f"{where} child {i}", path) for i, c in enumerate(children_raw))
    guid = data.get("guid")
    if guid is not None and (not isinstance(guid, str) or refi_guid(guid) is None):
        raise InputError(f"{where}: guid must look like '3f2504e0-4f89-11d3-9a0c-0305e82c3301', got {guid!r}",
                         path=path)
    return Code(
        name=name,
        label=label.strip(),
        definition=" ".join(definition.split()),
        color=color,
        codable=codable,
        children=children,
        guid=refi_guid(guid),
        **lists,
    )


def codebook_from_dict(data: Any, *, source: str | Path | None = None, default_name: str = "codebook") -> Codebook:
    """Build and validate a :class:`Codebook` from plain data (as parsed from YAML).

    Parameters
    ----------
    data : dict
        ``{"name", "description", "version", "codes": [...]}``.
    source : str or Path, optional
        File the data came from; named in error messages.
    default_name : str
        Codebook name when ``data`` has none.

    Returns
    -------
    Codebook

    Raises
    ------
    InputError
        Unknown fields (with a suggestion), wrong types, empty definitions, duplicate names.
    """
    path = str(source) if source is not None else None
    if not isinstance(data, dict):
        raise InputError(f"a codebook must be a mapping with a 'codes' list, not {type(data).__name__}", path=path)
    for key in data:
        if key not in _TOP_FIELDS:
            raise InputError(f"unknown top-level field {key!r}{did_you_mean(str(key), _TOP_FIELDS)}", path=path)
    codes_raw = data.get("codes")
    if not isinstance(codes_raw, list) or not codes_raw:
        raise InputError("'codes' must be a non-empty list", path=path)
    for key in ("name", "description", "version"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise InputError(f"{key} must be a string, not {type(value).__name__}", path=path)
    codes = tuple(_code_from_dict(c, f"code #{i + 1}", path) for i, c in enumerate(codes_raw))
    seen: dict[str, str] = {}
    for code in (c for top in codes for c in top.walk()):
        if code.name in seen.values():
            raise InputError(f"code {code.name!r}: duplicate name (names must be unique across the tree)", path=path)
        key = _name_key(code.name)
        if key in seen:
            raise InputError(f"codes {seen[key]!r} and {code.name!r} differ only in case or punctuation; gold labels "
                             f"could not tell them apart", path=path)
        seen[key] = code.name
    _check_aliases(codes, seen, path)
    if not any(code.codable for top in codes for code in top.walk()):
        raise InputError("no code can be assigned: every code is marked not codable (a heading only)", path=path)
    return Codebook(
        name=str(data.get("name") or default_name),
        description=" ".join(str(data.get("description") or "").split()),
        version=str(data.get("version") or ""),
        codes=codes,
        source=path or "",
    )


def _check_aliases(codes: tuple[Code, ...], names: dict[str, str], path: str | None) -> None:
    """An alias may not be spelt like a code's name or its last part, nor be given to two codes or a heading."""
    taken: dict[str, str] = {}
    all_names = list(names.values())
    for code in (c for top in codes for c in top.walk()):
        if code.aliases and not code.codable:
            raise InputError(f"code {code.name!r} is a heading (never assigned): its aliases would never be read; give "
                             "them to the code that takes its old gold", path=path)
        for alias in code.aliases:
            key = _name_key(alias)
            if key in names and names[key] != code.name:
                raise InputError(f"code {code.name!r}: alias {alias!r} is the name of code {names[key]!r}; a label "
                                 "could not tell them apart", path=path)
            # "Cost" would find "Barriers > Cost" by its last part before any alias is tried
            other = [n for n in _path_candidates(alias, all_names) if n != code.name]
            if other:
                raise InputError(f"code {code.name!r}: alias {alias!r} ends the path of code {other[0]!r}; a label "
                                 "could not tell them apart", path=path)
            if taken.setdefault(key, code.name) != code.name:
                raise InputError(f"alias {alias!r} is given to codes {taken[key]!r} and {code.name!r}; a label "
                                 "written with it could mean either", path=path)


def _code_to_dict(code: Code, *, guids: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"name": code.name}
    if code.label:
        out["label"] = code.label
    out["definition"] = code.definition
    for key in _LIST_FIELDS:
        values = getattr(code, key)
        if values:
            out[key] = list(values)
    if code.color:
        out["color"] = code.color
    if not code.codable:
        out["codable"] = False
    if code.children:
        out["children"] = [_code_to_dict(c, guids=guids) for c in code.children]
    if code.guid and guids:
        out["guid"] = code.guid
    return out


def codebook_to_dict(cb: Codebook, *, guids: bool = True) -> dict[str, Any]:
    """Plain data for YAML/JSON (empty fields left out); ``guids=False`` leaves out the codes'
    REFI-QDA GUIDs, which say where a code came from, not what it is."""
    out: dict[str, Any] = {"name": cb.name}
    if cb.description:
        out["description"] = cb.description
    if cb.version:
        out["version"] = cb.version
    out["codes"] = [_code_to_dict(c, guids=guids) for c in cb.codes]
    return out


# --------------------------------------------------------------------------------------------
# descriptions with sections (CSV and REFI-QDA carry only a name and a description)


def _slug(text: str) -> str:
    # letters and digits of every script: an ASCII-only slug made every Cyrillic or Chinese name
    # "code", so two such codes "differed only in case or punctuation"
    slug = re.sub(r"[\W_]+", "_", unicodedata.normalize("NFKC", text).strip().casefold()).strip("_")
    if not slug:
        return "code"
    return slug if not slug[0].isdigit() else f"c_{slug}"


def _name_key(name: str) -> str:
    return _slug(name)


def code_path_parts(text: str) -> tuple[str, ...]:
    """The parts of a code written as a path, the way every reader splits one (codebook names,
    parent cells, gold code cells): ``Mechanisms > Alliance`` and ``Mechanisms\\Alliance`` (MAXQDA),
    ``Codes\\\\Mechanisms\\\\Alliance`` (NVivo, whose root ``Codes``/``Nodes`` is left out) all give
    ``("Mechanisms", "Alliance")``; a name that is no path is one part."""
    parts = tuple(p for p in CODE_PATH_SEPARATOR.split(str(text).strip()) if p)
    return parts[1:] if len(parts) > 1 and parts[0].casefold() in _PATH_ROOTS else parts


def _path_candidates(label: str, names: list[str]) -> list[str]:
    """The names whose path agrees with ``label``'s on all the last parts they both have (compared
    by slug), where one of the two is a path: ``Mechanisms\\Alliance`` finds ``Alliance`` or
    ``Mechanisms > Alliance``; a leaf alone, ``Family``, finds ``Context > Family``.  Of several,
    those that agree on the most parts."""
    mine = [_slug(p) for p in code_path_parts(label)]
    best: list[str] = []
    most = 0
    for name in names:
        theirs = [_slug(p) for p in code_path_parts(name)]
        k = min(len(mine), len(theirs))
        if max(len(mine), len(theirs)) < 2 or k == 0 or mine[-k:] != theirs[-k:]:
            continue
        if k > most:
            best, most = [name], k
        elif k == most:
            best.append(name)
    return best


def _resolve_name(label: str, names: list[str]) -> str | None:
    """The name in ``names`` that ``label`` means: exact, then case-insensitive, then by slug, then by
    its path (:func:`_path_candidates`, when one name only agrees); else None."""
    if label in names:
        return label
    # the same text in another Unicode form (a CSV read as NFC, a YAML name typed decomposed on macOS)
    composed = [n for n in names if unicodedata.normalize("NFC", n) == unicodedata.normalize("NFC", label)]
    if len(composed) == 1:
        return composed[0]
    folded = [n for n in names if n.casefold() == label.casefold()]
    if len(folded) == 1:
        return folded[0]
    slugged = [n for n in names if _slug(n) == _slug(label)]
    if slugged:
        return slugged[0] if len(slugged) == 1 else None
    by_path = _path_candidates(label, names)
    if len(by_path) == 1:
        return by_path[0]
    # NVivo's root alone before a top-level code ("Codes\\Support Network"): the code's own name
    parts = code_path_parts(label)
    return _resolve_name(parts[0], names) if len(parts) == 1 and parts[0] != label.strip() else None


def resolve_code_names(labels: Any, names: list[str], *, what: str = "code",
                       path: str | Path | None = None, headings: Sequence[str] = (),
                       aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each label to the code name it means (exact, case-insensitive, the same slug, or its path).

    ``"diplomacy"``, ``"Diplomacy"`` and ``"DIPLOMACY"`` all find a code named ``DIPLOMACY``;
    ``"rust_performs_well"`` finds ``Rust Performs Well``.  A label written as a path, as QDA
    programs export codes (``Mechanisms\\Alliance``, ``Context\\Family``), finds the code whose
    path ends the same way (``Alliance``, ``Context > Family``: see :func:`code_path_parts`), and a
    leaf alone (``Alliance``) finds a code named by its path when only one path ends with it.
    A label that finds no name finds the code of an alias in ``aliases`` (alias -> code name,
    :attr:`Codebook.aliases`) the same way: an earlier version's name of the code.

    Raises
    ------
    InputError
        For the first label that matches no code, with the closest name ("did you mean"), or
        that matches the paths of several codes (naming them); one that matches one of
        ``headings`` (codes that only group others and are never assigned) is named as such.
    """
    out: dict[str, str] = {}
    for label in labels:
        label = str(label)
        if label in out:
            continue
        hit = _resolve_name(label, names)
        if hit is None and aliases:
            alias = _resolve_name(label, list(aliases))
            hit = aliases[alias] if alias is not None else None
        heading = _resolve_name(label, list(headings)) if hit is None and headings else None
        if heading is not None:
            raise InputError(f"{what} {_quoted(label)} is a heading of the codebook ({_quoted(heading)}: it groups "
                             "other codes and is never assigned); code one of its sub-codes, or mark it codable",
                             path=path)
        if hit is None:
            several = _path_candidates(label, names)
            if len(several) > 1:
                raise InputError(f"{what} {_quoted(label)} could be any of {', '.join(map(_quoted, several))}: write "
                                 f"the code's path (e.g. {_quoted(several[0])})", path=path)
            raise InputError(f"{what} {_quoted(label)} is not in the codebook{_closest(label, names)}; codes: "
                             f"{', '.join(names)}", path=path)
        out[label] = hit
    return out


def respelt_labels(mapping: dict[str, str]) -> list[tuple[str, str]]:
    """The ``(label, name)`` pairs of a :func:`resolve_code_names` result where the label was matched by
    a guess (case, punctuation, spacing: ``trust – THERAPIST`` for ``Trust – therapist``), not written
    as the code is.  A path that ends with the code's own parts, written with any separator
    (``Context\\Family`` for ``Context > Family``, ``Mechanisms\\Alliance`` for ``Alliance``), is as written."""
    out = []
    for label, name in mapping.items():
        mine, theirs = (code_path_parts(unicodedata.normalize("NFC", x)) for x in (label, name))
        k = min(len(mine), len(theirs))
        if k == 0 or mine[-k:] != theirs[-k:]:
            out.append((label, name))
    return out


def _quoted(text: str) -> str:
    """``text`` in quotes as the user wrote it: a path's backslash once (repr would double it, and
    the label could not be found in the file as shown)."""
    return f'"{text}"' if "'" in text else f"'{text}'"


def _closest(label: str, names: list[str]) -> str:
    """`` (did you mean 'X'?)`` for the code ``label`` most likely means, else ``""``; a path written
    with ``/`` (``Barriers/Cost``), which psythemes does not split, is matched by its last part."""
    last = _resolve_name(label.rsplit("/", 1)[1].strip(), names) if "/" in label else None
    if last is not None:
        return f" (did you mean {_quoted(last)}? a path's parts are separated by ' > ' or a backslash, not '/')"
    close = difflib.get_close_matches(label.casefold(), [n.casefold() for n in names], n=1, cutoff=0.5)
    if close:
        return f" (did you mean {_quoted(next(n for n in names if n.casefold() == close[0]))}?)"
    return ""


def warn_aliased(mapping: Mapping[str, str], names: Sequence[str], what: str = "gold", *,
                 source: str | Path | None = None, stacklevel: int = 3, shown: int = 5) -> dict[str, str]:
    """Name, in one :class:`PsythemesWarning`, the labels of a :func:`resolve_code_names` result that
    found their code by one of its aliases (no name matched them); returns the rest of ``mapping``."""
    aliased = {label: name for label, name in mapping.items() if _resolve_name(label, list(names)) is None}
    if aliased:
        where = f"{Path(source).name}: " if source else ""
        pairs = ", ".join(f"{label!r} as {name!r}" for label, name in list(aliased.items())[:shown])
        more = f" and {len(aliased) - shown} more" if len(aliased) > shown else ""
        warnings.warn(f"{where}{len(aliased)} {what} code label(s) read by the codebook's aliases (an earlier name of "
                      f"the code): {pairs}{more}", PsythemesWarning, stacklevel=stacklevel)
    return {label: name for label, name in mapping.items() if label not in aliased}


def warn_respelt(mapping: dict[str, str], what: str = "gold", *, source: str | Path | None = None,
                 stacklevel: int = 3, shown: int = 3) -> None:
    """One :class:`PsythemesWarning` naming the labels that :func:`respelt_labels` finds (the first
    ``shown`` of them, and how many in all), so that a guessed match is never silent."""
    guessed = respelt_labels(mapping)
    if not guessed:
        return
    where = f"{Path(source).name}: " if source else ""
    pairs = ", ".join(f"{what} {label!r} taken as code {name!r}" for label, name in guessed[:shown])
    more = f" and {len(guessed) - shown} more" if len(guessed) > shown else ""
    warnings.warn(f"{where}{len(guessed)} {what} code label(s) are spelt otherwise than the code they were matched "
                  f"to (case, punctuation or spacing): {pairs}{more}", PsythemesWarning, stacklevel=stacklevel)


def _render_description(code: Code, *, with_color: bool = False, with_codable: bool = False) -> str:
    """The description a CSV or REFI-QDA file carries: the definition, then labelled sections.

    ``with_color`` and ``with_codable`` add the colour and a ``Codable: no`` line, for formats (CSV)
    that have no place of their own for them.
    """
    parts = [code.definition]
    if with_color and code.color:
        parts.append(f"Color: {code.color}")
    if with_codable and not code.codable:
        parts.append("Codable: no")
    for key, heading in _SECTIONS.items():
        if key in ("color", "codable"):
            continue
        if key == "identifier":
            if code.display != code.name:
                parts.append(f"{heading}: {code.name}")
            continue
        values = getattr(code, key)
        if values:
            parts.append(f"{heading}:\n" + "\n".join(f"- {v}" for v in values))
    return "\n\n".join(parts)


# Headings researchers write in free-text descriptions (NVivo/ATLAS.ti/MAXQDA memos, CSV exports),
# besides psythemes' own section names.
_HEADING_ALIASES = {
    "example": "examples", "e.g.": "examples", "typical examples": "examples", "example quotes": "examples",
    "counter-example": "counter_examples", "counterexample": "counter_examples", "counterexamples": "counter_examples",
    "non-example": "counter_examples", "non-examples": "counter_examples", "near misses": "counter_examples",
    "inclusion": "include", "inclusion criteria": "include", "includes": "include", "when to use": "include",
    "use when": "include", "exclusion": "exclude", "exclusion criteria": "exclude", "excludes": "exclude",
    "when not to use": "exclude", "do not use when": "exclude", "not": "exclude",
    "keywords": "seed_words", "seed words": "seed_words",
    "alias": "aliases", "also known as": "aliases", "formerly": "aliases", "previous names": "aliases",
    "previously": "aliases",
}
_LIST_HEADINGS = {**{k: v for k, v in _SECTION_BY_HEADING.items() if v not in ("identifier", "color", "codable")},
                  **_HEADING_ALIASES}
# a heading in the middle of a line ("... Include: x. Exclude: y.") starts a new line
_INLINE_HEADING = re.compile(
    r"(?<=[.;!?)\]])\s+(?=(?:" + "|".join(re.escape(h) for h in sorted(_LIST_HEADINGS, key=len, reverse=True))
    + r")\s*:|codable\s*:\s*(?:no|yes|false|true)\b)", re.IGNORECASE)
# "for example 'I want to quit'" / e.g. "..." inside a definition: a quoted example
_QUOTED_EXAMPLE = re.compile(
    r"(?:for example|for instance|e\.g\.|such as|as in)[,:]?\s*"
    r"((?:[\"“'‘][^\"”’]{3,}?[\"”’'](?:,?\s*(?:or|and)?\s*)?)+)",
    re.IGNORECASE)
_QUOTE = re.compile(r"[\"“]([^\"”]{3,}?)[\"”]|(?<![A-Za-z])['‘]([^'’]{3,}?)['’](?![A-Za-z])")


def _split_items(text: str) -> list[str]:
    """Inline section text -> items: quoted strings when quoted, else parts split at ';' (or one item)."""
    quoted = [a or b for a, b in _QUOTE.findall(text)]
    if quoted:
        return [q.strip() for q in quoted if q.strip()]
    return [part.strip(" .") for part in text.split(";") if part.strip(" .")]


def _parse_description(text: str) -> tuple[str, dict[str, Any]]:
    """Split a description into its definition and its sections.

    Sections are psythemes' own (``Include:`` then ``- item`` lines, as written by
    :func:`save_codebook`) and the free-text forms researchers write: a heading with text on
    the same line (``Include: talk about X; talk about Y``), several headings on one line,
    common aliases (``Example:``, ``Inclusion criteria:``, ``When not to use:`` ...), and
    quoted examples inside the definition (``... for example 'I want to quit'``), which stay
    in the definition and are also added to ``examples``.
    """
    definition: list[str] = []
    sections: dict[str, Any] = {}
    current: str | None = None
    for raw in _INLINE_HEADING.sub("\n", text.replace("\r\n", "\n")).split("\n"):
        line = raw.strip()
        head, sep, rest = line.partition(":")
        head_key = head.strip().lower()
        key = _SECTION_BY_HEADING.get(head_key) if sep else None
        if key == "codable" and rest.strip():
            # "Codable: no", also at the end of a sentence with more after it ("Codable: no. Use the
            # children."); a value it cannot read stays in the definition, as any other text
            said = re.match(r"(no|yes|false|true|0|1)\b[.;,!]?\s*(.*)$", rest.strip(), re.IGNORECASE | re.DOTALL)
            current = None
            if said is None:
                definition.append(line)
                continue
            sections[key] = said.group(1)
            if said.group(2):
                definition.append(said.group(2))
            continue
        if key in ("identifier", "color") and rest.strip():
            sections[key] = rest.strip()
            current = None
            continue
        list_key = _LIST_HEADINGS.get(head_key) if sep else None
        if list_key is not None and not rest.strip():
            current = list_key
            sections.setdefault(list_key, [])
            continue
        if list_key is not None:
            sections.setdefault(list_key, []).extend(_split_items(rest))
            current = list_key  # "- item" lines may follow
            continue
        if current is not None and line.startswith(("- ", "* ", "• ")):
            sections[current].append(line[2:].strip())
            continue
        if current is not None and not line:
            continue
        current = None
        definition.append(line)
    joined = " ".join(" ".join(definition).split())
    for match in _QUOTED_EXAMPLE.finditer(joined):
        found = [a or b for a, b in _QUOTE.findall(match.group(1))]
        for example in found:
            if example.strip() and example.strip() not in sections.get("examples", []):
                sections.setdefault("examples", []).append(example.strip())
    return joined, sections


def _code_from_named_description(display: str, description: str, children: list[Code], where: str,
                                 path: str | None, *, codable: bool = True,
                                 lists: dict[str, list[str]] | None = None) -> Code:
    definition, sections = _parse_description(description or "")
    for key, items in (lists or {}).items():  # criteria and examples kept in columns of their own
        sections.setdefault(key, []).extend(i for i in items if i not in sections[key])
    written = sections.pop("codable", None)
    if written is not None:
        codable = codable and written.strip().lower() not in ("no", "false", "0")
    # the name as the user wrote it; a psythemes Identifier section (written when a YAML name
    # differs from its label) restores the original identifier
    name = sections.pop("identifier", None) or display
    data: dict[str, Any] = {"name": name, "definition": definition or display, "codable": codable}
    if display != name:
        data["label"] = display
    data.update(sections)
    code = _code_from_dict(data, where, path)
    return replace(code, children=tuple(children)) if children else code


# --------------------------------------------------------------------------------------------
# REFI-QDA


def code_guid(name: str) -> str:
    """Deterministic GUID of a code (uuid5 of its name), so re-exports are identical."""
    return str(uuid.uuid5(_GUID_NAMESPACE, name))


def refi_guid(value: str | None) -> str | None:
    """``value`` as a REFI-QDA GUID in lower case without braces, or None when it is not one."""
    guid = (value or "").strip().strip("{}").lower()
    return guid if _GUID_RE.fullmatch(guid) else None


def code_guids(codes: Iterable[Code]) -> dict[str, str]:
    """``code name -> GUID`` for ``codes`` and their descendants: the GUID a code was read with,
    so a project written back names the QDA program's own codes, else :func:`code_guid` of its
    name.  A GUID that two codes carry stays with the first."""
    flat = [c for top in codes for c in top.walk()]
    out: dict[str, str] = {}
    taken: set[str] = set()
    for code in flat:  # the GUIDs read first, so no GUID made below can take one of them
        if code.guid and code.guid not in taken:
            out[code.name] = code.guid
            taken.add(code.guid)
    for code in flat:
        if code.name not in out:
            guid, n = code_guid(code.name), 1
            while guid in taken:  # a code renamed in psythemes may hold the GUID of a new one's name
                guid, n = code_guid(f"{code.name}#{n}"), n + 1
            out[code.name] = guid
            taken.add(guid)
    return {code.name: out[code.name] for code in flat}


def code_to_refi_element(code: Code, namespace: str = CODEBOOK_NS, *,
                         guids: dict[str, str] | None = None) -> ET.Element:
    """A REFI-QDA ``<Code>`` element (with nested children) in ``namespace``.

    Parameters
    ----------
    code : Code
    namespace : str
        :data:`CODEBOOK_NS` for a ``.qdc`` file, :data:`PROJECT_NS` inside a ``.qdpx`` project.
    guids : dict, optional
        ``code name -> guid`` (:func:`code_guids`) for the codes written; by default that of
        ``code`` and its descendants.
    """
    guids = guids if guids is not None else code_guids([code])
    attrs = {"guid": guids[code.name], "name": code.display, "isCodable": "true" if code.codable else "false"}
    if code.color:
        attrs["color"] = code.color
    elem = ET.Element(f"{{{namespace}}}Code", attrs)
    description = _render_description(code)
    # a code read without a description has its name as definition (something to embed); written
    # back, that would give the researcher's project a description nobody wrote
    if description.strip() not in ("", code.display):
        ET.SubElement(elem, f"{{{namespace}}}Description").text = description
    for child in code.children:
        elem.append(code_to_refi_element(child, namespace, guids=guids))
    return elem


def codebook_to_refi_codes(cb: Codebook, namespace: str = CODEBOOK_NS) -> ET.Element:
    """A REFI-QDA ``<Codes>`` element holding every code of ``cb`` (see :func:`code_to_refi_element`),
    with the GUIDs of :func:`code_guids`."""
    guids = code_guids(cb.codes)
    codes = ET.Element(f"{{{namespace}}}Codes")
    for code in cb.codes:
        codes.append(code_to_refi_element(code, namespace, guids=guids))
    return codes


def codes_from_refi(codes_elem: ET.Element, namespace: str = CODEBOOK_NS, *,
                    path: str | None = None) -> tuple[Code, ...]:
    """Read the ``<Code>`` children of a REFI-QDA ``<Codes>`` (or ``<Code>``) element.

    Returns
    -------
    tuple of Code
        Codes with children; names are taken from a psythemes ``Identifier:`` section when present,
        else the REFI name exactly as written.
    """

    def read(elem: ET.Element, where: str) -> Code:
        display = (elem.get("name") or "").strip()
        if not display:
            raise InputError(f"{where}: <Code> without a name", path=path)
        desc_elem = elem.find(f"{{{namespace}}}Description")
        description = desc_elem.text if desc_elem is not None and desc_elem.text else ""
        children = [read(c, f"code {display!r}") for c in elem.findall(f"{{{namespace}}}Code")]
        # REFI-QDA: isCodable is required; only an explicit "false" makes a heading
        codable = (elem.get("isCodable") or "true").strip().lower() != "false"
        code = _code_from_named_description(display, description, children, f"code {display!r}", path,
                                            codable=codable)
        color = elem.get("color")
        if color and _COLOR_RE.match(color):
            code = replace(code, color=color)
        return replace(code, guid=refi_guid(elem.get("guid")))

    codes = tuple(read(c, f"code #{i + 1}") for i, c in enumerate(codes_elem.findall(f"{{{namespace}}}Code")))
    return _named_by_paths(codes, path)


def _named_by_paths(codes: tuple[Code, ...], path: str | None) -> tuple[Code, ...]:
    """Codes that share a name under different parents (NVivo's ``Family > Support`` and
    ``Friends > Support``) named by their paths, as a CSV codebook's are; their label keeps the
    name as written, so an export writes it back.  One warning names them.  Names that still
    clash (two ``Support`` under one parent, a code literally named ``Family > Support``) are an
    error: their codings would merge."""
    count = Counter(_name_key(code.name) for top in codes for code in top.walk())
    renamed: list[str] = []

    def rename(level: tuple[Code, ...], prefix: tuple[str, ...]) -> tuple[Code, ...]:
        out = []
        for code in level:
            trail = (*prefix, code.display)
            children = rename(code.children, trail)
            if count[_name_key(code.name)] > 1 and len(trail) > 1:
                renamed.append(" > ".join(trail))
                code = replace(code, name=" > ".join(trail), label=code.display)
            out.append(replace(code, children=children))
        return tuple(out)

    if all(n == 1 for n in count.values()):
        return codes
    codes = rename(codes, ())
    keys = Counter(_name_key(code.name) for top in codes for code in top.walk())
    clashes = sorted({code.name for top in codes for code in top.walk() if keys[_name_key(code.name)] > 1})
    if clashes:
        raise InputError(f"codebook has codes that share a name (under one parent, or a name written as another "
                         f"code's path): {', '.join(repr(c) for c in clashes)}; rename them in the QDA program",
                         path=path)
    warnings.warn(f"{Path(path).name if path else 'codebook'}: codes that share a name under different parents "
                  f"are named by their paths: {', '.join(repr(r) for r in renamed)}", PsythemesWarning, stacklevel=3)
    return codes


def _read_qdc(path: Path) -> Codebook:
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as DET  # refuses entity expansion and external entities

    from .limits import scan_xml

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    scan_xml(raw, path)  # size and nesting depth (nested codes are read recursively)
    try:
        root = DET.fromstring(raw)
    except DET.ParseError as err:
        line = getattr(err, "position", (None,))[0]
        raise InputError(f"not a well-formed REFI-QDA codebook: {err}", path=path, line=line) from None
    except DefusedXmlException as err:
        raise InputError(f"refused unsafe XML ({type(err).__name__})", path=path) from None
    if root.tag != f"{{{CODEBOOK_NS}}}CodeBook":
        raise InputError(f"expected <CodeBook> in namespace {CODEBOOK_NS}, found {root.tag}", path=path)
    codes_elem = root.find(f"{{{CODEBOOK_NS}}}Codes")
    if codes_elem is None:
        raise InputError("<CodeBook> has no <Codes>", path=path)
    codes = codes_from_refi(codes_elem, CODEBOOK_NS, path=str(path))
    return checked_codebook(Codebook(name=path.stem, codes=codes, source=str(path)), path)


def _write_qdc(cb: Codebook, path: Path) -> None:
    from . import __version__
    from .outputs import write_bytes

    ET.register_namespace("", CODEBOOK_NS)
    root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": f"psythemes {__version__}"})
    root.append(codebook_to_refi_codes(cb, CODEBOOK_NS))
    ET.indent(root, space="  ")
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    write_bytes(path, data + b"\n")


# --------------------------------------------------------------------------------------------
# CSV

_CSV_NAME_HEADERS = ("name", "code", "code name", "codename", "tag", "tag name", "label", "title", "node")
_CSV_DESC_HEADERS = ("description", "definition", "memo", "desc", "code description", "comment", "code memo",
                     "full definition", "brief definition", "short definition", "meaning")
_CSV_PARENT_HEADERS = ("parent", "parent code", "parent name")
# NVivo's list exports: "Nodes\\Parent\\Child" (the name column holds only "Child")
_CSV_PATH_HEADERS = ("hierarchical name", "hierarchy", "path", "code path")
# Columns of structured codebooks (MacQueen et al. 1998, "Codebook development for team-based
# qualitative analysis", and the templates that follow it): each adds to a Code field.
_CSV_LIST_HEADERS: dict[str, tuple[str, ...]] = {
    "include": ("include", "includes", "inclusion", "inclusion criteria", "inclusion criterion", "when to use",
                "use when", "criteria for inclusion"),
    "exclude": ("exclude", "excludes", "exclusion", "exclusion criteria", "exclusion criterion", "when not to use",
                "do not use when", "criteria for exclusion"),
    "examples": ("example", "examples", "exemplar", "exemplars", "typical exemplar", "typical exemplars",
                 "atypical exemplar", "atypical exemplars", "example quote", "example quotes", "illustrative quote",
                 "illustrative quotes", "anchor example", "anchor examples", "examples of use"),
    "counter_examples": ("counter example", "counter examples", "counter-example", "counter-examples",
                         "close but no", "near miss", "near misses", "non-example", "non-examples"),
    "seed_words": ("seed words", "keywords", "key words"),
    "aliases": ("aliases", "alias", "also known as", "aka", "previous name", "previous names", "formerly",
                "old name", "old names", "former name", "former names"),
}
# Columns QDA programs add to a codebook export that carry no meaning of the code: not warned about.
_CSV_STAT_HEADERS = frozenset({
    "files", "references", "sources", "highlights", "number of highlights", "groups", "code groups", "grounded",
    "density", "created", "created on", "created by", "modified", "modified on", "modified by", "color", "colour",
    "id", "aggregate", "frequency", "count", "codings", "coded segments", "coded segments of all documents",
    "segments", "number",
})
#: Between the parts of a code written as a path: "Parent > Child" (MAXQDA's code import),
#: "Parent\Child", NVivo's "Nodes\\Parent\\Child" (codebook names and gold code cells alike).
CODE_PATH_SEPARATOR = re.compile(r"\s*(?:\s>\s|\\+)\s*")
_PATH_ROOTS = ("nodes", "codes")


def _csv_header_index(header: list[str], options: tuple[str, ...]) -> int | None:
    from .tables import header_key  # lazily: tables imports pandas

    norm = [header_key(h) for h in header]
    for opt in options:
        if opt in norm:
            return norm.index(opt)
    return None


def _read_csv_codebook(path: Path) -> Codebook:
    from .io import decode_table_bytes

    # decoded as transcripts are: a cp1252 export from Excel is read and the guess named
    text = decode_table_bytes(path.read_bytes(), path)
    from .tables import csv_delimiter  # lazily: tables imports pandas

    delimiter = csv_delimiter(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return _codebook_from_rows(rows, path, "CSV", delimiter)


def _read_xlsx_codebook(path: Path) -> Codebook:
    """A codebook kept in Excel (NVivo's and ATLAS.ti's codebook exports, a team's own sheet): the
    first sheet, read as a CSV codebook is (a name column, optional description and parent)."""
    from .tables import xlsx_rows

    return _codebook_from_rows(xlsx_rows(path), path, "Excel")


def _read_docx_codebook(path: Path) -> Codebook:
    """A codebook kept as a table in a Word document, as many teams write theirs.

    Every table whose first row has a name column (the CSV header names) is read, in order; later
    tables must have the same header (a codebook split over pages or themes), other tables are
    left out with a warning.  A row that is one cell merged across the table (``MECHANISMS``) is a
    heading: it becomes a code that is never assigned, and the rows below it its children (unless
    the table has a parent column).
    """
    from .io import docx_paragraph_text, open_docx
    from .tables import header_key  # lazily: tables imports pandas

    document = open_docx(path)
    header: list[str] | None = None
    rows: list[tuple[list[str], bool]] = []  # cells, and whether the row is a heading merged across the table
    skipped: list[str] = []
    for table in document.tables:
        grid = [(["\n".join(docx_paragraph_text(p) for p in c.paragraphs) for c in row.cells],
                 len({id(c._tc) for c in row.cells})) for row in table.rows]
        grid = [(cells, distinct) for cells, distinct in grid if any(c.strip() for c in cells)]
        if not grid:
            continue
        first = [header_key(c) for c in grid[0][0]]
        if _csv_header_index(first, _CSV_NAME_HEADERS) is None or (header is not None and first != header):
            skipped.append(" | ".join(c.strip() for c in grid[0][0])[:60])
            continue
        header = first
        rows += [(cells, distinct == 1 and len(cells) > 1) for cells, distinct in grid[1:]]
    if header is None:
        raise InputError("no table with a name column in this Word document: psythemes reads a codebook from a "
                         f"table whose first row names its columns (one of: {', '.join(_CSV_NAME_HEADERS)})",
                         path=path)
    if skipped:
        warnings.warn(f"{path.name}: {len(skipped)} table(s) left out (no name column, or another header than the "
                      f"first codebook table's), e.g. {skipped[0]!r}", PsythemesWarning, stacklevel=4)
    if not any(heading for _, heading in rows) or _csv_header_index(header, _CSV_PARENT_HEADERS) is not None:
        return _codebook_from_rows([header, *[cells for cells, heading in rows if not heading]], path, "Word")
    # a merged row is a heading over the rows below it: a parent column, and "Codable: no" as its description
    i_desc = next((i for i, h in enumerate(header) if h in _CSV_DESC_HEADERS), None)
    columns = header + ([] if i_desc is not None else ["description"]) + ["parent"]
    current = ""
    shaped = []
    for cells, heading in rows:
        if heading:
            current = cells[0].strip()
            cells = [current, *([""] * (len(cells) - 1))]
        cells = cells + ([] if i_desc is not None else [""])
        if heading:
            cells[i_desc if i_desc is not None else len(cells) - 1] = "Codable: no"
        shaped.append([*cells, "" if heading else current])
    return _codebook_from_rows([columns, *shaped], path, "Word")


def _codebook_from_rows(rows: list[list[str]], path: Path, kind: str, delimiter: str = ",") -> Codebook:
    """The codebook in a table's rows (header first), as :func:`_read_csv_codebook` describes."""
    from .tables import header_key  # lazily: tables imports pandas

    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InputError(f"empty {kind} codebook", path=path)
    header = [header_key(h) for h in rows[0]]
    i_name = _csv_header_index(header, _CSV_NAME_HEADERS)
    if i_name is None:
        raise InputError(
            f"{kind} codebook needs a name column (one of: {', '.join(_CSV_NAME_HEADERS)}); header is {rows[0]}",
            path=path,
            line=1,
        )
    i_parent = _csv_header_index(header, _CSV_PARENT_HEADERS)
    i_path = _csv_header_index(header, _CSV_PATH_HEADERS)
    desc_cols = [i for i, h in enumerate(header) if h in _CSV_DESC_HEADERS and i != i_name]
    list_cols = {key: [i for i, h in enumerate(header) if h in names] for key, names in _CSV_LIST_HEADERS.items()}
    used = {i_name, i_parent, i_path, *desc_cols, *(i for cols in list_cols.values() for i in cols)}
    unread = [rows[0][i].strip() for i, h in enumerate(header) if i not in used and h and h not in _CSV_STAT_HEADERS]
    if unread:
        warnings.warn(f"{path.name}: codebook columns not read: {', '.join(repr(h) for h in unread)} (read: the "
                      "name, description or definition, parent, include/exclude criteria, examples, "
                      "counter-examples, keywords; see docs/codebook.md)", PsythemesWarning, stacklevel=4)

    if not desc_cols:
        bare = not (list_cols["include"] or list_cols["examples"])  # zero-shot reads those too
        warnings.warn(f"{path.name}: no description column ({', '.join(_CSV_DESC_HEADERS[:3])}, ...): each code's "
                      "definition is its name" + (", so zero-shot mapping has only the names to go on" if bare else ""),
                      PsythemesWarning, stacklevel=4)
    rows = _rejoin_overflow(rows, header, desc_cols, path, delimiter)
    if len(rows) < 2:
        raise InputError(f"{kind} codebook has a header row but no codes below it", path=path)

    def cell(row: list[str], i: int | None) -> str:
        return row[i] if i is not None and i < len(row) else ""

    entries: list[_Entry] = []
    for lineno, row in enumerate(rows[1:], start=2):
        display = cell(row, i_name).strip()
        if not display:
            raise InputError("row without a code name", path=path, line=lineno)
        desc = _join_sentences(cell(row, i) for i in desc_cols)
        parent = cell(row, i_parent).strip()
        lists = {key: [item for i in cols for item in _cell_items(cell(row, i))] for key, cols in list_cols.items()}
        entries.append((lineno, display, desc, parent, {k: v for k, v in lists.items() if v}))
    # parents named only inside paths or parent cells (no row, no definition) become headings
    if i_parent is None:
        paths = [cell(row, i_path) for row in rows[1:]] if i_path is not None else None
        entries, headings = _hierarchy_from_paths(entries, paths, path)
    else:
        entries, headings = _hierarchy_from_parents(entries, path)
    flat: dict[str, tuple[Code, str, int]] = {}
    order: list[str] = []
    for lineno, display, desc, parent, lists in entries:
        try:
            code = _code_from_named_description(display, desc, [], f"code {display!r}", str(path), lists=lists,
                                                codable=display not in headings)
        except InputError as err:
            raise InputError(err.message, path=path, line=lineno) from None
        if code.name in flat:
            raise InputError(f"code {code.name!r}: duplicate name", path=path, line=lineno)
        flat[code.name] = (code, parent, lineno)
        order.append(code.name)
    # parents may be given by name or by label
    by_display = {c.display: n for n, (c, _, _) in flat.items()}
    kids: dict[str | None, list[str]] = {}
    for name in order:
        _, parent, lineno = flat[name]
        pname = None
        if parent:
            pname = parent if parent in flat else by_display.get(parent, _resolve_name(parent, list(flat)))
            if pname not in flat:
                raise InputError(f"code {name!r}: unknown parent {parent!r}", path=path, line=lineno)
        kids.setdefault(pname, []).append(name)

    def build(name: str, stack: tuple[str, ...]) -> Code:
        if name in stack:
            raise InputError(f"code {name!r}: parent cycle", path=path, line=flat[name][2])
        children = tuple(build(k, (*stack, name)) for k in kids.get(name, []))
        return replace(flat[name][0], children=children)

    codes = tuple(build(n, ()) for n in kids.get(None, []))
    if sum(1 for top in codes for _ in top.walk()) != len(flat):
        raise InputError("parent references form a cycle", path=path)
    return checked_codebook(Codebook(name=path.stem, codes=codes, source=str(path)), path)


def _rejoin_overflow(rows: list[list[str]], header: list[str], desc_cols: list[int], path: Path,
                     delimiter: str) -> list[list[str]]:
    """Rows with more cells than the header: a description with unquoted commas in a hand-written
    CSV (``Alliance,Feeling listened to, taken seriously``).  When the description is the last
    column, the extra cells are its text and are joined back; otherwise they cannot be placed and
    the rows are an error.  Either way nothing is cut off silently."""
    width = len(header)
    long_rows = [i for i, r in enumerate(rows[1:], start=2) if len(r) > width and any(c.strip() for c in r[width:])]
    if not long_rows:
        return rows
    if not desc_cols or desc_cols[-1] != width - 1:
        raise InputError(f"{len(long_rows)} row(s) have more cells than the header's {width} (first: line "
                         f"{long_rows[0]}): put text that holds the delimiter in double quotes", path=path,
                         line=long_rows[0])
    warnings.warn(f"{path.name}: {len(long_rows)} row(s) have more cells than the header (lines "
                  f"{', '.join(map(str, long_rows[:5]))}{', ...' if len(long_rows) > 5 else ''}): the description "
                  "held unquoted delimiters, and its parts were joined back; quote such text to be sure",
                  PsythemesWarning, stacklevel=5)
    return [rows[0]] + [r[:width - 1] + [delimiter.join(r[width - 1:]).strip()] if len(r) > width else r
                        for r in rows[1:]]


_Entry = tuple[int, str, str, str, dict[str, list[str]]]  # line, display, description, parent, list fields


class _ParentCycle(InputError):
    """Parent cells that lead back to the code itself."""


def _join_sentences(cells: Iterable[str]) -> str:
    """Several description cells (a brief and a full definition) as one text, in column order."""
    parts = [c.strip() for c in cells if c.strip()]
    return " ".join(p if p.endswith((".", "!", "?", ":", ";")) or i == len(parts) - 1 else p + "."
                    for i, p in enumerate(parts))


def _cell_items(text: str) -> list[str]:
    """A criteria or examples cell as items: one per line, each line split as a description section is."""
    return [item for line in text.replace("\r\n", "\n").split("\n") if line.strip()
            for item in _split_items(line.strip().lstrip("-*• ").strip())]


def _hierarchy_from_paths(entries: list[_Entry], paths: list[str] | None, path: Path) -> tuple[list[_Entry], set[str]]:
    """Parents from code paths: a path column (NVivo's ``Nodes\\Parent\\Child``) or, without one,
    names written as paths (``Parent > Child``, ``Parent\\Child``: MAXQDA's code import).

    A code's name is its last part, or the whole path where two codes share that last part.  A
    parent that has no row of its own becomes a heading (not codable, its name as definition).
    Returns the entries with their parents set and the names of the added headings.
    """
    if paths is None:
        tuples = [code_path_parts(e[1]) or (e[1],) for e in entries]
        if all(len(t) == 1 for t in tuples):
            return entries, set()
    else:  # the name column holds the code's own name; the path says where it sits
        tuples = [(*code_path_parts(p)[:-1], e[1]) for e, p in zip(entries, paths, strict=True)]
    source = "the path column" if paths is not None else "code names written as paths ('Parent > Child')"
    return _tree_from_paths(entries, tuples, path, source)


def _hierarchy_from_parents(entries: list[_Entry], path: Path) -> tuple[list[_Entry], set[str]]:
    """Parents from a parent column, by the rules of :func:`_hierarchy_from_paths`: a parent cell
    names a row by its name (or its psythemes ``Identifier:``), case-insensitively, or by its path
    (``Mechanisms\\Alliance``, which also tells apart two rows of one name); a parent that has no
    row becomes a heading; codes of one name under different parents are named by their paths.
    """
    idents = [_parse_description(e[2])[1].get("identifier") or "" for e in entries]
    by_key: dict[str, list[int]] = {}
    for i, (e, ident) in enumerate(zip(entries, idents, strict=True)):
        for key in dict.fromkeys(k for k in (_name_key(e[1]), _name_key(ident) if ident else "") if k):
            by_key.setdefault(key, []).append(i)
    full: dict[int, tuple[str, ...]] = {}

    def path_of(i: int, stack: tuple[int, ...]) -> tuple[str, ...]:
        if i not in full:
            if i in stack:
                raise _ParentCycle(f"code {entries[i][1]!r}: parent cycle", path=path, line=entries[i][0])
            cell = entries[i][3]
            full[i] = (*(row_of(code_path_parts(cell), i, (*stack, i)) if cell.strip() else ()), entries[i][1])
        return full[i]

    def under(j: int, parents: list[str], stack: tuple[int, ...]) -> bool:
        """Whether row ``j``'s own parents end with ``parents`` (keys); not when ``j`` is under the row asked for."""
        try:
            above = [_name_key(p) for p in path_of(j, stack)[:-1]]
        except _ParentCycle:
            return False
        return above[len(above) - len(parents):] == parents if len(above) >= len(parents) else False

    def row_of(parts: tuple[str, ...], child: int, stack: tuple[int, ...]) -> tuple[str, ...]:
        """The path from the root of the row that ``parts`` (a parent cell) names, or of the headings it makes."""
        keys = [_name_key(p) for p in parts]
        named = by_key.get(keys[-1], [])
        found = [j for j in named if j not in stack]  # a code and the codes it is under are no parents of it
        if not found and named and len(parts) == 1:
            raise _ParentCycle(f"code {entries[child][1]!r}: parent cycle", path=path, line=entries[child][0])
        if len(parts) > 1:  # a path: the rows whose own parents end the same way
            found = [j for j in found if under(j, keys[:-1], stack)]
        if len(found) == 1:
            return path_of(found[0], stack)
        if found:
            options = ", ".join(repr(" > ".join(path_of(j, stack))) for j in found)
            raise InputError(f"code {entries[child][1]!r}: parent {entries[child][3]!r} could be any of {options}: "
                             "write its path (Parent\\Child)", path=path, line=entries[child][0])
        return (*(row_of(parts[:-1], child, stack) if len(parts) > 1 else ()), parts[-1])

    tuples = [path_of(i, ()) for i in range(len(entries))]
    return _tree_from_paths(entries, tuples, path, "the parent column", always=False)


def _tree_from_paths(entries: list[_Entry], tuples: list[tuple[str, ...]], path: Path, source: str, *,
                     always: bool = True) -> tuple[list[_Entry], set[str]]:
    """Entries with parents from each row's path from the root (``tuples``), headings added for
    parents without a row, and codes that share a last part named by their paths; one warning
    says what was made (``always``: also when nothing was added or renamed)."""
    known = set(tuples)
    added: list[tuple[str, ...]] = []
    for t in tuples:
        for k in range(1, len(t)):
            if t[:k] not in known:
                known.add(t[:k])
                added.append(t[:k])
    leaf_count = Counter(_name_key(t[-1]) for t in known)

    def name(t: tuple[str, ...]) -> str:
        return t[-1] if leaf_count[_name_key(t[-1])] == 1 else " > ".join(t)

    out: list[_Entry] = []
    emitted: set[tuple[str, ...]] = set()
    for t, (lineno, _display, desc, _parent, lists) in zip(tuples, entries, strict=True):
        for k in range(1, len(t)):
            if t[:k] in added and t[:k] not in emitted:
                emitted.add(t[:k])
                out.append((lineno, name(t[:k]), "", name(t[:k - 1]) if k > 1 else "", {}))
        out.append((lineno, name(t), desc, name(t[:-1]) if len(t) > 1 else "", lists))
    headings = {name(t) for t in added}
    renamed = sorted(name(t) for t in known if name(t) != t[-1])
    nested = sum(1 for t in tuples if len(t) > 1)
    leaves = sorted({t[-1] for t in tuples})
    if headings or renamed or always:
        warnings.warn(
            f"{path.name}: the code tree comes from {source}: {nested} codes have a parent"
            + (f"; {len(headings)} parents without a row of their own became headings that are never assigned: "
               + ", ".join(f"{h!r}{did_you_mean(h, leaves, cutoff=0.8)}" for h in sorted(headings))
               if headings else "")
            + (f"; codes that share a name under different parents are named by their paths: "
               f"{', '.join(repr(r) for r in renamed)}" if renamed else ""),
            PsythemesWarning, stacklevel=6)
    return out, headings


def _write_csv(cb: Codebook, path: Path) -> None:
    from .outputs import atomic_open

    parents = cb.parent_of
    nested = any(p is not None for p in parents.values())
    with atomic_open(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["name", "description", "parent"] if nested else ["name", "description"])
        for code in cb.flat():
            row = [code.display, _render_description(code, with_color=True, with_codable=True)]
            if nested:
                parent = parents[code.name]
                row.append(cb[parent].display if parent else "")
            writer.writerow(row)


# --------------------------------------------------------------------------------------------
# YAML, files and names


def checked_codebook(cb: Codebook, source: str | Path | None = None) -> Codebook:
    """``cb`` put through the rules of a YAML codebook (:func:`codebook_from_dict`), so that a
    codebook read from any format gets the same checks.

    Raises
    ------
    InputError
        A rule is broken (e.g. every code is a heading only), naming ``source``.
    """
    return codebook_from_dict(codebook_to_dict(cb), source=source, default_name=cb.name)


def _read_yaml(path: Path) -> Codebook:
    import yaml

    from .limits import load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8-sig"), path)  # depth and alias expansion limited
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark is not None else None
        raise InputError(f"invalid YAML: {err.problem}", path=path, line=line) from None
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {err}", path=path) from None
    except UnicodeDecodeError:
        raise InputError("a YAML codebook must be UTF-8 text", path=path) from None
    return codebook_from_dict(data, source=path, default_name=path.stem)


def _write_yaml(cb: Codebook, path: Path) -> None:
    import yaml

    from .outputs import write_text

    text = yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100)
    write_text(path, text)


def _read_project_codebook(path: Path) -> Codebook:
    from .qdpx import read_project_codebook  # lazily: qdpx imports pandas

    return read_project_codebook(path)


_READERS = {".yaml": _read_yaml, ".yml": _read_yaml, ".csv": _read_csv_codebook, ".tsv": _read_csv_codebook,
            ".xlsx": _read_xlsx_codebook,
            ".docx": _read_docx_codebook, ".qdc": _read_qdc, ".qdpx": _read_project_codebook,
            ".qde": _read_project_codebook}
_WRITERS = {".yaml": _write_yaml, ".yml": _write_yaml, ".csv": _write_csv, ".qdc": _write_qdc}


def shipped_codebooks() -> list[str]:
    """Names of the codebooks shipped with psythemes (``psythemes/codebooks/*.yaml``)."""
    folder = resources.files("psythemes") / "codebooks"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_codebook(path_or_name: str | Path | Codebook) -> Codebook:
    """Read a codebook from a file (``.yaml``/``.yml``, ``.csv``, ``.tsv``, ``.xlsx``, ``.docx``, ``.qdc``) or a
    shipped name.

    Parameters
    ----------
    path_or_name : str, Path or Codebook
        A file path, or the name of a shipped codebook such as ``"psychosomatic"``. A
        :class:`Codebook` is returned unchanged.

    Returns
    -------
    Codebook

    Raises
    ------
    InputError
        Missing file, unknown format, or a codebook that fails validation (the message names
        the file, the code and, where known, the line).
    """
    if isinstance(path_or_name, Codebook):
        return path_or_name
    text = str(path_or_name)
    path = Path(text)
    if not path.exists() and path.suffix == "" and "/" not in text and "\\" not in text:
        resource = resources.files("psythemes") / "codebooks" / f"{text}.yaml"
        if resource.is_file():
            with resources.as_file(resource) as real:
                cb = _read_yaml(Path(real))
            return replace(cb, source=f"psythemes:codebooks/{text}.yaml")
        raise InputError(
            f"no such codebook file or shipped codebook {text!r} (shipped: {', '.join(shipped_codebooks())})"
        )
    if not path.is_file():
        raise InputError("codebook file not found", path=path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"unknown codebook format {path.suffix!r} (use .yaml, .csv, .tsv, .xlsx, .docx, .qdc "
                         "or .qdpx)", path=path)
    return reader(path)


def save_codebook(cb: Codebook, path: str | Path) -> Path:
    """Write ``cb`` atomically in the format given by the suffix (``.yaml``, ``.csv``, ``.qdc``)."""
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise InputError(f"unknown codebook format {path.suffix!r} (use .yaml, .csv or .qdc)", path=path)
    writer(cb, path)
    return path


def default_codebook() -> Codebook:
    """The codebook of the psychosomatic-therapy study.

    Its codes: ``alternation``, ``awareness``, ``alliance``, ``common_ground``.
    """
    return load_codebook(_DEFAULT_NAME)

