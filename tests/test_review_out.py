"""Where 'psythemes review' and 'psythemes next' write: never over a researcher's decisions, never over
an input, and a bad --out is one clear line (exit 2) before any work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError
from psythemes.review import check_review_out, review_run
from psythemes.tables import count_decisions

from test_review import _fill, make_run  # the hand-made run folder and the cell filler

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture()
def run_dir(tmp_path):
    return make_run(tmp_path)


@pytest.fixture()
def no_embedding(monkeypatch):
    """Random embeddings; ``calls`` counts them (a refused --out must come before this work)."""
    import psythemes.embed as embed_mod

    calls = []

    def embed(self, segs):
        calls.append(len(segs))
        return np.random.default_rng(0).standard_normal((len(segs), 8)).astype(np.float32)

    monkeypatch.setattr(embed_mod.Embedder, "embed_segments", embed)
    return calls


def _decided(run_dir, path):
    review_run(run_dir, path, reviewer="anna")
    _fill(path, {2: "accept"})
    return path.read_bytes()


def test_review_keeps_a_sheet_with_decisions(run_dir, tmp_path, capsys):
    sheet = tmp_path / "decided.xlsx"
    before = _decided(run_dir, sheet)
    copy_before = (tmp_path / "decided.csv").read_bytes()
    rc = main(["review", str(run_dir), "--reviewer", "anna", "--out", str(sheet)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip() == (f"error: {sheet}: holds 1 decision(s) that a new sheet would wipe out; give another "
                           "--out, or --overwrite to replace it")
    assert sheet.read_bytes() == before and (tmp_path / "decided.csv").read_bytes() == copy_before
    assert main(["review", str(run_dir), "--out", str(sheet), "--overwrite"]) == 0
    assert count_decisions(sheet) == 0


def test_review_keeps_decisions_in_the_csv_copy(run_dir, tmp_path, capsys):
    sheet = tmp_path / "r.xlsx"
    review_run(run_dir, sheet)
    copy = tmp_path / "r.csv"
    table = pd.read_csv(copy, encoding="utf-8-sig", keep_default_na=False)
    table.loc[0, "decision"] = "reject"  # the reviewer filled in the CSV copy
    table.to_csv(copy, index=False, encoding="utf-8-sig")
    before = copy.read_bytes()
    assert main(["review", str(run_dir), "--out", str(sheet)]) == 2
    assert f"{copy}: holds 1 decision(s)" in capsys.readouterr().err
    assert copy.read_bytes() == before


def test_a_sheet_without_decisions_is_replaced(run_dir, tmp_path):
    sheet = tmp_path / "r.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    review_run(run_dir, sheet, reviewer="ben")  # written earlier, not filled in yet: no work lost
    ws = openpyxl.load_workbook(sheet)["review"]
    assert {c.value for c in ws["L"][1:]} == {"ben"}


def test_other_files_are_not_review_sheets(run_dir, tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("doc_id,memo\nP01-W1,call back\n")
    with pytest.raises(InputError, match=r"notes.csv: exists and cannot be read as a review sheet \(not a review "
                                         r"sheet: no column\(s\) start, end, decision"):
        review_run(run_dir, notes)
    assert notes.read_text() == "doc_id,memo\nP01-W1,call back\n"
    review_run(run_dir, notes, overwrite=True)
    # a file of the run folder (its manifest lists it) is an input: refused even with overwrite
    (run_dir / "manifest.json").write_text(json.dumps({"psythemes": "0", "output_sha256": {"codes.csv": "0"}}))
    with pytest.raises(InputError, match="codes.csv: is a file of the run folder"):
        review_run(run_dir, run_dir / "codes.csv", overwrite=True)


def test_next_refuses_to_write_over_its_gold_before_any_work(run_dir, tmp_path, capsys, no_embedding):
    sheet = tmp_path / "decided2.xlsx"
    before = _decided(run_dir, sheet)
    for extra in ([], ["--overwrite"]):
        rc = main(["next", str(run_dir), "--gold", str(sheet), "--out", str(tmp_path / "." / "decided2.xlsx"),
                   *extra])
        assert rc == 2
        assert "decided2.xlsx: is read with --gold; write the new sheet to another file" in capsys.readouterr().err
    assert sheet.read_bytes() == before and no_embedding == []
    other = tmp_path / "other.xlsx"
    _decided(run_dir, other)
    assert main(["next", str(run_dir), "--gold", str(sheet), "--out", str(other)]) == 2
    assert "holds 1 decision(s)" in capsys.readouterr().err and no_embedding == []
    assert main(["next", str(run_dir), "--gold", str(sheet), "--out", str(tmp_path / "next.xlsx")]) == 0


@pytest.mark.parametrize("command", ["review", "next"])
def test_out_under_a_file_is_one_line_before_any_work(run_dir, tmp_path, capsys, no_embedding, command):
    afile = tmp_path / "afile"
    afile.write_text("hi\n")
    for out, says in ((afile / "r.xlsx", "output path exists and is not a folder"),
                      (afile / "sub" / "r.xlsx", "is not a folder"),
                      (tmp_path, "review sheet must be .xlsx or .csv"),
                      (tmp_path / "folder.xlsx", "output path is a folder")):
        if out.name == "folder.xlsx":
            out.mkdir()
        rc = main([command, str(run_dir), "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert err.count("\n") == 1 and says in err and "unexpected" not in err
    assert afile.read_text() == "hi\n" and no_embedding == []


def test_check_review_out_alone(tmp_path):
    assert check_review_out(tmp_path / "new" / "r.csv") == tmp_path / "new" / "r.csv"
    with pytest.raises(InputError, match="must be .xlsx or .csv, not '.ods'"):
        check_review_out(tmp_path / "r.ods")
