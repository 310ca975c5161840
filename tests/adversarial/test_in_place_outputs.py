"""Stage commands write into a folder in place: a file they replace that a researcher edited is kept."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from psythemes.errors import PsythemesWarning
from psythemes.outputs import write_text
from psythemes.staging import LEDGER, keeping_edited


def _write(folder: Path, files: dict[str, str]) -> None:
    with keeping_edited(folder):
        for name, text in files.items():
            write_text(folder / name, text)


def _no_backups(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".psythemes-backup-" in p.name]


def test_an_unchanged_output_is_replaced_without_a_word(tmp_path: Path):
    out = tmp_path / "out"
    _write(out, {"codes.csv": "run1\n"})
    assert json.loads((out / LEDGER).read_text())["output_sha256"].keys() == {"codes.csv"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write(out, {"codes.csv": "run2\n"})
    assert (out / "codes.csv").read_text() == "run2\n"
    assert sorted(p.name for p in out.iterdir()) == [LEDGER, "codes.csv"]


def test_an_edited_output_is_kept_with_a_warning(tmp_path: Path):
    out = tmp_path / "out"
    _write(out, {"codes.csv": "run1\n", "theme_codes.csv": "run1\n"})
    (out / "codes.csv").write_text("run1, with my corrections\n")
    with pytest.warns(PsythemesWarning, match="codes.csv was changed since psythemes wrote it; kept as codes.kept.csv"):
        _write(out, {"codes.csv": "run2\n", "theme_codes.csv": "run2\n"})
    assert (out / "codes.kept.csv").read_text() == "run1, with my corrections\n"
    assert (out / "codes.csv").read_text() == "run2\n"
    assert _no_backups(out)
    # the kept copy is the researcher's: a third run neither records nor replaces it
    (out / "codes.csv").write_text("run2, corrected again\n")
    with pytest.warns(PsythemesWarning, match="kept as codes.kept-2.csv"):
        _write(out, {"codes.csv": "run3\n"})
    assert (out / "codes.kept.csv").read_text() == "run1, with my corrections\n"
    assert "codes.kept.csv" not in json.loads((out / LEDGER).read_text())["output_sha256"]


def test_someone_elses_file_is_kept_and_unrelated_files_stay(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "codes.csv").write_text("hand-made codes\n")
    (out / "notes.txt").write_text("my notes\n")
    with pytest.warns(PsythemesWarning, match="codes.csv is not psythemes' file; kept as codes.kept.csv"):
        _write(out, {"codes.csv": "machine codes\n"})
    assert (out / "codes.kept.csv").read_text() == "hand-made codes\n"
    assert (out / "notes.txt").read_text() == "my notes\n"
    assert "notes.txt" not in json.loads((out / LEDGER).read_text())["output_sha256"]
    assert _no_backups(out)


def test_an_extract_manifest_counts_as_psythemes_own(tmp_path: Path):
    from psythemes.staging import StagedFolder

    out = tmp_path / "run"
    with StagedFolder(out) as stage:
        write_text(stage.path / "agreement.csv", "extract\n")
        stage.commit({"psythemes": "test"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write(out, {"agreement.csv": "evaluate\n"})
    assert (out / "agreement.csv").read_text() == "evaluate\n"


def test_a_failed_writer_still_keeps_what_it_replaced(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "segments.csv").write_text("the researcher's table\n")
    with pytest.raises(RuntimeError), pytest.warns(PsythemesWarning, match="kept as segments.kept.csv"), \
            keeping_edited(out):
        write_text(out / "segments.csv", "new\n")
        raise RuntimeError("disk full")
    assert (out / "segments.kept.csv").read_text() == "the researcher's table\n"


def test_backups_of_a_killed_run_are_settled_by_the_next(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "codes.csv").write_text("new, written before the kill\n")
    (out / ".codes.csv.psythemes-backup-0badcafe").write_text("edited by hand\n")  # the old file
    (out / "notes.txt").write_text("mine\n")
    os.link(out / "notes.txt", out / ".notes.txt.psythemes-backup-0badcafe")  # not replaced
    with pytest.warns(PsythemesWarning, match="a run was killed while writing.*kept as codes.kept.csv"):
        _write(out, {"themes.csv": "x\n"})
    assert (out / "codes.kept.csv").read_text() == "edited by hand\n"
    assert (out / "notes.txt").read_text() == "mine\n"
    assert _no_backups(out)


def test_segment_command_keeps_an_edited_segment_table(data_dir: Path, tmp_path: Path, capsys):
    from psythemes.cli import main

    out = tmp_path / "seg"
    args = ["segment", str(data_dir / "example_otter.txt"), "--out", str(out)]
    assert main(args) == 0
    table = out / "segments.csv"
    table.write_text(table.read_text().replace("content", "content", 1) + "# checked by AB\n")
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "segments.csv was changed since psythemes wrote it; kept as segments.kept.csv" in err, err
    assert (out / "segments.kept.csv").read_text().endswith("# checked by AB\n")
    capsys.readouterr()
    assert main(args) == 0  # nothing edited since: no word
    assert "kept as" not in capsys.readouterr().err


def test_pseudonymise_keeps_a_transcript_where_a_missed_name_was_blanked(tmp_path: Path, capsys):
    from psythemes.cli import main

    src = tmp_path / "in"
    src.mkdir()
    (src / "p01.txt").write_text("Interviewer: How was it?\nP01: My physio Okonkwo listened to me.\n")
    out, key = tmp_path / "pseudo", tmp_path / "private" / "key.json"
    args = ["pseudonymise", str(src), "--out", str(out), "--key", str(key)]
    assert main(args) == 0
    fixed = (out / "p01.txt").read_text().replace("physio", "[ROLE]")  # a detail the model left in
    assert fixed != (out / "p01.txt").read_text()
    (out / "p01.txt").write_text(fixed)
    capsys.readouterr()
    assert main(args) == 0
    assert "p01.txt was changed since psythemes wrote it; kept as p01.kept.txt" in capsys.readouterr().err
    assert (out / "p01.kept.txt").read_text() == fixed


def test_without_hard_links_an_edited_file_is_still_kept(tmp_path: Path, monkeypatch):
    import psythemes.staging as staging

    out = tmp_path / "out"
    _write(out, {"codes.csv": "run1\n"})
    (out / "codes.csv").write_text("corrected\n")

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(staging.os, "link", no_links)  # a file system without hard links
    with pytest.warns(PsythemesWarning, match="kept as codes.kept.csv"):
        _write(out, {"codes.csv": "run2\n"})
    assert (out / "codes.kept.csv").read_text() == "corrected\n" and _no_backups(out)
    monkeypatch.setattr(staging, "_MAX_BACKUP_COPY", 1)  # too large to copy: replaced, as before
    (out / "codes.csv").write_text("corrected again\n")
    (out / "notes.txt").write_text("mine\n")
    _write(out, {"codes.csv": "run3\n"})
    assert (out / "codes.csv").read_text() == "run3\n" and not (out / "codes.kept-2.csv").exists()
    # a file found there and left alone is not recorded as psythemes' own, backed up or not
    assert set(json.loads((out / LEDGER).read_text())["output_sha256"]) == {"codes.csv"}


def test_a_stage_command_and_extract_read_each_others_records(tmp_path: Path):
    """A review: segment, then extract, then segment again into one folder each claimed the other's
    unchanged segments.csv was not psythemes' (or changed), and kept a copy."""
    from psythemes.staging import StagedFolder

    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write(out, {"segments.csv": "segment\n", "notes.csv": "evaluate\n"})
        with StagedFolder(out) as stage:
            write_text(stage.path / "segments.csv", "extract\n")
            stage.commit({"psythemes": "test"})
        _write(out, {"segments.csv": "segment again\n"})
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "manifest.json", "notes.csv", "segments.csv"]  # a stage file extract does not write stays


def test_inodes_come_from_lstat_as_windows_needs(tmp_path: Path, monkeypatch):
    """On Windows DirEntry.stat() has st_ino 0: every file looked replaced and was kept on every run."""
    import psythemes.staging as staging

    real = os.scandir

    class NoInode:
        def __init__(self, entry):
            self._entry = entry
            self.name, self.path = entry.name, entry.path

        def is_file(self, **kw):
            return self._entry.is_file(**kw)

        def stat(self, **kw):
            st = self._entry.stat(**kw)
            return os.stat_result((st.st_mode, 0, *tuple(st)[2:]))

    class Listing:
        def __init__(self, path):
            self._it = real(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._it.close()

        def __iter__(self):
            return (NoInode(e) for e in self._it)

    out = tmp_path / "out"
    out.mkdir()
    (out / "interview_notes.docx").write_text("mine\n")
    monkeypatch.setattr(staging.os, "scandir", Listing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write(out, {"codes.csv": "run1\n"})
        _write(out, {"codes.csv": "run2\n"})
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["codes.csv", "interview_notes.docx"]
