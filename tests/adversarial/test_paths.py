"""Paths: output folders that must be refused, files psythemes must never delete, hostile input paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from psythemes.errors import InputError, PsythemesWarning
from psythemes.outputs import write_text
from psythemes.staging import StagedFolder, check_out_dir


def _write_run(out: Path, files: dict[str, str], **extra) -> list[str]:
    with StagedFolder(out) as stage:
        for name, text in files.items():
            write_text(stage.path / name, text)
        return stage.commit({"psythemes": "test", **extra})


# ----------------------------------------------------------------------------- ownership


def test_a_foreign_manifest_is_not_trusted(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.csv").write_text("the researcher's data\n")
    (out / "manifest.json").write_text(json.dumps({"outputs": ["data.csv"], "made_by": "another tool"}))
    with pytest.warns(PsythemesWarning, match="manifest.json is not psythemes' file.*kept as manifest.kept.json"):
        _write_run(out, {"codes.csv": "new\n"})
    assert (out / "data.csv").read_text() == "the researcher's data\n"
    assert json.loads((out / "manifest.kept.json").read_text())["made_by"] == "another tool"
    assert (out / "codes.csv").read_text() == "new\n"


def test_a_manifest_without_hashes_owns_nothing(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.csv").write_text("mine\n")
    (out / "manifest.json").write_text(json.dumps({"psythemes": "0.1", "outputs": ["data.csv", "manifest.json"]}))
    with pytest.warns(PsythemesWarning):
        _write_run(out, {"codes.csv": "new\n"})
    assert (out / "data.csv").read_text() == "mine\n"


def test_an_edited_output_is_moved_aside_with_a_warning(tmp_path: Path):
    out = tmp_path / "out"
    _write_run(out, {"codes.csv": "run1\n", "agreement.csv": "run1\n"})
    (out / "agreement.csv").write_text("run1, with my corrections\n")
    with pytest.warns(PsythemesWarning, match="agreement.csv was changed since psythemes wrote it; kept as "
                                              "agreement.kept.csv"):
        _write_run(out, {"codes.csv": "run2\n"})
    assert (out / "agreement.kept.csv").read_text() == "run1, with my corrections\n"
    assert not (out / "agreement.csv").exists()
    assert (out / "codes.csv").read_text() == "run2\n"


def test_an_unchanged_stale_output_is_removed_and_others_files_stay(tmp_path: Path):
    out = tmp_path / "out"
    _write_run(out, {"codes.csv": "run1\n", "agreement.csv": "run1\n", "figures/a.html": "x"})
    (out / "notes.txt").write_text("mine")
    (out / "figures" / "my.png").write_bytes(b"png")
    (out / "sub").mkdir()
    (out / "sub" / "deep.txt").write_text("deep")
    os.symlink("/etc/hostname", out / "link")
    _write_run(out, {"codes.csv": "run2\n"})
    assert not (out / "agreement.csv").exists() and not (out / "figures" / "a.html").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "my.png").read_bytes() == b"png"
    assert (out / "sub" / "deep.txt").read_text() == "deep"
    assert os.readlink(out / "link") == "/etc/hostname"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"] == ["codes.csv", "manifest.json"] and set(manifest["output_sha256"]) == {"codes.csv"}


def test_someone_elses_file_with_an_output_name_is_kept_aside(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "codes.csv").write_text("hand-made codes\n")
    with pytest.warns(PsythemesWarning, match="codes.csv is not psythemes' file; kept as codes.kept.csv"):
        _write_run(out, {"codes.csv": "machine\n"})
    assert (out / "codes.kept.csv").read_text() == "hand-made codes\n"


def test_a_manifest_listing_paths_outside_the_folder_is_ignored(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"psythemes": "x", "outputs": ["../victim.txt"],
                                                   "output_sha256": {"../victim.txt": "0" * 64}}))
    _write_run(out, {"codes.csv": "x"})
    assert victim.read_text() == "keep me"


def test_a_symlinked_output_folder_is_swapped_where_it_is(tmp_path: Path):
    real = tmp_path / "real"
    _write_run(real, {"codes.csv": "run1\n"})
    link = tmp_path / "link"
    link.symlink_to(real)
    _write_run(link, {"codes.csv": "run2\n"})
    assert link.is_symlink() and (real / "codes.csv").read_text() == "run2\n"


# ----------------------------------------------------------------------------- output folder checks


@pytest.mark.parametrize("bad", ["", ".", "  "])
def test_empty_or_current_output_folder_is_refused(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="empty|current folder"):
        check_out_dir(bad)


def test_output_folder_holding_the_current_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(InputError, match="current folder"):
        check_out_dir(tmp_path)


def test_output_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_out_dir(tmp_path / "file" / "out")
    with pytest.raises(InputError, match="not a folder"):
        check_out_dir(tmp_path / "file")


def test_output_folder_equal_to_or_holding_an_input_is_refused(tmp_path):
    inputs = tmp_path / "transcripts"
    inputs.mkdir()
    with pytest.raises(InputError, match="is or holds the input"):
        check_out_dir(inputs, inputs=[inputs])
    with pytest.raises(InputError, match="is or holds the input"):
        check_out_dir(tmp_path, inputs=[inputs / "a.txt"])
    assert check_out_dir(inputs / "out", inputs=[tmp_path / "other"]) == inputs / "out"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: permissions cannot be tested as root")
def test_output_folder_not_writable_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_out_dir(locked / "out")
    finally:
        locked.chmod(0o700)


def test_cli_refuses_bad_output_folders_before_any_work(tmp_path, monkeypatch, capsys):
    from psythemes.cli import main

    transcripts = tmp_path / "t"
    transcripts.mkdir()
    (transcripts / "a.txt").write_text("P01: hello there\nP01: more words\n")
    monkeypatch.chdir(tmp_path)
    for out in ("", str(transcripts)):
        rc = main(["extract", str(transcripts), "--out", out, "--no-cache"])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error:") and "unexpected" not in err, err
    assert sorted(p.name for p in transcripts.iterdir()) == ["a.txt"]


# ----------------------------------------------------------------------------- input paths


def test_a_symlink_leaving_the_input_folder_is_skipped_with_a_warning(tmp_path):
    from psythemes.io import read_transcripts

    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "a.txt").write_text("P01: hello there\nP01: more words\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("P99: not a transcript of this study\n")
    (folder / "b.txt").symlink_to(secret)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "c.txt").symlink_to(folder / "a.txt")  # inside the folder: read
    with pytest.warns(PsythemesWarning, match="outside the input folder"):
        docs = read_transcripts([folder])
    assert sorted(t.doc_id for t in docs) == ["a", "c"]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    from psythemes.io import read_transcript

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        read_transcript(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused(capsys):
    from psythemes.cli import main

    rc = main(["segment", "/dev/zero", "--format", "text", "--out", "/nonexistent-never-written"])
    err = capsys.readouterr().err
    assert rc == 2 and "a device, not a regular file" in err, err


def test_a_fifo_as_qdpx_is_refused(tmp_path):
    from psythemes.qdpx import read_qdpx

    fifo = tmp_path / "p.qdpx"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        read_qdpx(fifo)


@pytest.mark.parametrize("command", [["themes"], ["map"]])
def test_stage_commands_check_the_output_folder_before_embedding(command, tmp_path, capsys):
    from psythemes.cli import main

    segments = tmp_path / "segments.csv"
    segments.write_text("doc_id,segment_id,speaker,role,start,end,text,t_start,t_end,turn_index,kind\n"
                        "a,a:0-5,P01,,0,5,hello,,,0,content\na,a:6-11,P01,,6,11,there,,,1,content\n")
    (tmp_path / "file").write_text("x")
    out = str(tmp_path / "file" / "out")
    rc = main([*command, str(segments), "--out", out, "--no-cache"]
              if command == ["themes"] else [*command, str(segments), "--out", out, "--codebook", "psychosomatic"])
    err = capsys.readouterr().err
    assert rc == 2 and "is not a folder" in err and "unexpected" not in err, err
