"""Imported first by the command lines: a quiet start, and Ctrl-C while starting gives one line.

``python -m harlow.train`` (``evaluate``, ``sweep``, ``datasets``) spends seconds importing
TensorFlow and loading the config before ``main`` runs; a Ctrl-C or SIGTERM there would
print a traceback from inside some import. Importing this module first, in the program
such a command runs, installs ``harlow.signals.exit_while_starting`` (one line, status
130 or 143) until ``main`` calls ``install_stop_handlers``.

The commands that use TensorFlow (``harlow.train``, ``evaluate``, ``benchmark``) also start
without its start-up noise: about nine lines on stderr (the oneDNN notice, "Could not find
cuda drivers", "This TensorFlow binary is optimized ...", on a machine without a GPU
driver "failed call to cuInit", with older TensorFlow versions "Unable to register
cuDNN factory"). ``TF_CPP_MIN_LOG_LEVEL`` alone cannot hide them: TensorFlow prints most
before it reads it. So this module sets it to 2 (no INFO or WARNING lines from
TensorFlow's C++ code) unless the user chose a level, and when the command first imports
TensorFlow (an import hook: commands that do not need it do not load it), runs that
import and TensorFlow's probe for GPUs with stderr set aside, then writes back what was
printed meanwhile without the lines below that level and, from level 1 on, the errors
that only say there is no GPU driver (``startup_noise``): other errors, Python warnings
and anything else stay. ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything. GPUs are used as
before.

In any other program (tests, a notebook, another command importing these modules)
importing it changes nothing.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType, ModuleType

from absl import logging as absl_logging

from harlow.signals import exit_while_starting

COMMANDS = ("harlow.train", "harlow.evaluate", "harlow.sweep", "harlow.datasets")
# The commands that import TensorFlow themselves (sweep's seeds run harlow.train and
# harlow.evaluate, which quiet their own start; datasets never imports it).
TENSORFLOW_COMMANDS = ("harlow.train", "harlow.evaluate", "harlow.benchmark")

# TensorFlow's C++ log lines: "I0000 00:00:1796412588.190830   13097 port.cc:153] ..."
# (absl logging, TensorFlow 2.17 on) or "2024-05-01 10:00:00.123456: I tensorflow/...:113] ..."
_LOG_LINE = re.compile(
    r"(?:(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<old_severity>[IWEF]) )\S+:\d+\] (?P<message>.*)"
)
_NOISE_LINES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
)
# The second line of cpu_feature_guard's INFO message.
_CPU_FEATURES = re.compile(r"To enable the following instructions: .* rebuild TensorFlow with")
# Errors TensorFlow logs on every start of some setups, that change nothing: a CUDA build
# registering its plugins twice (TensorFlow 2.15 to 2.17).
_HARMLESS_ERRORS = re.compile(r"Unable to register cu(?:DNN|FFT|BLAS) factory")
# Probing for a GPU without a driver (or with no device visible) fails; said once more.
_CUINIT = re.compile(r"failed call to cuInit")
_NO_DRIVER = re.compile(r"Could not find cuda drivers on your machine|CUDA_ERROR_NO_DEVICE")


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


class NoiseFilter:
    """Tells TensorFlow's start-up noise from the rest, line by line, in order (a failed
    cuInit is noise only after TensorFlow said it found no driver)."""

    def __init__(self, min_level: int = 2) -> None:
        self.hidden = "IWE"[: max(0, min(min_level, 3))]
        self.no_driver = False

    def is_noise(self, line: str) -> bool:
        """Whether ``line`` is noise at this ``TF_CPP_MIN_LOG_LEVEL`` (see ``startup_noise``)."""
        if not self.hidden:
            return False
        self.no_driver = self.no_driver or bool(_NO_DRIVER.search(line))
        match = _LOG_LINE.match(line)
        severity = match and (match["severity"] or match["old_severity"])
        return (
            line in _NOISE_LINES
            or ("I" in self.hidden and bool(_CPU_FEATURES.match(line)))
            or (bool(severity) and severity in self.hidden)
            or (
                severity == "E"
                and (
                    bool(_HARMLESS_ERRORS.search(match["message"]))
                    or (self.no_driver and bool(_CUINIT.search(match["message"])))
                )
            )
        )


def startup_noise(text: str, min_level: int = 2) -> list[bool]:
    """For each line of ``text`` (what TensorFlow's start printed on stderr), whether it
    is noise at ``TF_CPP_MIN_LOG_LEVEL`` ``min_level``: the lines of TensorFlow's C++
    logging below that level (1: INFO, 2: and WARNING, 3: and ERROR), which it prints
    before it reads the level, and from level 1 on absl's "before InitializeLog" notice
    and the errors that only say there is no GPU driver (after TensorFlow said so) or
    that a CUDA plugin registered twice. Any other line (errors, tracebacks, Python
    warnings) is not."""
    noise = NoiseFilter(min_level)
    return [noise.is_noise(line) for line in text.splitlines()]


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # no stderr left: nothing to say it on
        while data:
            data = data[os.write(fd, data) :]


@contextlib.contextmanager
def stderr_without_startup_noise(min_level: int = 2) -> Iterator[None]:
    """While the body runs, what is written to file descriptor 2 goes through a thread
    that passes it on, line by line as it comes, without the ``startup_noise`` lines at
    ``min_level``.

    A SIGINT or SIGTERM meanwhile first puts stderr back (with all passed on), so that the
    handler's message (``exit_while_starting``'s one line) is seen.
    """
    sys.stderr.flush()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):
                handlers[signum] = handler
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    noise = NoiseFilter(min_level)

    def pass_on() -> None:
        with open(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                kept = [
                    line + b"\n"
                    for line in lines
                    if not noise.is_noise(line.decode(errors="replace"))
                ]
                _write_all(saved, b"".join(kept))
            if pending and not noise.is_noise(pending.decode(errors="replace")):
                _write_all(saved, pending)

    thread = threading.Thread(target=pass_on, name="TensorFlow start-up stderr", daemon=True)
    thread.start()
    restored = False

    def restore() -> None:
        nonlocal restored
        if restored:
            return
        restored = True
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last writing end: the thread passes on the rest
        thread.join(timeout=10)
        if not thread.is_alive():
            os.close(saved)

    def restore_then_handle(signum: int, frame: FrameType | None) -> None:
        restore()
        for number, handler in handlers.items():
            signal.signal(number, handler)
        handlers[signum](signum, frame)

    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        for signum in handlers:
            signal.signal(signum, restore_then_handle)
        yield
    finally:
        for signum, handler in handlers.items():
            if signal.getsignal(signum) is restore_then_handle:
                signal.signal(signum, handler)
        restore()


def not_a_checkpoint_save_line(record: logging.LogRecord) -> bool:
    """False for TensorFlow's per-save "Sharding callback duration" INFO lines."""
    return not (record.levelno < logging.WARNING and record.filename == "functional_saver.py")


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's ``__init__`` and its GPU probe inside
    ``stderr_without_startup_noise``."""

    def __init__(self, loader: importlib.abc.Loader, min_level: int) -> None:
        self._loader = loader
        self._min_level = min_level

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self._loader  # the real one from now on
        with stderr_without_startup_noise(self._min_level):
            self._loader.exec_module(module)
            module.config.list_physical_devices("GPU")  # TensorFlow probes for GPUs once, now
        # TensorFlow's INFO line per checkpoint saved ("Sharding callback duration"), which
        # it logs through absl, goes too.
        absl_logging.get_absl_handler().addFilter(not_a_checkpoint_save_line)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, with a ``_QuietLoader``; once."""

    def __init__(self, min_level: int) -> None:
        self.min_level = min_level

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader, self.min_level)
                return spec
        return None


def quiet_tensorflow_startup() -> None:
    """Makes TensorFlow start without its noise when it is first imported (see the module
    docstring): at the user's ``TF_CPP_MIN_LOG_LEVEL``, else at 2 (which it sets).
    Nothing at level 0, or if TensorFlow is imported already."""
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    min_level = int(level) if level.strip().isdigit() else 0  # as TensorFlow reads it
    if min_level > 0 and "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlowFinder(min_level))


_COMMAND = running_module(sys.orig_argv)
if threading.current_thread() is threading.main_thread():
    if _COMMAND in COMMANDS:
        exit_while_starting(_COMMAND)
    if _COMMAND in TENSORFLOW_COMMANDS:
        quiet_tensorflow_startup()
