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

While a command line starts (importing TensorFlow takes seconds, and parsing the
flags loads the config file), a ``KeyboardInterrupt`` would surface as a traceback from
somewhere inside an import. ``exit_while_starting`` (installed by importing
``harlow.quiet_startup`` before anything else) makes Ctrl-C and SIGTERM end the process
there with one line and the shell's status (130, 143): nothing has been written yet.
``raise_on_sigterm``, called by ``main`` before the real work, puts the exceptions back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (raised in the main thread by ``raise_on_sigterm``)."""


_received: list[int] = []  # signals whose Terminated was raised
_before_start: dict[int, object] = {}  # the handlers exit_while_starting replaced


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    """Signal handler: records the signal and raises ``Terminated``."""
    _received.append(signum)
    raise Terminated(signal.Signals(signum).name)


def raise_if_terminated() -> None:
    """Raises ``Terminated`` if SIGTERM arrived (again, if its exception was lost)."""
    if _received:
        raise Terminated(signal.Signals(_received[-1]).name)


def raise_on_sigterm() -> None:
    """Makes SIGTERM raise ``Terminated`` in the main thread (call it from there).

    Ctrl-C raises ``KeyboardInterrupt`` again if ``exit_while_starting`` changed that.
    """
    if signal.SIGINT in _before_start:
        signal.signal(signal.SIGINT, _before_start.pop(signal.SIGINT))
    _before_start.clear()
    signal.signal(signal.SIGTERM, _raise_terminated)


def exit_while_starting(command: str) -> None:
    """Until ``raise_on_sigterm``: Ctrl-C and SIGTERM end the process at once, printing
    "interrupted: <command> stopped while starting; nothing was written" (or
    "terminated (SIGTERM): ...") and exiting with status 130 (143). No traceback, no
    cleanup: for start-up only, before anything is written. A signal the process was
    started ignoring (``nohup``, ``&`` in a script) stays ignored. Call it from the main
    thread.
    """

    def exit_now(signum: int, frame: FrameType | None) -> NoReturn:
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a reentrant call, a closed pipe: never mind
                stream.flush()
        line = f"\n{what}: {command} stopped while starting; nothing was written\n"
        with contextlib.suppress(OSError):  # no stderr: the status still says it
            os.write(2, line.encode())
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        _before_start.setdefault(signum, current)
        signal.signal(signum, exit_now)


def interrupt_signal(interrupt: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``interrupt``: SIGTERM for ``Terminated``, else SIGINT (Ctrl-C)."""
    return signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT


def interrupt_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's status for a process stopped by that signal: 128 + its number."""
    return 128 + int(interrupt_signal(interrupt))


def describe_interrupt(interrupt: KeyboardInterrupt) -> str:
    """'terminated (SIGTERM)' or 'interrupted', to begin a one-line message."""
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
