"""REFI-QDA (QDA-XML 1.0) project exchange: the format NVivo, ATLAS.ti, MAXQDA and QualCoder share.

A ``.qdpx`` file is a zip archive with ``project.qde`` (XML, namespace
``urn:QDA-XML:project:1.0``) and a ``sources/`` folder of documents.  psythemes writes
text sources as ``sources/<guid>.txt`` (UTF-8) addressed as ``internal://<guid>.txt``.

Selection positions (``startPosition``/``endPosition``): the standard says "characters"
without naming the unit.  NVivo (and, as far as we know, the other Windows/.NET and Qt tools:
ATLAS.ti, MAXQDA) count UTF-16 code units, so every character outside the Basic
Multilingual Plane (most emoji) counts twice; Python tools (QualCoder, psythemes before
0.x) count code points.  psythemes converts on read (:func:`detect_position_unit`) to code
points, which are Python string indices, and writes UTF-16 code units by default (what the
commercial tools read), naming the unit in the project's ``origin``.  See docs/formats.md.

Reading is lenient (attribute order, GUID braces and case, ``internal://`` or relative
paths, inline ``PlainTextContent``, missing optional elements, CRLF line ends) and
writing is strict (the output validates against ``Project-mrt2019.xsd``).  Hostile files
are refused with :class:`~psythemes.errors.InputError`: XML entity declarations and
external entities (``defusedxml``), zip members with absolute paths or ``..`` (zip slip),
oversized or highly compressed members (zip bombs), selections outside the text.
"""

from __future__ import annotations

import bisect
import io as _io
import itertools
import re
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

import pandas as pd

from .codebook import (
    Code,
    Codebook,
    checked_codebook,
    code_guids,
    codebook_to_refi_codes,
    codes_from_refi,
    refi_guid,
)
from .errors import InputError, PsythemesWarning
from .limits import Limits, is_xml_member, open_zip, read_member, scan_xml
from .outputs import write_bytes
from .schema import GOLD_COLUMNS, Transcript

__all__ = [
    "NAMESPACE",
    "QdaProject",
    "read_qdpx",
    "read_project_transcripts",
    "project_transcripts",
    "write_qdpx",
    "project_to_xml",
    "ZipLimits",
    "read_project_codebook",
    "POSITION_UNITS",
    "detect_position_unit",
    "utf16_offsets",
    "MACHINE_CODER",
    "THEME_GROUP",
    "gold_codings",
]

NAMESPACE = "urn:QDA-XML:project:1.0"
_NS = f"{{{NAMESPACE}}}"
# uuid5 namespace so that the same project content always gets the same GUIDs
_GUID_NAMESPACE = uuid.UUID("6f1e4b8e-5a55-4b43-9d0e-707379746865")

#: Coder (REFI-QDA user) name of machine codes; never taken as gold unless asked for by name.
MACHINE_CODER = "psythemes"
#: Name of the code group that holds psythemes' candidate themes (not codes of the codebook).
THEME_GROUP = "psythemes candidate themes"
#: First line of the note psythemes attaches to each machine coding (score and evidence).
_SUGGESTION_NOTE = "psythemes suggestion"
#: Metadata key of the speaker -> role map; exported as a text variable in ``_ROLES_FORMAT``.
_ROLES_KEY = "speaker_roles"


#: The archive limits of :mod:`psythemes.limits` (one set for every archive and XML format).
ZipLimits = Limits


@dataclass
class QdaProject:
    """What psythemes takes from (and puts into) a REFI-QDA project.

    Attributes
    ----------
    name : str
        Project name.
    position_unit : str
        How the file counted selection positions (see :func:`detect_position_unit`).
    transcripts : list of Transcript
        Text sources, ``format="qdpx"``; metadata holds case variables.
    codebook : Codebook or None
        The project's codebook (nested codes, descriptions), ``None`` when it has none.
    codings : DataFrame
        One row per coded selection and code, columns :data:`psythemes.schema.GOLD_COLUMNS`;
        ``coder`` is the name of the user who made the coding.
    """

    name: str
    transcripts: list[Transcript]
    codebook: Codebook | None = None
    codings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GOLD_COLUMNS))
    #: the unit the project's selection positions were counted in (``codings`` are code points)
    position_unit: str = "codepoints"
    suggestions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_SUGGESTION_COLUMNS))
    themes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_THEME_EXPORT_COLUMNS))

    def export_codings(self) -> pd.DataFrame:
        """``codings`` with the ``score`` and ``evidence`` of machine suggestions, ready for
        :func:`write_qdpx` (so export -> import -> export gives the same project)."""
        if self.suggestions.empty:
            return self.codings.copy()
        return self.codings.merge(self.suggestions, on=GOLD_COLUMNS, how="left")


_SUGGESTION_COLUMNS: list[str] = [*GOLD_COLUMNS, "score", "evidence"]
_THEME_EXPORT_COLUMNS: list[str] = ["theme_id", "label", "keywords", "size", "top_quotes"]


def gold_codings(project: QdaProject, coders: Iterable[str] | None = None, *, path: Any = None) -> pd.DataFrame:
    """The codings of a project that count as human (gold) codes.

    Parameters
    ----------
    project : QdaProject
    coders : iterable of str, optional
        Coder (user) names to keep.  Default: every coder except :data:`MACHINE_CODER`, and
        no coding that carries a psythemes suggestion note, so machine codes exported by
        psythemes never come back as human codes.  Naming ``"psythemes"`` here keeps them.
    path : path, optional
        Named in messages.

    Returns
    -------
    DataFrame
        :data:`~psythemes.schema.GOLD_COLUMNS`.

    Raises
    ------
    InputError
        A named coder has no codings in the project.
    """
    import warnings

    from .errors import PsythemesWarning

    table = project.codings
    empty = table["start"] >= table["end"]
    if empty.any():  # a QDA program can store a selection of nothing; as gold it codes no text
        warnings.warn(f"{f'{path}: ' if path else ''}{int(empty.sum())} coding(s) select no text (start = end) and "
                      "are not used as gold", PsythemesWarning, stacklevel=2)
        table = table[~empty.to_numpy()].reset_index(drop=True)
    if coders is not None:
        wanted = [str(c).strip() for c in coders if str(c).strip()]
        present = set(table["coder"].astype(str))
        unknown = [c for c in wanted if c not in present]
        if unknown:
            raise InputError(f"no codings by coder(s) {', '.join(unknown)} in the project "
                             f"(coders: {', '.join(sorted(present)) or 'none'})", path=path)
        return table[table["coder"].astype(str).isin(wanted)].reset_index(drop=True)
    machine = table["coder"].astype(str) == MACHINE_CODER
    if not project.suggestions.empty:
        noted = table.merge(project.suggestions[GOLD_COLUMNS].assign(_noted=True), on=GOLD_COLUMNS, how="left")
        machine |= noted["_noted"].fillna(False).astype(bool).to_numpy()
    if machine.any():
        where = f"{path}: " if path else ""
        warnings.warn(
            f"{where}{int(machine.sum())} machine coding(s) (coder {MACHINE_CODER!r} or with a psythemes "
            "suggestion note) are not used as gold; name coders with --gold-coders to choose",
            PsythemesWarning, stacklevel=2,
        )
    return table[~machine].reset_index(drop=True)



# ----------------------------------------------------------------------------- positions

#: the units a REFI-QDA selection position can be counted in
POSITION_UNITS = ("codepoints", "utf16")
# Tools whose strings are UTF-16 (.NET, Qt, Delphi): NVivo is confirmed by a real export
# (issue #14); ATLAS.ti and MAXQDA are assumed from their platforms and not verified.
_UTF16_ORIGINS = re.compile(r"nvivo|atlas\.?ti|maxqda", re.IGNORECASE)
# Python tools index strings by code point (and psythemes wrote code points before it named the unit).
_CODEPOINT_ORIGINS = re.compile(r"qualcoder|^psythemes$", re.IGNORECASE)
# psythemes names the unit it wrote in the origin ("psythemes; positions=utf16")
_DECLARED_UNIT = re.compile(r"\bpositions=(codepoints|utf16)\b")


def utf16_offsets(text: str) -> list[int] | None:
    """UTF-16 offset of every code-point boundary of ``text``, or ``None`` when they coincide.

    ``out[i]`` is the number of UTF-16 code units before code point ``i`` (``len(text) + 1``
    entries); ``None`` means the text has no character outside the Basic Multilingual Plane,
    so both ways of counting give the same numbers.
    """
    if text.isascii() or max(text, default="\0") <= "\uffff":
        return None
    out = [0] * (len(text) + 1)
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        out[i + 1] = units
    return out


def _from_utf16(offsets: list[int] | None, pos: int) -> int | None:
    """The code-point index of UTF-16 offset ``pos``; ``None`` inside a surrogate pair or past the end."""
    if offsets is None:
        return pos
    i = bisect.bisect_left(offsets, pos)
    return i if i < len(offsets) and offsets[i] == pos else None


def _to_utf16(offsets: list[int] | None, pos: int) -> int:
    return pos if offsets is None else offsets[pos]


def _squash(text: str) -> str:
    return " ".join(text.split())


def detect_position_unit(
    sources: Iterable[tuple[str, list[tuple[int, int, str]]]], origin: str | None
) -> tuple[str, str | None]:
    """Decide whether a project counts selection positions in code points or UTF-16 code units.

    The rule, in order:

    0. A unit the ``origin`` declares (``positions=utf16``, as psythemes writes it) is taken.
    1. Where both units cut the same text for every selection (no character outside the Basic
       Multilingual Plane before a selection's end): ``"codepoints"``, nothing to say.
    2. Evidence from the selections: a position beyond a text's length in code points (but
       within its UTF-16 length) can only be UTF-16; a position that falls between the two
       halves of a surrogate pair can only be code points; otherwise the unit under which more
       selection ``name`` attributes (tools write the start of the selected text there) match
       the text they cut wins.
    3. The project's ``origin``: NVivo, ATLAS.ti, MAXQDA count UTF-16; QualCoder and older
       psythemes code points.  The reason is returned so that the caller can warn.
    4. Otherwise code points (the plain reading of "characters"), with a reason.

    Parameters
    ----------
    sources : iterable of (str, list of (int, int, str))
        Each source's raw text and its selections as ``(start, end, name)``.
    origin : str or None
        The ``origin`` attribute of ``<Project>``.

    Returns
    -------
    (str, str or None)
        The unit (one of :data:`POSITION_UNITS`) and, when the evidence did not decide it,
        a sentence saying what was guessed and why.
    """
    declared = _DECLARED_UNIT.search(origin or "")
    if declared:
        return declared.group(1), None
    ambiguous = False
    impossible = {"codepoints": False, "utf16": False}
    named = {"codepoints": 0, "utf16": 0}
    for text, selections in sources:
        offsets = utf16_offsets(text)
        if offsets is None:
            continue
        for start, end, name in selections:
            cp_ok = 0 <= start <= end <= len(text)
            u16 = (_from_utf16(offsets, start), _from_utf16(offsets, end))
            u16_ok = None not in u16 and 0 <= start <= end
            if u16_ok and u16 == (start, end):
                continue  # before the first astral character both units cut the same text
            ambiguous = True
            impossible["codepoints"] |= not cp_ok
            impossible["utf16"] |= not u16_ok
            want = _squash(name or "")
            if not want:
                continue
            # compared as written: without what XML cannot hold, whitespace collapsed
            if cp_ok and _squash(_xml_safe(text[start:end])).startswith(want):
                named["codepoints"] += 1
            if u16_ok and _squash(_xml_safe(text[u16[0]:u16[1]])).startswith(want):
                named["utf16"] += 1
    if not ambiguous:
        return "codepoints", None
    if impossible["codepoints"] != impossible["utf16"]:
        return ("utf16" if impossible["codepoints"] else "codepoints"), None
    if named["codepoints"] != named["utf16"]:
        return max(named, key=named.__getitem__), None
    hint = ("choose with --qdpx-positions utf16|codepoints (psythemes extract, evaluate, train, map, next) or "
            "positions= (read_qdpx, read_gold's qdpx_positions=)")
    origin = (origin or "").strip()
    if _UTF16_ORIGINS.search(origin):
        return "utf16", (f"selection positions read as UTF-16 code units because the project comes from "
                         f"{origin!r}; {hint}")
    if _CODEPOINT_ORIGINS.search(origin):
        return "codepoints", (f"selection positions read as code points because the project comes from "
                              f"{origin!r}; {hint}")
    return "codepoints", (f"could not tell whether selection positions count code points or UTF-16 code units "
                          f"(origin {origin or 'not given'!r}); read them as code points; {hint}")


# ----------------------------------------------------------------------------- reading


def read_qdpx(path: str | Path, *, limits: ZipLimits | None = None, positions: str = "auto",
              codings: bool = True) -> QdaProject:
    """Read a ``.qdpx`` archive or a bare ``.qde`` project file.

    Parameters
    ----------
    path : str or Path
        The project.  For a ``.qde``, sources are looked up in a ``sources/`` folder beside it
        (any capitalisation: NVivo writes ``Sources/``, MAXQDA ``sources/``).
    limits : ZipLimits, optional
        Size bounds for archive members.
    positions : {"auto", "codepoints", "utf16"}
        The unit the project counts selection positions in; ``"auto"`` decides it with
        :func:`detect_position_unit` and warns (:class:`~psythemes.errors.PsythemesWarning`)
        when it had to guess.  Positions are converted to code points either way.
    codings : bool, default True
        False: the texts, codebook and variables only (``codings`` empty): no position unit to
        decide and no selection checked, for a reader that wants the transcripts.

    Returns
    -------
    QdaProject
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path=path)
    from .validate import check_regular_file

    check_regular_file(path)
    limits = limits or ZipLimits()
    if path.suffix.lower() == ".qde":
        xml_bytes = path.read_bytes()
        scan_xml(xml_bytes, path, limits)
        base = _sources_folder(path.parent)

        def load_source(name: str) -> bytes | None:
            candidate = (base / name).resolve()
            if base.resolve() not in candidate.parents:
                raise InputError(f"source path {name!r} points outside the sources folder", path=path)
            return candidate.read_bytes() if candidate.is_file() else None

        return _parse_project(xml_bytes, load_source, path, positions, codings)

    # every member is checked (paths, encryption, method, size, ratio) before any is used
    with open_zip(path, path, limits, verify=False) as archive:
        members = _checked_members(archive, path, limits)
        budget = [limits.max_total_bytes]
        xml_bytes = _read_member(archive, members[_project_member(members, path)], path, limits, budget)
        scan_xml(xml_bytes, path, limits)
        by_lower = {n.lower(): n for n in members}

        def load_source(name: str) -> bytes | None:
            for candidate in (f"sources/{name}", name):
                key = by_lower.get(candidate.lower())
                if key is not None:
                    return _read_member(archive, members[key], path, limits, budget)
            return None

        return _parse_project(xml_bytes, load_source, path, positions, codings)


def _project_member(members: Mapping[str, Any], path: Path) -> str:
    """The name of the archive's one ``project.qde``."""
    qde = [n for n in members if n.lower().endswith(".qde") and "/" not in n.strip("/")]
    qde = qde or [n for n in members if n.lower().endswith(".qde")]
    if not qde:
        kinds = {"word/document.xml": "a Word document (.docx)", "content.xml": "an OpenDocument file",
                 "xl/workbook.xml": "an Excel workbook (.xlsx)"}
        kind = next((k for member, k in kinds.items() if member in members), None)
        raise InputError("archive holds no project.qde" + (f": it is {kind} renamed, not a REFI-QDA project "
                                                             "(export one from your QDA program)" if kind else ""),
                         path=path)
    if len(qde) > 1:
        raise InputError(f"archive holds {len(qde)} project files ({', '.join(qde[:3])}); expected one", path=path)
    return qde[0]


def read_project_codebook(path: str | Path, *, limits: ZipLimits | None = None) -> Codebook:
    """The codebook of a REFI-QDA project (``.qdpx`` or bare ``.qde``), its sources left unread.

    What ``psythemes codebook validate/convert`` and every ``--codebook`` read from a project, as
    :func:`psythemes.codebook.load_codebook` does for a ``.qdc``.

    Raises
    ------
    InputError
        Not a readable project, or a project without codes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    limits = limits or ZipLimits()
    if path.suffix.lower() == ".qde":
        xml_bytes = path.read_bytes()
    else:
        with open_zip(path, path, limits, verify=False) as archive:
            members = _checked_members(archive, path, limits)
            xml_bytes = _read_member(archive, members[_project_member(members, path)], path, limits,
                                     [limits.max_total_bytes])
    scan_xml(xml_bytes, path, limits)
    codebook, _, _ = _project_codebook(_parse_xml(xml_bytes, path), path)
    if codebook is None:
        raise InputError("project has no codes: no codebook to read", path=path)
    return checked_codebook(codebook, path)


def _project_codebook(root: ET.Element, path: Path) -> tuple[Codebook | None, ET.Element | None, pd.DataFrame]:
    """A project's codebook (None without codes), its ``<Codes>`` element and psythemes' candidate
    themes, which travel as a code group and are taken out of the codes."""
    book = _child(root, "CodeBook")
    codes_el = _child(book, "Codes") if book is not None else None
    themes = _take_theme_group(codes_el)
    if codes_el is None or not _children(codes_el, "Code"):
        return None, codes_el, themes
    codes = codes_from_refi(codes_el, NAMESPACE, path=str(path))
    return Codebook(name=root.get("name") or path.stem, codes=codes, source=str(path)), codes_el, themes


def _sources_folder(folder: Path) -> Path:
    """The ``sources`` folder beside a bare ``.qde``, whatever its capitalisation."""
    exact = folder / "sources"
    if exact.is_dir():
        return exact
    for child in sorted(folder.iterdir()):
        if child.is_dir() and child.name.lower() == "sources":
            return child
    return exact


def _checked_members(archive: zipfile.ZipFile, path: Path, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    # open_zip has refused unsafe paths, encrypted members and unknown methods
    return {info.filename.replace("\\", "/"): info for info in archive.infolist() if not info.is_dir()}


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, limits: Limits, budget: list[int]
) -> bytes:
    """Read one member in bounded chunks; never trust the sizes the header claims."""
    return read_member(archive, info, path, limits, budget=budget,
                       max_bytes=limits.max_xml_bytes if is_xml_member(info.filename) else None)


def _parse_xml(xml_bytes: bytes, path: Path) -> ET.Element:
    import defusedxml
    import defusedxml.ElementTree as SafeET

    try:
        root = SafeET.fromstring(xml_bytes)
    except defusedxml.DefusedXmlException as err:
        raise InputError(
            f"refusing XML with entity declarations or external references ({type(err).__name__})", path=path
        ) from None
    except ET.ParseError as err:
        raise InputError(f"malformed project XML: {err}", path=path) from None
    # Some tools omit or vary the namespace; read every element as if it were in ours.
    for elem in root.iter():
        elem.tag = f"{_NS}{_local(elem.tag)}"
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    found = _children(elem, name)
    return found[0] if found else None


def _norm_guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


def _parse_project(xml_bytes: bytes, load_source: Any, path: Path, positions: str = "auto",
                   codings: bool = True) -> QdaProject:
    root = _parse_xml(xml_bytes, path)
    if _local(root.tag) != "Project":
        raise InputError(f"root element is <{_local(root.tag)}>, expected <Project>", path=path)

    users: dict[str, str] = {}
    users_el = _child(root, "Users")
    if users_el is not None:
        for user in _children(users_el, "User"):
            guid = _norm_guid(user.get("guid"))
            users[guid] = user.get("name") or user.get("id") or guid

    code_names: dict[str, str] = {}  # code guid -> psythemes code name
    codebook, codes_el, themes = _project_codebook(root, path)
    if codebook is not None and codes_el is not None:
        # codes_from_refi walks depth first, as iter() does: pair each element with its code
        for elem, code in zip(codes_el.iter(f"{_NS}Code"), codebook.flat(), strict=True):
            code_names[_norm_guid(elem.get("guid"))] = code.name

    variables: dict[str, str] = {}
    vars_el = _child(root, "Variables")
    if vars_el is not None:
        for var in _children(vars_el, "Variable"):
            variables[_norm_guid(var.get("guid"))] = var.get("name") or _norm_guid(var.get("guid"))

    source_vars: dict[str, dict[str, Any]] = {}
    cases_el = _child(root, "Cases")
    if cases_el is not None:
        for case in _children(cases_el, "Case"):
            values = _variable_values(case, variables)
            if case.get("name"):
                values.setdefault("case", case.get("name"))
            for ref in _children(case, "SourceRef"):
                source_vars.setdefault(_norm_guid(ref.get("targetGUID")), {}).update(values)

    # first every source's raw text and selections, so that the position unit is decided once
    # for the whole project (one tool wrote it) before any position is converted
    read: list[tuple[ET.Element, str, list[tuple[int, int, str] | None]]] = []
    sources_el = _child(root, "Sources")
    text_sources = _children(sources_el, "TextSource") if sources_el is not None else []
    missing: list[str] = []
    outside: list[str] = []
    for source in text_sources:
        raw_text = _source_text(source, load_source, path, root.get("basePath"), outside)
        if raw_text is None:
            missing.append(f"{source.get('name') or source.get('guid')!r} ({source.get('plainTextPath') or 'no path'})")
            continue
        selections: list[tuple[int, int, str] | None] = []  # None: positions that are not integers
        for selection in _children(source, "PlainTextSelection") if codings else ():
            try:
                selections.append((int(selection.get("startPosition", "")), int(selection.get("endPosition", "")),
                                   selection.get("name") or ""))
            except ValueError:
                selections.append(None)
        read.append((source, raw_text, selections))
    if missing and not read:
        raise InputError(f"none of the project's {len(missing)} text sources was found: {'; '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}", path=path)
    for name in missing:  # one warning per source: the user has to find each of them
        warnings.warn(f"{path}: text source {name} not found in the project, nor at the path it names; read "
                      "the project without it (and its codings)", PsythemesWarning, stacklevel=3)
    if outside:  # a copy of the project elsewhere would lose them: said
        warnings.warn(f"{path}: {len(outside)} text source(s) read from outside the project, where it names them: "
                      f"{', '.join(outside[:5])}{' ...' if len(outside) > 5 else ''}", PsythemesWarning,
                      stacklevel=3)
    unit = (_position_unit(positions, [(raw, [x for x in sels if x is not None]) for _, raw, sels in read],
                           root.get("origin"), path) if codings
            else positions if positions in POSITION_UNITS else "codepoints")

    notes = _read_notes(root)
    suggestions: list[dict[str, Any]] = []
    transcripts: list[Transcript] = []
    rows: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    # one bad selection or coding is left out, named, as a gold span beyond its text in a CSV is:
    # the researcher's other codings still count; (number of codings, why)
    skipped: list[tuple[int, str]] = []
    for source, raw_text, selections in read:
        guid = _norm_guid(source.get("guid"))
        text, to_norm = _normalise_with_map(raw_text)
        doc_id = _unique_doc_id(source.get("name") or guid, seen_ids)
        metadata = dict(source_vars.get(guid, {}))
        metadata.update(_variable_values(source, variables))
        _decode_roles(metadata)
        metadata["qda_guid"] = guid
        transcripts.append(
            Transcript(
                doc_id=doc_id,
                text=text,
                source=f"{path}!{source.get('plainTextPath') or source.get('name') or guid}",
                format="qdpx",
                metadata=metadata,
                turns=[],
            )
        )
        offsets = utf16_offsets(raw_text) if unit == "utf16" else None
        pairs = zip(_children(source, "PlainTextSelection") if codings else (), selections, strict=True)
        for selection, read_positions in pairs:
            n_codings = len(_children(selection, "Coding"))
            where = f"selection {selection.get('guid')!r} in {doc_id!r}"
            if read_positions is None:
                skipped.append((n_codings, f"{where} has positions that are not whole numbers"))
                continue
            start_at, end_at, _name = read_positions
            start_o, end_o = _from_utf16(offsets, start_at), _from_utf16(offsets, end_at)
            if start_at > end_at:
                skipped.append((n_codings, f"{where} ends before it starts [{start_at}, {end_at})"))
                continue
            if start_o is None or end_o is None or not 0 <= start_o <= end_o <= len(raw_text):
                length = len(raw_text) if offsets is None else offsets[-1]
                skipped.append((n_codings, (f"{where} [{start_at}, {end_at}) lies outside it "
                                           f"({length} {'UTF-16 code units' if offsets else 'characters'})")))
                continue
            if start_o < end_o and to_norm(start_o) >= to_norm(end_o):
                skipped.append((n_codings, (f"{where} [{start_at}, {end_at}) selects no whole character (an accent "
                                           "alone, or the CR of a line end)")))
                continue
            sel_user = _norm_guid(selection.get("creatingUser"))
            for coding in _children(selection, "Coding"):
                code_ref = _child(coding, "CodeRef")
                written = code_ref.get("targetGUID") if code_ref is not None else None
                target_guid = _norm_guid(written)
                if target_guid not in code_names:
                    skipped.append((1, f"a coding in {doc_id!r} refers to unknown code {written!r}"))
                    continue
                user_guid = _norm_guid(coding.get("creatingUser")) or sel_user
                rows.append(
                    {
                        "doc_id": doc_id,
                        "start": to_norm(start_o),
                        "end": to_norm(end_o),
                        "code": code_names[target_guid],
                        "coder": users.get(user_guid, user_guid or "unknown"),
                    }
                )
                note = _suggestion_note(coding, notes)
                if note is not None:
                    suggestions.append({**rows[-1], **note})
    if skipped:
        warnings.warn(f"{path}: {sum(n for n, _ in skipped)} coding(s) left out: "
                      f"{'; '.join(why for _, why in skipped[:5])}{' ...' if len(skipped) > 5 else ''}",
                      PsythemesWarning, stacklevel=3)
    codings = pd.DataFrame(rows, columns=GOLD_COLUMNS)
    return QdaProject(name=root.get("name") or path.stem, transcripts=transcripts, codebook=codebook, codings=codings,
                      position_unit=unit, suggestions=pd.DataFrame(suggestions, columns=_SUGGESTION_COLUMNS),
                      themes=themes)


def _position_unit(requested: str, sources: list[tuple[str, list[tuple[int, int, str]]]], origin: str | None,
                   path: Path) -> str:
    """The unit to read positions in: the one requested, or the detected one (warning when guessed)."""
    if requested != "auto":
        if requested not in POSITION_UNITS:
            raise InputError(f"positions must be 'auto' or one of {', '.join(POSITION_UNITS)}, not {requested!r}")
        return requested
    unit, guessed = detect_position_unit(sources, origin)
    if guessed:
        warnings.warn(f"{path}: {guessed}", PsythemesWarning, stacklevel=4)
    return unit


# -- what psythemes itself puts into a project: suggestion notes, the theme group, speaker roles


def _read_notes(root: ET.Element) -> dict[str, str]:
    notes_el = _child(root, "Notes")
    out: dict[str, str] = {}
    for note in _children(notes_el, "Note") if notes_el is not None else []:
        content = _child(note, "PlainTextContent")
        if content is not None and content.text:
            out[_norm_guid(note.get("guid"))] = content.text
    return out


def _suggestion_text(code: str, score: Any, evidence: Any) -> str:
    lines = [_SUGGESTION_NOTE, f"code: {code}"]
    if not _missing(score):
        lines.append(f"score: {float(score):.4f}")
    if not _missing(evidence) and str(evidence).strip():
        lines.append("evidence: " + " ".join(str(evidence).split()))
    return "\n".join(lines)


def _suggestion_note(coding: ET.Element, notes: Mapping[str, str]) -> dict[str, Any] | None:
    """Score and evidence of a machine coding, from the note psythemes attached to it."""
    for ref in _children(coding, "NoteRef"):
        text = notes.get(_norm_guid(ref.get("targetGUID")), "")
        lines = text.replace("\r\n", "\n").split("\n")
        if lines[0].strip() != _SUGGESTION_NOTE:
            continue
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        try:
            score = float(fields["score"]) if "score" in fields else float("nan")
        except ValueError:
            score = float("nan")
        return {"score": score, "evidence": fields.get("evidence", "")}
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _take_theme_group(codes_el: ET.Element | None) -> pd.DataFrame:
    """Remove psythemes' candidate-theme group from ``<Codes>`` (it is not part of the
    codebook) and return its themes."""
    rows: list[dict[str, Any]] = []
    if codes_el is None:
        return pd.DataFrame(rows, columns=_THEME_EXPORT_COLUMNS)
    for group in [c for c in _children(codes_el, "Code") if c.get("name") == THEME_GROUP]:
        codes_el.remove(group)
        for elem in _children(group, "Code"):
            desc = _child(elem, "Description")
            rows.append(_parse_theme_description(desc.text if desc is not None and desc.text else ""))
    return pd.DataFrame(rows, columns=_THEME_EXPORT_COLUMNS)


def _theme_description(theme: Mapping[str, Any], quotes: list[dict[str, Any]]) -> str:
    lines = [f"theme_id: {theme.get('theme_id')}", f"label: {' '.join(str(theme.get('label', '')).split())}",
             f"size: {theme.get('size', '')}", f"keywords: {' '.join(str(theme.get('keywords', '')).split())}",
             "quotes:"]
    for quote in quotes:
        where = ""
        if quote.get("doc_id") is not None and quote.get("start") is not None:
            where = f"[{quote['doc_id']} {int(quote['start'])}-{int(quote['end'])}] "
        lines.append(f"- {where}{' '.join(str(quote.get('text', '')).split())}")
    return "\n".join(lines)


def _parse_theme_description(text: str) -> dict[str, Any]:
    import json

    row: dict[str, Any] = dict.fromkeys(_THEME_EXPORT_COLUMNS, "")
    quotes = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("- "):
            match = re.match(r"^- \[(.+) (\d+)-(\d+)\] (.*)$", line)
            quotes.append({"doc_id": match[1], "start": int(match[2]), "end": int(match[3]), "text": match[4]}
                          if match else {"text": line[2:]})
        elif ": " in line:
            key, value = line.split(": ", 1)
            if key in row:
                row[key] = value
    for key in ("theme_id", "size"):
        try:
            row[key] = int(row[key])
        except (TypeError, ValueError):
            pass
    row["top_quotes"] = json.dumps(quotes, ensure_ascii=False)
    return row


def _decode_roles(metadata: dict[str, Any]) -> None:
    """Turn the exported ``speaker_roles`` variable back into a speaker -> role mapping, so
    that reading a project applies the roles again (see :func:`psythemes.io.role_of`)."""
    import ast
    import json

    value = metadata.get(_ROLES_KEY)
    if not isinstance(value, str) or not value.strip().startswith("{"):
        return
    try:
        roles = json.loads(value)
    except ValueError:
        try:  # exports of psythemes <= 0.x wrote a Python dict repr; literal_eval runs no code
            roles = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return
    if isinstance(roles, dict):
        metadata[_ROLES_KEY] = {str(k): str(v) for k, v in roles.items()}


def _variable_values(elem: ET.Element, variables: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for vv in _children(elem, "VariableValue"):
        ref = _child(vv, "VariableRef")
        if ref is None:
            continue
        name = variables.get(_norm_guid(ref.get("targetGUID")))
        if name is None:
            continue
        for child in vv:
            kind = _local(child.tag)
            if kind == "VariableRef":
                continue
            raw = (child.text or "").strip()
            if kind == "IntegerValue":
                values[name] = int(raw) if raw else None
            elif kind == "FloatValue":
                values[name] = float(raw) if raw else None
            elif kind == "BooleanValue":
                values[name] = raw.lower() in ("true", "1")
            else:
                values[name] = raw
    return values


def _source_text(source: ET.Element, load_source: Any, path: Path, base_path: str | None = None,
                 outside: list[str] | None = None) -> str | None:
    """The plain text of a text source, ``None`` when its file is found neither in the project
    nor where the project says it lies outside (``outside`` collects those read from there)."""
    inline = _child(source, "PlainTextContent")
    if inline is not None and inline.text is not None:
        return inline.text
    ref = source.get("plainTextPath") or ""
    name = re.sub(r"^(internal|relative|absolute)://", "", ref).lstrip("/")
    candidates = [name, PurePosixPath(name.replace("\\", "/")).name] if name else []
    for candidate in candidates:
        if ".." in PurePosixPath(candidate).parts:
            raise InputError(f"refusing source path with '..': {ref!r}", path=path)
        data = load_source(candidate)
        if data is not None:
            return _decode(data, path, candidate)
    external = _external_source(ref, path, base_path)
    if external is None:
        return None
    if external.stat().st_size > Limits().max_member_bytes:
        raise InputError(f"text source {source.get('name')!r} at {external} is larger than a text source may be "
                         f"({Limits().max_member_bytes} bytes)", path=path)
    try:
        data = external.read_bytes()
    except OSError as err:
        raise InputError(f"text source {source.get('name')!r} at {external} cannot be read: {err.strerror}",
                         path=path) from None
    if outside is not None:
        outside.append(str(external))
    return _decode(data, path, str(external))


def _external_source(ref: str, path: Path, base_path: str | None) -> Path | None:
    """A source the project keeps outside itself (REFI-QDA ``absolute://`` and ``relative://``
    paths, QualCoder's plain relative ones): the ``.txt`` file, when it exists as a plain file.
    Only ``.txt``: a text source's plain text is one, and a project must not make psythemes
    read any other file on the machine."""
    scheme, _, rest = ref.partition("://") if "://" in ref else ("", "", ref)
    if not rest or scheme.lower() == "internal" or not rest.lower().endswith(".txt"):
        return None
    rest = rest.replace("\\", "/")
    candidates: list[Path] = []
    if scheme.lower() == "absolute":
        if re.match(r"^/[A-Za-z]:/", rest):  # absolute:///C:/Users/...: a Windows path
            rest = rest[1:]
        candidates.append(Path(rest if rest.startswith("/") or re.match(r"^[A-Za-z]:/", rest) else "/" + rest))
    else:  # relative to the project's basePath, then to the folder the project lies in
        if base_path:
            base = re.sub(r"^(absolute|file)://", "", base_path).replace("\\", "/")
            candidates.append(Path(base) / rest.lstrip("/"))
        candidates.append(path.parent / rest.lstrip("/"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _decode(data: bytes, path: Path, member: str) -> str:
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"source {member!r} is not UTF-8 or UTF-16 text", path=path) from None


def _normalise_with_map(raw: str):
    """The text as psythemes reads every transcript (:func:`psythemes.io.normalise_text`: LF line
    ends, Unicode NFC), and a map from positions in ``raw`` to positions in it.

    REFI-QDA positions count the source as stored; the same interview read from a ``.txt`` is
    normalised, so the project's text is too (a macOS export holds decomposed accents) and each
    selection's positions are carried over.
    """
    if "\r" not in raw:
        text = raw
        removed: list[int] | None = None
    else:
        pieces = []
        # removed[i] = number of characters dropped before raw position i
        removed = [0] * (len(raw) + 1)
        dropped = 0
        for i, ch in enumerate(raw):
            removed[i] = dropped
            if ch == "\r" and i + 1 < len(raw) and raw[i + 1] == "\n":
                dropped += 1  # the \r of a CRLF disappears
            elif ch == "\r":
                pieces.append("\n")
            else:
                pieces.append(ch)
        removed[len(raw)] = dropped
        text = "".join(pieces)
    text, composed = _nfc_with_map(text)

    def to_norm(pos: int) -> int:
        pos = pos if removed is None else pos - removed[pos]
        return pos if composed is None else composed[pos]

    return text, to_norm


def _nfc_with_map(text: str) -> tuple[str, list[int] | None]:
    """``text`` in NFC and, when that changes it, the NFC position of every position of ``text``.

    Composition happens within a run of a starter and the combining marks after it, so the text
    is normalised run by run and the runs' lengths give the map (a position inside a run that
    shrinks moves to the run's end).  Where run-by-run NFC is not the NFC of the whole (Hangul
    jamo, some Indic vowel pairs compose across starters) the text stays as stored, positions
    unchanged, as before psythemes normalised project texts.
    """
    import unicodedata

    nfc = unicodedata.normalize("NFC", text)
    if nfc == text:
        return text, None
    starts = [i for i, ch in enumerate(text) if i == 0 or unicodedata.combining(ch) == 0]
    bounds = list(zip(starts, starts[1:] + [len(text)], strict=True))
    pieces = [unicodedata.normalize("NFC", text[a:b]) for a, b in bounds]
    if "".join(pieces) != nfc:
        return text, None
    composed = [0] * (len(text) + 1)
    done = 0
    for (a, b), piece in zip(bounds, pieces, strict=True):
        same = piece == text[a:b]
        for i in range(a, b):
            composed[i] = done + (i - a) if same or i == a else done + len(piece)
        done += len(piece)
    composed[len(text)] = done
    return nfc, composed


def _unique_doc_id(name: str, seen: set[str]) -> str:
    base = re.sub(r"\.(txt|docx?|odt|rtf|pdf|vtt|srt)$", "", name.strip(), flags=re.IGNORECASE) or "source"
    doc_id, n = base, 2
    while doc_id in seen:
        doc_id, n = f"{base}-{n}", n + 1
    seen.add(doc_id)
    return doc_id


# ----------------------------------------------------------------------------- writing


def _guid(kind: str, key: str) -> str:
    return str(uuid.uuid5(_GUID_NAMESPACE, f"{kind}:{key}"))


def _as_codebook(codes: Any, used: Iterable[str]) -> Codebook:
    """The codebook to write: ``codes`` (Codebook, names or None) plus any code used but not in it."""
    if isinstance(codes, Codebook):
        book = codes
    else:
        names = [] if codes is None else [str(c) for c in codes]
        book = Codebook(name="codes", codes=tuple(Code(name=n, definition=n) for n in names))
    extra = [n for n in sorted(set(used)) if n not in book.names]
    if extra:
        book = Codebook(name=book.name, codes=book.codes + tuple(Code(name=n, definition=n) for n in extra),
                        description=book.description, version=book.version)
    names = book.names
    if len(set(names)) != len(names):
        raise InputError("code names appear twice in the codebook")
    return book


def _variable_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v) and v != ""]
    if present and all(isinstance(v, bool) for v in present):
        return "Boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "Integer"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "Float"
    return "Text"


def project_to_xml(
    transcripts: list[Transcript],
    *,
    codes: Any = None,
    codings: pd.DataFrame | None = None,
    name: str = "psythemes project",
    case_variable: str = "participant",
    created: datetime | None = None,
    positions: str = "utf16",
    themes: pd.DataFrame | None = None,
    theme_quotes: pd.DataFrame | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Build ``project.qde`` and the source files of a REFI-QDA project.

    Parameters
    ----------
    transcripts : list of Transcript
        Text sources; their metadata become variables on cases.
    codes : Codebook or list of str, optional
        The codebook.  Codes that appear in ``codings`` but not here are added at the top level.
    codings : DataFrame, optional
        Columns :data:`psythemes.schema.GOLD_COLUMNS`; ``coder`` becomes the REFI-QDA user.
        Optional ``score`` and ``evidence`` columns (machine codes) are written as a note
        attached to the coding, starting ``psythemes suggestion``.
    name : str
        Project name.
    case_variable : str
        Metadata field that identifies a case (participant); the doc_id is used where it is missing.
    created : datetime, optional
        Creation time written into the project (default: now, UTC).
    positions : {"utf16", "codepoints"}
        The unit of the written selection positions.  ``"utf16"`` (default) is what NVivo,
        ATLAS.ti and MAXQDA read; ``"codepoints"`` is what QualCoder reads.  The two differ only
        in texts with characters outside the Basic Multilingual Plane (emoji); the unit is
        named in the project's ``origin`` so that psythemes reads it back exactly.
    themes : DataFrame, optional
        Candidate themes (``theme_id, label, keywords, size, top_quotes``), written as their
        own non-codable code group :data:`THEME_GROUP`, one code per theme whose description
        holds its keywords and quotes.  Reading the project gives them back in
        ``QdaProject.themes``, not in the codebook.
    theme_quotes : DataFrame, optional
        The themes' quotes as a long table (``ThemeDiscoverer.quotes_``, ``theme_quotes.csv``);
        without it, the ``top_quotes`` cells of ``themes`` (:func:`psythemes.tables.theme_quotes`).

    Returns
    -------
    (bytes, dict)
        The XML document and ``{"sources/<guid>.txt": text}``.
    """
    created = created or datetime.now(UTC).replace(microsecond=0)
    stamp = created.isoformat().replace("+00:00", "Z")
    codings = codings if codings is not None else pd.DataFrame(columns=GOLD_COLUMNS)
    missing = [c for c in GOLD_COLUMNS if c not in codings.columns]
    if missing:
        raise InputError(f"codings table lacks columns {missing}")
    book = _as_codebook(codes, codings["code"].astype(str))
    code_guid_of = code_guids(book.codes)

    texts = {t.doc_id: t.text for t in transcripts}
    if len(texts) != len(transcripts):
        raise InputError("duplicate doc_id among transcripts")
    unknown_docs = sorted(set(codings["doc_id"].astype(str)) - set(texts))
    if unknown_docs:
        raise InputError(f"codings refer to unknown documents: {unknown_docs[:5]}")

    coders = sorted(set(codings["coder"].astype(str))) or ["psythemes"]
    user_guid = {u: _guid("user", u) for u in coders}

    if positions not in POSITION_UNITS:
        raise InputError(f"positions must be one of {', '.join(POSITION_UNITS)}, not {positions!r}")
    origin = f"psythemes; positions={positions}"
    root = ET.Element(f"{_NS}Project", {"name": name, "origin": origin, "creationDateTime": stamp})
    users_el = ET.SubElement(root, f"{_NS}Users")
    for user in coders:
        ET.SubElement(users_el, f"{_NS}User", {"guid": user_guid[user], "name": user})
    codes_el = codebook_to_refi_codes(book, NAMESPACE)
    if themes is not None and not themes.empty:
        codes_el.append(_theme_group(themes, theme_quotes))
    if len(codes_el):
        ET.SubElement(root, f"{_NS}CodeBook").append(codes_el)
    metadata = {t.doc_id: _export_metadata(t.metadata, case_variable) for t in transcripts}

    # variables: every metadata field except the case id and internal keys
    fields: dict[str, list[Any]] = {}
    for t in transcripts:
        for key, value in metadata[t.doc_id].items():
            if key != case_variable and not key.startswith("qda_"):
                fields.setdefault(key, []).append(value)
    fields = dict(sorted(fields.items()))  # one order however the metadata was gathered (re-export is identical)
    var_guid = {k: _guid("variable", k) for k in fields}
    var_type = {k: _variable_type(v) for k, v in fields.items()}
    if fields:
        vars_el = ET.SubElement(root, f"{_NS}Variables")
        for key in fields:
            ET.SubElement(vars_el, f"{_NS}Variable",
                          {"guid": var_guid[key], "name": key, "typeOfVariable": var_type[key]})

    cases: dict[str, list[Transcript]] = {}
    for t in transcripts:
        cases.setdefault(str(metadata[t.doc_id].get(case_variable) or t.doc_id), []).append(t)
    source_guid = _source_guids(transcripts)
    cases_el = ET.SubElement(root, f"{_NS}Cases")
    per_document: dict[str, list[str]] = {}  # doc_id -> variables that vary within its case
    for case_name, members in cases.items():
        case_el = ET.SubElement(cases_el, f"{_NS}Case", {"guid": _guid("case", case_name), "name": case_name})
        # participant-level variables (one value across the case's documents) go on the case,
        # document-level ones (e.g. interview wave) on each text source
        for key in fields:
            values = {repr(metadata[m.doc_id].get(key)) for m in members}
            if len(values) == 1 and key in metadata[members[0].doc_id]:
                _variable_value(case_el, var_guid[key], var_type[key], metadata[members[0].doc_id][key])
            else:
                for m in members:
                    per_document.setdefault(m.doc_id, []).append(key)
        for m in members:
            ET.SubElement(case_el, f"{_NS}SourceRef", {"targetGUID": source_guid[m.doc_id]})

    sources_el = ET.SubElement(root, f"{_NS}Sources")
    files: dict[str, str] = {}
    # one sort, then a linear walk: grouping with pandas per selection was the slowest part of
    # exporting large projects
    scores = codings["score"] if "score" in codings.columns else [None] * len(codings)
    evidence = codings["evidence"] if "evidence" in codings.columns else [None] * len(codings)
    # the note text sorts last, so rows differing only in score/evidence keep a stable order
    ordered = sorted(
        (str(d), int(a), int(b), str(u), str(c), _note_or_empty(c, sc, ev))
        for d, a, b, u, c, sc, ev in zip(codings["doc_id"], codings["start"], codings["end"], codings["coder"],
                                         codings["code"], scores, evidence, strict=True)
    )
    notes_el = ET.Element(f"{_NS}Notes")
    by_doc = {doc: list(rows) for doc, rows in itertools.groupby(ordered, key=lambda r: r[0])}
    for t in transcripts:
        guid = source_guid[t.doc_id]
        files[f"sources/{guid}.txt"] = t.text
        src = ET.SubElement(
            sources_el,
            f"{_NS}TextSource",
            {"guid": guid, "name": t.doc_id, "plainTextPath": f"internal://{guid}.txt", "creationDateTime": stamp},
        )
        offsets = utf16_offsets(t.text) if positions == "utf16" else None
        for (start, end), group in itertools.groupby(by_doc.get(t.doc_id, []), key=lambda r: (r[1], r[2])):
            if not 0 <= start <= end <= len(t.text):
                raise InputError(f"coding [{start}, {end}) lies outside document {t.doc_id!r}")
            sel = ET.SubElement(
                src,
                f"{_NS}PlainTextSelection",
                {
                    "guid": _guid("selection", f"{t.doc_id}:{start}:{end}"),
                    "name": _xml_safe(t.text[start:end][:60]),
                    "startPosition": str(_to_utf16(offsets, start)),
                    "endPosition": str(_to_utf16(offsets, end)),
                },
            )
            for _doc, _start, _end, coder, code, note in group:
                key = f"{t.doc_id}:{start}:{end}:{code}:{coder}"
                coding = ET.SubElement(
                    sel,
                    f"{_NS}Coding",
                    {"guid": _guid("coding", key), "creatingUser": user_guid[coder], "creationDateTime": stamp},
                )
                ET.SubElement(coding, f"{_NS}CodeRef", {"targetGUID": code_guid_of[code]})
                if note:
                    note_guid = _guid("note", key)
                    ET.SubElement(coding, f"{_NS}NoteRef", {"targetGUID": note_guid})
                    note_el = ET.SubElement(notes_el, f"{_NS}Note", {
                        "guid": note_guid, "name": f"{_SUGGESTION_NOTE}: {code}", "creatingUser": user_guid[coder],
                        "creationDateTime": stamp})
                    ET.SubElement(note_el, f"{_NS}PlainTextContent").text = note
        for key in per_document.get(t.doc_id, []):
            if key in metadata[t.doc_id]:
                _variable_value(src, var_guid[key], var_type[key], metadata[t.doc_id][key])
    if not cases:
        root.remove(cases_el)
    if not transcripts:
        root.remove(sources_el)
    if len(notes_el):
        root.append(notes_el)  # after <Sources>, as the schema orders them
    ET.indent(root)
    # a default namespace (no ns0: prefixes), as the QDA tools themselves write it; ElementTree's
    # default_namespace option refuses unqualified attribute names, so register the prefix instead
    ET.register_namespace("", NAMESPACE)
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml, files


_XML_UNSAFE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters), for attributes."""
    return _XML_UNSAFE.sub("", text)
def _note_or_empty(code: str, score: Any, evidence: Any) -> str:
    if _missing(score) and (_missing(evidence) or not str(evidence).strip()):
        return ""
    return _suggestion_text(str(code), score, evidence)


def _source_guids(transcripts: Sequence[Transcript]) -> dict[str, str]:
    """Each text source's GUID: the one it had in the project it was read from (``qda_guid``), so
    that a QDA program importing the export can match its own sources; else a fresh one."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for t in transcripts:
        kept = refi_guid(str(t.metadata.get("qda_guid") or ""))
        guid = kept if kept and kept not in taken else _guid("source", t.doc_id)
        taken.add(guid)
        out[t.doc_id] = guid
    return out


def _export_metadata(metadata: Mapping[str, Any], case_variable: str) -> dict[str, Any]:
    """Metadata as variables take it: the speaker -> role map as JSON text (read back by
    ``_decode_roles``), not a Python repr; the ``case`` a project was read with names the
    case again when ``case_variable`` is not in the metadata."""
    import json

    out = dict(metadata)
    out.pop("qda_guid", None)  # the source's own GUID (_source_guids), not a variable of the researcher's
    out.pop("speakers", None)  # a focus group's members' own rows: a document variable holds one value
    if case_variable not in out and "case" in out:
        out[case_variable] = out.pop("case")
    roles = out.get(_ROLES_KEY)
    if isinstance(roles, Mapping):
        out[_ROLES_KEY] = json.dumps({str(k): str(v) for k, v in roles.items()}, ensure_ascii=False, sort_keys=True)
    return out


def _theme_group(themes: pd.DataFrame, theme_quotes: pd.DataFrame | None = None) -> ET.Element:
    from .tables import theme_quotes as quotes_of

    quotes = quotes_of(themes, theme_quotes)
    group = ET.Element(f"{_NS}Code", {"guid": _guid("themes", THEME_GROUP), "name": THEME_GROUP,
                                      "isCodable": "false"})
    ET.SubElement(group, f"{_NS}Description").text = (
        "Candidate themes that psythemes found by clustering (BERTopic): suggestions for the researcher to read, "
        "name, merge or discard; not codes of the codebook.")
    for theme in themes.to_dict("records"):
        label = " ".join(str(theme.get("label", "")).split())
        elem = ET.SubElement(group, f"{_NS}Code", {"guid": _guid("theme", str(theme.get("theme_id"))),
                                                   "name": f"theme {theme.get('theme_id')}: {label}"[:200],
                                                   "isCodable": "false"})
        ET.SubElement(elem, f"{_NS}Description").text = _theme_description(theme, quotes.get(theme.get("theme_id"), []))
    return group


def _variable_value(parent: ET.Element, guid: str, kind: str, value: Any) -> None:
    if value is None or (isinstance(value, float) and value != value):
        return
    vv = ET.SubElement(parent, f"{_NS}VariableValue")
    ET.SubElement(vv, f"{_NS}VariableRef", {"targetGUID": guid})
    tag = {"Integer": "IntegerValue", "Float": "FloatValue", "Boolean": "BooleanValue"}.get(kind, "TextValue")
    # floats always with a decimal point, so 52 written as Float reads back and re-exports as "52.0"
    text = str(value).lower() if kind == "Boolean" else (str(float(value)) if kind == "Float" else str(value))
    ET.SubElement(vv, f"{_NS}{tag}").text = text


def write_qdpx(
    path: str | Path,
    transcripts: list[Transcript],
    *,
    codes: Any = None,
    codings: pd.DataFrame | None = None,
    name: str = "psythemes project",
    case_variable: str = "participant",
    positions: str = "utf16",
    themes: pd.DataFrame | None = None,
    created: datetime | None = None,
    theme_quotes: pd.DataFrame | None = None,
) -> Path:
    """Write a ``.qdpx`` archive (atomically).

    Parameters are those of :func:`project_to_xml`.  Machine codes (``CODE_COLUMNS``) can be
    passed after adding a ``coder`` column (e.g. ``"psythemes"``); gold codes keep their coders.

    Returns
    -------
    Path
    """
    xml, files = project_to_xml(
        transcripts, codes=codes, codings=codings, name=name, case_variable=case_variable, positions=positions,
        themes=themes, created=created, theme_quotes=theme_quotes,
    )
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", xml)
        for member, text in files.items():
            archive.writestr(member, text.encode("utf-8"))
    return write_bytes(path, buffer.getvalue())


def read_project_transcripts(
    path: str | Path, *, label_patterns: Any = None, doc_id: str | None = None, **_ignored: Any
) -> list[Transcript]:
    """The text sources of a REFI-QDA project as transcripts with speaker turns.

    This is the reader :mod:`psythemes.io` uses for ``.qdpx``/``.qde`` inputs: each source's
    plain text is parsed for speaker labels like a ``.txt`` transcript.  The codings are not
    read (gold is read by :func:`psythemes.tables.read_gold`), so nothing is said about them.
    """
    project = read_qdpx(path, codings=False)
    if not project.transcripts:
        raise InputError("project has no text sources: nothing to read as transcripts", path=path)
    return project_transcripts(project, label_patterns=label_patterns)


def project_transcripts(project: QdaProject, *, label_patterns: Any = None) -> list[Transcript]:
    """The text sources of a project already read, with speaker turns parsed (in place).

    Parameters
    ----------
    project : QdaProject
        From :func:`read_qdpx`.
    label_patterns : sequence of regex, optional
        Speaker-label patterns (see :func:`psythemes.io.parse_labelled_text`).

    Returns
    -------
    list of Transcript
        ``project.transcripts``, each with its ``turns``.
    """
    from .io import parse_labelled_text

    if not project.transcripts:
        raise InputError(f"project {project.name!r} has no text sources: nothing to read as transcripts")
    for transcript in project.transcripts:
        transcript.turns = parse_labelled_text(
            transcript.text, label_patterns=label_patterns, source=transcript.source
        )
    return project.transcripts
