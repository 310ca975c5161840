"""One reader and one writer per stage table: a file written by one route reads back the same through another."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from test_cli_mapping import fake_embedder, toy_files  # noqa: F401  (fixtures)

from psythemes import tables
from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import CODE_COLUMNS, SEGMENT_COLUMNS, Transcript

TRANSCRIPT = ("P01: I felt the tension in my shoulders again.\n"
              "Interviewer: And what helped?\n"
              "P01: A long walk, and my therapist listened.\n")


@pytest.fixture()
def segmented(tmp_path) -> Path:
    """``psythemes segment`` output folder for one transcript (``a.txt``)."""
    from psythemes.jobs import segment_files

    source = tmp_path / "a.txt"
    source.write_text(TRANSCRIPT, encoding="utf-8")
    segment_files([source], tmp_path / "seg")
    return tmp_path / "seg"


# ----------------------------------------------------------------------------- segments


def test_segments_read_the_same_by_every_route(segmented):
    from psythemes.evaluate import load_segments as evaluate_reader
    from psythemes.io import read_segments as io_reader
    from psythemes.jobs import load_segments as themes_reader

    path = segmented / "segments.csv"
    table = tables.read_segments(path)
    assert evaluate_reader is io_reader is tables.read_segments
    themes_table, _, segmented_here = themes_reader([path])
    assert not segmented_here  # read as a segments table, not re-segmented as transcripts
    pd.testing.assert_frame_equal(themes_table, table)


def test_write_segments_writes_back_the_same_bytes(segmented, tmp_path):
    path = segmented / "segments.csv"
    again = tables.write_segments(tmp_path / "again.csv", tables.read_segments(path))
    assert again.read_bytes() == path.read_bytes()


def test_themes_keeps_the_ids_of_a_segments_table_with_speakers_and_extra_columns(tmp_path):
    """A hand-made table (no t_start/t_end, an extra column) is a segments table, not transcripts in CSV."""
    from psythemes.jobs import load_segments

    path = tmp_path / "mine.csv"
    path.write_text("doc_id,segment_id,speaker,role,start,end,text,wave\n"
                    "a,q1,P01,participant,0,5,hello,1\n"
                    "a,q2,P02,participant,6,11,there,1\n", encoding="utf-8")
    assert tables.is_segment_table(path)
    segments, _, segmented_here = load_segments([path])
    assert not segmented_here
    assert segments["segment_id"].tolist() == ["q1", "q2"]  # the user's ids, not doc:start-end
    assert segments[["start", "end"]].to_numpy().tolist() == [[0, 5], [6, 11]]
    assert segments["wave"].tolist() == [1, 1]  # extra columns travel along


def test_a_table_without_segment_columns_is_not_a_segments_table(tmp_path):
    path = tmp_path / "turns.csv"
    path.write_text("speaker,text\nP01,hello\n", encoding="utf-8")
    assert not tables.is_segment_table(path)


# ----------------------------------------------------------------------------- codes


def test_codes_csv_has_the_same_columns_from_either_mapper(toy_files, tmp_path, fake_embedder):  # noqa: F811
    from psythemes.jobs import map_segments_to_files

    seg_path, gold_path, book = toy_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)  # a code without segments; what few-shot inferred
        map_segments_to_files(seg_path, tmp_path / "zero", codebook=book)
        part = tmp_path / "gold_part.csv"  # map --train codes the documents outside its gold
        gold = pd.read_csv(gold_path)
        gold[gold["doc_id"].isin(["doc0", "doc1"])].to_csv(part, index=False)
        map_segments_to_files(seg_path, tmp_path / "few", codebook=book, method="few-shot", train=part)
    zero, few = tmp_path / "zero" / "codes.csv", tmp_path / "few" / "codes.csv"
    header = ",".join(tables.CODES_FILE_COLUMNS)
    assert zero.read_text().splitlines()[0] == few.read_text().splitlines()[0] == header
    zero_codes, few_codes = tables.read_codes(zero), tables.read_codes(few)
    assert (zero_codes["evidence"] != "").all()  # zero-shot says which example matched
    assert len(few_codes) and (few_codes["evidence"] == "").all()  # few-shot has none: the column is there, empty
    assert zero_codes.dtypes.to_dict() == few_codes.dtypes.to_dict()


def test_write_codes_then_read_codes_round_trip(tmp_path):
    codes = pd.DataFrame([["a", "a:0-5", 0, 5, "x", 0.5, "few-shot"]], columns=CODE_COLUMNS)
    path = tables.write_codes(tmp_path / "codes.csv", codes)
    back = tables.read_codes(path)
    assert list(back.columns) == tables.CODES_FILE_COLUMNS
    again = tables.write_codes(tmp_path / "again.csv", back)
    assert again.read_bytes() == path.read_bytes()


def test_evaluate_and_review_read_codes_with_the_same_reader(tmp_path, segmented):
    from psythemes.evaluate import load_codes

    assert load_codes is tables.read_codes
    run = segmented
    codes = pd.DataFrame([["a", "a:5-48", 5, 48, "alliance", 0.41, "zero-shot", "an example"],
                          ["a", "a:5-48", 5, 48, "alliance", 0.3, "zero-shot", "a duplicate, lower"]],
                         columns=tables.CODES_FILE_COLUMNS)
    tables.write_codes(run / "codes.csv", codes)
    from psythemes.codebook import load_codebook, save_codebook

    save_codebook(load_codebook("psychosomatic"), run / "codebook.yaml")
    with pytest.warns(PsythemesWarning, match="1 duplicate machine code"):
        review_codes = tables.read_run(run).codes
    with pytest.warns(PsythemesWarning, match="1 duplicate machine code"):
        pd.testing.assert_frame_equal(review_codes, load_codes(run / "codes.csv"))


# ----------------------------------------------------------------------------- gold


def test_gold_past_the_end_is_dropped_alike_by_evaluate_train_and_extract(segmented, tmp_path):
    """One policy: a span ending beyond its text is dropped and counted, whichever command reads the gold."""
    from psythemes.codebook import load_codebook
    from psythemes.jobs import _read_gold_csv
    from psythemes.pipeline import _load_gold
    from psythemes.validate import text_lengths_near

    book = load_codebook("psychosomatic")
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,start,end,code,coder\na,5,30,alliance,A\na,0,99999999,awareness,A\n")
    segments = tables.read_segments(segmented / "segments.csv")
    transcripts = [Transcript(doc_id="a", text=TRANSCRIPT)]
    message = r"1 gold span\(s\) end beyond their document's text and were dropped, e\.g\. a \[0, 99999999\)"
    with pytest.warns(PsythemesWarning, match=message):
        lengths = text_lengths_near(segmented / "segments.csv")
        from_evaluate = tables.read_gold(gold, codes=book.names, text_lengths=lengths)
    with pytest.warns(PsythemesWarning, match=message):
        from_train = _read_gold_csv(gold, book, segments)
    with pytest.warns(PsythemesWarning, match=message):
        from_extract = _load_gold(gold, None, book, transcripts)
    with pytest.warns(PsythemesWarning, match=message):  # a DataFrame given to extract: the same checks
        from_frame = _load_gold(pd.read_csv(gold), None, book, transcripts)
    for table in (from_train, from_extract, from_frame):
        pd.testing.assert_frame_equal(table, from_evaluate)
    assert from_evaluate["code"].tolist() == ["alliance"]


def test_gold_on_unknown_documents_is_counted_and_extract_leaves_it_out(tmp_path):
    from psythemes.codebook import load_codebook
    from psythemes.pipeline import _load_gold

    book = load_codebook("psychosomatic")
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,start,end,code\na,0,5,alliance\nzz,0,5,alliance\n")
    with pytest.warns(PsythemesWarning, match="1 gold span.*name a document that the transcripts do not have: zz"):
        read = tables.read_gold(gold, text_lengths={"a": 20})
    assert read["doc_id"].tolist() == ["a", "zz"]  # kept: evaluate counts it as unaligned (unknown_doc)
    with pytest.warns(PsythemesWarning, match="do not have: zz"):
        assert _load_gold(gold, None, book, [Transcript(doc_id="a", text="x" * 20)])["doc_id"].tolist() == ["a"]


# ----------------------------------------------------------------------------- metadata


def test_metadata_read_the_same_by_themes_and_segment(tmp_path):
    from psythemes.io import read_metadata as io_reader
    from psythemes.io import read_transcripts
    from psythemes.jobs import load_segments

    assert io_reader is tables.read_metadata
    (tmp_path / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    meta = tmp_path / "meta.csv"
    meta.write_text("doc_id,wave,age\na,2,\n", encoding="utf-8")
    _, themes_meta, _ = load_segments([tmp_path / "a.txt"], metadata=meta)
    pd.testing.assert_frame_equal(themes_meta, tables.read_metadata(meta))
    assert read_transcripts([tmp_path / "a.txt"], metadata=meta)[0].metadata["wave"] == themes_meta["wave"].iloc[0]
    meta.write_text("participant\nP01\n", encoding="utf-8")
    with pytest.raises(InputError, match="metadata has no 'doc_id' column"):
        load_segments([tmp_path / "a.txt"], metadata=meta)


def test_metadata_kept_in_excel_reads_as_the_same_table_saved_as_csv(tmp_path):
    """A sidecar in .xlsx (numbers as numbers, an empty cell) and the same sheet saved as CSV with ';'."""
    openpyxl = pytest.importorskip("openpyxl")
    rows = [["File name", "Participant ID", "Role", "Wave", "Sex", "Age (years)"],
            ["FG01.docx", "FG01", "patient", 1, "mixed", None],
            ["P02_zoom.vtt", "P02", "patient", 1, "F", 44],
            ["T01_f4.txt", "T01", "therapist", 2, "F", 49]]
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.active.append([])  # an empty row, and a blank cell far to the right, as sheets often have
    book.active.cell(row=3, column=9).value = " "
    book.save(tmp_path / "metadata.xlsx")
    (tmp_path / "metadata.csv").write_text(
        "\ufeff" + "".join(";".join("" if v is None else str(v) for v in row) + "\n" for row in rows), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        from_csv = tables.read_metadata(tmp_path / "metadata.csv")
        from_xlsx = tables.read_metadata(tmp_path / "metadata.xlsx")
    pd.testing.assert_frame_equal(from_xlsx, from_csv)
    assert from_xlsx.columns.tolist() == ["doc_id", "participant", "role", "wave", "Sex", "Age (years)"]
    assert from_xlsx["Age (years)"].tolist()[1:] == [44, 49] and pd.isna(from_xlsx["Age (years)"].iloc[0])
    assert from_xlsx["doc_id"].tolist() == ["FG01.docx", "P02_zoom.vtt", "T01_f4.txt"]


def test_metadata_in_a_spreadsheet_psythemes_cannot_read_says_what_to_do(tmp_path):
    import zipfile

    ods = tmp_path / "metadata.ods"
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(InputError, match=r"metadata\.ods: metadata must be a CSV/TSV table or an Excel workbook "
                                         r"\(\.xlsx\).*save the sheet as \.xlsx or CSV"):
        tables.read_metadata(ods)
    (tmp_path / "broken.xlsx").write_bytes(b"doc_id\nP01\n")
    with pytest.raises(InputError, match=r"broken\.xlsx: not a readable Excel workbook"):
        tables.read_metadata(tmp_path / "broken.xlsx")


def test_every_table_reader_takes_the_delimiter_from_the_header_line(tmp_path):
    assert tables.csv_delimiter("doc_id;segment_id;code\nd1;d1:0-5;a,b\n") == ";"
    assert tables.csv_delimiter("name,description\nA,x; y; z\n") == ","
    assert tables.csv_delimiter("doc_id,wave\n", tmp_path / "meta.tsv") == "\t"
    codes = tmp_path / "codes.csv"
    codes.write_text("doc_id;segment_id;start;end;code;score\nd1;d1:0-5;0;5;Trust, therapist;0,9\n",
                     encoding="utf-8")
    assert tables.read_codes(codes)["code"].tolist() == ["Trust, therapist"]
    review = tmp_path / "review.csv"
    review.write_text("doc_id;start;end;suggested_code;decision;reviewer\nd1;0;5;Trust;accept;KL\n",
                      encoding="utf-8")
    assert tables.is_review_csv(review)
    gold = tables.read_gold(review, codes=["Trust"])
    assert gold[["doc_id", "start", "end", "code", "coder"]].values.tolist() == [["d1", 0, 5, "Trust", "KL"]]


def test_every_table_reader_reads_a_windows_excel_csv_and_names_the_guess(tmp_path):
    # Excel on Windows saves "CSV" in cp1252: gold with "Bewältigung" was a raw codec error, a codebook
    # was decoded without a word; now each reader decodes as transcripts are and names the guess
    from psythemes.codebook import load_codebook

    gold = tmp_path / "gold.csv"
    gold.write_bytes("doc_id;start;end;code\nd1;0;10;Bewältigung\n".encode("cp1252"))
    codebook = tmp_path / "codebook.tsv"  # MAXQDA and others export tab-separated lists
    codebook.write_bytes("Code\tMemo\nBewältigung\tStrategien gegen Stress\nArbeitsdruck\t\n".encode("cp1252"))
    metadata = tmp_path / "metadata.csv"
    metadata.write_bytes("doc_id,Name\nd1,Jürgen\n".encode("cp1252"))
    guess = r"not UTF-8; read as cp1252 .* save the file as UTF-8"
    with pytest.warns(PsythemesWarning, match=guess):
        assert tables.read_gold(gold)["code"].tolist() == ["Bewältigung"]
    with pytest.warns(PsythemesWarning, match=guess):
        book = load_codebook(codebook)
    assert book.names == ["Bewältigung", "Arbeitsdruck"]
    assert book["Bewältigung"].definition == "Strategien gegen Stress"
    with pytest.warns(PsythemesWarning, match=guess):
        assert tables.read_metadata(metadata)["Name"].tolist() == ["Jürgen"]


def test_a_code_name_in_another_unicode_form_is_the_same_code_without_a_word(tmp_path):
    # tables are read as NFC, a YAML name typed on macOS may be decomposed: the same name to a reader
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Unterstützung")
    gold = tmp_path / "gold.csv"
    gold.write_text(f"doc_id,start,end,code\nd1,0,5,{decomposed}\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        assert tables.read_gold(gold, codes=[decomposed])["code"].tolist() == [decomposed]


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_command_writes_what_write_evaluation_writes(data_dir, tmp_path):
    from psythemes.cli import main
    from psythemes.evaluate import evaluate, write_evaluation

    assert write_evaluation is tables.write_evaluation
    folder = data_dir / "agreement"
    assert main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
                 "--segments", str(folder / "segments.csv"), "--n-boot", "0", "--out", str(tmp_path / "cli")]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        result = evaluate(tables.read_codes(folder / "codes.csv"), tables.read_gold(folder / "gold.csv"),
                          tables.read_segments(folder / "segments.csv"), ci=None, n_boot=0)
    written = tables.write_evaluation(result, tmp_path / "api")
    for path in written.values():
        assert (tmp_path / "cli" / path.name).read_bytes() == path.read_bytes(), path.name


def test_segment_columns_come_first_when_written(tmp_path):
    frame = pd.DataFrame({"kind": ["content"], **{c: [""] for c in SEGMENT_COLUMNS}})
    frame[["start", "end"]] = 0
    path = tables.write_segments(tmp_path / "s.csv", frame)
    assert path.read_text().splitlines()[0] == ",".join([*SEGMENT_COLUMNS, "kind"])


@pytest.mark.slow
def test_extract_and_map_write_the_same_codes_csv(demo_dir, tmp_path):
    """The demo corpus through ``extract`` and through ``segment`` + ``map``: byte-identical codes.csv."""
    from psythemes.jobs import map_segments_to_files
    from psythemes.pipeline import extract

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        extract([demo_dir / "transcripts"], tmp_path / "extract", metadata=demo_dir / "metadata.csv",
                codebook="psychosomatic", preset="fast", n_boot=0, qdpx=False,
                cache_dir=False)  # no theme fit left in the cache for test_pipeline's cold run
        map_segments_to_files(tmp_path / "extract" / "segments.csv", tmp_path / "map", codebook="psychosomatic")
    mapped, extracted = tmp_path / "map" / "codes.csv", tmp_path / "extract" / "codes.csv"
    assert mapped.read_text().splitlines()[0] == ",".join(tables.CODES_FILE_COLUMNS)
    assert mapped.read_bytes() == extracted.read_bytes()
