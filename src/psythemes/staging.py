"""Staged output folders: a run's results appear all at once, and nothing psythemes did not write is lost.

``psythemes extract`` writes ~25 files.  Replacing them one by one means that a run killed in the
middle (Ctrl-C, SIGKILL, a full disk) leaves a folder holding two runs.  Instead, a run writes
into a fresh *staging folder* beside the target (``.<name>.psythemes-staging-<random>``) and then
swaps it in:

1. Files of the old folder that are not psythemes' own are carried into the staging folder as
   hard links (no copy; the originals stay where they are until the swap).  psythemes' own files
   are those listed with their SHA-256 in its previous ``manifest.json`` *and still matching that
   hash*; a listed file that was changed since (say an edited ``agreement.csv``) is carried too,
   under a new name (``agreement.kept.csv``) with a warning, as is a file of someone else that
   has the name of one of the new outputs.  A ``manifest.json`` that psythemes did not write is
   never trusted.
2. The swap: on Linux one ``renameat2(RENAME_EXCHANGE)`` call exchanges the two folders
   atomically, so a reader sees the old run or the new one, never a mix.  Elsewhere two renames
   (``target`` → ``.<name>.psythemes-old-<random>``, staging → ``target``): between them the
   folder is missing, never mixed, and a run killed right there is repaired by the next run,
   which renames the old folder back.
3. The old folder (now at the staging path) is deleted.  Its foreign files live on through the
   hard links made in step 1.

Leftovers of killed runs (staging folders, old folders, ``.*.tmp`` files of
:func:`psythemes.outputs.atomic_open`) are removed by the next run into the same folder.  Runs
into folders of the same parent are serialised with a lock on the parent folder (POSIX).

For tests, ``PSYTHEMES_FAULT_AT=k`` (with ``PSYTHEMES_FAULT=kill`` (default) or ``interrupt``)
kills the process with SIGKILL, or raises ``KeyboardInterrupt``, at the k-th step of the write
phase (each file written, each step of the swap); ``PSYTHEMES_SWAP=rename`` forces the two-rename
swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from .errors import InputError, PsythemesWarning

__all__ = ["StagedFolder", "check_out_dir", "owned_outputs", "keeping_edited", "checkpoint", "clean_temporary_files"]

_STAGING = ".psythemes-staging-"
#: What a stage command wrote into a folder in place, with hashes (see :func:`keeping_edited`).
LEDGER = ".psythemes-outputs.json"
#: Name part of the hard links :func:`keeping_edited` keeps of a folder's files while it writes.
_BACKUP = ".psythemes-backup-"
#: Where hard links cannot be made, :func:`keeping_edited` copies files up to this size only.
_MAX_BACKUP_COPY = 512 * 1024 * 1024
_OLD = ".psythemes-old-"
#: Name pattern of atomic_open's temporary files (``.<name>.<random>.tmp``).
_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
#: A temporary file not touched for this long belongs to no running writer.
STALE_TMP_S = 60.0

_fault_counter = 0


def checkpoint(label: str = "") -> None:
    """Count one step of a write phase; the fault hook of the tests kills or interrupts at step k."""
    global _fault_counter
    at = os.environ.get("PSYTHEMES_FAULT_AT")
    if not at:
        return
    _fault_counter += 1
    if _fault_counter != int(at):
        return
    if os.environ.get("PSYTHEMES_FAULT", "kill") == "interrupt":
        raise KeyboardInterrupt(f"test fault at step {at} ({label})")
    os.kill(os.getpid(), signal.SIGKILL)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def owned_outputs(folder: Path) -> tuple[dict[str, str], bool]:
    """psythemes' own files in ``folder``: ``{relative path: sha256}`` from its manifest.

    Returns the mapping and whether ``manifest.json`` itself is psythemes' (a dict with a
    ``psythemes`` version and an ``output_sha256`` mapping).  A manifest without hashes (someone
    else's, or a psythemes version before hashes were recorded) owns nothing.
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}, False
    if not isinstance(manifest, dict) or "psythemes" not in manifest:
        return {}, False
    hashes = manifest.get("output_sha256")
    if not isinstance(hashes, dict):
        return {}, False
    owned = {str(k): str(v) for k, v in hashes.items() if isinstance(k, str) and _safe_relative(k)}
    return owned, True


def _safe_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def check_out_dir(out_dir: str | Path, *, inputs: Iterable[str | Path] = (), stage_command: bool = False) -> Path:
    """Check an output folder before any work starts; return it as a Path.

    Refuses an empty path, a path that is a file or lies under one, the current folder (or one
    holding it), the home or root folder, a folder that is or holds an input, and a place where
    the nearest existing folder is not writable.  ``stage_command`` (the stage commands write a
    few files into the folder, they do not swap it) checks only the path and the permissions.
    """
    if out_dir is None or str(out_dir).strip() == "":
        raise InputError("output folder is empty; give one, e.g. --out results")
    path = Path(out_dir).expanduser()
    full = Path(os.path.abspath(path))
    if full.exists() and not full.is_dir():
        raise InputError("output path exists and is not a folder", path=path)
    if stage_command:
        return _check_writable(path, full)
    cwd = Path.cwd().resolve()
    resolved = full.resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError("output folder is the current folder or holds it; give a subfolder, e.g. --out results",
                         path=path)
    if resolved in (Path.home().resolve(), Path(resolved.anchor)):
        raise InputError("output folder is the home or root folder; give a subfolder", path=path)
    for inp in inputs:
        inp_full = Path(os.path.abspath(Path(inp).expanduser())).resolve()
        if inp_full == resolved or resolved in inp_full.parents:
            raise InputError(f"output folder is or holds the input {inp}; give another folder", path=path)
    return _check_writable(path, full, swap=True)


def _check_writable(path: Path, full: Path, *, swap: bool = False) -> Path:
    existing = full
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot create the output folder: {existing} is not a folder", path=path)
    if swap and full.exists() and os.path.ismount(full):
        raise InputError("output folder is a mount point and cannot be swapped; give a subfolder", path=path)
    # a swapped folder's staging folder is made beside it, so its parent must take new entries;
    # files written in place need the folder itself (or the nearest existing ancestor)
    probe = (full.parent if full.parent.exists() else existing) if swap else existing
    if not os.access(probe, os.W_OK | os.X_OK) or (full.exists() and not os.access(full, os.R_OK | os.X_OK)):
        raise InputError(f"output folder is not writable (no write permission on {probe})", path=path)
    return path


def clean_temporary_files(folder: Path, *, older_than: float = STALE_TMP_S) -> list[Path]:
    """Delete ``.*.tmp`` files that an interrupted writer left in ``folder`` (not recursive)."""
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False) and _TMP.match(entry.name):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
    return removed


class StagedFolder:
    """Write a run into a staging folder beside ``target`` and swap it in on :meth:`commit`.

    Use as a context manager; leaving the block without :meth:`commit` (an error, Ctrl-C)
    deletes the staging folder and leaves ``target`` as it was::

        with StagedFolder(out_dir) as stage:
            write_table(stage.path / "codes.csv", codes)
            stage.commit(manifest)          # writes manifest.json with output hashes, swaps

    Attributes
    ----------
    path : Path
        The staging folder (valid inside the block).
    moved_aside_ : dict
        ``{original name: new name}`` of files kept under a new name by :meth:`commit`.
    """

    def __init__(self, target: str | Path):
        # a symlinked output folder is swapped where it really is, never the link replaced
        self.target = Path(os.path.realpath(Path(target).expanduser()))
        self.path: Path | None = None
        self.moved_aside_: dict[str, str] = {}
        self._why: dict[str, str] = {}
        self._lock_fd: int | None = None
        self._committed = False

    # -- setup / teardown
    def __enter__(self) -> StagedFolder:
        parent = self.target.parent
        parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._recover()
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}{_STAGING}", dir=parent))
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        try:
            if not self._committed and self.path is not None:
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            self._unlock()
        return False

    def _lock(self) -> None:
        self._lock_fd = _lock_folder(self.target.parent)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _recover(self) -> None:
        """Repair what killed runs left beside the target (we hold the lock: no live run owns them)."""
        parent = self.target.parent
        olds = sorted(parent.glob(f".{glob_escape(self.target.name)}{_OLD}*"), key=lambda p: p.stat().st_mtime)
        if not self.target.exists() and olds:
            # killed between the two renames of the fallback swap: the previous results come back
            os.rename(olds.pop(), self.target)
            warnings.warn(f"restored the previous results in {self.target} (a run was killed while swapping)",
                          PsythemesWarning, stacklevel=3)
        for leftover in [*olds, *parent.glob(f".{glob_escape(self.target.name)}{_STAGING}*")]:
            shutil.rmtree(leftover, ignore_errors=True)
        if self.target.is_dir():
            clean_temporary_files(self.target)

    # -- commit
    def commit(self, manifest: dict | None = None, *, manifest_name: str = "manifest.json") -> list[str]:
        """Record output hashes in ``manifest`` (written last), carry foreign files, swap in.

        Returns the relative names of the outputs written by this run (manifest included).
        """
        from .outputs import write_json

        assert self.path is not None, "commit() inside the with block"
        outputs = sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*")
                         if p.is_file() and not _TMP.match(p.name))
        if manifest is not None:
            outputs = sorted({*outputs, manifest_name})
            manifest["outputs"] = outputs
            manifest["output_sha256"] = {n: sha256_file(self.path / n) for n in outputs if n != manifest_name}
            write_json(self.path / manifest_name, manifest)
        if self.target.is_dir():
            self._carry_foreign(set(outputs))
            self._swap_existing()
        else:
            checkpoint("rename staging")
            os.rename(self.path, self.target)
            checkpoint("renamed")
        self._committed = True
        _fsync_dir(self.target.parent)
        for old, new in self.moved_aside_.items():
            warnings.warn(f"{self.target / old} {self._why[old]}; kept as {new}", PsythemesWarning, stacklevel=2)
        return outputs

    def _carry_foreign(self, new_outputs: set[str]) -> None:
        assert self.path is not None, "called by commit()"
        owned, own_manifest = owned_outputs(self.target)
        # what a stage command wrote into the folder is psythemes' own too (its ledger is not carried:
        # the new manifest records the folder)
        stage_owned = _ledger(self.target)
        for dirpath, dirnames, filenames in os.walk(self.target, followlinks=False):
            rel_dir = Path(dirpath).relative_to(self.target)
            # a symlink to a folder is carried as the link itself, never followed
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = [d for d in dirnames if d not in links]
            for d in dirnames:
                (self.path / rel_dir / d).mkdir(exist_ok=True)
            for name in [*filenames, *links]:
                rel = str(rel_dir / name) if str(rel_dir) != "." else name
                src = Path(dirpath) / name
                if _TMP.match(name):
                    continue  # a killed writer's temporary file: cleaned up here
                if (rel == "manifest.json" and own_manifest) or rel == LEDGER:
                    continue
                why = None
                # a stage command's file counts only where the new run writes that name: otherwise
                # it stays, as files of others do (extract removes only its own earlier outputs)
                recorded = {h for h in (owned.get(rel), stage_owned.get(rel) if rel in new_outputs else None)
                            if h is not None}
                if recorded and not src.is_symlink():
                    if sha256_file(src) in recorded:
                        continue  # psythemes' own, unchanged: replaced by the new run or gone with the old
                    why = "was changed since psythemes wrote it"
                elif rel in new_outputs:
                    why = "is not psythemes' file" + (
                        " (a manifest it did not write)" if rel == "manifest.json" else "")
                dest = self.path / rel
                if why is not None:
                    dest = _free_name(dest)
                    self.moved_aside_[rel] = str(dest.relative_to(self.path))
                    self._why[rel] = why
                _link_or_copy(src, dest)
                checkpoint(f"carry {rel}")

    def _swap_existing(self) -> None:
        assert self.path is not None, "called by commit()"
        mode = self.target.stat().st_mode & 0o7777
        os.chmod(self.path, mode)
        checkpoint("before swap")
        if os.environ.get("PSYTHEMES_SWAP") != "rename" and _exchange(self.path, self.target):
            checkpoint("exchanged")
            shutil.rmtree(self.path, ignore_errors=True)  # now the old run
            return
        old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}{_OLD}", dir=self.target.parent))
        os.rmdir(old)
        os.rename(self.target, old)
        checkpoint("old moved away")
        os.rename(self.path, self.target)
        checkpoint("new moved in")
        shutil.rmtree(old, ignore_errors=True)


def _lock_folder(folder: Path) -> int | None:
    """Take an exclusive advisory lock on ``folder`` (waiting for it); the descriptor whose closing
    releases it, or None where folders cannot be locked (Windows, some file systems)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks on folders
        return None
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def keeping_edited(folder: str | Path) -> Iterator[Path]:
    """Write files into ``folder`` in place, keeping any file the writing replaces that is not psythemes' own.

    The stage commands (``segment``, ``map``, ``evaluate``, ``themes``, ``train``,
    ``pseudonymise``, ``restore``) write their few files straight into a folder instead of
    swapping it as :class:`StagedFolder` does.  A file they replace that psythemes did not write,
    or that was changed since it wrote it (a ``codes.csv`` corrected by hand, a pseudonymised
    transcript where a missed name was blanked out), is kept as ``<stem>.kept<suffix>`` with a
    warning.  What psythemes writes is recorded with its SHA-256 in ``.psythemes-outputs.json``
    in the folder; the hashes of an ``extract`` run's ``manifest.json`` count too.  Only the
    folder's own files are watched, not its subfolders (``figures/`` is redrawn every run).

    While the body runs, each file of the folder has a hard link (a copy where links are not
    possible) beside it, so a file replaced there can still be kept afterwards; a run killed
    before the end leaves them, and the next run into the folder settles them first.  Runs into
    the same folder wait for each other (an advisory lock on the folder, where there is one).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock_folder(folder)
    try:
        with _kept_while_writing(folder):
            yield folder
    finally:
        if lock is not None:
            os.close(lock)


@contextlib.contextmanager
def _kept_while_writing(folder: Path) -> Iterator[None]:
    """The body of :func:`keeping_edited`, inside its lock."""
    _settle_backups(folder)
    token = secrets.token_hex(4)
    present: dict[str, int] = {}  # every file found, backed up or not: only what the run replaces is its own
    before: dict[str, tuple[int, Path]] = {}
    with contextlib.suppress(OSError):
        for entry in _folder_files(folder):
            present[entry.name] = os.lstat(entry.path).st_ino  # DirEntry.stat() has no inode on Windows
            backup = folder / f".{entry.name}{_BACKUP}{token}"
            try:
                os.link(entry.path, backup, follow_symlinks=False)
            except OSError:
                # no hard links here: a copy, but not of a file too large to be a table edited by hand
                try:
                    if entry.stat(follow_symlinks=False).st_size > _MAX_BACKUP_COPY:
                        continue
                    shutil.copy2(entry.path, backup, follow_symlinks=False)
                except OSError:
                    continue
            before[entry.name] = (present[entry.name], backup)
    try:
        yield
    finally:
        records = _recorded_hashes(folder)
        kept = {name: _settle(folder, name, backup, inode, records) for name, (inode, backup) in before.items()}
        _record_outputs(folder, unchanged={n for n, inode in present.items() if _inode(folder / n) == inode})
        for name, (new, why) in ((n, k) for n, k in kept.items() if k is not None):
            warnings.warn(f"{folder / name} {why}; kept as {new}", PsythemesWarning, stacklevel=5)


def _folder_files(folder: Path) -> Iterator[os.DirEntry[str]]:
    """The folder's own files that :func:`keeping_edited` watches: not hidden, not links, not folders."""
    for entry in os.scandir(folder):
        if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
            yield entry


def _inode(path: Path) -> int | None:
    try:
        return path.lstat().st_ino
    except OSError:
        return None


def _ledger(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` of what the stage commands wrote into ``folder``."""
    try:
        ledger = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    hashes = ledger.get("output_sha256") if isinstance(ledger, dict) else None
    if not isinstance(hashes, dict):
        return {}
    return {str(k): str(v) for k, v in hashes.items() if isinstance(k, str) and "/" not in k}


def _recorded_hashes(folder: Path) -> dict[str, set[str]]:
    """What psythemes wrote into ``folder``, by a stage command (the ledger) or by extract (its
    manifest): ``{file name: its hashes}``, read once per run."""
    records: dict[str, set[str]] = {}
    for hashes in (owned_outputs(folder)[0], _ledger(folder)):
        for name, digest in hashes.items():
            records.setdefault(name, set()).add(digest)
    return records


def _settle(folder: Path, name: str, backup: Path, inode: int | None,
            records: dict[str, set[str]]) -> tuple[str, str] | None:
    """Drop the backup of ``name``, or keep it under a free name when the file it held was replaced
    and was not psythemes' own (``records``: :func:`_recorded_hashes`); returns (the kept name,
    why) then."""
    if (inode is not None and _inode(folder / name) == inode) or not backup.is_file():
        backup.unlink(missing_ok=True)  # not replaced
        return None
    own = records.get(name, set())
    if own and sha256_file(backup) in own:
        backup.unlink(missing_ok=True)  # psythemes' own, unchanged: replacing it loses nothing
        return None
    dest = _free_name(folder / name)
    os.rename(backup, dest)
    return dest.name, "was changed since psythemes wrote it" if own else "is not psythemes' file"


def _settle_backups(folder: Path) -> None:
    """Settle the backups that a run killed inside :func:`keeping_edited` left in ``folder``."""
    records = _recorded_hashes(folder)
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            name, sep, _ = entry.name.partition(_BACKUP)
            if not sep or not name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            original = name[1:]
            kept = _settle(folder, original, Path(entry.path), os.lstat(entry.path).st_ino, records)
            if kept is not None:
                warnings.warn(f"{folder / original} {kept[1]} (a run was killed while writing); kept as {kept[0]}",
                              PsythemesWarning, stacklevel=4)


def _record_outputs(folder: Path, *, unchanged: set[str]) -> None:
    """Record the hashes of the folder's files that the run wrote (all but ``unchanged`` and
    those it found there), keeping the entries of earlier runs whose files are still there."""
    from . import __version__
    from .outputs import write_json

    ledger = _ledger(folder)
    written = {}
    with contextlib.suppress(OSError):
        for entry in _folder_files(folder):
            if entry.name in ledger and entry.name in unchanged:
                written[entry.name] = ledger[entry.name]
            elif entry.name not in unchanged and not _KEPT.search(entry.name):
                written[entry.name] = sha256_file(Path(entry.path))
    with contextlib.suppress(OSError):
        write_json(folder / LEDGER, {"psythemes": __version__, "output_sha256": dict(sorted(written.items()))})


#: A file kept by :func:`_free_name` (``codes.kept.csv``, ``codes.kept-2.csv``).
_KEPT = re.compile(r"\.kept(-\d+)?(\.[^.]*)?$")


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _free_name(dest: Path) -> Path:
    stem, suffix = dest.stem, dest.suffix
    candidate = dest.with_name(f"{stem}.kept{suffix}")
    n = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = dest.with_name(f"{stem}.kept-{n}{suffix}")
        n += 1
    return candidate


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        # no hard links here (another file system type, protected_hardlinks): copy instead
        if src.is_symlink():
            os.symlink(os.readlink(src), dest)
        else:
            shutil.copy2(src, dest, follow_symlinks=False)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two folders (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):  # no libc handle (Windows) or no renameat2 (macOS, old glibc)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staged(target: str | Path) -> Iterator[StagedFolder]:
    """``with staged(out_dir) as stage: ...`` — shorthand for :class:`StagedFolder`."""
    with StagedFolder(target) as stage:
        yield stage
