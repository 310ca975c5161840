"""Kills and interrupts in the write phase: the previous results stay complete and unmixed.

A subprocess writes a "run" of 25 files (as ``extract`` does, through ``StagedFolder``) into a
folder that already holds a complete earlier run, and is killed with SIGKILL at step k of its
write phase (``PSYTHEMES_FAULT_AT``).  Afterwards the folder must hold exactly one run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
N_FILES = 25

WRITER = f"""
import sys
from pathlib import Path
from psythemes.outputs import write_text
from psythemes.staging import StagedFolder

out, tag = Path(sys.argv[1]), sys.argv[2]
with StagedFolder(out) as stage:
    for i in range({N_FILES}):
        sub = "figures/" if i % 10 == 9 else ""
        write_text(stage.path / f"{{sub}}table{{i:02d}}.csv", f"{{tag}} {{i}}\\n")
    if tag == "run1":
        write_text(stage.path / "agreement.csv", "run1 only\\n")
    stage.commit({{"psythemes": "test", "run": tag}})
"""


def _run(out: Path, tag: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run([sys.executable, "-c", WRITER, str(out), tag], env=full_env,
                          capture_output=True, text=True, timeout=120)


def _runs_seen(out: Path) -> set[str]:
    """Tags of the runs whose files are in ``out`` (ignoring the user's own file)."""
    tags = set()
    for p in out.rglob("*.csv"):
        if p.name != "notes.csv":
            tags.add(p.read_text().split()[0])
    tags.add(json.loads((out / "manifest.json").read_text())["run"])
    return tags


def _complete(out: Path, tag: str) -> bool:
    manifest = json.loads((out / "manifest.json").read_text())
    listed = set(manifest["outputs"])
    return manifest["run"] == tag and all((out / n).is_file() for n in listed) and len(listed) >= N_FILES + 1


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.psythemes-"))


@pytest.fixture
def first_run(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    assert _run(out, "run1").returncode == 0
    (out / "notes.csv").write_text("mine, not psythemes'\n")
    return out


# steps 1..25 write files, 26 the manifest, 27 carries notes.csv, 28 is just before the swap,
# 29 just after it (old run not yet deleted)
@pytest.mark.parametrize("step", [1, 2, 13, 25, 26, 27, 28, 29])
@pytest.mark.parametrize("swap", ["exchange", "rename"])
def test_sigkill_at_any_step_leaves_one_complete_run(first_run: Path, step: int, swap: str):
    env = {"PSYTHEMES_FAULT_AT": str(step)}
    if swap == "rename":
        env["PSYTHEMES_SWAP"] = "rename"
    proc = _run(first_run, "run2", **env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if first_run.exists():
        seen = _runs_seen(first_run)
        assert len(seen) == 1, f"mixed runs {seen}"
        assert _complete(first_run, seen.pop())
        assert (first_run / "notes.csv").read_text() == "mine, not psythemes'\n"
    else:
        # the two-rename swap killed between its renames: the folder is missing, never mixed
        assert swap == "rename" and _leftovers(first_run)
    # the next run cleans up (and restores a missing folder first)
    assert _run(first_run, "run3").returncode == 0
    assert _runs_seen(first_run) == {"run3"} and _complete(first_run, "run3")
    assert not (first_run / "agreement.csv").exists()  # run1's own stale file is gone
    assert (first_run / "notes.csv").read_text() == "mine, not psythemes'\n"
    assert _leftovers(first_run) == []
    assert not [p for p in first_run.rglob("*.tmp")]


def test_rename_swap_killed_between_renames_is_restored_by_next_run(first_run: Path):
    proc = _run(first_run, "run2", PSYTHEMES_FAULT_AT="29", PSYTHEMES_SWAP="rename")
    assert proc.returncode == -signal.SIGKILL
    assert not first_run.exists()  # between the renames
    from psythemes.staging import StagedFolder

    with pytest.warns(UserWarning, match="restored the previous results"), StagedFolder(first_run):
        pass
    assert _runs_seen(first_run) == {"run1"} and _complete(first_run, "run1")


def test_interrupt_leaves_earlier_results_and_no_staging(first_run: Path):
    before = {p: p.read_bytes() for p in first_run.rglob("*") if p.is_file()}
    proc = _run(first_run, "run2", PSYTHEMES_FAULT_AT="5", PSYTHEMES_FAULT="interrupt")
    assert proc.returncode != 0 and "KeyboardInterrupt" in proc.stderr
    assert {p: p.read_bytes() for p in first_run.rglob("*") if p.is_file()} == before
    assert _leftovers(first_run) == []


def test_stale_temporary_files_are_removed_by_the_next_write(tmp_path: Path):
    from psythemes.outputs import prepare_out_dir

    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".segments.csv.ab12cd34.tmp"
    stale.write_text("transcript text left by a killed run")
    fresh = out / ".codes.csv.zz99yy88.tmp"
    fresh.write_text("a writer still at work")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    prepare_out_dir(out)
    assert not stale.exists() and fresh.exists()


CLI_INTERRUPT = """
import os, signal, sys
from psythemes.cli import main
# stands in for a Ctrl-C during the work: the SIGINT handler raises KeyboardInterrupt here
import psythemes.pipeline as p
def boom(*a, **k):
    os.kill(os.getpid(), signal.SIGINT)
    import time; time.sleep(5)
p._read_inputs = boom
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path: Path):
    (tmp_path / "a.txt").write_text("P01: hello there\nP01: more words here\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", CLI_INTERRUPT, "extract", str(tmp_path / "a.txt"), "--out",
                           str(tmp_path / "out"), "--no-cache", "--codebook", "psychosomatic"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), proc.stderr
    assert not (tmp_path / "out").exists()


def _one_complete_run(out: Path) -> dict:
    """The manifest of the single run in ``out``: every file it lists has the hash it recorded."""
    from psythemes.staging import sha256_file

    manifest = json.loads((out / "manifest.json").read_text())
    for name, digest in manifest["output_sha256"].items():
        assert sha256_file(out / name) == digest, f"{name} is not from the run of manifest.json"
    return manifest


@pytest.mark.slow
def test_extract_killed_while_writing_keeps_the_previous_run(demo_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    docs = [str(demo_dir / "transcripts" / f"{n}.txt") for n in ("P01-W1", "P01-W2", "P02-W1", "T01", "T02")]
    base = [sys.executable, "-c", "import sys; from psythemes.cli import main; sys.exit(main())", "extract", *docs,
            "--metadata", str(demo_dir / "metadata.csv"), "--out", str(out), "--preset", "fast", "--n-boot", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    first = subprocess.run(base, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    before = _one_complete_run(out)
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,start,end,code,coder\nP01-W1,0,20,alliance,A\n")
    for step in (3, 17):
        proc = subprocess.run([*base, "--gold", str(gold)], env={**env, "PSYTHEMES_FAULT_AT": str(step)},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        after = _one_complete_run(out)
        assert after["created"] == before["created"] and after["output_sha256"] == before["output_sha256"]
    done = subprocess.run([*base, "--gold", str(gold)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "agreement.csv" in _one_complete_run(out)["output_sha256"]
    assert not [p for p in tmp_path.iterdir() if ".psythemes-" in p.name]
