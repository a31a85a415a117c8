"""Reading the files of a dataset or of an import: regular files only, up to a size cap.

Opening a FIFO blocks until something writes to it, a device such as ``/dev/zero``
never ends, and a huge file would be read whole into memory. ``read_regular_file``
looks at what a path is (following symlinks) before opening it, and reads at most
the cap, so none of them can hang or exhaust a run.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnsafeFileError(OSError):
    """A path that is not a regular file, or a file over the size cap (``strerror`` says)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(errno.EINVAL, reason, str(path))


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``).

    Raises ``UnsafeFileError`` for anything else (a FIFO, a device, a socket, a folder,
    a file over ``max_bytes``) and ``OSError`` where the file cannot be read.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise UnsafeFileError(path, f"not a regular file: {kind}")
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(path, f"larger than the {max_bytes:,}-byte limit")
    return data
