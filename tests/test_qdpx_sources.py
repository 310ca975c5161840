"""REFI-QDA projects with missing or no text sources: read what is there, name what is not."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from psythemes.errors import InputError, PsythemesWarning
from psythemes.io import read_transcripts
from psythemes.qdpx import read_qdpx

SOURCE = ('<TextSource guid="5000000{i}-0000-0000-0000-000000000000" name="{name}" '
          'plainTextPath="internal://{name}.txt">{sel}</TextSource>')
SELECTION = ('<PlainTextSelection guid="5e100000-0000-0000-0000-00000000000{i}" startPosition="13" endPosition="18">'
             '<Coding guid="c0d10000-0000-0000-0000-00000000000{i}"><CodeRef targetGUID="c0000000-0000-0000-0000-'
             '000000000000"/></Coding></PlainTextSelection>')


def project(tmp_path: Path, names: list[str], present: list[str]) -> Path:
    sources = "".join(SOURCE.format(i=i, name=n, sel=SELECTION.format(i=i)) for i, n in enumerate(names))
    xml = ('<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="p">'
           '<CodeBook><Codes><Code guid="c0000000-0000-0000-0000-000000000000" name="calm" isCodable="true"/>'
           f'</Codes></CodeBook><Sources>{sources}</Sources></Project>')
    path = tmp_path / "p.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        for name in present:
            archive.writestr(f"sources/{name}.txt", f"Interviewer: Hello.\n{name}: I felt calm there.\n")
    return path


def test_missing_sources_are_named_one_warning_each(tmp_path):
    path = project(tmp_path, ["P1", "P2", "P3"], present=["P2"])
    with pytest.warns(PsythemesWarning) as caught:
        read = read_qdpx(path)
    messages = [str(w.message) for w in caught if "not found" in str(w.message)]
    assert len(messages) == 2
    assert "'P1' (internal://P1.txt)" in messages[0] and "'P3' (internal://P3.txt)" in messages[1]
    assert [t.doc_id for t in read.transcripts] == ["P2"]
    assert list(read.codings["doc_id"]) == ["P2"]  # codings of missing sources are left out with them


def test_all_sources_missing_is_an_error(tmp_path):
    with pytest.raises(InputError, match="none of the project's 2 text sources was found: 'P1'"):
        read_qdpx(project(tmp_path, ["P1", "P2"], present=[]))


def test_project_without_text_sources(tmp_path):
    path = project(tmp_path, [], present=[])
    assert read_qdpx(path).transcripts == []  # a codebook-only project is still a codebook
    with pytest.raises(InputError, match="project has no text sources"):
        read_transcripts([path])


@pytest.mark.parametrize("layout", ["relative_to_base_path", "absolute", "beside_the_project"])
def test_sources_kept_outside_the_project_are_read_from_where_it_names_them(tmp_path, layout):
    # QualCoder and the REFI-QDA standard allow text sources outside the archive; they were "not found"
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "P2.txt").write_text("Interviewer: Hello.\nP2: I felt calm there.\n", encoding="utf-8")
    path = project(tmp_path, ["P1", "P2"], present=["P1"])
    ref = {"relative_to_base_path": "relative://P2.txt", "absolute": f"absolute://{(folder / 'P2.txt').as_posix()}",
           "beside_the_project": "texts/P2.txt"}[layout]
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("project.qde").decode()
    xml = xml.replace("internal://P2.txt", ref)
    if layout == "relative_to_base_path":
        xml = xml.replace('name="p">', f'name="p" basePath="{folder.as_posix()}">')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        archive.writestr("sources/P1.txt", "Interviewer: Hello.\nP1: I felt calm there.\n")
    with pytest.warns(PsythemesWarning, match=r"1 text source\(s\) read from outside the project, where it names "
                                              rf"them: .*{folder.name}/P2\.txt"):
        read = read_qdpx(path)
    assert [t.doc_id for t in read.transcripts] == ["P1", "P2"]
    text = read.transcripts[1].text
    assert [text[r.start:r.end] for r in read.codings.itertuples() if r.doc_id == "P2"] == ["Hello"]
