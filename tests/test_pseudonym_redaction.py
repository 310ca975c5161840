"""The command line recorded in ``manifest.json`` never names the pseudonymisation key."""

from __future__ import annotations

from psythemes.pipeline import _recorded_command
from psythemes.pseudonymise import redact_key_options

KEY = "private/P07_smith.key.json"


def test_key_option_values_are_redacted_in_both_forms():
    argv = ["psythemes", "extract", "in", "--pseudonymise", "--pseudonym-key", KEY, "--out", "run"]
    assert redact_key_options(argv) == ["psythemes", "extract", "in", "--pseudonymise", "--pseudonym-key",
                                        "<key>", "--out", "run"]
    assert redact_key_options(["psythemes", "extract", f"--pseudonym-key={KEY}", "in"]) == [
        "psythemes", "extract", "--pseudonym-key=<key>", "in"]
    assert redact_key_options(["psythemes", "pseudonymise", "in", "--key", KEY]) == [
        "psythemes", "pseudonymise", "in", "--key", "<key>"]
    # other options and an option that only starts like one are left alone
    assert redact_key_options(["--pseudonym-keys", "x", "--names", "n.txt"]) == ["--pseudonym-keys", "x",
                                                                               "--names", "n.txt"]


def test_recorded_command_leaves_out_the_key_path():
    for argv in (["/venv/bin/psythemes", "extract", "in", "--pseudonymise", "--pseudonym-key", KEY, "--out", "o"],
                 ["/venv/bin/psythemes", "extract", "in", "--pseudonymise", f"--pseudonym-key={KEY}", "--out", "o"]):
        command = _recorded_command(argv)
        assert command is not None and "<key>" in command
        assert "P07_smith" not in command and "private" not in command
        assert command.endswith("--out o")
    assert _recorded_command(["/usr/bin/python", "script.py"]) is None  # from Python: no command
    assert _recorded_command([]) is None
