"""Environment objects that cannot be pickled, run in worker processes behind pipes.

DeepMind Lab objects cannot be pickled or shared between processes, so each worker
builds its own from picklable specs (``make_runner(spec)`` runs inside the worker)
and then answers method calls over a pipe. Workers start with the 'spawn' context
(safe next to TensorFlow's threads). Environments are split into contiguous groups,
one group per worker, so results come back in environment order.

A worker that dies (a fatal check inside DeepMind Lab aborts its whole process)
raises :class:`DmlabWorkerError` naming the worker, its process id, its exit code or
signal and the call it was answering. The pool is closed by ``close()``, when it is
garbage collected, and at interpreter exit.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import traceback
import weakref
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, NoReturn

import numpy as np

_POLL_SECONDS = 0.5
_JOIN_SECONDS = 10.0
DMLAB_DEATH_HINT = (
    "A fatal check inside DeepMind Lab aborts the whole process, e.g. a dataset "
    "image that is missing or not 256x256 RGB; its message is on the worker's stderr."
)


class DmlabWorkerError(RuntimeError):
    """A worker process died or its environment raised an error."""


def _serve(conn: Connection, make_runner: Callable[[Any], Any], specs: list[Any]) -> None:
    """Worker main loop: build the runners, then answer ``(method, args)`` calls."""
    runners: list[Any] = []
    try:
        runners.extend(make_runner(spec) for spec in specs)
        conn.send(("ok", None))
        while True:
            method, args = conn.recv()
            if method is None:
                break
            if args is None:
                args = [()] * len(runners)
            results = [getattr(r, method)(*a) for r, a in zip(runners, args, strict=True)]
            conn.send(("ok", results))
    except (EOFError, KeyboardInterrupt):
        pass  # the parent went away or is shutting down: just clean up
    except BaseException:  # every failure is reported to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        for runner in runners:
            runner.close()
        conn.close()


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "its pipe closed while it was still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"it was killed by {name} (exit code {exitcode})"
    return f"it exited with code {exitcode}"


def _shutdown(processes: list[mp.process.BaseProcess], connections: list[Connection]) -> None:
    """Asks every worker to stop, then terminates the ones that do not."""
    for conn in connections:
        with contextlib.suppress(OSError, ValueError):  # that worker is already gone
            conn.send((None, None))
    for process in processes:
        process.join(_JOIN_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join(_JOIN_SECONDS)
    for conn in connections:
        conn.close()


class WorkerPool:
    """Runs ``make_runner(spec)`` objects in ``num_workers`` processes.

    ``call(method, args)`` calls ``method`` on every runner (in environment order) and
    returns their results as a list; ``args`` holds one argument tuple per runner.
    ``make_runner`` must be importable by name (a module-level function or class).
    ``label`` names the workers in errors; ``death_hint`` explains a worker's death.
    """

    def __init__(
        self,
        make_runner: Callable[[Any], Any],
        specs: Sequence[Any],
        num_workers: int,
        start_method: str = "spawn",
        label: str = "DeepMind Lab",
        death_hint: str = DMLAB_DEATH_HINT,
    ) -> None:
        if not 1 <= num_workers <= len(specs):
            raise ValueError(
                f"num_workers must be in [1, {len(specs)}] (one environment at least per "
                f"worker), got {num_workers}"
            )
        context = mp.get_context(start_method)
        self._label, self._death_hint = label, death_hint
        bounds = np.linspace(0, len(specs), num_workers + 1).round().astype(int)
        self._groups = [range(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self._processes: list[mp.process.BaseProcess] = []
        self._connections: list[Connection] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._processes, self._connections)
        for index, group in enumerate(self._groups):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(child_end, make_runner, [specs[i] for i in group]),
                name=f"{label.lower().replace(' ', '-')}-worker-{index}",
                daemon=True,
            )
            process.start()
            child_end.close()  # so the parent sees EOF when the worker dies
            self._processes.append(process)
            self._connections.append(parent_end)
        for index in range(num_workers):
            self._receive(index, "start-up (creating the environments)")

    @property
    def num_workers(self) -> int:
        """Number of worker processes."""
        return len(self._processes)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [int(p.pid) for p in self._processes]

    def call(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        """Calls ``method(*args[i])`` on every runner i; returns the results in order."""
        if self._closed:
            raise DmlabWorkerError("the worker pool is closed")
        for index, (conn, group) in enumerate(zip(self._connections, self._groups, strict=True)):
            group_args = None if args is None else [args[i] for i in group]
            try:
                conn.send((method, group_args))
            except (BrokenPipeError, ConnectionResetError):
                self._fail(index, method)
        results: list[Any] = []
        for index in range(len(self._connections)):
            results.extend(self._receive(index, method))
        return results

    def _receive(self, index: int, method: str) -> Any:
        conn, process = self._connections[index], self._processes[index]
        try:
            while not conn.poll(_POLL_SECONDS):
                if not process.is_alive():
                    break
            status, payload = conn.recv()
        except (EOFError, ConnectionResetError):
            self._fail(index, method)
        if status == "error":
            self.close()
            raise DmlabWorkerError(
                f"{self._label} worker {index} (environments {self._describe_group(index)}) "
                f"raised an error during {method!r}:\n{payload}"
            )
        return payload

    def _fail(self, index: int, method: str) -> NoReturn:
        process = self._processes[index]
        process.join(_POLL_SECONDS)
        pid, exitcode = process.pid, process.exitcode
        self.close()
        raise DmlabWorkerError(
            f"{self._label} worker {index} (pid {pid}, environments "
            f"{self._describe_group(index)}) died during {method!r}: {_describe_exit(exitcode)}. "
            f"{self._death_hint}"
        )

    def _describe_group(self, index: int) -> str:
        group = self._groups[index]
        return f"{group.start}..{group.stop - 1}"

    def close(self) -> None:
        """Stops the workers (they close their environments). Safe to call twice."""
        self._closed = True
        self._finalizer()
