"""The tutorial runs: its Python blocks and its CLI commands are executed in document order.

``docs/tutorial.md`` is executed the way a reader would follow it: from a working folder in
which ``corpora/`` is the repository's demo corpus (a symlink), so the tutorial's relative
paths work and everything it writes lands in ``tmp_path``, never in the repository.  Fenced
```` ```python ```` blocks run in one namespace; ```` ```console ````/```` ```bash ```` blocks
run each ``$ psythemes ...`` command through :func:`psythemes.cli.main` and must exit 0.  A
block preceded by ``<!-- docs-test: skip -->`` is not run (the whole-corpus example).

Printed figures that are deterministic (counts of transcripts, segments and gold spans,
human-human agreement, the step-by-step vs one-call comparison) must match the output pasted
in the tutorial; figures that depend on floating-point embeddings are not compared.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"
SKIP_MARK = "<!-- docs-test: skip -->"

#: Lines of pasted Python output that must appear verbatim in the real output.
DETERMINISTIC_PY = [
    re.compile(p)
    for p in (
        r"^\[.*\.txt'.*\]$",  # the copied file names
        r"^\d+ transcripts$",
        r"^[PT]\d\d(-W\d)? +(text|docx) ",  # one line per transcript: format, role, wave, turns, length
        r"^Turn\(",
        r"^\d+ segments kept, \d+ set aside$",
        r"^\d+ gold spans; ",
        r"^\d+ units; ",  # the human A-vs-B table (no embeddings involved)
        r"^\{'transcripts': ",
        r"^True$",  # extract() gives the same codes as the step-by-step API
    )
]
#: Pasted CLI output lines compared verbatim (human-only statistics, counts).
DETERMINISTIC_CLI = [re.compile(p) for p in (r"^(Cohen's kappa|Krippendorff's alpha) = ", r"^units with 2\+ ratings: ",
                                              r"^set aside \(segments_dropped.csv\): ")]
#: Pasted CLI output lines whose leading counts are compared (the rest has model-dependent figures).
COUNT_PREFIX = re.compile(r"^\d+ transcripts, \d+ segments(, \d+ dropped|, \d+ themes \(\d+% outliers\))?")

@dataclass
class Block:
    lang: str
    text: str
    line: int
    skip: bool = False
    output: str | None = None  # for python: the ```text block right after it


@dataclass
class Command:
    argv: list[str]
    expected: list[str] = field(default_factory=list)


def parse_blocks(markdown: str) -> list[Block]:
    """Fenced blocks in order; a ```text block directly after a python block is its output."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        line = lines[i]
        if line.startswith("```") and len(line) > 3:
            lang, start = line[3:].strip(), i + 1
            j = start
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body = "\n".join(lines[start:j]) + "\n"
            block = Block(lang=lang, text=body, line=start, skip=previous.strip() == SKIP_MARK)
            if lang == "text" and blocks and blocks[-1].lang == "python" and blocks[-1].output is None:
                blocks[-1].output = body
            else:
                blocks.append(block)
            i = j + 1
            previous = ""
            continue
        if line.strip():
            previous = line
        i += 1
    return blocks


def parse_commands(block: str) -> list[Command]:
    """``$ psythemes ...`` commands (with ``\\`` continuations) and the output lines after each."""
    commands: list[Command] = []
    lines = iter(block.splitlines())
    for line in lines:
        if line.startswith("$ "):
            text = line[2:]
            while text.endswith("\\"):
                text = text[:-1] + " " + next(lines).strip()
            argv = shlex.split(text)
            commands.append(Command(argv=argv))
        elif commands:
            commands[-1].expected.append(line)
    return commands


def _check_lines(expected: str | list[str], actual: str, patterns: list[re.Pattern], where: str) -> int:
    expected_lines = expected.splitlines() if isinstance(expected, str) else expected
    actual_lines = [ln.rstrip() for ln in actual.splitlines()]
    checked = 0
    for line in expected_lines:
        if any(p.search(line) for p in patterns):
            assert line.rstrip() in actual_lines, f"{where}: tutorial shows {line!r}, the run printed:\n{actual}"
            checked += 1
    return checked


def test_tutorial_parses():
    blocks = parse_blocks(TUTORIAL.read_text(encoding="utf-8"))
    python = [b for b in blocks if b.lang == "python"]
    shell = [b for b in blocks if b.lang in ("console", "bash")]
    assert len(python) >= 10, "the API part should walk through every stage"
    assert all(b.output is not None for b in python), "every Python block is followed by its pasted output"
    commands = [c.argv[1] for b in shell for c in parse_commands(b.text)]
    for name in ("segment", "themes", "map", "evaluate", "agree", "extract"):
        assert name in commands, f"the CLI part lacks `psythemes {name}`"
    assert sum(b.skip for b in blocks) <= 1, "only the whole-corpus example may be skipped"


def test_doc_links_resolve():
    missing = []
    for doc in sorted(p.name for p in DOCS.glob("*.md")):
        text = (DOCS / doc).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
            if not (DOCS / target).is_file():
                missing.append((doc, target))
    assert not missing, f"broken links: {missing}"


def test_outputs_doc_names_every_file():
    """outputs.md documents each file that extract writes (names from the pipeline's code)."""
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    for name in ("segments.csv", "segments_dropped.csv", "transcripts.jsonl", "themes.csv", "segment_themes.csv",
                 "themes_by_role.csv", "themes_by_wave.csv", "themes_run.json", "codes.csv", "theme_codes.csv",
                 "codes.parquet", "themes.parquet", "agreement.csv", "agreement.json", "confusion.csv",
                 "disagreements.csv", "units.csv", "human_baseline.csv", "manifest.json", "codebook.yaml",
                 "codebook.csv", "codebook.qdc", "project.qdpx", "report.html", "barchart.html", "intertopic.html",
                 "results.xlsx"):
        assert name in text, f"outputs.md does not mention {name}"
    from psythemes.schema import CODE_COLUMNS, SEGMENT_COLUMNS, SEGMENT_THEME_COLUMNS, THEME_COLUMNS

    for column in {*SEGMENT_COLUMNS, *CODE_COLUMNS, *THEME_COLUMNS, *SEGMENT_THEME_COLUMNS}:
        assert f"`{column}`" in text, f"outputs.md does not describe column {column}"


def _reader_folder(tmp_path: Path, monkeypatch) -> None:
    """Work in ``tmp_path`` with ``corpora/`` linked in, as a reader following a tutorial would."""
    (tmp_path / "corpora").symlink_to(ROOT / "corpora", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    # conftest points the embedding cache outside the checkout; never let it default to the cwd's
    if not os.environ.get("PSYTHEMES_CACHE"):
        monkeypatch.setenv("PSYTHEMES_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow
def test_tutorial_runs(tmp_path, monkeypatch, capsys, demo_dir):
    from psythemes.cli import main

    _reader_folder(tmp_path, monkeypatch)
    namespace: dict = {"__name__": "tutorial"}
    try:
        ran, checked = _run_tutorial(namespace, capsys, main)
    finally:
        import pandas as pd

        pd.reset_option("display.width")  # the tutorial widens pandas' display; keep other tests unaffected

    assert ran >= 20 and checked >= 20, (ran, checked)
    work = tmp_path / "tutorial-run"
    for path in ("extract/manifest.json", "extract/report.html", "extract/project.qdpx", "api/report.html",
                 "api/project.qdpx", "cli/eval/agreement.json", "cli/map/theme_codes.csv", "cli/extract/codes.csv"):
        assert (work / path).is_file(), f"the tutorial should have written {path}"


@pytest.mark.slow
def test_review_loop_runs(tmp_path, monkeypatch, capsys, demo_dir):
    """docs/review-loop.md (issue #17): extract -> review -> decisions -> train -> next -> train, run as written."""
    from psythemes.cli import main

    _reader_folder(tmp_path, monkeypatch)
    ran, checked = _run_tutorial({"__name__": "review_loop"}, capsys, main, path=REVIEW_LOOP,
                                 python_patterns=REVIEW_LOOP_PY, cli_patterns=REVIEW_LOOP_CLI)
    assert ran >= 15 and checked >= 4, (ran, checked)
    for path in ("run/project.qdpx", "review1.xlsx", "review1.csv", "review2.xlsx", "model2/model_card.md",
                 "map2/codes.csv"):
        assert (tmp_path / "loop-run" / path).is_file(), f"the chapter should have written {path}"


REVIEW_LOOP = DOCS / "review-loop.md"
#: Lines of docs/review-loop.md's pasted output compared verbatim (no embeddings involved).
REVIEW_LOOP_PY = [re.compile(p) for p in (r"^(train|test) \d+ transcripts$", r"^reviewer: ", r"^coders: ")]
#: Pasted CLI lines compared verbatim: the number of segments `next` chose is the --n asked for.
REVIEW_LOOP_CLI = [re.compile(r"^\d+ transcripts, \d+ segments, \d+ dropped \(unit: turn\)"),
                   re.compile(r"^set aside \(segments_dropped.csv\): ")]


def _run_tutorial(namespace: dict, capsys, main, *, path: Path = TUTORIAL, python_patterns: list | None = None,
                  cli_patterns: list | None = None) -> tuple[int, int]:
    """Run every block of a tutorial in order; return (blocks/commands run, output lines checked)."""
    python_patterns = DETERMINISTIC_PY if python_patterns is None else python_patterns
    cli_patterns = DETERMINISTIC_CLI if cli_patterns is None else cli_patterns
    checked = ran = 0
    for block in parse_blocks(path.read_text(encoding="utf-8")):
        where = f"docs/{path.name} line {block.line}"
        if block.skip:
            continue
        if block.lang == "python":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(block.text, where, "exec"), namespace)  # noqa: S102 - our own documentation
            ran += 1
            if block.output is not None:
                checked += _check_lines(block.output, buffer.getvalue(), python_patterns, where)
        elif block.lang in ("console", "bash"):
            for command in parse_commands(block.text):
                assert command.argv[0] == "psythemes", f"{where}: only psythemes commands are run"
                capsys.readouterr()
                rc = main(command.argv[1:])
                out, err = capsys.readouterr()
                assert rc == 0, f"{where}: `{' '.join(command.argv)}` exited {rc}\n{err}"
                ran += 1
                checked += _check_lines(command.expected, out, cli_patterns, where)
                for line in command.expected:
                    match = COUNT_PREFIX.match(line)
                    if match:
                        assert any(a.startswith(match.group(0)) for a in out.splitlines()), (
                            f"{where}: tutorial shows {line!r}, the run printed:\n{out}")
                        checked += 1
    return ran, checked
