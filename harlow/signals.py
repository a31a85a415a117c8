"""SIGTERM handled like Ctrl-C by the command lines.

``kill``, ``timeout`` and job schedulers stop a process with SIGTERM, whose default
action ends it at once: no checkpoint, no ``finally`` blocks, no finalizers or atexit
hooks (which remove temporary folders and stop worker processes). The command lines
install ``raise_on_sigterm``, so that SIGTERM raises ``Terminated``, a
``KeyboardInterrupt``, in the main thread and takes the Ctrl-C path: training saves a
checkpoint, a sweep stops its children, and every command exits with a one-line message.

Python drops an exception raised inside a finalizer or ``__del__`` (it prints
"Exception ignored"), and a signal's handler runs wherever the main thread is, so the
handler also records the signal: long loops call ``raise_if_terminated`` once per
iteration, which raises ``Terminated`` again if it was lost that way.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (raised in the main thread by ``raise_on_sigterm``)."""


_received: list[int] = []  # signals whose Terminated was raised


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    """Signal handler: records the signal and raises ``Terminated``."""
    _received.append(signum)
    raise Terminated(signal.Signals(signum).name)


def raise_if_terminated() -> None:
    """Raises ``Terminated`` if SIGTERM arrived (again, if its exception was lost)."""
    if _received:
        raise Terminated(signal.Signals(_received[-1]).name)


def raise_on_sigterm() -> None:
    """Makes SIGTERM raise ``Terminated`` in the main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def interrupt_signal(interrupt: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``interrupt``: SIGTERM for ``Terminated``, else SIGINT (Ctrl-C)."""
    return signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT


def interrupt_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's status for a process stopped by that signal: 128 + its number."""
    return 128 + int(interrupt_signal(interrupt))


def describe_interrupt(interrupt: KeyboardInterrupt) -> str:
    """'terminated (SIGTERM)' or 'interrupted', to begin a one-line message."""
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
