"""Codebooks: validation errors, the shipped codebook, CSV / REFI-QDA round trips."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from psythemes.codebook import (
    CODEBOOK_NS,
    PROJECT_NS,
    Code,
    Codebook,
    code_guid,
    code_guids,
    code_to_refi_element,
    codebook_from_dict,
    codebook_to_dict,
    codebook_to_refi_codes,
    codes_from_refi,
    default_codebook,
    load_codebook,
    save_codebook,
    shipped_codebooks,
)
from psythemes.errors import InputError, PsythemesWarning

NESTED = {
    "name": "nested",
    "description": "a small tree",
    "version": "2",
    "codes": [
        {
            "name": "body",
            "label": "Body work",
            "definition": "Talk about exercises.",
            "include": ["breathing", "posture"],
            "exclude": ["sport in general"],
            "examples": ["We did a breathing exercise.", "She had me stand up, with a comma, and \"quotes\"."],
            "counter_examples": ["I go running."],
            "seed_words": ["breathing"],
            "roles": ["patient"],
            "color": "#1f77b4",
            "children": [
                {"name": "home_practice", "definition": "Exercises done at home.",
                 "examples": ["I practised at home."]},
            ],
        },
        {"name": "trust", "label": "Trust in the therapist", "definition": "Feeling safe.\nAcross two lines."},
    ],
}


def write_yaml(tmp_path: Path, data: object, name: str = "cb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- shipped codebook


def test_shipped_codebook_loads_by_name_and_default():
    cb = load_codebook("psychosomatic")
    assert cb.names == ["alternation", "awareness", "alliance", "common_ground"]
    assert default_codebook() == cb
    assert "psychosomatic" in shipped_codebooks()
    for code in cb.flat():
        assert code.definition and code.label and code.include and code.exclude
        assert 4 <= len(code.examples) <= 8, code.name
        assert 2 <= len(code.counter_examples) <= 4, code.name
        assert code.seed_words
        assert set(code.roles) == {"patient", "therapist"}


def test_hash_is_stable_and_content_based():
    a, b = default_codebook(), default_codebook()
    assert a.hash() == b.hash() and len(a.hash()) == 64
    changed = replace(a, codes=(replace(a.codes[0], definition=a.codes[0].definition + " More."), *a.codes[1:]))
    assert changed.hash() != a.hash()


def test_tree_helpers(tmp_path):
    cb = load_codebook(write_yaml(tmp_path, NESTED))
    assert cb.names == ["body", "home_practice", "trust"]
    assert cb.parent_of == {"body": None, "home_practice": "body", "trust": None}
    assert cb["home_practice"].definition == "Exercises done at home."
    assert "trust" in cb and "nope" not in cb and len(cb) == 3
    assert cb["trust"].definition == "Feeling safe. Across two lines."  # whitespace folded
    assert cb["trust"].display == "Trust in the therapist" and cb["home_practice"].display == "home_practice"


# ---------------------------------------------------------------------------- validation errors


def _error(tmp_path: Path, data: object) -> str:
    path = write_yaml(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_codebook(path)
    message = str(info.value)
    assert str(path) in message  # every error names the file
    return message


def test_duplicate_names_across_the_tree(tmp_path):
    data = {"name": "x", "codes": [{"name": "a", "definition": "d", "children": [{"name": "b", "definition": "d"}]},
                                   {"name": "b", "definition": "d"}]}
    assert "code 'b'" in _error(tmp_path, data) and "duplicate" in _error(tmp_path, data)


def test_empty_definition(tmp_path):
    message = _error(tmp_path, {"codes": [{"name": "a", "definition": "  "}]})
    assert "code 'a'" in message and "empty definition" in message
    assert "empty definition" in _error(tmp_path, {"codes": [{"name": "a"}]})


def test_unknown_field_suggests_the_right_one(tmp_path):
    message = _error(tmp_path, {"codes": [{"name": "a", "definition": "d", "exmaples": ["x"]}]})
    assert "code 'a'" in message and "'exmaples'" in message and "did you mean 'examples'" in message
    top = _error(tmp_path, {"name": "x", "cdoes": [], "codes": [{"name": "a", "definition": "d"}]})
    assert "did you mean 'codes'" in top


@pytest.mark.parametrize(
    "code, fragment",
    [
        ({"name": "a", "definition": "d", "examples": 5}, "examples must be a list"),
        ({"name": "a", "definition": "d", "examples": [{"x": 1}]}, "examples[0] must be a string"),
        ({"name": "a", "definition": ["d"]}, "definition must be a string"),
        ({"name": "a", "definition": "d", "label": ["x"]}, "label must be a string"),
        ({"name": "a", "definition": "d", "children": {"name": "b"}}, "children must be a list"),
        ({"name": "a", "definition": "d", "color": "blue"}, "color must look like"),
        ({"name": "two\twords", "definition": "d"}, "one line of text without control characters"),
        ({"definition": "d"}, "has no 'name'"),
    ],
)
def test_wrong_types(tmp_path, code, fragment):
    assert fragment in _error(tmp_path, {"codes": [code]})


def test_structure_errors(tmp_path):
    assert "non-empty list" in _error(tmp_path, {"name": "x", "codes": []})
    assert "must be a mapping" in _error(tmp_path, ["a", "b"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("codes:\n  - name: a\n    definition: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_codebook(bad)


def test_missing_file_unknown_name_and_suffix(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_codebook(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="shipped: .*psychosomatic"):
        load_codebook("no_such_codebook")
    odd = tmp_path / "cb.txt"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="unknown codebook format"):
        load_codebook(odd)
    with pytest.raises(InputError, match="unknown codebook format"):
        save_codebook(default_codebook(), tmp_path / "out.json")


def test_codebook_from_dict_without_file():
    cb = codebook_from_dict({"codes": [{"name": "a", "definition": "d", "examples": "one example"}]})
    assert cb.name == "codebook" and cb["a"].examples == ("one example",)


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".yaml", ".csv", ".qdc"])
def test_round_trip_keeps_codes(tmp_path, suffix):
    for source in (default_codebook(), load_codebook(write_yaml(tmp_path, NESTED, "nested.yaml"))):
        path = save_codebook(source, tmp_path / f"out{suffix}")
        again = load_codebook(path)
        assert again.codes == source.codes
        # export -> import -> export gives the same bytes (stable GUIDs, stable order)
        second = save_codebook(again, tmp_path / f"again{suffix}")
        assert second.read_bytes() == path.read_bytes()


def test_qdc_is_refi_codebook_with_deterministic_guids(tmp_path):
    path = save_codebook(default_codebook(), tmp_path / "cb.qdc")
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{CODEBOOK_NS}}}CodeBook"
    codes = root.findall(f"{{{CODEBOOK_NS}}}Codes/{{{CODEBOOK_NS}}}Code")
    assert [c.get("guid") for c in codes] == [code_guid(n) for n in default_codebook().names]
    assert all(c.get("isCodable") == "true" for c in codes)
    assert codes[0].get("name") == default_codebook().codes[0].label


def test_refi_elements_take_the_namespace():
    cb = default_codebook()
    codes = codebook_to_refi_codes(cb, PROJECT_NS)
    assert codes.tag == f"{{{PROJECT_NS}}}Codes"
    assert [c.get("guid") for c in codes] == [code_guid(n) for n in cb.names]
    assert codes_from_refi(codes, PROJECT_NS) == cb.codes
    elem = code_to_refi_element(Code(name="x", definition="d", children=(Code(name="y", definition="e"),)), PROJECT_NS)
    assert elem.find(f"{{{PROJECT_NS}}}Code").get("name") == "y"


def test_refi_guids_read_are_written_back(tmp_path):
    # NVivo and ATLAS.ti identify a code by its GUID: an export must not give it a new one
    qdc = tmp_path / "theirs.qdc"
    qdc.write_text(
        f'<CodeBook xmlns="{CODEBOOK_NS}"><Codes>'
        '<Code guid="{6F1E2D3C-0000-4000-8000-00000000000A}" name="Coping" isCodable="false">'
        '<Code guid="6f1e2d3c-0000-4000-8000-00000000000b" name="Humour" isCodable="true"/>'
        '<Code guid="6f1e2d3c-0000-4000-8000-00000000000b" name="Denial" isCodable="true"/>'
        '</Code><Code guid="not-a-guid" name="Trust" isCodable="true"/></Codes></CodeBook>', encoding="utf-8")
    cb = load_codebook(qdc)
    assert [c.guid for top in cb.codes for c in top.walk()] == [
        "6f1e2d3c-0000-4000-8000-00000000000a", "6f1e2d3c-0000-4000-8000-00000000000b",
        "6f1e2d3c-0000-4000-8000-00000000000b", None]
    written = ET.parse(save_codebook(cb, tmp_path / "ours.qdc")).getroot()
    guids = {c.get("name"): c.get("guid") for c in written.iter(f"{{{CODEBOOK_NS}}}Code")}
    # the second code carrying one GUID, and a code without a valid one, get the name-derived GUID
    assert guids == {"Coping": "6f1e2d3c-0000-4000-8000-00000000000a",
                     "Humour": "6f1e2d3c-0000-4000-8000-00000000000b",
                     "Denial": code_guid("Denial"), "Trust": code_guid("Trust")}
    assert load_codebook(save_codebook(cb, tmp_path / "ours.yaml")).codes[0].guid == cb.codes[0].guid
    # the same codes without their GUIDs are the same codebook (a model trained on one maps with the other)
    # a code read as "Trust" and renamed keeps its GUID; a new "Trust" must not get the same one
    kept = replace(cb.codes[1], name="Trusting", guid=code_guid("Trust"))
    both = codebook_from_dict({"codes": [{"name": "Trust", "definition": "d"}]})
    guids = code_guids([kept, *both.codes])
    assert guids["Trusting"] == code_guid("Trust") and guids["Trust"] != code_guid("Trust")
    without = codebook_from_dict(codebook_to_dict(cb, guids=False))
    assert without.codes[0].guid is None and without == cb and without.hash() == cb.hash()
    with pytest.raises(InputError, match="guid must look like"):
        codebook_from_dict({"codes": [{"name": "a", "definition": "b", "guid": "12"}]})


def test_csv_import_is_lenient(tmp_path):
    taguette = tmp_path / "taguette.csv"
    taguette.write_bytes("\ufeffTag,Description,Number of highlights\r\nBody awareness,Noticing the body.,3\r\n"
                         "Trust,,1\r\n".encode("utf-8"))
    cb = load_codebook(taguette)
    assert cb.names == ["Body awareness", "Trust"]  # names as the user wrote them
    assert cb.resolve("body_awareness") == "Body awareness" and cb.resolve("TRUST") == "Trust"
    assert cb["Trust"].definition == "Trust"  # no description: the name stands in
    semi = tmp_path / "semi.csv"
    semi.write_text("CODE NAME;Definition\nalliance;Good rapport.\n", encoding="utf-8")
    assert load_codebook(semi)["alliance"].definition == "Good rapport."


def test_excel_codebook_reads_as_a_csv_one(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    # an ATLAS.ti-style export: Code, Comment, Groups; a blank row; a heading with children; a number
    for row in (["Code", "Comment", "Groups", "Parent"], ["Therapeutic Alliance", "Trust and being heard.", "A", None],
                [None, None, None, None], ["Taken seriously", "The therapist believes the symptoms.", "A",
                                           "Therapeutic Alliance"], [2024, None, None, None]):
        sheet.append(row)
    path = tmp_path / "Codebook export.xlsx"
    book.save(path)
    cb = load_codebook(path)
    assert cb.names == ["Therapeutic Alliance", "Taken seriously", "2024"]
    assert cb.parent_of["Taken seriously"] == "Therapeutic Alliance"
    assert cb["Therapeutic Alliance"].definition == "Trust and being heard."
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    with pytest.raises(InputError, match="empty Excel codebook"):
        load_codebook(empty)
    header_only = tmp_path / "header.csv"  # was "'codes' must be a non-empty list", YAML's words
    header_only.write_text("name,description\n\n,\n", encoding="utf-8")
    with pytest.raises(InputError, match="CSV codebook has a header row but no codes below it"):
        load_codebook(header_only)
    broken = tmp_path / "broken.xlsx"
    broken.write_text("name,description\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable Excel workbook"):
        load_codebook(broken)


def test_structured_codebook_columns_fill_criteria_and_examples(tmp_path):
    """MacQueen et al.'s codebook structure: brief and full definition, when (not) to use, example."""
    path = tmp_path / "team codebook.csv"
    path.write_text(
        "Code,Brief definition,Full definition,When to use,When not to use,Example,Close but no\n"
        'Therapeutic Alliance,Rapport with the therapist,"The patient feels listened to and taken seriously.",'
        '"Trust; feeling heard","Relationship with the GP",'
        '"""She really listened to me""\n""I could tell her anything""",'
        '"The GP never listened"\n'
        "Body Awareness,Noticing body-mind links,,Feelings linked to symptoms,,,\n", encoding="utf-8")
    cb = load_codebook(path)
    alliance = cb["Therapeutic Alliance"]
    assert alliance.definition == "Rapport with the therapist. The patient feels listened to and taken seriously."
    assert alliance.include == ("Trust", "feeling heard") and alliance.exclude == ("Relationship with the GP",)
    assert alliance.examples == ("She really listened to me", "I could tell her anything")
    assert alliance.counter_examples == ("The GP never listened",)
    assert cb["Body Awareness"].definition == "Noticing body-mind links"
    assert cb["Body Awareness"].include == ("Feelings linked to symptoms",)


def test_unquoted_commas_in_a_last_description_column_are_joined_back(tmp_path):
    """A hand-written CSV: the description holds commas and no quotes; nothing may be cut off."""
    path = tmp_path / "codebook.csv"
    path.write_text("name,description\nTherapeutic Alliance,Feeling listened to, taken seriously and trusting.\n"
                    "Practical Barriers,Travel,  cost or time.\nBody Awareness,Noticing the body.\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match=r"2 row\(s\) have more cells than the header \(lines 2, 3\)"):
        cb = load_codebook(path)
    assert cb["Therapeutic Alliance"].definition == "Feeling listened to, taken seriously and trusting."
    assert cb["Practical Barriers"].definition == "Travel, cost or time."
    middle = tmp_path / "middle.csv"  # the extra cells cannot belong to a description that is not last
    middle.write_text("name,description,parent\nA,x, y,B\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"middle\.csv:2: 1 row\(s\) have more cells than the header's 3"):
        load_codebook(middle)


def test_a_codebook_column_that_is_not_read_is_named(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text("name,description,Analyst notes,Files\nTrust,Being heard.,check with JB,4\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match="columns not read: 'Analyst notes'") as record:
        load_codebook(path)
    assert not any("Files" in str(w.message) for w in record)  # counts from a QDA export are not meaning


def test_code_names_written_as_paths_build_the_tree(tmp_path):
    """MAXQDA's code import writes subcodes as 'Parent > Child' (or 'Parent\\Child') in one column."""
    path = tmp_path / "maxqda.csv"
    path.write_text("Code,Memo\nMechanisms,Why it works\nMechanisms > Alliance,Trust\nMechanisms\\Awareness,Body\n"
                    "Context > Family,Family situation\nBarriers > Family,Family obligations\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match=r"4 codes have a parent; 2 parents .* 'Barriers', 'Context'"):
        cb = load_codebook(path)
    assert cb.parent_of["Alliance"] == "Mechanisms" and cb.parent_of["Awareness"] == "Mechanisms"
    # two codes share a last part: they keep their paths as names
    assert cb.parent_of["Context > Family"] == "Context" and cb.parent_of["Barriers > Family"] == "Barriers"
    assert not cb["Context"].codable and cb["Context"].definition == "Context"
    assert cb["Mechanisms"].codable and "Context" not in [c.name for c in cb.codable()]


def test_nvivo_hierarchical_name_column(tmp_path):
    path = tmp_path / "nvivo.csv"
    path.write_text("Name,Description,Files,References,Hierarchical Name\n"
                    "Mechanisms,Why it works,10,40,Codes\\\\Mechanisms\n"
                    "Alliance,Trust,8,20,Codes\\\\Mechanisms\\\\Alliance\n", encoding="utf-8")
    cb = load_codebook(path)
    assert cb.names == ["Mechanisms", "Alliance"] and cb.parent_of["Alliance"] == "Mechanisms"


def test_word_table_codebook_with_merged_heading_rows(tmp_path):
    """A codebook typed as a Word table: merged rows are headings, a second table continues the first."""
    docx = pytest.importorskip("docx")
    document = docx.Document()
    versions = document.add_table(rows=2, cols=2)  # a version table above the codebook: left out
    versions.cell(0, 0).text, versions.cell(0, 1).text = "Version", "Date"
    versions.cell(1, 0).text, versions.cell(1, 1).text = "3", "2025-03-01"
    table = document.add_table(rows=5, cols=3)
    for col, text in enumerate(["Code", "Definition", "Example"]):
        table.cell(0, col).text = text
    table.cell(1, 0).merge(table.cell(1, 2)).text = "MECHANISMS"
    for col, text in enumerate(["Alliance", "Trust in the therapist.", '"She listened."']):
        table.cell(2, col).text = text
    for col, text in enumerate(["Awareness", "Body and mind linked.", ""]):
        table.cell(3, col).text = text
    table.cell(4, 0).merge(table.cell(4, 2)).text = "CONTEXT"
    more = document.add_table(rows=2, cols=3)  # the same header on the next page
    for col, text in enumerate(["Code", "Definition", "Example"]):
        more.cell(0, col).text = text
    for col, text in enumerate(["Work", "Job and workload.", ""]):
        more.cell(1, col).text = text
    path = tmp_path / "Codebook v3.docx"
    document.save(path)
    with pytest.warns(PsythemesWarning, match=r"1 table\(s\) left out .*'Version \| Date'"):
        cb = load_codebook(path)
    assert cb.names == ["MECHANISMS", "Alliance", "Awareness", "CONTEXT", "Work"]
    assert cb.parent_of["Alliance"] == "MECHANISMS" and cb.parent_of["Work"] == "CONTEXT"
    assert not cb["MECHANISMS"].codable and cb["Alliance"].codable
    assert cb["Alliance"].examples == ("She listened.",) and cb["Work"].definition == "Job and workload."
    empty = tmp_path / "no table.docx"
    docx.Document().save(empty)
    with pytest.raises(InputError, match="no table with a name column in this Word document"):
        load_codebook(empty)


def test_csv_errors_name_file_and_line(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("name,description\na,x\nA,y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dup\.csv: codes 'a' and 'A' differ only in case"):
        load_codebook(dup)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("foo,bar\na,b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"nohead\.csv:1: CSV codebook needs a name column"):
        load_codebook(nohead)
    cycle = tmp_path / "cycle.csv"
    cycle.write_text("name,description,parent\na,x,b\nb,y,a\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cycle\.csv:3: code 'b': parent cycle"):
        load_codebook(cycle)


def test_qdc_refuses_entities_and_bad_xml(tmp_path):
    bomb = tmp_path / "bomb.qdc"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                    f'<CodeBook xmlns="{CODEBOOK_NS}"><Codes><Code guid="x" name="&a;" isCodable="true"/></Codes>'
                    '</CodeBook>',
                    encoding="utf-8")
    with pytest.raises(InputError, match="unsafe XML"):
        load_codebook(bomb)
    broken = tmp_path / "broken.qdc"
    broken.write_text("<CodeBook><Codes>", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.qdc:\d+: not a well-formed"):
        load_codebook(broken)
    other = tmp_path / "other.qdc"
    other.write_text('<Project xmlns="urn:QDA-XML:project:1.0"/>', encoding="utf-8")
    with pytest.raises(InputError, match="expected <CodeBook>"):
        load_codebook(other)


def test_codebook_equality_ignores_source(tmp_path):
    path = save_codebook(default_codebook(), tmp_path / "copy.yaml")
    copy = load_codebook(path)
    assert copy == default_codebook() and copy.source != default_codebook().source
    assert isinstance(copy, Codebook)


def test_names_kept_as_written_and_resolved(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("name,description\nDIPLOMACY,Diplomatic talk.\nRust Performs Well,Praise of Rust's speed.\n",
                    encoding="utf-8")
    cb = load_codebook(path)
    assert cb.names == ["DIPLOMACY", "Rust Performs Well"]
    for label, name in (("diplomacy", "DIPLOMACY"), ("Diplomacy", "DIPLOMACY"),
                        ("rust_performs_well", "Rust Performs Well"), ("RUST PERFORMS WELL", "Rust Performs Well"),
                        ("Rust Performs Well", "Rust Performs Well")):
        assert cb.resolve(label) == name
    with pytest.raises(InputError,
                       match=r"'Rust performs badly' is not in the codebook \(did you mean 'Rust Performs Well'\?\)"):
        cb.resolve("Rust performs badly")
    # round trip through every format keeps the names
    for suffix in (".yaml", ".csv", ".qdc"):
        assert load_codebook(save_codebook(cb, tmp_path / f"out{suffix}")).names == cb.names
    clash = tmp_path / "clash.yaml"
    clash.write_text("codes:\n- {name: Two Words, definition: d}\n- {name: two_words, definition: e}\n",
                     encoding="utf-8")
    with pytest.raises(InputError, match="differ only in case or punctuation"):
        load_codebook(clash)


def test_free_text_sections_become_prototypes(tmp_path):
    path = tmp_path / "memo.csv"
    path.write_text('name,description\n'
                    'Change talk,"The client argues for change, for example \'I need to stop drinking\'. '
                    'Include: desire to change; reasons to change. Exclude: talk about other people."\n'
                    'Question,"Asks for information.\nExample: What brings you here?\nNot: rhetorical questions"\n',
                    encoding="utf-8")
    cb = load_codebook(path)
    change, question = cb["Change talk"], cb["Question"]
    assert change.definition == "The client argues for change, for example 'I need to stop drinking'."
    assert change.include == ("desire to change", "reasons to change")
    assert change.exclude == ("talk about other people",)
    assert change.examples == ("I need to stop drinking",)
    assert question.examples == ("What brings you here?",) and question.exclude == ("rhetorical questions",)


# ---------------------------------------------------------------------------- headings (not codable)

# As ATLAS.ti and NVivo export a code group: a parent with isCodable="false" and no description.
GROUPED_QDC = f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="{CODEBOOK_NS}" origin="ATLAS.ti 24">
  <Codes>
    <Code guid="6a1c1c61-0d47-4b6e-9f0a-0a0a0a0a0a01" name="SUPPORT STRATEGIES" isCodable="false">
      <Code guid="6a1c1c61-0d47-4b6e-9f0a-0a0a0a0a0a02" name="Question" isCodable="true">
        <Description>Asking for information about the problem.</Description>
      </Code>
      <Code guid="6a1c1c61-0d47-4b6e-9f0a-0a0a0a0a0a03" name="Affirmation and Reassurance" isCodable="true">
        <Description>Affirming the person's strengths and reassuring them.</Description>
      </Code>
    </Code>
    <Code guid="6a1c1c61-0d47-4b6e-9f0a-0a0a0a0a0a04" name="Other" isCodable="true">
      <Description>Anything else.</Description>
    </Code>
  </Codes>
</CodeBook>
"""


def test_a_heading_that_only_groups_codes_is_read_kept_and_never_codable(tmp_path):
    path = tmp_path / "atlas.qdc"
    path.write_text(GROUPED_QDC, encoding="utf-8")
    cb = load_codebook(path)
    assert cb.names == ["SUPPORT STRATEGIES", "Question", "Affirmation and Reassurance", "Other"]
    assert [c.name for c in cb.codable()] == ["Question", "Affirmation and Reassurance", "Other"]
    assert cb["SUPPORT STRATEGIES"].codable is False
    # every format keeps the flag: YAML as a field, CSV as a "Codable: no" line, QDC as isCodable
    for suffix in (".yaml", ".csv", ".qdc"):
        again = load_codebook(save_codebook(cb, tmp_path / f"out{suffix}"))
        assert again.codes == cb.codes, suffix
    assert "codable: false" in (tmp_path / "out.yaml").read_text(encoding="utf-8")
    assert "Codable: no" in (tmp_path / "out.csv").read_text(encoding="utf-8")
    written = ET.parse(tmp_path / "out.qdc").getroot().iter(f"{{{CODEBOOK_NS}}}Code")
    assert {e.get("name"): e.get("isCodable") for e in written}["SUPPORT STRATEGIES"] == "false"


def test_codable_must_be_a_boolean_and_one_code_must_be_codable(tmp_path):
    with pytest.raises(InputError, match="codable must be true or false"):
        codebook_from_dict({"codes": [{"name": "a", "definition": "d", "codable": "no"}]})
    with pytest.raises(InputError, match="no code can be assigned"):
        codebook_from_dict({"codes": [{"name": "a", "definition": "d", "codable": False}]})
    # a CSV codebook says it in the description, as psythemes writes it
    path = tmp_path / "cb.csv"
    path.write_text("name,description,parent\nGroup,\"Strategies.\n\nCodable: no\",\nAsk,Asking.,Group\n",
                    encoding="utf-8")
    cb = load_codebook(path)
    assert [c.name for c in cb.codable()] == ["Ask"] and cb["Group"].definition == "Strategies."


def test_getitem_is_exact_and_names_the_spelling_it_missed():
    from psythemes.codebook import load_codebook

    cb = load_codebook("psychosomatic")
    name = cb.names[0]
    assert cb[name].name == name
    with pytest.raises(KeyError, match=rf"the code is spelt '{name}'"):
        cb[name.upper()]
    assert cb[cb.resolve(name.upper())].name == name
    with pytest.raises(KeyError):
        cb["no such code"]


def test_codebooks_in_other_scripts_load_and_match_gold_labels():
    # an ASCII-only slug made every Cyrillic or Chinese name "code": two such codes could not be read
    from psythemes.codebook import codebook_from_dict, resolve_code_names

    book = codebook_from_dict({"name": "x", "codes": [
        {"name": "Тревога", "definition": "Беспокойство."}, {"name": "Страх", "definition": "Боязнь."},
        {"name": "焦虑", "definition": "担心。"}, {"name": "恐惧", "definition": "害怕。"}]})
    assert book.names == ["Тревога", "Страх", "焦虑", "恐惧"]
    assert resolve_code_names(["ТРЕВОГА", "恐惧"], book.names) == {"ТРЕВОГА": "Тревога", "恐惧": "恐惧"}


# ----------------------------------------------------------------------------- aliases


def _evolved_codebook(tmp_path: Path) -> Path:
    """Version 2 of a team's codebook: 'Trust' and 'Being listened to' merged into 'Alliance'."""
    path = tmp_path / "v2.csv"
    path.write_text("Code,Description,Previous names\n"
                    'Alliance,"Rapport: trust, being listened to.","Trust; Being listened to"\n'
                    "Awareness,Noticing how body and mind interact.,Body awareness\n")
    return path


def test_aliases_read_from_a_column_and_kept_in_every_format(tmp_path: Path):
    book = load_codebook(_evolved_codebook(tmp_path))
    assert book.aliases == {"Trust": "Alliance", "Being listened to": "Alliance", "Body awareness": "Awareness"}
    assert book.resolve("being_listened_to") == "Alliance" and book.names == ["Alliance", "Awareness"]
    for suffix in ("yaml", "csv", "qdc"):
        again = load_codebook(save_codebook(book, tmp_path / f"copy.{suffix}"))
        assert again.aliases == book.aliases, suffix
    # an alias says how labels are read, not what the code means: a model trained before still fits
    assert book.same_codes(replace(book, codes=tuple(replace(c, aliases=()) for c in book.codes)))


@pytest.mark.parametrize(("codes", "message"), [
    ([{"name": "A", "definition": "a", "aliases": ["b"]}, {"name": "B", "definition": "b"}],
     "alias 'b' is the name of code 'B'"),
    ([{"name": "A", "definition": "a", "aliases": ["Old"]}, {"name": "B", "definition": "b", "aliases": ["old"]}],
     "alias 'old' is given to codes 'A' and 'B'"),
])
def test_an_alias_that_a_label_could_not_tell_apart_is_refused(codes, message):
    with pytest.raises(InputError, match=message):
        codebook_from_dict({"codes": codes})


def test_gold_written_with_earlier_names_finds_the_codes_and_says_so(tmp_path: Path):
    from psythemes import tables

    book = load_codebook(_evolved_codebook(tmp_path))
    gold = tmp_path / "gold_v1.csv"
    gold.write_text("doc_id,start,end,code,coder\nP1,0,5,Trust,AB\nP1,6,9,being listened to,AB\n"
                    "P1,10,14,alliance,AB\nP2,0,4,Body awareness,AB\n")
    with pytest.warns(PsythemesWarning, match=r"3 gold code label\(s\) read by the codebook's aliases \(an earlier "
                                              r"name of the code\): 'Trust' as 'Alliance'"):
        read = tables.read_gold(gold, codes=book)
    assert list(read["code"]) == ["Alliance", "Alliance", "Alliance", "Awareness"]
    # a label that is neither a name nor an alias is still an error
    gold.write_text("doc_id,start,end,code,coder\nP1,0,5,Rapport,AB\n")
    with pytest.raises(InputError, match="'Rapport' is not in the codebook"):
        tables.read_gold(gold, codes=book)


def test_messages_about_codebook_files_a_stranger_wrote(tmp_path: Path):
    """'Codable: no' at the end of a sentence, a file without descriptions, paths written with '/',
    and a backslash shown doubled in the error (so the label could not be found in the file)."""
    from psythemes.codebook import resolve_code_names

    inline = tmp_path / "inline.csv"
    inline.write_text("Code,Description\nBarriers,Things that make it harder. Codable: no\nBarriers\\Cost,Money.\n")
    with pytest.warns(PsythemesWarning, match="code tree comes from code names written as paths"):
        book = load_codebook(inline)
    assert book.heading_names == ["Barriers"] and book["Barriers"].definition == "Things that make it harder."
    bare = tmp_path / "names.csv"
    bare.write_text("name\nCost\nAccess\n")
    with pytest.warns(PsythemesWarning, match="no description column .*each code's definition is its name"):
        load_codebook(bare)
    with pytest.raises(InputError, match=r"'Barriers/Cost' is not in the codebook \(did you mean 'Cost'\? a path's "
                                         r"parts are separated by ' > ' or a backslash, not '/'\)"):
        resolve_code_names(["Barriers/Cost"], ["Cost", "Access"])
    with pytest.raises(InputError) as err:
        resolve_code_names(["Barriers\\Cots"], ["Cost", "Access"])
    assert "'Barriers\\Cots'" in str(err.value)


def test_codable_no_with_more_after_it_and_aliases_that_a_path_would_take(tmp_path: Path):
    book = tmp_path / "b.csv"
    book.write_text('Code,Description\nBarriers,"Things that make it harder. Codable: no."\n'
                    'Money,"Money worries. Codable: no. Use the children."\nBarriers\\Cost,Costs.\n'
                    'Odd,"Odd. Codable: maybe"\n')
    with pytest.warns(PsythemesWarning):
        cb = load_codebook(book)
    assert cb.heading_names == ["Barriers", "Money"] and cb["Money"].definition == "Money worries. Use the children."
    assert cb["Odd"].definition == "Odd. Codable: maybe"  # a value it cannot read stays text
    with pytest.raises(InputError, match="alias 'Cost' ends the path of code 'Barriers > Cost'"):
        codebook_from_dict({"codes": [
            {"name": "Barriers", "definition": "b", "codable": False,
             "children": [{"name": "Barriers > Cost", "definition": "c"}]},
            {"name": "Money", "definition": "m", "aliases": ["Cost"]}]})
    with pytest.raises(InputError, match="is a heading .*its aliases would never be read"):
        codebook_from_dict({"codes": [{"name": "Support", "definition": "s", "codable": False, "aliases": ["Help"],
                                       "children": [{"name": "Family", "definition": "f"}]}]})
    criteria = tmp_path / "c.csv"
    criteria.write_text('name,include,examples\nCost,"talk of money","it is too expensive"\n')
    with pytest.warns(PsythemesWarning, match=r"definition is its name$"):
        load_codebook(criteria)
