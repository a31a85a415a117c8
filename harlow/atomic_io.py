"""Writing files so that readers never see half of one: temporary file, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Yields a file open on a temporary path beside ``path``; renames it onto ``path`` on success.

    Parent folders are created. On an exception the temporary file is removed and
    ``path`` keeps its old content. The data reaches the disk (fsync) before the rename,
    so that a power loss or OS crash cannot leave an empty ``path`` behind, which some
    file systems allow for a renamed file never synced. The file gets the usual
    permissions (0666 less the umask), not the private 0600 of ``tempfile.mkstemp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (see ``atomic_output``)."""
    with atomic_output(path, "w") as f:
        f.write(text)
