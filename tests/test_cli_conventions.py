"""Command-line conventions: help, usage errors (exit 2, click's message), --version.

Pinned because typer's move to a bundled copy of click once turned every usage error into
"error: unexpected NoSuchOption" with exit 1, and no test noticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import psythemes
from psythemes.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["extract", "segment", "themes", "map", "train", "evaluate", "agree", "codebook", "cache"]


def run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    rc = main(args)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_help_exit_0_and_first_lines(capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run(["--help"], capsys)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Usage: psythemes [OPTIONS] COMMAND [ARGS]..."
    assert lines[2] == "  NLP-assisted thematic analysis of interview and focus-group transcripts."
    assert "--version" in out
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed[0] == "extract", listed  # the main job comes first
    assert set(COMMANDS) <= set(listed)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_exit_0(command: str, capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run([command, "--help"], capsys)
    assert rc == 0 and err == ""
    assert out.splitlines()[0].startswith(f"Usage: psythemes {command} [OPTIONS]")


def test_version(capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run(["--version"], capsys)
    assert (rc, out, err) == (0, f"psythemes {psythemes.__version__}\n", "")


def test_no_arguments_prints_help_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run([], capsys)
    assert rc == 2 and out == ""
    assert err.startswith("Usage: psythemes [OPTIONS] COMMAND [ARGS]...")
    assert "unexpected" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["extract"], "Error: Missing argument"),
    (["extract", "x.txt"], "Error: Missing option '--out'"),
    (["extract", "x.txt", "-o", "out", "--no-such-option"], "Error: No such option: --no-such-option"),
    (["no-such-command"], "Error: No such command 'no-such-command'"),
    (["agree", "table.csv", "--n-boot", "many"], "Error: Invalid value for '--n-boot'"),
    (["segment", "x.txt", "-o", "out", "--window-size", "0"], "Error: Invalid value for '--window-size'"),
])
def test_usage_errors_exit_2_with_click_message(args: list[str], message: str, capsys: pytest.CaptureFixture,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(args, capsys)
    assert rc == 2, err
    assert out == ""
    assert err.startswith(f"Usage: psythemes {args[0]}" if args[0] != "no-such-command" else "Usage: psythemes ")
    assert message in err
    assert "unexpected" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_console_entry_point_in_a_fresh_process(tmp_path: Path) -> None:
    """The same through ``python -m psythemes.cli`` (sys.exit of main's status)."""
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    version = subprocess.run([sys.executable, "-m", "psythemes.cli", "--version"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
    assert (version.returncode, version.stdout.strip()) == (0, f"psythemes {psythemes.__version__}")
    bad = subprocess.run([sys.executable, "-m", "psythemes.cli", "extract", "--bogus"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "No such option: --bogus" in bad.stderr, bad.stderr


def test_every_dependency_has_an_upper_bound() -> None:
    """A major (for 0.x: minor) release of a dependency must not reach users untested."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values()
                                                 for r in extra)]
    unbounded = [r for r in requirements if not re.search(r"(<|==)\s*[0-9]", r)]
    assert unbounded == []


def _all_commands():
    import typer

    from psythemes.cli import app

    group = typer.main.get_command(app)

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    return list(walk(group, []))


def test_every_command_has_quiet_and_verbose() -> None:
    commands = _all_commands()
    assert len(commands) >= 9
    for path, command in commands:
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"-q", "--quiet", "-v", "--verbose"} <= options, path


def test_quiet_prints_nothing_and_verbose_is_accepted(tmp_path: Path, data_dir: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    args = ["segment", str(data_dir / "example_interview.txt"), "--metadata", str(data_dir / "metadata.csv")]
    rc, out, err = run([*args, "--out", str(tmp_path / "a")], capsys)
    assert rc == 0 and out and "warning:" in err  # the metadata sidecar names other documents
    rc, out, err = run([*args, "--out", str(tmp_path / "b"), "-q"], capsys)
    assert (rc, out, err) == (0, "", "")
    assert (tmp_path / "b" / "segments.csv").read_bytes() == (tmp_path / "a" / "segments.csv").read_bytes()
    rc, out, err = run([*args, "--out", str(tmp_path / "c"), "--verbose"], capsys)
    assert rc == 0 and out
    # errors still show with --quiet
    rc, out, err = run(["segment", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "d"), "--quiet"], capsys)
    assert rc == 2 and out == "" and err.startswith("error:") and "missing.txt" in err
    rc, out, err = run([*args, "--out", str(tmp_path / "e"), "-q", "-v"], capsys)
    assert rc == 2 and "choose one of --quiet and --verbose" in err


def test_help_shows_allowed_values_not_internal_types(capsys: pytest.CaptureFixture) -> None:
    rc, out, _ = run(["extract", "--help"], capsys)
    assert rc == 0
    for shown in ("<turn|sentence|window>", "<default|fast>", "<zero-shot|few-shot>", "<onnx|torch>"):
        assert shown in out
    assert "<str>" not in out and "<path>" not in out


def test_extract_needs_a_codebook_before_any_work(tmp_path: Path, data_dir: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """No silent study codebook: a diabetes interview would get 'common_ground' with therapy examples."""
    rc, out, err = run(["extract", str(data_dir / "example_interview.txt"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and err.startswith("error: no codebook given") and "--codebook psychosomatic" in err
    assert not (tmp_path / "o").exists()


def test_default_codebook_rules(tmp_path: Path, demo_dir: Path) -> None:
    from psythemes.defaults import check_codebook_given, default_codebook
    from psythemes.errors import InputError, PsythemesWarning

    other = [tmp_path / "interview.txt"]
    with pytest.raises(InputError, match="no codebook given"):
        check_codebook_given(None, other)
    check_codebook_given("my.yaml", other)  # given: fine
    check_codebook_given(None, [tmp_path / "project.qdpx"])  # decided once the project is read
    with pytest.warns(PsythemesWarning, match="bundled demo corpus"):
        assert default_codebook([demo_dir / "transcripts"]) == "psychosomatic"
    model = tmp_path / "mapper"
    model.mkdir()
    (model / "codebook.yaml").write_text("name: x\n", encoding="utf-8")
    assert default_codebook(other, model=model) == model / "codebook.yaml"
    with pytest.raises(InputError, match="the project holds no codebook"):
        default_codebook([tmp_path / "project.qdpx"], project=object())


def test_progress_bars_only_on_a_terminal_and_never_with_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from psythemes.cli import _app

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert _app.show_progress()
    with _app.working("fitting themes"):  # a spinner on the terminal while a step without a bar runs
        pass
    assert "fitting themes" in sys.stderr.getvalue()
    monkeypatch.setattr(_app.state, "verbosity", -1)
    assert not _app.show_progress()
    monkeypatch.setattr(_app.state, "verbosity", 0)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a file or a pipe
    assert not _app.show_progress()
    with _app.working("fitting themes"):
        pass
    assert sys.stderr.getvalue() == ""


def test_the_progress_display_shows_the_librarys_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which run of a theme stability check is fitted reaches the spinner and the stage bar."""
    import io
    import logging

    from psythemes.cli import _app, extract

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown: list[str] = []
    log = logging.getLogger("psythemes.themes")
    level = logging.getLogger("psythemes").level
    with _app.library_messages(shown.append):
        log.info("stability run 1 of 5 (seed 0)")
        log.debug("not shown")
    log.info("after the block: not shown")
    assert shown == ["stability run 1 of 5 (seed 0)"]
    assert logging.getLogger("psythemes").level == level and not logging.getLogger("psythemes").handlers

    # a script that asked for DEBUG keeps it during the block; the display still gets INFO only
    debug_seen: list[str] = []
    root = logging.getLogger("psythemes")
    root.setLevel(logging.DEBUG)
    log.addFilter(lambda record: debug_seen.append(record.getMessage()) or True)
    try:
        with _app.library_messages(shown.append):
            assert root.level == logging.DEBUG
            log.debug("debug message")
        assert root.level == logging.DEBUG
    finally:
        log.filters.clear()
        root.setLevel(level)
    assert debug_seen == ["debug message"] and shown == ["stability run 1 of 5 (seed 0)"]

    monkeypatch.setattr(sys, "stderr", Terminal())
    with _app.working("fitting themes"):
        log.info("stability run 2 of 5 (seed 1)")
    assert "stability run 2 of 5 (seed 1)" in sys.stderr.getvalue()
    stages = extract._StageProgress(("read", "themes"))
    with stages as on_stage:
        on_stage("themes")
        log.info("stability run 3 of 5 (seed 2)")
        assert stages.progress.tasks[0].fields["detail"] == "stability run 3 of 5 (seed 2)"
        on_stage("read")
        assert stages.progress.tasks[0].fields["detail"] == ""
    assert not logging.getLogger("psythemes").handlers


def test_verbose_lets_messages_quote_transcript_text(tmp_path, capsys, monkeypatch):
    """Errors name file and line only; with -v they may quote the words (docs/privacy.md)."""
    monkeypatch.delenv("PSYTHEMES_VERBOSE", raising=False)
    bad = tmp_path / "labels.txt"
    bad.write_text("Secretname:\nOther:\n", encoding="utf-8")
    assert main(["segment", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "Secretname" not in capsys.readouterr().err
    assert main(["segment", str(bad), "--out", str(tmp_path / "o"), "-v"]) == 2
    assert "Secretname" in capsys.readouterr().err
