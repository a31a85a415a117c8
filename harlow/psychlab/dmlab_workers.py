"""Environment objects that cannot be pickled, run in worker processes behind pipes.

DeepMind Lab objects cannot be pickled or shared between processes, so each worker
builds its own from picklable specs (``make_runner(spec)`` runs inside the worker)
and then answers method calls over a socket. Workers are fresh interpreters started
as ``python -m harlow.psychlab.worker_main``: unlike multiprocessing's 'spawn', which
re-imports the parent's main module (``harlow.train`` imports TensorFlow), a worker
imports only this package and the module of ``make_runner``. That matters: DeepMind
Lab's software renderer (Mesa llvmpipe) crashes in a process that has loaded
TensorFlow, whose library exports LLVM symbols the renderer then binds to. The
parent's ``sys.path`` is passed on (as PYTHONPATH), so the worker imports what the
parent would.

Environments are split into contiguous groups, one group per worker, so results come
back in environment order. Workers ignore SIGINT (a Ctrl-C in a terminal reaches the
whole process group): the parent decides when they stop. A worker whose parent is
gone (its socket closes) exits quietly.

A worker that dies (a fatal check inside DeepMind Lab aborts its whole process)
raises :class:`DmlabWorkerError` naming the worker, its process id, the environments
it held, its exit code or signal and the call it was answering. The pool is closed
by ``close()``, when it is garbage collected, and at interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import traceback
import weakref
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, NoReturn

import numpy as np

WORKER_MODULE = "harlow.psychlab.worker_main"
_POLL_SECONDS = 0.5
_JOIN_SECONDS = 10.0
DMLAB_DEATH_HINT = (
    "A fatal check inside DeepMind Lab aborts the whole process, e.g. a dataset "
    "image that is missing or not 256x256 RGB; its message is on the worker's stderr."
)


class DmlabWorkerError(RuntimeError):
    """A worker process died or its environment raised an error."""


def serve(conn: Connection) -> None:
    """Worker main loop: receive ``(make_runner, specs)``, build the runners, then
    answer ``(method, args)`` calls until ``(None, None)`` or the parent goes away."""
    runners: list[Any] = []
    try:
        make_runner, specs = conn.recv()
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
    except (EOFError, OSError):
        pass  # the parent went away: just clean up
    except BaseException:  # every other failure is reported to the parent
        with contextlib.suppress(OSError):
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


def _start_worker(
    make_runner: Callable[[Any], Any], specs: list[Any]
) -> tuple[subprocess.Popen, Connection]:
    """Starts one worker interpreter and sends it what to build."""
    parent_end, child_end = socket.socketpair()
    with parent_end, child_end:
        process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, str(child_end.fileno())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        connection = Connection(parent_end.detach())
    connection.send((make_runner, specs))
    return process, connection


def _shutdown(processes: list[subprocess.Popen], connections: list[Connection]) -> None:
    """Asks every worker to stop, then terminates the ones that do not."""
    for conn in connections:
        with contextlib.suppress(OSError, ValueError):  # that worker is already gone
            conn.send((None, None))
        conn.close()  # a worker blocked sending a result sees the socket close
    for process in processes:
        try:
            process.wait(_JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_JOIN_SECONDS)
    connections.clear()


def split_specs(
    num_specs: int, num_workers: int, envs_per_spec: Sequence[int] | None
) -> tuple[list[range], list[tuple[int, int]]]:
    """Contiguous groups of spec indices, one per worker, and the first and last
    environment each group holds (``envs_per_spec``: default 1 each)."""
    if not 1 <= num_workers <= num_specs:
        raise ValueError(
            f"num_workers must be in [1, {num_specs}] (one environment at least per "
            f"worker), got {num_workers}"
        )
    bounds = np.linspace(0, num_specs, num_workers + 1).round().astype(int)
    groups = [range(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    first_env = np.cumsum([0, *(envs_per_spec or [1] * num_specs)])
    return groups, [(int(first_env[g.start]), int(first_env[g.stop]) - 1) for g in groups]


class WorkerPool:
    """Runs ``make_runner(spec)`` objects in ``num_workers`` processes.

    ``call(method, args)`` calls ``method`` on every runner (in environment order) and
    returns their results as a list; ``args`` holds one argument tuple per runner.
    ``make_runner`` must be importable by name (a module-level function or class).
    ``label`` names the workers in errors; ``death_hint`` explains a worker's death;
    ``envs_per_spec`` (default 1 each) is how many environments each runner holds, so
    that errors name the environments a worker held.
    """

    # Workers a call replaced (``RayWorkerPool`` replaces dead actors); a local worker
    # that dies is an error instead.
    last_call_replaced: tuple[int, ...] = ()

    def __init__(
        self,
        make_runner: Callable[[Any], Any],
        specs: Sequence[Any],
        num_workers: int,
        label: str = "DeepMind Lab",
        death_hint: str = DMLAB_DEATH_HINT,
        envs_per_spec: Sequence[int] | None = None,
    ) -> None:
        self._label, self._death_hint = label, death_hint
        self._groups, self._env_ranges = split_specs(len(specs), num_workers, envs_per_spec)
        self._processes: list[subprocess.Popen] = []
        self._connections: list[Connection] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._processes, self._connections)
        try:
            for group in self._groups:
                process, connection = _start_worker(make_runner, [specs[i] for i in group])
                self._processes.append(process)
                self._connections.append(connection)
        except BaseException:
            self.close()
            raise
        for index in range(num_workers):
            self._receive(index, "start-up (creating the environments)")

    @property
    def num_workers(self) -> int:
        """Number of worker processes."""
        return len(self._processes)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [p.pid for p in self._processes]

    def call(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        """Calls ``method(*args[i])`` on every runner i; returns the results in order."""
        if self._closed:
            raise DmlabWorkerError("the worker pool is closed")
        for index, (conn, group) in enumerate(zip(self._connections, self._groups, strict=True)):
            group_args = None if args is None else [args[i] for i in group]
            try:
                conn.send((method, group_args))
            except OSError:
                self._fail(index, method)
        results: list[Any] = []
        for index in range(len(self._connections)):
            results.extend(self._receive(index, method))
        return results

    def _receive(self, index: int, method: str) -> Any:
        conn, process = self._connections[index], self._processes[index]
        try:
            while not conn.poll(_POLL_SECONDS):
                if process.poll() is not None:
                    break
            status, payload = conn.recv()
        except (EOFError, OSError):
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
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_POLL_SECONDS)
        pid, exitcode = process.pid, process.returncode
        self.close()
        raise DmlabWorkerError(
            f"{self._label} worker {index} (pid {pid}, environments "
            f"{self._describe_group(index)}) died during {method!r}: {_describe_exit(exitcode)}. "
            f"{self._death_hint}"
        )

    def _describe_group(self, index: int) -> str:
        first, last = self._env_ranges[index]
        return f"{first}..{last}"

    def close(self) -> None:
        """Stops the workers (they close their environments). Safe to call twice."""
        self._closed = True
        self._finalizer()
