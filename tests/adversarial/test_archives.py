"""Hostile archives, XML and YAML: every breach is an InputError (exit 2) naming the limit.

One set of limits (:class:`psythemes.limits.Limits`) for .docx, .odt, .qdpx/.qde, .qdc, YAML
codebooks and JSONL; each case here once ended in minutes of work, gigabytes of memory, a
RecursionError or an ``unexpected`` exit.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from psythemes.errors import InputError
from psythemes.limits import Limits, load_yaml, open_zip, scan_xml

ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _odt(path: Path, body: str) -> Path:
    xml = f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body><office:text>{body}' \
          '</office:text></office:body></office:document-content>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", xml)
    return path


def _docx_like(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _patch_member(path: Path, *, method: int | None = None, flags: int | None = None) -> None:
    """Rewrite the compression method / flag bits of every member in both zip headers."""
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            if flags is not None:
                struct.pack_into("<H", data, i + flag_at, flags)
            if method is not None:
                struct.pack_into("<H", data, i + method_at, method)
            start = i + 4
    path.write_bytes(bytes(data))


def _read(path: Path):
    from psythemes.io import read_transcript

    return read_transcript(path)


# ----------------------------------------------------------------------------- .odt


def test_odt_repeat_count_of_three_billion_spaces(tmp_path):
    path = _odt(tmp_path / "c.odt", '<text:p>P01: a<text:s text:c="3000000000"/>b</text:p>')
    with pytest.raises(InputError, match="max_repeat"):
        _read(path)


def test_odt_many_repeats_together(tmp_path):
    body = "".join('<text:p>P01: a<text:s text:c="9000"/>b</text:p>' for _ in range(200))
    with pytest.raises(InputError, match="max_total_repeat"):
        _read(_odt(tmp_path / "many.odt", body))


@pytest.mark.parametrize("value", ["-5", "lots", ""])
def test_odt_repeat_count_that_is_not_a_number(tmp_path, value):
    with pytest.raises(InputError, match="not a whole number"):
        _read(_odt(tmp_path / "bad.odt", f'<text:p>P01: a<text:s text:c="{value}"/>b</text:p>'))


def test_odt_deep_nesting(tmp_path):
    body = "<text:p>P01: " + "<text:span>" * 5000 + "deep" + "</text:span>" * 5000 + "</text:p>"
    with pytest.raises(InputError, match="max_depth"):
        _read(_odt(tmp_path / "deep.odt", body))


def test_odt_expanding_far_beyond_its_size(tmp_path):
    body = "<text:p>P01: " + "x" * (30 * 2**20) + "</text:p>"  # 30 MB of one letter: ~1000-fold
    with pytest.raises(InputError, match="max_ratio.*zip bomb"):
        _read(_odt(tmp_path / "bomb.odt", body))


def test_odt_without_content(tmp_path):
    path = _docx_like(tmp_path / "empty.odt", {"mimetype": b"application/vnd.oasis.opendocument.text"})
    with pytest.raises(InputError, match="no member 'content.xml'"):
        _read(path)


# ----------------------------------------------------------------------------- .docx


def test_docx_bomb(tmp_path):
    xml = b'<?xml version="1.0"?><w:document xmlns:w="x">' + b"<w:p/>" * (6 * 2**20) + b"</w:document>"
    path = _docx_like(tmp_path / "bomb.docx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})
    with pytest.raises(InputError, match="max_ratio|max_xml_bytes"):
        _read(path)


@pytest.mark.parametrize("suffix", [".docx", ".odt", ".qdpx"])
def test_encrypted_member(tmp_path, suffix):
    path = _docx_like(tmp_path / f"locked{suffix}", {"content.xml": b"<a/>", "project.qde": b"<a/>"})
    _patch_member(path, flags=0x1)
    with pytest.raises(InputError, match="encrypted"):
        _read(path) if suffix != ".qdpx" else _read_qdpx(path)


@pytest.mark.parametrize("suffix", [".docx", ".odt", ".qdpx"])
def test_unknown_compression_method(tmp_path, suffix):
    path = _docx_like(tmp_path / f"odd{suffix}", {"content.xml": b"<a/>", "project.qde": b"<a/>"},
                      method=zipfile.ZIP_STORED)
    _patch_member(path, method=99)
    with pytest.raises(InputError, match="unsupported compression method"):
        _read(path) if suffix != ".qdpx" else _read_qdpx(path)


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
def test_corrupt_member(tmp_path, suffix):
    path = _docx_like(tmp_path / f"corrupt{suffix}", {"content.xml": b"<a>" + b"hello " * 50 + b"</a>"},
                      method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.find(b"hello") + 2] ^= 0xFF  # one flipped byte: the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged"):
        _read(path)


def test_too_many_members(tmp_path):
    path = _docx_like(tmp_path / "many.docx", {f"m{i}.xml": b"<a/>" for i in range(50)})
    with pytest.raises(InputError, match="max_members"):
        open_zip(path, path, Limits(max_members=20))


def test_member_size_limit(tmp_path):
    path = _docx_like(tmp_path / "big.docx", {"media/big.bin": bytes(range(256)) * 8000})
    with pytest.raises(InputError, match="max_member_bytes"):
        open_zip(path, path, Limits(max_member_bytes=100_000))


def test_total_size_limit(tmp_path):
    path = _docx_like(tmp_path / "sum.docx", {f"media/{i}.bin": bytes(range(256)) * 400 for i in range(5)})
    with pytest.raises(InputError, match="max_total_bytes"):
        open_zip(path, path, Limits(max_total_bytes=300_000))


# ----------------------------------------------------------------------------- .qdpx / .qde / .qdc


def _read_qdpx(path: Path):
    from psythemes.qdpx import read_qdpx

    return read_qdpx(path)


def test_qdpx_with_two_project_files(tmp_path):
    qde = b'<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>'
    path = _docx_like(tmp_path / "two.qdpx", {"project.qde": qde, "other.qde": qde})
    with pytest.raises(InputError, match="2 project files"):
        _read_qdpx(path)


def test_qde_deep_nesting(tmp_path):
    codes = "<Code guid='g' name='c'>" * 3000 + "</Code>" * 3000
    path = tmp_path / "deep.qde"
    path.write_text(f'<Project xmlns="urn:QDA-XML:project:1.0" name="x"><CodeBook><Codes>{codes}'
                    "</Codes></CodeBook></Project>")
    with pytest.raises(InputError, match="max_depth"):
        _read_qdpx(path)


def test_qdc_deep_nesting(tmp_path):
    from psythemes.codebook import load_codebook

    codes = "".join(f"<Code guid='{i}' name='c{i}' isCodable='true'>" for i in range(3000)) + "</Code>" * 3000
    path = tmp_path / "deep.qdc"
    path.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{codes}</Codes></CodeBook>')
    with pytest.raises(InputError, match="max_depth"):
        load_codebook(path)


def test_qdc_entity_expansion(tmp_path):
    from psythemes.codebook import load_codebook

    path = tmp_path / "lol.qdc"
    path.write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code name="&b;"/></Codes></CodeBook>')
    with pytest.raises(InputError, match="entity"):
        load_codebook(path)


# ----------------------------------------------------------------------------- YAML and JSON


def test_yaml_alias_bomb(tmp_path):
    from psythemes.codebook import load_codebook

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("codes: *a9")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(InputError, match="max_yaml_nodes"):
        load_codebook(path)


@pytest.mark.parametrize("levels", [150, 5000])
def test_yaml_deep_nesting(tmp_path, levels):
    from psythemes.codebook import load_codebook

    path = tmp_path / "deep.yaml"
    path.write_text("codes: " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(InputError, match="max_depth"):
        load_codebook(path)


def test_yaml_ordinary_aliases_still_load():
    data = load_yaml("base: &b {x: 1}\nother: *b\n", "ok.yaml")
    assert data == {"base": {"x": 1}, "other": {"x": 1}}


def test_jsonl_deep_nesting(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"speaker": "P01", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(InputError, match="max_depth|nesting"):
        _read(path)


def test_xml_scan_accepts_ordinary_documents():
    scan_xml(b'<a xmlns:t="urn:t"><t:s t:c="3"/><b><c/></b></a>', "ok.xml", repeat_attributes={"c"})


def test_cli_exit_code_and_one_line_for_a_bomb(tmp_path, capsys):
    from psythemes.cli import main

    path = _odt(tmp_path / "c.odt", '<text:p>P01: a<text:s text:c="3000000000"/>b</text:p>')
    rc = main(["segment", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "max_repeat" in err, err
