"""One set of limits for every archive, XML and YAML input (.docx, .odt, .qdpx, .qde, .qdc, YAML codebooks).

A 1 MB file can expand into gigabytes: a zip member that decompresses 1000-fold, an ODF
``text:s text:c="3000000000"`` (three billion spaces), XML nested a hundred thousand levels
deep, a YAML document whose aliases refer to aliases.  Every reader that opens such a file
goes through the functions here first; each breach is an :class:`~psythemes.errors.InputError`
(exit 2) that names the limit (``max_member_bytes``...), so a user whose real file is caught
knows which :class:`Limits` field to raise.

The checks never trust what a file says about itself: zip members are read in bounded chunks
(the sizes in the header can lie), and XML is scanned by a streaming parser that stops at the
first breach.
"""

from __future__ import annotations

import io
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .errors import InputError

__all__ = ["Limits", "DEFAULT_LIMITS", "open_zip", "read_member", "is_xml_member", "scan_xml", "load_yaml",
           "no_deep_recursion"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may expand into.

    Attributes
    ----------
    max_members : int
        Members of one archive.
    max_member_bytes : int
        Uncompressed size of one archive member (a .qdpx source, a .docx image).
    max_total_bytes : int
        Uncompressed size of all members read from one archive.
    max_ratio : float
        Expansion ratio (uncompressed / compressed) of a member above 1 MiB.
    max_xml_bytes : int
        Size of one XML document (``document.xml``, ``content.xml``, ``project.qde``, ``.qdc``).
    max_depth : int
        Nesting depth of XML elements and of YAML / JSON collections.
    max_repeat : int
        One repeat count in ODF (``text:c``, ``table:number-columns-repeated``...).
    max_total_repeat : int
        All repeat counts of one document together.
    max_yaml_nodes : int
        Nodes of a YAML document counted with every alias expanded.
    """

    max_members: int = 10_000
    max_member_bytes: int = 256 * 2**20
    max_total_bytes: int = 1024 * 2**20
    max_ratio: float = 200.0
    max_xml_bytes: int = 64 * 2**20
    max_depth: int = 100
    max_repeat: int = 10_000
    max_total_repeat: int = 1_000_000
    max_yaml_nodes: int = 100_000


DEFAULT_LIMITS = Limits()

#: ODF attributes that repeat content (local names; any namespace).
ODF_REPEAT_ATTRIBUTES = frozenset({"c", "number-columns-repeated", "number-rows-repeated",
                                   "number-columns-spanned", "number-rows-spanned"})


def _breach(what: str, limit: str, value: Any, path: Path | str | None, why: str = "a hostile or damaged file?"
            ) -> InputError:
    return InputError(f"{what} exceeds the limit {limit}={value} ({why})", path=path)


# ----------------------------------------------------------------------------- zip archives

_BOMB = "possible zip bomb"


def open_zip(source: bytes | str | Path, path: Path | str, limits: Limits = DEFAULT_LIMITS,
             *, verify: bool = True) -> zipfile.ZipFile:
    """Open a zip archive after checking every member.

    Checks member count, unsafe member paths (absolute, ``..``: zip slip), encryption, the
    compression method, and, with ``verify`` (the default), decompresses every member in
    bounded chunks (size, ratio, total, CRC).  Returns the open :class:`zipfile.ZipFile`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as err:
        raise InputError(f"not a readable zip archive ({err})", path=path) from None
    try:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise _breach(f"archive has {len(infos)} members, which", "max_members", limits.max_members, path)
        budget = [limits.max_total_bytes]
        for info in infos:
            name = info.filename.replace("\\", "/")
            if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in PurePosixPath(name).parts:
                raise InputError(f"refusing archive member with an unsafe path: {info.filename!r}", path=path)
            if info.flag_bits & 0x1:
                raise InputError(f"archive member {info.filename!r} is encrypted; save the file without a password",
                                 path=path)
            known = zipfile.compressor_names  # type: ignore[attr-defined]  # CPython has it, typeshed does not
            if info.compress_type not in known or info.compress_type not in (
                    zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
                raise InputError(f"archive member {info.filename!r} uses an unsupported compression method "
                                 f"({info.compress_type})", path=path)
            if verify and not info.is_dir():
                read_member(archive, info, path, limits, budget=budget, keep=False,
                            max_bytes=limits.max_xml_bytes if is_xml_member(name) else None)
    except BaseException:
        archive.close()
        raise
    return archive


def is_xml_member(name: str) -> bool:
    """Whether an archive member is XML (``.xml``, ``.rels``, ``.qde``): capped by ``max_xml_bytes``."""
    return name.lower().endswith((".xml", ".rels", ".qde"))


def read_member(archive: zipfile.ZipFile, member: str | zipfile.ZipInfo, path: Path | str,
                limits: Limits = DEFAULT_LIMITS, *, budget: list[int] | None = None, keep: bool = True,
                max_bytes: int | None = None) -> bytes:
    """Read one member in bounded chunks (never trusting the header's sizes).

    ``budget`` (a one-item list) is the total still allowed for this archive and is decreased.
    ``max_bytes`` lowers the per-member cap (e.g. :attr:`Limits.max_xml_bytes`).
    """
    try:
        info = member if isinstance(member, zipfile.ZipInfo) else archive.getinfo(member)
    except KeyError:
        raise InputError(f"archive has no member {member!r}", path=path) from None
    cap = min(limits.max_member_bytes, max_bytes or limits.max_member_bytes)
    cap_name = "max_xml_bytes" if max_bytes is not None and max_bytes < limits.max_member_bytes else "max_member_bytes"
    total_left = budget[0] if budget is not None else limits.max_total_bytes
    out = bytearray()
    n = 0
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(1 << 16):
                n += len(chunk)
                if keep:
                    out += chunk
                if n > cap:
                    raise _breach(f"archive member {info.filename!r} expands beyond {cap} bytes and",
                                  cap_name, cap, path, _BOMB)
                if n > total_left:
                    raise _breach("the archive's members together expand beyond the limit and",
                                  "max_total_bytes", limits.max_total_bytes, path, _BOMB)
                if n > 2**20 and n / max(info.compress_size, 1) > limits.max_ratio:
                    raise _breach(f"archive member {info.filename!r} expands more than {limits.max_ratio:g}-fold; it",
                                  "max_ratio", limits.max_ratio, path, _BOMB)
    except InputError:
        raise
    except RuntimeError as err:  # zipfile: "File ... is encrypted, password required"
        raise InputError(f"archive member {info.filename!r} cannot be read: {err}", path=path) from None
    except NotImplementedError as err:
        raise InputError(f"archive member {info.filename!r} uses an unsupported compression method ({err})",
                         path=path) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise InputError(f"archive member {info.filename!r} is damaged ({type(err).__name__}: {err})",
                         path=path) from None
    if budget is not None:
        budget[0] -= n
    return bytes(out)


# ----------------------------------------------------------------------------- XML


def scan_xml(data: bytes, path: Path | str, limits: Limits = DEFAULT_LIMITS,
             *, repeat_attributes: Iterable[str] = ()) -> None:
    """Check an XML document's size, nesting depth and repeat counts before it is parsed.

    A streaming (expat) pass that keeps no tree: it stops at the first element deeper than
    :attr:`Limits.max_depth` or the first repeat attribute (local name in
    ``repeat_attributes``) above :attr:`Limits.max_repeat`.  Entity declarations are left to the
    real parser (``defusedxml``), which refuses them.
    """
    if len(data) > limits.max_xml_bytes:
        raise _breach(f"XML document of {len(data)} bytes", "max_xml_bytes", limits.max_xml_bytes, path)
    repeat_names = frozenset(repeat_attributes)
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    depth = [0]
    repeats = [0]

    def start(name: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] > limits.max_depth:
            raise _breach(f"XML nesting deeper than {limits.max_depth} elements (line {parser.CurrentLineNumber})",
                          "max_depth", limits.max_depth, path)
        if repeat_names:
            for key, value in attrs.items():
                if key.rsplit("}", 1)[-1].rsplit(":", 1)[-1] in repeat_names:
                    count = _repeat_count(value, key, parser.CurrentLineNumber, path)
                    if count > limits.max_repeat:
                        raise _breach(f"repeat count {key.rsplit('}', 1)[-1]}={value} "
                                      f"(line {parser.CurrentLineNumber})", "max_repeat", limits.max_repeat, path)
                    repeats[0] += count
                    if repeats[0] > limits.max_total_repeat:
                        raise _breach("the repeat counts together", "max_total_repeat", limits.max_total_repeat,
                                      path)

    def end(name: str) -> None:
        depth[0] -= 1

    def entity(name: str, *args: Any) -> None:
        # defusedxml refuses these too; refusing here keeps expat from expanding them in this scan
        raise InputError(f"refusing unsafe XML with entity declarations ({name!r}, line {parser.CurrentLineNumber})",
                         path=path)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        # not well-formed: the reader's own parser reports it in its words, with the line
        return


def _repeat_count(value: str, key: str, line: int, path: Path | str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise InputError(f"repeat count {key.rsplit('}', 1)[-1]}={value!r} is not a whole number >= 0",
                         path=path, line=line)
    return count


# ----------------------------------------------------------------------------- YAML


def load_yaml(text: str, path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """``yaml.safe_load`` with the depth and alias-expansion limits checked on the node graph first.

    Aliases are cheap to write and to load (PyYAML shares the objects), but everything that walks
    the result afterwards (validation, hashing, JSON) walks every expansion: nine levels of nine
    aliases are 387 million nodes.  The composed graph is measured with aliases expanded
    (memoised, so measuring is linear) before any object is built.
    """
    import yaml

    try:
        with no_deep_recursion(path, "max_depth", limits.max_depth):
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        raise  # the caller reports syntax errors with their line
    if node is None:
        return None
    sizes: dict[int, int] = {}

    def size(n: Any, depth: int) -> int:
        if depth > limits.max_depth:
            raise _breach(f"YAML nesting deeper than {limits.max_depth} levels", "max_depth", limits.max_depth, path)
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = 0  # a recursive alias counts as nothing more while it is measured
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        else:
            total = 1
        if total > limits.max_yaml_nodes:
            raise _breach(f"YAML document expands (aliases included) to more than {limits.max_yaml_nodes} nodes;"
                          " it", "max_yaml_nodes", limits.max_yaml_nodes, path)
        sizes[key] = total
        return total

    size(node, 0)
    return yaml.safe_load(text)


class no_deep_recursion:
    """Turn a RecursionError (deeply nested JSON, YAML, XML) into an InputError naming ``limit``."""

    def __init__(self, path: Path | str | None, limit: str = "max_depth", value: Any = DEFAULT_LIMITS.max_depth,
                 line: int | None = None):
        self.path, self.limit, self.value, self.line = path, limit, value, line

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc_type is not None and issubclass(exc_type, RecursionError):
            raise InputError(f"nesting too deep to read (limit {self.limit}={self.value})", path=self.path,
                             line=self.line) from None
        return False
