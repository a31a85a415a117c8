"""Environment objects run in Ray actors, on one machine or across a Ray cluster.

``RayWorkerPool`` has the interface of ``dmlab_workers.WorkerPool`` (``call``,
``close``, ``num_workers``) with one Ray actor per worker instead of a local process.
Each actor builds its own environments from picklable specs (``make_runner(spec)``
runs inside the actor): DeepMind Lab objects cannot be pickled, so nothing but specs,
actions and results crosses between processes. Actors import only the module of
``make_runner`` (no TensorFlow), and ask for ``cpus_per_actor`` CPUs each, spread
over the cluster's nodes (Ray's ``SPREAD`` strategy).

Faults. An actor that dies (killed, its process crashed, its node left the cluster)
is replaced by a new actor built from the same specs, wherever the cluster has room:
the pool replays ``restore()``'s calls on it (e.g. where a curriculum stands), resets
its environments and repeats the call that failed, and lists the worker in
``last_call_replaced`` so that the caller can end those environments' episodes. At
most ``max_replacements`` replacements per pool: a worker that keeps dying (a fatal
check inside DeepMind Lab on a bad image) is an error, as is an actor that dies while
its environments are being built. An exception raised by the environments' own code
is never retried: it is raised as ``DmlabWorkerError`` with the actor's traceback.

Actors get this process's ``sys.path`` as their PYTHONPATH, so they import what it
would. Every node needs this project and the dataset at the same paths (a shared file
system, or the same checkout and virtual environment on every machine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from absl import logging

from harlow.psychlab.dmlab_workers import DmlabWorkerError, split_specs

_TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
MAX_REPLACEMENTS = 10
PLACEMENT_TIMEOUT_SECONDS = 120.0


def ray_missing(what: str) -> str:
    """The error for ``what`` (e.g. "config.env.executor='ray'") without Ray installed."""
    return (
        f"{what} needs Ray, which is an optional extra: pip install -e '.[ray]' "
        "(or pip install 'ray>=2.9')"
    )


def _plain(error: Exception) -> str:
    """Ray's error text without its terminal colours."""
    return _TERMINAL_COLOURS.sub("", str(error))


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or its cluster cannot be reached."""


def ray_installed() -> bool:
    """Whether ``import ray`` would work, without importing it."""
    return importlib.util.find_spec("ray") is not None


def _import_ray() -> Any:
    if not ray_installed():
        raise RayUnavailableError(ray_missing("running on Ray"))
    import ray  # noqa: PLC0415 - an optional extra, imported only when asked for

    return ray


def connect(address: str, local_cpus: int = 1) -> Any:
    """Connects this process to Ray (once): ``address`` '' starts a private local
    instance with this machine's CPUs, or ``local_cpus`` if more (each actor asks for
    one: more actors than cores share them, as local worker processes would), 'auto'
    joins the cluster started on this machine (``ray start``), and 'host:port' joins
    that cluster. Returns the ``ray`` module."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    # ray.init replaces the SIGTERM handler (and its core worker installs one that
    # prints a stack); this process's own handlers (a run saves a checkpoint) stay.
    in_main_thread = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ray.init(
            address=address or None,
            num_cpus=None if address else max(os.cpu_count() or 1, local_cpus),
            include_dashboard=False,
            log_to_driver=True,
            logging_level="warning",
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"at {address!r}" if address else "locally"
        raise RayUnavailableError(
            f"could not start or join a Ray cluster {where} (config.env.ray_address): {error}"
        ) from error
    finally:
        if in_main_thread:
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)
    return ray


def this_node() -> str:
    """Inside a Ray actor or task: its node's address and the start of its id."""
    import ray  # noqa: PLC0415 - inside a Ray process

    node_id = ray.get_runtime_context().get_node_id()
    return f"{ray.util.get_node_ip_address()} (node {node_id[:8]})"


class _RunnerGroup:
    """The Ray actor: a worker's runners, built inside the actor."""

    def __init__(self, make_runner: Callable[[Any], Any], specs: list[Any]) -> None:
        self._runners = [make_runner(spec) for spec in specs]

    def node(self) -> str:
        """The node this actor runs on (``this_node``)."""
        return this_node()

    def has_loaded(self, module: str) -> bool:
        """Whether this actor's process has imported ``module`` (DeepMind Lab's renderer
        crashes in a process that loaded TensorFlow)."""
        return module in sys.modules

    def call(self, method: str, args: list[tuple] | None) -> list[Any]:
        """``method(*args[i])`` on runner i (no arguments when ``args`` is None)."""
        if args is None:
            args = [()] * len(self._runners)
        return [getattr(r, method)(*a) for r, a in zip(self._runners, args, strict=True)]

    def close(self) -> None:
        """Closes the runners."""
        for runner in self._runners:
            runner.close()
        self._runners = []


class RayWorkerPool:
    """Runs ``make_runner(spec)`` objects in ``num_workers`` Ray actors.

    Same contract as ``WorkerPool``: ``call(method, args)`` calls ``method`` on every
    runner (in environment order) and returns their results as a list, with ``args``
    one argument tuple per runner. ``address`` is where Ray runs (see ``connect``);
    ``restore`` returns the calls to replay on a replacement actor before its reset.
    """

    def __init__(
        self,
        make_runner: Callable[[Any], Any],
        specs: Sequence[Any],
        num_workers: int,
        *,
        address: str = "",
        label: str = "environment",
        death_hint: str = "",
        envs_per_spec: Sequence[int] | None = None,
        cpus_per_actor: float = 1.0,
        max_replacements: int = MAX_REPLACEMENTS,
        restore: Callable[[], list[tuple[str, tuple]]] | None = None,
    ) -> None:
        self._groups, self._env_ranges = split_specs(len(specs), num_workers, envs_per_spec)
        self._ray = connect(address, local_cpus=num_workers)
        self._make_runner = make_runner
        self._label, self._death_hint = label, death_hint
        self._restore = restore or (lambda: [])
        self.max_replacements = max_replacements
        self.replacements = 0
        self.last_call_replaced: list[int] = []
        self._specs = [[specs[i] for i in group] for group in self._groups]
        # Actors import what this process would (its sys.path), as local workers do.
        python_path = os.pathsep.join(path for path in sys.path if path)
        self._actor_class = self._ray.remote(
            num_cpus=cpus_per_actor,
            scheduling_strategy="SPREAD",
            runtime_env={"env_vars": {"PYTHONPATH": python_path}},
        )(_RunnerGroup)
        self._actors: list[Any] = []
        self.nodes: list[str] = []
        self._closed = False
        try:
            self._actors = [self._actor_class.remote(make_runner, group) for group in self._specs]
            self.nodes = [self._start_up(index) for index in range(num_workers)]
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """Number of actors."""
        return len(self._actors)

    def _start_up(self, index: int) -> str:
        """Waits for actor ``index`` to build its environments; returns its node."""
        ray = self._ray
        try:
            return ray.get(self._actors[index].node.remote(), timeout=PLACEMENT_TIMEOUT_SECONDS)
        except ray.exceptions.GetTimeoutError:
            raise DmlabWorkerError(
                f"{self._label} worker {index} (environments {self._describe(index)}) found no "
                f"room in the Ray cluster within {PLACEMENT_TIMEOUT_SECONDS:.0f} s: each actor "
                "needs a free CPU (`ray status` shows what the cluster has)"
            ) from None
        except ray.exceptions.RayActorError as error:
            raise DmlabWorkerError(
                f"{self._label} worker {index} (environments {self._describe(index)}) died "
                f"while building its environments. {self._death_hint}\n{_plain(error)}"
            ) from None

    def call(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        """Calls ``method(*args[i])`` on every runner i; returns the results in order.
        Workers whose actor died are replaced first (``last_call_replaced``)."""
        if self._closed:
            raise DmlabWorkerError("the Ray worker pool is closed")
        ray = self._ray
        group_args = [None if args is None else [args[i] for i in group] for group in self._groups]
        self.last_call_replaced = []
        futures = [
            actor.call.remote(method, a) for actor, a in zip(self._actors, group_args, strict=True)
        ]
        results: list[Any] = []
        for index, future in enumerate(futures):
            while True:
                try:
                    results.extend(ray.get(future))
                    break
                except ray.exceptions.RayActorError as error:
                    self._replace(index, method, error)
                    future = self._actors[index].call.remote(method, group_args[index])
                except ray.exceptions.RayTaskError as error:
                    self.close()
                    raise DmlabWorkerError(
                        f"{self._label} worker {index} (environments {self._describe(index)}) "
                        f"raised an error during {method!r}:\n{_plain(error)}"
                    ) from None
        return results

    def _replace(self, index: int, method: str, error: Exception) -> None:
        """A new actor for worker ``index``, restored and reset."""
        if self.replacements >= self.max_replacements:
            self.close()
            raise DmlabWorkerError(
                f"{self._label} worker {index} (environments {self._describe(index)}) died "
                f"during {method!r} after {self.replacements} replacements already (at most "
                f"{self.max_replacements}). {self._death_hint}\n{_plain(error)}"
            )
        self.replacements += 1
        with contextlib.suppress(Exception):
            self._ray.kill(self._actors[index])
        self._actors[index] = self._actor_class.remote(self._make_runner, self._specs[index])
        self.nodes[index] = self._start_up(index)
        for restore_method, restore_args in self._restore():
            self._ray.get(
                self._actors[index].call.remote(
                    restore_method, [restore_args] * len(self._specs[index])
                )
            )
        self._ray.get(self._actors[index].call.remote("reset", None))
        self.last_call_replaced.append(index)
        logging.warning(
            "%s worker %d (environments %s) died during %r; replaced on %s (replacement %d of "
            "at most %d): its environments start new episodes",
            self._label,
            index,
            self._describe(index),
            method,
            self.nodes[index],
            self.replacements,
            self.max_replacements,
        )

    def _describe(self, index: int) -> str:
        first, last = self._env_ranges[index]
        return f"{first}..{last}"

    def actor(self, index: int) -> Any:
        """Worker ``index``'s actor handle (for tests that kill it)."""
        return self._actors[index]

    def workers_loaded(self, module: str) -> list[bool]:
        """Whether each actor's process has imported ``module``."""
        return self._ray.get([actor.has_loaded.remote(module) for actor in self._actors])

    def close(self) -> None:
        """Closes the environments and stops the actors. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        closing = []
        for actor in self._actors:
            with contextlib.suppress(Exception):
                closing.append(actor.close.remote())
        with contextlib.suppress(Exception):
            ray.get(closing, timeout=30)
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self._actors = []
