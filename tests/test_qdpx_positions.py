"""REFI-QDA selection positions: UTF-16 code units (NVivo and other .NET/Qt tools) vs code points.

Every coding must cut exactly the same text after export -> import, whichever unit the file uses,
and a project written by another tool must land its codings on the text its coder selected.
"""

from __future__ import annotations

import unicodedata
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psythemes.errors import InputError, PsythemesWarning
from psythemes.qdpx import detect_position_unit, read_qdpx, utf16_offsets, write_qdpx
from psythemes.schema import GOLD_COLUMNS, Transcript

# Written for these tests: chat-style interview data with emoji (astral, two UTF-16 units each),
# skin-tone modifiers, CJK, Cyrillic, Arabic and a combining accent.
EMOJI_TEXT = (
    "Interviewer: How did the group chat feel? 😊\n"
    "P07: Honestly 😂😂 it was 🔥 every night — 我们每天都聊天. Привет всем! 👍🏽\n"
    "Interviewer: And when it went quiet?\n"
    "P07: I felt alone 😔, like nobody cared. مرحبا. Then my sister sent 🌻 and it was ok.\n"
)
QUOTES = {
    "belonging": "Honestly 😂😂 it was 🔥 every night — 我们每天都聊天.",
    "isolation": "I felt alone 😔, like nobody cared.",
    "support": "my sister sent 🌻 and it was ok.",
}


def u16(text: str, pos: int) -> int:
    """UTF-16 code units before code point ``pos`` (what NVivo writes)."""
    return len(text[:pos].encode("utf-16-le")) // 2


def _spans(text: str) -> dict[str, tuple[int, int]]:
    out = {}
    for code, quote in QUOTES.items():
        start = text.index(quote)
        out[code] = (start, start + len(quote))
    return out


def vendor_project(tmp_path: Path, text: str, *, origin: str | None, unit: str, names: bool = False,
                   sources_dir: str = "Sources", bare: bool = False, raw: str | None = None) -> Path:
    """A project as another tool writes it: positions in ``unit``, optional selection names."""
    raw = text if raw is None else raw
    codes = "".join(f'<Code guid="c000000{i}-0000-0000-0000-000000000000" name="{c}" isCodable="true"/>'
                    for i, c in enumerate(QUOTES))
    sels = []
    for i, (code, (start, end)) in enumerate(_spans(raw).items()):
        if unit == "utf16":
            start, end = u16(raw, start), u16(raw, end)
        name = f' name="{QUOTES[code][:20]}"' if names else ""
        sels.append(
            f'<PlainTextSelection guid="5e100000-0000-0000-0000-00000000000{i}" startPosition="{start}" '
            f'endPosition="{end}"{name}><Coding guid="c0d10000-0000-0000-0000-00000000000{i}">'
            f'<CodeRef targetGUID="c000000{i}-0000-0000-0000-000000000000"/></Coding></PlainTextSelection>'
        )
    origin_attr = f' origin="{origin}"' if origin else ""
    xml = (
        f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="chat"{origin_attr}>'
        f"<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>"
        f'<TextSource guid="50000000-0000-0000-0000-000000000001" name="P07 chat" '
        f'plainTextPath="internal://50000000-0000-0000-0000-000000000001.txt">{"".join(sels)}</TextSource>'
        f"</Sources></Project>"
    )
    member = f"{sources_dir}/50000000-0000-0000-0000-000000000001.txt"
    if bare:
        (tmp_path / sources_dir).mkdir()
        (tmp_path / member).write_bytes(raw.encode("utf-8"))
        qde = tmp_path / "project.qde"
        qde.write_text(xml, encoding="utf-8")
        return qde
    path = tmp_path / "chat.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        archive.writestr(member, raw.encode("utf-8"))
    return path


def cut(project) -> dict[str, str]:
    text = project.transcripts[0].text
    return {row.code: text[row.start:row.end] for row in project.codings.itertuples()}


def test_fixture_really_differs_between_units():
    spans = _spans(EMOJI_TEXT)
    assert all(u16(EMOJI_TEXT, s) != s for s, _ in spans.values())


# A closing exchange long enough that no UTF-16 position runs past the code-point length, so
# that only the origin can tell the units apart.
PADDED = EMOJI_TEXT + "Interviewer: Thank you for your time today.\n" * 2


def test_nvivo_utf16_positions_land_on_the_selected_text(tmp_path):
    path = vendor_project(tmp_path, EMOJI_TEXT, origin="NVivo 12 (Windows)", unit="utf16")
    project = read_qdpx(path)  # the last selection ends past the code-point length: only UTF-16 fits
    assert project.position_unit == "utf16"
    assert cut(project) == QUOTES


def test_nvivo_origin_decides_when_the_positions_cannot(tmp_path):
    path = vendor_project(tmp_path, PADDED, origin="NVivo 12 (Windows)", unit="utf16")
    with pytest.warns(PsythemesWarning, match="UTF-16 code units because the project comes from 'NVivo"):
        project = read_qdpx(path)
    assert project.position_unit == "utf16"
    assert cut(project) == QUOTES


def test_selection_names_decide_without_a_warning(tmp_path):
    path = vendor_project(tmp_path, EMOJI_TEXT, origin=None, unit="utf16", names=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project = read_qdpx(path)
    assert project.position_unit == "utf16"
    assert cut(project) == QUOTES


def test_qualcoder_code_points_are_read_as_code_points(tmp_path):
    path = vendor_project(tmp_path, PADDED, origin="QualCoder 3.6", unit="codepoints")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        project = read_qdpx(path)
    assert cut(project) == QUOTES
    # either a position split an emoji in the UTF-16 reading (decided, silent) or the origin did
    assert all("QualCoder" in str(w.message) for w in caught)
    assert detect_position_unit([("😊 hi", [(0, 1, "")])], "QualCoder 3.6")[0] == "codepoints"


def test_unknown_origin_is_a_guess_that_says_so(tmp_path):
    text = "P1: 😊 fine. Really fine, thank you, it was a good week overall.\n"
    start = text.index("Really")
    assert detect_position_unit([(text, [(start, start + 6, "")])], None)[1].startswith("could not tell")
    path = vendor_project(tmp_path, PADDED, origin=None, unit="codepoints")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        project = read_qdpx(path)
    assert cut(project) == QUOTES
    assert all("could not tell" in str(w.message) for w in caught)
    # and the user can say otherwise: the same numbers read as UTF-16 cut other text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forced = read_qdpx(path, positions="utf16")
    assert forced.position_unit == "utf16" and cut(forced) != QUOTES


def test_bad_positions_option_is_an_input_error(tmp_path):
    path = vendor_project(tmp_path, EMOJI_TEXT, origin=None, unit="codepoints")
    with pytest.raises(InputError, match="positions must be"):
        read_qdpx(path, positions="bytes")


def test_bounds_and_surrogate_halves_decide_the_unit():
    text = "ab😊😊😊"  # 5 code points, 8 UTF-16 units
    # end 8 is past the code-point length: only UTF-16 can mean it
    assert detect_position_unit([(text, [(0, 8, "")])], None) == ("utf16", None)
    # 3 falls between the halves of the first emoji in UTF-16: only code points can mean it
    assert detect_position_unit([(text, [(0, 3, "")])], None) == ("codepoints", None)
    # no astral character, or none before the selection ends: nothing to decide, nothing to say
    assert detect_position_unit([("plain text", [(0, 5, "")])], "NVivo") == ("codepoints", None)
    assert detect_position_unit([("plain text 😊", [(0, 5, "")])], "NVivo") == ("codepoints", None)


def test_crlf_and_emoji_together(tmp_path):
    raw = EMOJI_TEXT.replace("\n", "\r\n")
    path = vendor_project(tmp_path, EMOJI_TEXT, origin="NVivo 14", unit="utf16", raw=raw)
    project = read_qdpx(path)
    assert cut(project) == QUOTES


def test_decomposed_accents_are_read_as_from_a_txt_with_the_codings_on_the_same_words(tmp_path):
    # macOS writes "ü" as "u" + combining diaeresis; the same interview read from a .txt is NFC, so
    # a project read otherwise gave other offsets, and gold from it fell beyond the .txt's length
    from psythemes.io import normalise_text

    nfd = unicodedata.normalize("NFD", EMOJI_TEXT.replace("alone", "müde, allein, Björn").replace(
        "every night", "jede Nacht, Grüße"))
    quotes = {code: unicodedata.normalize("NFD", q.replace("alone", "müde, allein, Björn").replace(
        "every night", "jede Nacht, Grüße")) for code, q in QUOTES.items()}
    raw = nfd.replace("\n", "\r\n")
    path = tmp_path / "chat.qdpx"
    codes = "".join(f'<Code guid="c000000{i}-0000-0000-0000-000000000000" name="{c}" isCodable="true"/>'
                    for i, c in enumerate(quotes))
    sels = "".join(
        f'<PlainTextSelection guid="5e100000-0000-0000-0000-00000000000{i}" startPosition="{u16(raw, raw.index(q))}" '
        f'endPosition="{u16(raw, raw.index(q) + len(q))}"><Coding guid="c0d10000-0000-0000-0000-00000000000{i}">'
        f'<CodeRef targetGUID="c000000{i}-0000-0000-0000-000000000000"/></Coding></PlainTextSelection>'
        for i, q in enumerate(quotes.values()))
    xml = ('<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="c" origin="MAXQDA">'
           f'<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>'
           f'<TextSource guid="50000000-0000-0000-0000-000000000001" name="P06" plainTextPath="internal://s.txt">{sels}</TextSource></Sources></Project>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        archive.writestr("sources/s.txt", raw.encode("utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        project = read_qdpx(path)
    text = project.transcripts[0].text
    assert text == normalise_text(raw) and unicodedata.is_normalized("NFC", text)
    assert cut(project) == {code: unicodedata.normalize("NFC", q) for code, q in quotes.items()}


def test_bare_qde_beside_capitalised_sources_folder_reads_like_the_qdpx(tmp_path):
    archive_dir, bare_dir = tmp_path / "a", tmp_path / "b"
    archive_dir.mkdir(), bare_dir.mkdir()
    kwargs = dict(origin="NVivo 12 (Windows)", unit="utf16", names=True)
    from_zip = read_qdpx(vendor_project(archive_dir, EMOJI_TEXT, **kwargs))
    from_qde = read_qdpx(vendor_project(bare_dir, EMOJI_TEXT, bare=True, **kwargs))
    assert [t.text for t in from_qde.transcripts] == [t.text for t in from_zip.transcripts]
    pd.testing.assert_frame_equal(from_qde.codings, from_zip.codings)
    assert cut(from_qde) == QUOTES


def _codings_for(text: str) -> pd.DataFrame:
    rows = [("P07", s, e, code, "A") for code, (s, e) in _spans(text).items()]
    return pd.DataFrame(rows, columns=GOLD_COLUMNS)


@pytest.mark.parametrize("unit", ["utf16", "codepoints"])
def test_export_import_round_trip_with_emoji(tmp_path, unit):
    tr = Transcript("P07", EMOJI_TEXT)
    out = write_qdpx(tmp_path / "p.qdpx", [tr], codings=_codings_for(EMOJI_TEXT), positions=unit)
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("project.qde").decode("utf-8")
    start, _ = _spans(EMOJI_TEXT)["isolation"]
    written = u16(EMOJI_TEXT, start) if unit == "utf16" else start
    assert f'startPosition="{written}"' in xml
    assert f"positions={unit}" in xml
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the origin names the unit: nothing is guessed
        project = read_qdpx(out)
    assert project.position_unit == unit
    assert cut(project) == QUOTES


def test_export_refuses_unknown_unit(tmp_path):
    with pytest.raises(InputError, match="positions must be"):
        write_qdpx(tmp_path / "p.qdpx", [Transcript("d", "x")], positions="bytes")


def test_older_psythemes_exports_were_code_points():
    assert detect_position_unit([("😊 hi", [(2, 4, "")])], "psythemes")[0] == "codepoints"


def test_utf16_offsets_match_the_encoder():
    text = "a😊b𝄞c\U0010ffff"
    offsets = utf16_offsets(text)
    assert offsets == [u16(text, i) for i in range(len(text) + 1)]
    assert utf16_offsets("no astral ä ß 中") is None


# --- property: any Unicode, any spans, both units ----------------------------------------------

# Everything but surrogates (not text) and \r (line ends are normalised on read, by design); a text
# never starts with U+FEFF (normalise_text drops it as a byte-order mark, and so does the reader).
ANY_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, blacklist_categories=("Cs",))
TEXT = st.lists(st.one_of(ANY_CHAR, ASTRAL), min_size=1, max_size=60).map("".join)


@st.composite
def text_and_spans(draw):
    text = unicodedata.normalize("NFC", draw(TEXT)).lstrip("\ufeff") or "x"
    n = len(text)
    spans = draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)).map(sorted), min_size=1, max_size=6))
    return text, [(a, b) for a, b in spans]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=text_and_spans(), unit=st.sampled_from(["utf16", "codepoints"]))
def test_round_trip_over_arbitrary_unicode(tmp_path_factory, case, unit):
    text, spans = case
    tr = Transcript("doc", text)
    codings = pd.DataFrame([("doc", a, b, f"c{i}", "A") for i, (a, b) in enumerate(spans)], columns=GOLD_COLUMNS)
    out = write_qdpx(tmp_path_factory.mktemp("rt") / "p.qdpx", [tr], codings=codings, positions=unit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project = read_qdpx(out)
    assert project.transcripts[0].text == text
    got = sorted((row.code, text[row.start:row.end]) for row in project.codings.itertuples())
    want = sorted((f"c{i}", text[a:b]) for i, (a, b) in enumerate(spans))
    assert got == want


# origin strings as these tools write them (seen in public test fixtures of other QDA projects)
@pytest.mark.parametrize("origin, unit", [
    ("NVivo for Windows 12.6", "utf16"), ("NVivo 14", "utf16"), ("NVivo 12 For Mac", "utf16"),
    ("MAXQDA 2020 (Release 20.2.1)", "utf16"), ("ATLAS.ti Win 23.4.0", "utf16"),
    ("QualCoder 3.5", "codepoints"), ("psythemes", "codepoints"),
    ("psythemes; positions=utf16", "utf16"), ("psythemes; positions=codepoints", "codepoints"),
])
def test_origin_rule(origin, unit):
    text = "P1: 😊 fine. Really fine, thank you, it was a good week overall.\n"
    start = text.index("Really")
    got, reason = detect_position_unit([(text, [(start, start + 6, "")])], origin)
    assert got == unit
    assert (reason is None) == ("positions=" in origin)  # a declared unit is not a guess


def test_extract_passes_the_unit_to_project_and_gold(tmp_path):
    """`psythemes extract --qdpx-positions` reaches read_qdpx for a .qdpx input and a .qdpx --gold."""
    from psythemes import pipeline

    path = vendor_project(tmp_path, PADDED, origin="NVivo 14", unit="utf16")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # told, not guessed: no position warning
        warnings.filterwarnings("ignore", message="no speaker recognised")
        transcripts, project = pipeline._read_inputs([path], pipeline.ReadOptions(qdpx_positions="utf16"))
        gold = pipeline._load_gold(path, None, project.codebook, transcripts, qdpx_positions="utf16")
    assert project.position_unit == "utf16" and cut(project) == QUOTES
    text = transcripts[0].text
    assert sorted(text[r.start:r.end] for r in gold.itertuples()) == sorted(QUOTES.values())
    with pytest.raises(InputError, match="qdpx_positions must be"):
        pipeline.extract(path, None, qdpx_positions="bytes")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=text_and_spans(), unit=st.sampled_from(["utf16", "codepoints"]))
def test_detection_is_never_wrong_when_it_does_not_warn(tmp_path_factory, case, unit):
    """A file from an unknown tool (no declared unit): a silent decision always cuts the coded text."""
    from psythemes.qdpx import project_to_xml

    text, spans = case
    codings = pd.DataFrame([("doc", a, b, f"c{i}", "A") for i, (a, b) in enumerate(spans)], columns=GOLD_COLUMNS)
    xml, files = project_to_xml([Transcript("doc", text)], codings=codings, positions=unit)
    xml = xml.replace(f'origin="psythemes; positions={unit}"'.encode(), b'origin="Some Tool 1.0"')
    path = tmp_path_factory.mktemp("foreign") / "p.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        for member, content in files.items():
            archive.writestr(member, content.encode("utf-8"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        project = read_qdpx(path)
    got = sorted((row.code, text[row.start:row.end]) for row in project.codings.itertuples())
    want = sorted((f"c{i}", text[a:b]) for i, (a, b) in enumerate(spans))
    guessed = [w for w in caught if "could not tell" in str(w.message)]
    assert guessed or got == want


def test_evaluate_and_train_take_the_unit_when_the_origin_guess_is_wrong(tmp_path, capsys):
    # an NVivo-labelled project whose positions are code points: the origin guess (UTF-16) misplaces
    # every coding after an emoji; the warning's advice, --qdpx-positions, must exist where gold is read
    import json

    from psythemes.cli import main

    path = vendor_project(tmp_path, EMOJI_TEXT, origin="NVivo 14", unit="codepoints")
    seg = tmp_path / "seg"
    assert main(["segment", str(path), "--out", str(seg), "--unit", "sentence"]) == 0
    segments = pd.read_csv(seg / "segments.csv", keep_default_na=False)
    pred = tmp_path / "codes.csv"
    segments.head(1).assign(code="support", score=0.9)[
        ["doc_id", "segment_id", "start", "end", "code", "score"]].to_csv(pred, index=False)
    aligned = {}
    for unit in ("auto", "codepoints"):
        capsys.readouterr()
        rc = main(["evaluate", "--pred", str(pred), "--gold", str(path), "--segments", str(seg / "segments.csv"),
                   "--out", str(tmp_path / unit), "--n-boot", "0", "--overlap", "1", "--qdpx-positions", unit])
        assert rc == 0, capsys.readouterr().err
        summary = json.loads((tmp_path / unit / "agreement.json").read_text())["summary"]
        aligned[unit] = summary["n_gold_spans_aligned"]
    assert aligned == {"auto": aligned["auto"], "codepoints": 3} and aligned["auto"] < 3
    # train reads the same way, and takes the project's own codebook
    capsys.readouterr()
    rc = main(["train", str(seg / "segments.csv"), "--gold", str(path), "--codebook", str(path),
               "--out", str(tmp_path / "model"), "--qdpx-positions", "codepoints", "--cv", "0"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "UTF-16" not in err  # no guess to warn about: the unit was given


def test_reading_transcripts_says_nothing_about_codings_it_does_not_read(tmp_path):
    # `psythemes segment project.qdpx` printed the position-unit guess, about codings it ignores
    from psythemes.qdpx import read_project_transcripts

    path = vendor_project(tmp_path, EMOJI_TEXT, origin="NVivo 14", unit="codepoints")
    with pytest.warns(PsythemesWarning, match="UTF-16"):
        read_qdpx(path)  # the guess is said where codings are read
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        transcripts = read_project_transcripts(path)
    assert transcripts[0].text == EMOJI_TEXT and read_qdpx(path, codings=False).codings.empty


def test_next_reads_qdpx_gold_in_the_unit_it_is_given(tmp_path):
    # `psythemes next --gold project.qdpx` had no --qdpx-positions, the one override the warning names
    from psythemes.jobs import labelled_segments
    from psythemes.qdpx import read_project_transcripts
    from psythemes.segment import segment_transcripts

    path = vendor_project(tmp_path, EMOJI_TEXT, origin="NVivo 14", unit="codepoints")
    segments = segment_transcripts(read_project_transcripts(path), unit="sentence")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # given, not guessed
        rows, labels = labelled_segments(segments, [path], codes=list(QUOTES), qdpx_positions="codepoints")
    coded = {segments["text"].iloc[r]: tuple(codes) for r, codes in zip(rows, labels, strict=True) if codes}
    assert sorted(c for codes in coded.values() for c in codes) == sorted(QUOTES)
