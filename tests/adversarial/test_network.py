"""Nothing phones home: a cold embedding with the onnx backend makes no network attempt and
writes nothing outside the cache and output folders.

pytest-socket cannot see this (ONNX Runtime's telemetry runs in native threads), so the check
runs in a subprocess under ``strace`` (every ``socket``/``connect`` system call of every
thread) inside a network namespace without network (``unshare -n``), with ``HOME`` and
``TMPDIR`` pointed at empty folders that must still be empty afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EMBED = """
import sys
from psythemes.embed import Embedder
vectors = Embedder(backend="onnx", cache_dir=sys.argv[1]).encode(["I felt the tension again.", "A long walk helps."])
assert vectors.shape == (2, 384), vectors.shape
print("embedded", vectors.shape)
"""


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _sandbox_prefix(trace: Path) -> tuple[list[str], str]:
    """Command prefix: unshare -n and strace where they work here; skip when neither does."""
    prefix: list[str] = []
    kinds = []
    if shutil.which("unshare") and _works(["unshare", "-n", "true"]):
        prefix += ["unshare", "-n"]
        kinds.append("unshare -n")
    if shutil.which("strace") and _works(["strace", "-f", "-qq", "-o", os.devnull, "true"]):
        prefix += ["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg", "-o", str(trace)]
        kinds.append("strace")
    if "strace" not in kinds:
        pytest.skip("strace is not available (or not permitted) here: network attempts cannot be observed")
    return prefix, " + ".join(kinds)


@pytest.mark.slow
def test_cold_onnx_embedding_makes_no_network_attempt_and_writes_only_the_cache(tmp_path: Path):
    home, tmp, cache = tmp_path / "home", tmp_path / "tmp", tmp_path / "cache"
    for folder in (home, tmp):
        folder.mkdir()
    trace = tmp_path / "strace.txt"
    prefix, how = _sandbox_prefix(trace)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ORT_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT / "src"), PSYTHEMES_CACHE=str(cache))
    proc = subprocess.run([*prefix, sys.executable, "-c", EMBED, str(cache)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "embedded (2, 384)" in proc.stdout, (how, proc.stderr[-3000:])
    calls = trace.read_text().splitlines()
    # Seen and allowed, all local: AF_UNIX connects to nscd (torch's getpass.getuser looks up the
    # user) and uuidd, and one AF_INET datagram socket that libuuid opens only to read interface
    # addresses by ioctl (onnx names a temporary file with uuid1) -- never connected or sent on.
    # A network attempt is a connect/send to an internet address or an internet stream socket.
    network = [c for c in calls
               if (re.search(r"\b(connect|sendto|sendmsg)\(", c) and re.search(r"AF_INET6?|sin6?_port", c))
               or re.search(r"socket\(AF_INET6?, SOCK_STREAM|socket\(AF_PACKET", c)]
    assert network == [], f"network attempts under {how}: {network[:5]}"
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == [], "files written into HOME"
    assert sorted(p.relative_to(tmp) for p in tmp.rglob("*")) == [], "files left in TMPDIR"
    outside = [p.name for p in tmp_path.iterdir() if p.name not in {"home", "tmp", "cache", "strace.txt"}]
    assert outside == [], f"files written outside the cache: {outside}"
    assert any(cache.rglob("model.int8.onnx")), "the export went to the cache"


def test_the_telemetry_switch_is_set_before_onnxruntime_can_be_imported():
    code = ("import psythemes, os, sys; assert 'onnxruntime' not in sys.modules; "
            "print(os.environ['ORT_DISABLE_TELEMETRY'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ORT_DISABLE_TELEMETRY": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr
