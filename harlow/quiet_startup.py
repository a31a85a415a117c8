"""Imported first by the command lines: Ctrl-C while they start gives one line, no traceback.

``python -m harlow.train`` (``evaluate``, ``sweep``, ``datasets``) spends seconds importing
TensorFlow and loading the config before ``main`` runs; a Ctrl-C or SIGTERM there would
print a traceback from inside some import. Importing this module first, in the program
such a command runs, installs ``harlow.signals.exit_while_starting`` (one line, status
130 or 143) until ``main`` calls ``raise_on_sigterm``. In any other program (tests, a
notebook, another command importing these modules) importing it changes nothing.
"""

from __future__ import annotations

import sys
import threading

from harlow.signals import exit_while_starting

COMMANDS = ("harlow.train", "harlow.evaluate", "harlow.sweep", "harlow.datasets")


def running_module(orig_argv: list[str]) -> str | None:
    """The module the interpreter was started to run (``python [options] -m NAME``), if any."""
    args = iter(orig_argv[1:])
    for arg in args:
        if arg == "-" or not arg.startswith("-"):
            return None  # a script, or the program on stdin
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        for i, option in enumerate(arg[1:], start=1):
            if option == "c":
                return None
            if option in "mXW":
                value = arg[i + 1 :] or next(args, None)
                if option == "m":
                    return value
                break
    return None


_COMMAND = running_module(sys.orig_argv)
if _COMMAND in COMMANDS and threading.current_thread() is threading.main_thread():
    exit_while_starting(_COMMAND)
