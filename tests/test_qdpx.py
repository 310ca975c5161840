"""REFI-QDA export/import: schema validity, exact round trip, lenient reading, hostile files."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from psythemes.codebook import codebook_from_dict
from psythemes.errors import InputError, PsythemesWarning
from psythemes.qdpx import project_to_xml, read_qdpx, write_qdpx
from psythemes.schema import GOLD_COLUMNS, Transcript

TEXT_A = "Interviewer: How was it?\nP01: Well, um, she really listened to me.\nI felt my shoulders drop — café.\n"
TEXT_B = "Interviewer: And the exercises?\nT02: We talk, then we do, then we talk again.\n"


@pytest.fixture()
def transcripts() -> list[Transcript]:
    return [
        Transcript("P01-W1", TEXT_A, metadata={"participant": "P01", "role": "patient", "wave": 1, "age": 52}),
        Transcript("P01-W2", TEXT_A.replace("How", "So how"),
                   metadata={"participant": "P01", "role": "patient", "wave": 2, "age": 52}),
        Transcript("T02", TEXT_B, metadata={"participant": "T02", "role": "therapist", "wave": 1, "age": 44.5}),
    ]


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


@pytest.fixture()
def codings(transcripts) -> pd.DataFrame:
    a, _, b = transcripts
    rows = []
    s, e = _span(a.text, "she really listened to me.")
    rows += [("P01-W1", s, e, "alliance", "A"), ("P01-W1", s, e, "alliance", "psythemes")]
    s, e = _span(a.text, "I felt my shoulders drop — café.")
    rows += [("P01-W1", s, e, "awareness", "A"), ("P01-W1", s, e, "alternation", "B")]
    s, e = _span(b.text, "We talk, then we do, then we talk again.")
    rows += [("T02", s, e, "alternation", "A")]
    return pd.DataFrame(rows, columns=GOLD_COLUMNS)


CODES = codebook_from_dict({
    "name": "test",
    "codes": [
        {"name": "mechanisms", "label": "Working mechanisms", "definition": "How therapy works.", "children": [
            {"name": "alternation", "definition": "Talking and body work alternate."},
            {"name": "awareness", "definition": "Body-mind awareness.", "examples": ["I felt it in my neck."]},
        ]},
        {"name": "alliance", "definition": "Rapport."},
    ],
})


def _schema(shared_dir: Path):
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(shared_dir / "spec" / "refi-qda" / "Project-mrt2019.xsd"))


def test_export_validates_against_refi_schema(tmp_path, transcripts, codings, shared_dir):
    out = write_qdpx(tmp_path / "p.qdpx", transcripts, codes=CODES, codings=codings)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        xml = archive.read("project.qde")
    assert "project.qde" in names
    assert sum(n.startswith("sources/") and n.endswith(".txt") for n in names) == 3
    _schema(shared_dir).validate(io.BytesIO(xml))  # raises on any violation


def test_round_trip_gives_back_texts_codes_and_spans(tmp_path, transcripts, codings):
    out = write_qdpx(tmp_path / "p.qdpx", transcripts, codes=CODES, codings=codings)
    project = read_qdpx(out)
    assert [t.doc_id for t in project.transcripts] == [t.doc_id for t in transcripts]
    assert [t.text for t in project.transcripts] == [t.text for t in transcripts]
    key = GOLD_COLUMNS
    got = project.codings.sort_values(key).reset_index(drop=True)
    want = codings.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.astype(str), want.astype(str))
    assert project.codebook.names == ["mechanisms", "alternation", "awareness", "alliance"]
    assert project.codebook["alternation"].definition == "Talking and body work alternate."
    assert project.codebook["awareness"].examples == ("I felt it in my neck.",)
    assert project.codebook["mechanisms"].label == "Working mechanisms"
    by_id = {t.doc_id: t for t in project.transcripts}
    assert by_id["P01-W1"].metadata["wave"] == 1
    assert by_id["P01-W2"].metadata["wave"] == 2
    assert by_id["T02"].metadata["age"] == 44.5
    assert by_id["P01-W1"].metadata["case"] == "P01"
    for rec in project.codings.itertuples():
        assert 0 <= rec.start < rec.end <= len(by_id[rec.doc_id].text)


def test_export_is_deterministic_apart_from_timestamp(transcripts, codings):
    from datetime import datetime

    when = datetime(2026, 1, 1, tzinfo=UTC)
    first = project_to_xml(transcripts, codes=CODES, codings=codings, created=when)
    second = project_to_xml(transcripts, codes=CODES, codings=codings, created=when)
    assert first == second


def test_codes_missing_from_codebook_are_added(tmp_path, transcripts, codings):
    out = write_qdpx(tmp_path / "p.qdpx", transcripts, codes=["alliance"], codings=codings)
    assert set(read_qdpx(out).codebook.names) == {"alliance", "alternation", "awareness"}


def test_export_refuses_codings_outside_text(tmp_path, transcripts, codings):
    bad = codings.copy()
    bad.loc[0, "end"] = 10_000
    with pytest.raises(InputError, match="outside"):
        write_qdpx(tmp_path / "p.qdpx", transcripts, codes=CODES, codings=bad)
    assert not (tmp_path / "p.qdpx").exists()


# --- lenient reading: what other tools write -------------------------------------------------

VENDOR_XML = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="From another tool">
  <Users><User name="Maria" guid="{AAAAAAAA-0000-0000-0000-000000000001}"/></Users>
  <CodeBook><Codes>
    <Code isCodable="true" name="Trust" guid="{BBBBBBBB-0000-0000-0000-000000000001}">
      <Code name="Listening" guid="bbbbbbbb-0000-0000-0000-000000000002" isCodable="true"/>
    </Code>
  </Codes></CodeBook>
  <Sources>
    <TextSource name="interview 1.docx" guid="{CCCCCCCC-0000-0000-0000-000000000001}" plainTextPath="relative://sources/one.txt">
      <PlainTextSelection endPosition="25" startPosition="15" guid="dddddddd-0000-0000-0000-000000000001"
                          creatingUser="{AAAAAAAA-0000-0000-0000-000000000001}">
        <Coding guid="eeeeeeee-0000-0000-0000-000000000001">
          <CodeRef targetGUID="{BBBBBBBB-0000-0000-0000-000000000002}"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource name="inline" guid="cccccccc-0000-0000-0000-000000000002">
      <PlainTextContent>Q: Hi.
A: Hello there.</PlainTextContent>
    </TextSource>
  </Sources>
</Project>
"""


def _zip(tmp_path: Path, members: dict[str, bytes], name: str = "x.qdpx") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def test_reads_other_tools_exports_leniently(tmp_path):
    raw = "Line one.\r\nShe listened\r\nto me.\r\n"  # CRLF, as Windows tools store it
    path = _zip(tmp_path, {"project.qde": VENDOR_XML.encode(), "sources/one.txt": raw.encode("utf-8-sig")})
    project = read_qdpx(path)
    assert [t.doc_id for t in project.transcripts] == ["interview 1", "inline"]
    first = project.transcripts[0]
    assert "\r" not in first.text
    row = project.codings.iloc[0]
    # raw [15, 25) is "tened\r\nto " in the CRLF text; after normalisation one character less
    assert raw[15:25].replace("\r\n", "\n") == first.text[row.start:row.end]
    assert row.code == "Listening" and row.coder == "Maria"  # the name as the other tool wrote it
    assert project.codebook.codes[0].children[0].display == "Listening"
    assert project.transcripts[1].text.startswith("Q: Hi.")


def test_reads_bare_qde_with_sources_folder(tmp_path):
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "one.txt").write_text("0123456789 she listened, yes", encoding="utf-8")
    qde = tmp_path / "project.qde"
    qde.write_text(VENDOR_XML.replace("relative://sources/one.txt", "one.txt"), encoding="utf-8")
    project = read_qdpx(qde)
    assert project.codings.iloc[0].code == "Listening"
    assert project.transcripts[0].text[15:25] == "listened, "


# --- hostile files ------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol2;"/>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-expansion", "external-entity"])
def test_refuses_entities(tmp_path, xml):
    with pytest.raises(InputError, match="entity"):
        read_qdpx(_zip(tmp_path, {"project.qde": xml}))


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "sources/../../evil.txt", "C:/evil.txt"])
def test_refuses_zip_slip(tmp_path, member):
    path = _zip(tmp_path, {"project.qde": VENDOR_XML.encode(), member: b"x"})
    with pytest.raises(InputError, match="unsafe path"):
        read_qdpx(path)


def test_refuses_zip_bomb(tmp_path):
    from psythemes.qdpx import ZipLimits

    bomb = b"\0" * (8 * 2**20)  # compresses about 1000:1
    path = _zip(tmp_path, {"project.qde": VENDOR_XML.encode(), "sources/one.txt": bomb})
    with pytest.raises(InputError, match="zip bomb"):
        read_qdpx(path, limits=ZipLimits(max_ratio=100))
    with pytest.raises(InputError, match="zip bomb"):
        read_qdpx(path, limits=ZipLimits(max_member_bytes=2**20))


def test_a_bad_selection_or_coding_is_left_out_and_named_the_others_kept(tmp_path):
    # as a gold span beyond its text in a CSV: one bad coding must not cost the researcher the others
    good = VENDOR_XML.split("    </TextSource>")[0].split("<PlainTextSelection")[1]
    second = ("<PlainTextSelection" + good).replace("dddddddd-0000-0000-0000-000000000001", "d2").replace(
        "eeeeeeee-0000-0000-0000-000000000001", "e2")
    cases = {
        "outside": ('endPosition="25"', 'endPosition="2500"', r"in 'interview 1' \[15, 2500\) lies outside it"),
        "reversed": ('endPosition="25" startPosition="15"', 'endPosition="5" startPosition="15"',
                     r"ends before it starts \[15, 5\)"),
        "not a number": ('endPosition="25"', 'endPosition="25.5"', "has positions that are not whole numbers"),
        "dangling": ("{BBBBBBBB-0000-0000-0000-000000000002}\"/>", "{DEADBEEF-0000-0000-0000-000000000009}\"/>",
                     "refers to unknown code '{DEADBEEF-0000-0000-0000-000000000009}'"),  # as written in the file
    }
    for name, (old, new, message) in cases.items():
        # the bad selection first, then an intact copy of it
        xml = VENDOR_XML.replace("<PlainTextSelection" + good, "<PlainTextSelection" + good.replace(old, new)
                                 + second, 1)
        path = _zip(tmp_path, {"project.qde": xml.encode(), "sources/one.txt": b"0123456789 she listened, yes"},
                    name=f"{name}.qdpx")
        with pytest.warns(PsythemesWarning, match="1 coding\\(s\\) left out: .*" + message):
            project = read_qdpx(path)
        assert project.codings[["start", "end", "code"]].values.tolist() == [[15, 25, "Listening"]], name


@pytest.mark.parametrize(
    "members, message",
    [
        ({"readme.txt": b"hi"}, "no project.qde"),
        ({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}, "it is a Word document"),
        ({"project.qde": b"<Project"}, "malformed"),
        ({"project.qde": b"<Other/>"}, "expected <Project>"),
        # a project whose sources are all missing (one missing of several: tests/test_qdpx_sources.py)
        ({"project.qde": VENDOR_XML.split("<TextSource name=\"inline\"")[0] + "</Sources></Project>"},
         "none of the project's 1 text sources was found"),
    ],
)
def test_bad_archives_give_clear_errors(tmp_path, members, message):
    with pytest.raises(InputError, match=message):
        read_qdpx(_zip(tmp_path, members))


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.qdpx"
    path.write_bytes(b"definitely not a zip")
    with pytest.raises(InputError, match="zip"):
        read_qdpx(path)


def test_qdpx_is_a_transcript_input_for_segment(tmp_path, transcripts, codings, capsys):
    """`psythemes segment X.qdpx` segments the project's text sources by speaker turn."""
    from psythemes.cli import main
    from psythemes.io import read_transcripts

    project = write_qdpx(tmp_path / "p.qdpx", transcripts, codes=CODES, codings=codings)
    read = read_transcripts([project])
    assert [t.doc_id for t in read] == ["P01-W1", "P01-W2", "T02"]
    assert [tu.speaker for tu in read[0].turns] == ["Interviewer", "P01"]
    rc = main(["segment", str(project), "--out", str(tmp_path / "seg")])
    assert rc == 0
    segments = pd.read_csv(tmp_path / "seg" / "segments.csv", keep_default_na=False)
    texts = {t.doc_id: t.text for t in read}
    assert len(segments) == 6
    for rec in segments.itertuples():
        assert texts[rec.doc_id][rec.start:rec.end] == rec.text
    assert "she really listened to me." in segments["text"].iloc[1]


def test_reads_project_without_namespace(tmp_path):
    xml = VENDOR_XML.replace(' xmlns="urn:QDA-XML:project:1.0"', "")
    path = _zip(tmp_path, {"project.qde": xml.encode(), "sources/one.txt": b"0123456789 she listened, yes"})
    project = read_qdpx(path)
    assert project.codings.iloc[0].code == "Listening"


# --- what psythemes puts into its own exports (issue #17) ----------------------------------------

def _machine_export(tmp_path, transcripts, codings):
    import json as _json
    from datetime import datetime

    machine = codings[codings["coder"] == "psythemes"].assign(score=0.8123, evidence="I feel heard.\nReally.")
    human = codings[codings["coder"] != "psythemes"]
    rows = pd.concat([machine, human], ignore_index=True)
    themes = pd.DataFrame([{
        "theme_id": 0, "label": "listened  to", "keywords": "listened, shoulders", "size": 2,
        "top_quotes": _json.dumps([{"doc_id": "P01-W1", "start": 40, "end": 66, "text": "she really\nlistened"}]),
    }])
    transcripts[0].metadata["speaker_roles"] = {"Interviewer": "interviewer", "P01": "patient"}
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return write_qdpx(tmp_path / "m.qdpx", transcripts, codes=CODES, codings=rows, themes=themes, created=when), when


def test_machine_score_evidence_themes_roles_travel_and_validate(tmp_path, transcripts, codings, shared_dir):
    path, _ = _machine_export(tmp_path, transcripts, codings)
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("project.qde")
    _schema(shared_dir).validate(io.BytesIO(xml))
    assert b"{'" not in xml  # no Python repr of the speaker roles
    project = read_qdpx(path)
    sugg = project.suggestions
    assert list(sugg["coder"]) == ["psythemes"] and sugg["score"].iloc[0] == pytest.approx(0.8123)
    assert sugg["evidence"].iloc[0] == "I feel heard. Really."
    assert project.themes["keywords"].iloc[0] == "listened, shoulders"
    assert "psythemes candidate themes" not in project.codebook.names
    by_id = {t.doc_id: t for t in project.transcripts}
    assert by_id["P01-W1"].metadata["speaker_roles"] == {"Interviewer": "interviewer", "P01": "patient"}
    # the roles are applied again when the project's transcripts are segmented
    from psythemes.qdpx import project_transcripts
    from psythemes.segment import segment_transcripts

    segs = segment_transcripts(project_transcripts(project))
    assert set(segs.loc[segs["doc_id"] == "P01-W1", "role"]) == {"interviewer", "patient"}


def test_export_import_export_is_stable(tmp_path, transcripts, codings):
    path, when = _machine_export(tmp_path, transcripts, codings)
    first = read_qdpx(path)
    again = write_qdpx(tmp_path / "again.qdpx", first.transcripts, codes=first.codebook,
                       codings=first.export_codings(), themes=first.themes, created=when)
    second = read_qdpx(again)
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(again) as b:
        assert a.read("project.qde") == b.read("project.qde")
    pd.testing.assert_frame_equal(first.codings, second.codings)
    pd.testing.assert_frame_equal(first.suggestions, second.suggestions)
    pd.testing.assert_frame_equal(first.themes, second.themes)


def test_machine_codings_never_reach_gold(tmp_path, transcripts, codings):
    from psythemes.errors import PsythemesWarning
    from psythemes.evaluate import load_gold
    from psythemes.qdpx import gold_codings

    path, _ = _machine_export(tmp_path, transcripts, codings)
    # a machine coding renamed to a human coder is still recognised by its suggestion note
    project = read_qdpx(path)
    with pytest.warns(PsythemesWarning, match="machine coding"):
        gold = gold_codings(project)
    assert set(gold["coder"]) == {"A", "B"} and len(gold) == 4
    with pytest.warns(PsythemesWarning, match="machine coding"):
        assert set(load_gold(path)["coder"]) == {"A", "B"}
    assert set(load_gold(path, coders=["A"])["coder"]) == {"A"}
    assert set(load_gold(path, coders=["psythemes"])["coder"]) == {"psythemes"}  # only when asked by name
    with pytest.raises(InputError, match="no codings by coder"):
        load_gold(path, coders=["Z"])
    renamed = project.codings.copy()
    renamed.loc[renamed["coder"] == "psythemes", "coder"] = "C"
    project.codings = renamed
    project.suggestions = project.suggestions.assign(coder="C")
    with pytest.warns(PsythemesWarning):
        assert len(gold_codings(project)) == 4


def test_old_repr_speaker_roles_are_read(tmp_path, transcripts):
    transcripts[0].metadata["speaker_roles"] = "{'P01': 'patient'}"
    path = write_qdpx(tmp_path / "old.qdpx", transcripts)
    by_id = {t.doc_id: t for t in read_qdpx(path).transcripts}
    assert by_id["P01-W1"].metadata["speaker_roles"] == {"P01": "patient"}


def test_cli_evaluate_reads_qdpx_gold_without_machine_codes(tmp_path, transcripts, codings, capsys):
    from psythemes.cli import main

    path, _ = _machine_export(tmp_path, transcripts, codings)
    pred = tmp_path / "codes.csv"
    s, e = _span(TEXT_A, "she really listened to me.")
    pred.write_text(f"doc_id,segment_id,start,end,code,score\nP01-W1,P01-W1:{s}-{e},{s},{e},alliance,0.9\n")
    rc = main(["evaluate", "--pred", str(pred), "--gold", str(path), "--out", str(tmp_path / "ev"), "--n-boot", "0",
               "--pred-units-only"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "machine coding(s)" in captured.err  # said, not silent
    agreement = (tmp_path / "ev" / "agreement.json").read_text()
    assert '"psythemes"' not in agreement
    rc = main(["evaluate", "--pred", str(pred), "--gold", str(path), "--gold-coders", "Z", "--out",
               str(tmp_path / "ev2"), "--pred-units-only"])
    assert rc == 2 and "no codings by coder(s) Z" in capsys.readouterr().err


def test_codes_sharing_a_name_under_two_parents_are_named_by_their_paths(tmp_path):
    # NVivo's common layout: Family > Support and Friends > Support; the project was unreadable
    xml = VENDOR_XML.replace(
        '<Code name="Listening" guid="bbbbbbbb-0000-0000-0000-000000000002" isCodable="true"/>',
        '<Code name="Support" guid="bbbbbbbb-0000-0000-0000-000000000002" isCodable="true"/></Code>'
        '<Code isCodable="true" name="Friends" guid="bbbbbbbb-0000-0000-0000-000000000003">'
        '<Code name="Support" guid="bbbbbbbb-0000-0000-0000-000000000004" isCodable="true"/>')
    path = _zip(tmp_path, {"project.qde": xml.encode(), "sources/one.txt": b"0123456789 she listened, yes"})
    with pytest.warns(PsythemesWarning, match="named by their paths: 'Trust > Support', 'Friends > Support'"):
        project = read_qdpx(path)
    assert project.codebook.names == ["Trust", "Trust > Support", "Friends", "Friends > Support"]
    assert project.codings["code"].tolist() == ["Trust > Support"]
    # written back, each is "Support" under its parent again, with no description nobody wrote
    out = tmp_path / "again.qdpx"
    write_qdpx(out, project.transcripts, codings=project.codings, codes=project.codebook)
    with zipfile.ZipFile(out) as archive:
        qde = archive.read("project.qde").decode()
    assert qde.count('name="Support"') == 2 and "<Description>Trust</Description>" not in qde
    again = read_qdpx(out)  # the names travel in the descriptions (Identifier:), nothing to rename
    assert again.codebook.names == project.codebook.names
    assert again.codings["code"].tolist() == ["Trust > Support"]


def test_a_project_is_a_codebook_for_every_codebook_option(tmp_path, capsys):
    # codebook validate/convert and --codebook said "unknown codebook format '.qdpx'"
    from psythemes.cli import main
    from psythemes.codebook import load_codebook

    path = _zip(tmp_path, {"project.qde": VENDOR_XML.encode()})  # no sources: the codebook needs none
    book = load_codebook(path)
    assert book.names == ["Trust", "Listening"] and book.codes[0].children[0].name == "Listening"
    assert main(["codebook", "convert", str(path), str(tmp_path / "book.qdc")]) == 0
    assert load_codebook(tmp_path / "book.qdc").names == book.names
    empty = _zip(tmp_path, {"project.qde": VENDOR_XML.split("<CodeBook>")[0].encode() + b"</Project>"}, "e.qdpx")
    capsys.readouterr()
    assert main(["codebook", "validate", str(empty)]) == 2
    assert "project has no codes" in capsys.readouterr().err
    # a project's codes meet the rules of every codebook file: headings alone code nothing
    headings = _zip(tmp_path, {"project.qde": VENDOR_XML.replace('isCodable="true"', 'isCodable="false"').encode(),
                               "sources/one.txt": b"0123456789 she listened, yes"}, "h.qdpx")
    assert main(["codebook", "validate", str(headings)]) == 2
    assert "every code is marked not codable" in capsys.readouterr().err
    assert main(["segment", str(headings), "--out", str(tmp_path / "seg")]) == 0  # no codebook needed there


def test_export_keeps_the_source_and_code_guids_of_the_project_it_was_read_from(tmp_path):
    # a QDA program importing psythemes' export matches sources and codes by GUID: fresh ones duplicated them
    path = _zip(tmp_path, {"project.qde": VENDOR_XML.encode(), "sources/one.txt": b"0123456789 she listened, yes"})
    project = read_qdpx(path)
    out = write_qdpx(tmp_path / "out.qdpx", project.transcripts, codings=project.codings, codes=project.codebook)
    with zipfile.ZipFile(out) as archive:
        qde = archive.read("project.qde").decode()
    assert 'guid="cccccccc-0000-0000-0000-000000000001" name="interview 1"' in qde
    assert 'guid="bbbbbbbb-0000-0000-0000-000000000002" name="Listening"' in qde
    assert '<CodeRef targetGUID="bbbbbbbb-0000-0000-0000-000000000002"' in qde
    assert "qda_guid" not in qde  # not a variable of the researcher's
    assert read_qdpx(out).codings[["start", "end", "code"]].values.tolist() == [[15, 25, "Listening"]]


def test_codes_whose_names_still_clash_are_an_error_and_yaml_names_survive_a_round_trip(tmp_path):
    from psythemes.codebook import codebook_from_dict, load_codebook, save_codebook

    two_under_one = VENDOR_XML.replace(
        '<Code name="Listening" guid="bbbbbbbb-0000-0000-0000-000000000002" isCodable="true"/>',
        '<Code name="Support" guid="bbbbbbbb-0000-0000-0000-000000000002" isCodable="true"/>'
        '<Code name="Support" guid="bbbbbbbb-0000-0000-0000-000000000004" isCodable="true"/>')
    path = _zip(tmp_path, {"project.qde": two_under_one.encode(), "sources/one.txt": b"0123456789 she listened"})
    with pytest.raises(InputError, match="share a name .*'Trust > Support'"):
        read_qdpx(path)  # their codings would merge into one code
    # psythemes' own names (label "Support" twice, names distinct) come back as they were
    book = codebook_from_dict({"name": "b", "codes": [
        {"name": "family", "definition": "Family.", "children": [
            {"name": "family_support", "label": "Support", "definition": "From family."}]},
        {"name": "friends", "definition": "Friends.", "children": [
            {"name": "friends_support", "label": "Support", "definition": "From friends."}]}]})
    save_codebook(book, tmp_path / "b.qdc")
    assert load_codebook(tmp_path / "b.qdc").names == ["family", "family_support", "friends", "friends_support"]


def test_a_selection_of_an_accent_alone_is_left_out_not_an_empty_gold_span(tmp_path):
    # NFD "é" is "e" + U+0301; NFC makes it one character, and a selection of the accent alone
    # would become an empty span that stops every later reader of the gold
    from psythemes.tables import read_gold

    text = "Cafe\u0301 talk, she listened"
    xml = VENDOR_XML.replace('endPosition="25" startPosition="15"', 'endPosition="5" startPosition="4"')
    second = ('<PlainTextSelection endPosition="24" startPosition="16" guid="dddddddd-0000-0000-0000-000000000002">'
              '<Coding guid="eeeeeeee-0000-0000-0000-000000000002"><CodeRef targetGUID="bbbbbbbb-0000-0000-0000-'
              '000000000002"/></Coding></PlainTextSelection>')
    xml = xml.replace("</PlainTextSelection>", "</PlainTextSelection>" + second, 1)
    path = _zip(tmp_path, {"project.qde": xml.encode(), "sources/one.txt": text.encode()})
    with pytest.warns(PsythemesWarning, match=r"1 coding\(s\) left out: .*\[4, 5\) selects no whole character"):
        gold = read_gold(path)
    project_text = read_qdpx(path, codings=False).transcripts[0].text
    assert [project_text[r.start:r.end] for r in gold.itertuples()] == ["listened"]
