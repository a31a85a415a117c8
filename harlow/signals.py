"""SIGTERM handled like Ctrl-C by the command lines, and neither of them lost.

``kill``, ``timeout`` and job schedulers stop a process with SIGTERM, whose default
action ends it at once: no checkpoint, no ``finally`` blocks, no finalizers or atexit
hooks (which remove temporary folders and stop worker processes). The command lines
call ``install_stop_handlers``, so that SIGTERM raises ``Terminated``, a
``KeyboardInterrupt``, in the main thread and takes the Ctrl-C path: training saves a
checkpoint, a sweep stops its children, and every command exits with a one-line message.

Python drops an exception raised inside a finalizer, ``__del__`` or a weakref callback
(it prints "Exception ignored"; importing a module runs such a callback), and a signal's
handler runs wherever the main thread is, so a Ctrl-C or SIGTERM can vanish that way. The
handlers therefore also record the signal: long loops call ``raise_if_interrupted`` once
per iteration, which raises the exception again if it was lost.

While a command line starts (importing TensorFlow takes seconds, and parsing the
flags loads the config file), a ``KeyboardInterrupt`` would surface as a traceback from
somewhere inside an import. ``exit_while_starting`` (installed by importing
``harlow.quiet_startup`` before anything else) makes Ctrl-C and SIGTERM end the process
there with one line and the shell's status (130, 143): nothing has been written yet.
``install_stop_handlers``, called by ``main`` before the real work, puts the exceptions back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (raised in the main thread by ``install_stop_handlers``)."""


_received: list[int] = []  # signals whose exception was raised
_before_start: dict[int, object] = {}  # the handlers exit_while_starting replaced


def _stop_exception(signum: int) -> KeyboardInterrupt:
    """``Terminated`` for SIGTERM, ``KeyboardInterrupt`` for Ctrl-C."""
    if signum == signal.SIGTERM:
        return Terminated(signal.Signals(signum).name)
    return KeyboardInterrupt()


def _raise_stop(signum: int, frame: FrameType | None) -> NoReturn:
    """Signal handler: records the signal and raises its exception."""
    _received.append(signum)
    raise _stop_exception(signum)


def raise_if_interrupted() -> None:
    """Raises ``KeyboardInterrupt`` (``Terminated`` for SIGTERM) if Ctrl-C or SIGTERM
    arrived: again, if its exception was lost in a finalizer."""
    if _received:
        raise _stop_exception(_received[-1])


def install_stop_handlers() -> None:
    """Makes SIGTERM raise ``Terminated`` and Ctrl-C ``KeyboardInterrupt`` in the main
    thread, both recorded for ``raise_if_interrupted`` (call it from the main thread).

    Ends ``exit_while_starting``. A Ctrl-C handler other than Python's default (a
    program's own, or SIG_IGN for a process started in the background) is kept.
    """
    sigint = _before_start.pop(signal.SIGINT, signal.getsignal(signal.SIGINT))
    _before_start.clear()
    if sigint is signal.default_int_handler:
        sigint = _raise_stop
    signal.signal(signal.SIGINT, sigint)
    signal.signal(signal.SIGTERM, _raise_stop)


def exit_while_starting(command: str) -> None:
    """Until ``install_stop_handlers``: Ctrl-C and SIGTERM end the process at once, printing
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
