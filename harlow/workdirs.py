"""Workdirs given on the command line: checked paths, and one training process each.

``checked_workdir`` refuses an empty ``--workdir=`` (it would mean the current folder).
``workdir_lock`` is an exclusive lock on ``<workdir>/train.lock``: two runs training in
one workdir would overwrite each other's checkpoints, and each deletes what it takes for
the other's interrupted saves. ``harlow.train`` holds an
``fcntl.flock`` on the lock file while it runs; the kernel releases it when the process
ends, however it ends (SIGKILL included), so a lock file left by a killed run never
blocks the next one. The file holds the pid of the process that last took the lock, to
name it in the error. Readers (``harlow.evaluate``) do not lock.

``writable_folder`` creates a folder a command will write to and writes and removes a
small probe file there before any work starts, so that a path that is a file, a name
too long for the file system, a folder under ``/proc``, a read-only or full file system
fails at once, in one line naming the folder and the reason, not after hours of work.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "train.lock"
_PROBE_BYTES = b"harlow write probe\n" * 64  # about 1 KB: a full disk refuses it


class WorkdirError(RuntimeError):
    """A workdir or output folder cannot be used (another process trains there, it cannot
    be created or written), or a save into it failed."""


def checked_workdir(workdir: str | os.PathLike, flag: str = "--workdir") -> Path:
    """``workdir`` as a path; raises ``ValueError`` if it is empty (``Path("")`` is ".")."""
    if not os.fspath(workdir).strip():
        raise ValueError(f"{flag} is empty: give a folder, e.g. {flag}=runs/x")
    return Path(workdir)


@contextmanager
def workdir_lock(workdir: str | os.PathLike) -> Iterator[None]:
    """Holds the workdir's training lock (creating the workdir) for the ``with`` block.

    Raises ``WorkdirError`` naming the workdir, and the pid of the process holding the
    lock, if another process holds it; naming the workdir and the reason if it cannot be
    created or written (see ``writable_folder``).
    """
    workdir = writable_folder(workdir)
    path = workdir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise WorkdirError(f"cannot use {workdir} as a workdir: {os_reason(e)}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise WorkdirError(f"cannot lock {path}: {e.strerror}") from e
            raise WorkdirError(
                f"{workdir} is in use: another process (pid {_holder(path)}) is training "
                "there; wait for it to end or stop it, or choose another --workdir"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as e:
            raise WorkdirError(f"cannot write {path}: {os_reason(e)}") from e
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(path: Path) -> str:
    """The pid written in the lock file, or 'unknown' (being rewritten, unreadable)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def writable_folder(folder: str | os.PathLike, what: str = "a workdir") -> Path:
    """``folder``, created (with missing parents) and checked to take a new file.

    Writes, syncs and removes a small probe file. Raises ``WorkdirError``, "cannot use
    <folder> as <what>: <reason>", where it cannot: a file in the way, a name too long,
    a file system that is read-only, full, or takes no new folders (``/proc``); the
    folders it created are then removed again.
    """
    _make_writable(Path(folder), what)
    return Path(folder)


@contextmanager
def output_folders(folders: Iterable[tuple[str | os.PathLike, str]]) -> Iterator[None]:
    """Checks each ``(folder, what)`` with ``writable_folder`` before the ``with`` block.

    If the checks or the block fail, the folders created here that are still empty are
    removed again: a failed or interrupted command leaves no empty folders behind.
    """
    created: list[Path] = []  # deepest first
    try:
        for folder, what in folders:
            created = _make_writable(Path(folder), what) + created
        yield
    except BaseException:
        _remove_empty(created)
        raise


def _make_writable(folder: Path, what: str) -> list[Path]:
    """``writable_folder``; returns the folders it created, deepest first."""
    created = [p for p in (folder, *folder.parents) if not _exists(p)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(created)
        raise WorkdirError(f"cannot use {folder} as {what}: {_mkdir_reason(folder, e)}") from e
    if not _is_dir(folder):  # a symlink to a file passes mkdir(exist_ok=True)
        raise WorkdirError(f"cannot use {folder} as {what}: it is a file, not a folder")
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        with contextlib.suppress(OSError):
            probe.unlink()
        _remove_empty(created)
        raise WorkdirError(
            f"cannot use {folder} as {what}: cannot write a file there: {os_reason(e)}"
        ) from e
    with contextlib.suppress(OSError):
        probe.unlink()
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Removes each of ``folders`` (deepest first) that is empty."""
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()


def os_reason(error: BaseException) -> str:
    """The operating system's reason in an ``OSError`` or a TensorFlow ``OpError``.

    "No space left on device", not TensorFlow's "{{function_node ...}} /path/x.tempstate1;
    No space left on device [Op:SaveV2]".
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(getattr(error, "message", None) or error).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
    return text.rpartition("; ")[2] or text


def _mkdir_reason(folder: Path, error: OSError) -> str:
    """What made ``folder.mkdir(parents=True)`` fail, in words."""
    if error.errno == errno.EEXIST or (error.errno == errno.ENOTDIR and _exists(folder)):
        return "it is a file, not a folder"
    if error.errno == errno.ENOTDIR:
        in_the_way = next(
            (p for p in reversed(folder.parents) if _exists(p) and not _is_dir(p)), None
        )
        if in_the_way is not None:
            return f"{in_the_way} is a file, not a folder"
    if error.errno == errno.ENAMETOOLONG:
        longest = max(len(os.fsencode(part)) for part in folder.parts)
        return (
            f"{error.strerror} (a name in it has {longest} bytes; the file system allows "
            f"{_name_max(folder)})"
        )
    if error.errno == errno.ENOENT and error.filename is not None:
        parent = Path(error.filename).parent
        if _is_dir(parent):  # mkdir there says "no such file": /proc, /sys
            return f"{parent} takes no new folders ({error.strerror})"
    where = f"cannot create {error.filename}: " if error.filename else ""
    return where + (error.strerror or str(error))


def _name_max(folder: Path) -> int:
    """The longest file name the file system holding ``folder`` allows (usually 255)."""
    existing = next((p for p in (folder, *folder.parents) if _exists(p)), Path("/"))
    try:
        return os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _exists(path: Path) -> bool:
    """``path.exists()``, false where even asking fails (a name too long raises there)."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, false where even asking fails."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
