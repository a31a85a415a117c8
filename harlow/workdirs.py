"""Workdirs given on the command line: checked paths, and one training process each.

``checked_workdir`` refuses an empty ``--workdir=`` (it would mean the current folder).
``workdir_lock`` is an exclusive lock on ``<workdir>/train.lock``: two runs training in
one workdir would overwrite each other's checkpoints, and each deletes what it takes for
the other's interrupted saves. ``harlow.train`` holds an
``fcntl.flock`` on the lock file while it runs; the kernel releases it when the process
ends, however it ends (SIGKILL included), so a lock file left by a killed run never
blocks the next one. The file holds the pid of the process that last took the lock, to
name it in the error. Readers (``harlow.evaluate``) do not lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "train.lock"


class WorkdirError(RuntimeError):
    """The workdir cannot be used: another process trains there, or it cannot be created."""


def checked_workdir(workdir: str | os.PathLike, flag: str = "--workdir") -> Path:
    """``workdir`` as a path; raises ``ValueError`` if it is empty (``Path("")`` is ".")."""
    if not os.fspath(workdir).strip():
        raise ValueError(f"{flag} is empty: give a folder, e.g. {flag}=runs/x")
    return Path(workdir)


@contextmanager
def workdir_lock(workdir: str | os.PathLike) -> Iterator[None]:
    """Holds the workdir's training lock (creating the workdir) for the ``with`` block.

    Raises ``WorkdirError`` naming the workdir, and the pid of the process holding the
    lock, if another process holds it.
    """
    workdir = Path(workdir)
    path = workdir / LOCK_FILE
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise WorkdirError(f"cannot use {workdir} as a workdir: {e.strerror}") from e
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
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
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
