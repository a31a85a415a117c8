"""Progress bars that stay readable when the output goes to a file.

On a terminal a bar redraws in place a few times a second. Written to a log
file (``make train > train.log``, a CI job), every redraw would be kept as
another line, so off a terminal the bars redraw at most every
``LOG_REFRESH_SECONDS``.
"""

from __future__ import annotations

import math
import sys
import time
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
        # tqdm's monitor thread also redraws a bar idle for ``maxinterval`` (10 s by default).
        kwargs.setdefault("maxinterval", LOG_REFRESH_SECONDS)
    return tqdm(**kwargs)


class PostfixUpdater:
    """Sets a bar's postfix when its text changes; off a terminal at most every
    ``LOG_REFRESH_SECONDS`` (a postfix change forces a redraw, whatever the bar's
    ``mininterval``)."""

    def __init__(self, bar: tqdm) -> None:
        self._bar = bar
        self._text = ""
        self._shown_at = -math.inf
        self._min_interval = 0.0 if output_is_terminal() else LOG_REFRESH_SECONDS

    def show(self, text: str) -> None:
        """Sets the postfix to ``text``; redraws unless that happened too recently."""
        now = time.monotonic()
        if text == self._text or now - self._shown_at < self._min_interval:
            return
        self._text, self._shown_at = text, now
        self._bar.set_postfix_str(text)
