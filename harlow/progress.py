"""Progress bars that stay readable when the output goes to a file.

On a terminal a bar redraws in place a few times a second. Written to a log
file (``make train > train.log``, a CI job), every redraw would be kept as
another line, so off a terminal the bars redraw at most every
``LOG_REFRESH_SECONDS``.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_REFRESH_SECONDS = 30.0


def output_is_terminal() -> bool:
    """Whether progress bars (on stderr) are drawn on a terminal."""
    return sys.stderr.isatty()


def progress_bar(**kwargs: Any) -> tqdm:
    """A ``tqdm`` bar on stderr; off a terminal it redraws every ``LOG_REFRESH_SECONDS``."""
    if not output_is_terminal():
        kwargs.setdefault("mininterval", LOG_REFRESH_SECONDS)
    return tqdm(**kwargs)
