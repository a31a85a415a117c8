"""Batched environments spread over workers, in lockstep, behind one interface.

``ParallelEnv`` runs ``build(spec)`` for each spec in a worker of its own and offers
the batched contract the trainer uses: ``reset()``, ``step(actions)`` and ``close()``,
with every worker's environments concatenated in spec order. The workers are local
processes (``dmlab_workers.WorkerPool``, the default) or Ray actors on one machine or
a cluster (``ray_workers.RayWorkerPool``), as ``Executor`` says. A Ray actor that dies
is replaced; its environments' episodes end on that step (``done``) and new ones
start. It imports no TensorFlow, so workers start quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ml_collections
import numpy as np

from harlow.config.checks import FieldCheck, one_of
from harlow.psychlab.dmlab_workers import WorkerPool

EXECUTORS = ("processes", "ray")
# Config fields of where workers run, checked when present (older runs lack them).
EXECUTOR_CHECKS = (
    one_of("env.executor", EXECUTORS),
    FieldCheck(
        "env.ray_address",
        lambda v: isinstance(v, str),
        "a Ray address: '' (a private local instance), 'auto' or 'host:port'",
    ),
)
# Where workers run changes speed only: a resumed run may change it.
EXECUTOR_FIELDS = ("env.executor", "env.ray_address")


@dataclass(frozen=True)
class Executor:
    """Where workers run: ``processes`` on this machine, or ``ray`` actors on the Ray
    cluster at ``ray_address`` ('' a private local instance, 'auto' the cluster
    started on this machine, or 'host:port')."""

    kind: str = "processes"
    ray_address: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"config.env.executor must be one of {EXECUTORS}, got {self.kind!r}")


LOCAL_PROCESSES = Executor()


def executor_from_config(config: ml_collections.ConfigDict) -> Executor:
    """``config.env.executor`` and ``config.env.ray_address`` (both optional: configs
    from before them run on local processes)."""
    return Executor(config.env.get("executor", "processes"), config.env.get("ray_address", ""))


def check_executor(config: ml_collections.ConfigDict) -> None:
    """Ray actors are the workers: ``env.num_workers`` >= 1, and Ray installed."""
    if executor_from_config(config).kind != "ray":
        return
    if config.env.num_workers < 1:
        raise ValueError(
            "config.env.executor='ray' runs the environments in config.env.num_workers Ray "
            f"actors: set it to 1 or more, got {config.env.num_workers}"
        )
    from harlow.psychlab.ray_workers import ray_installed, ray_missing  # noqa: PLC0415

    if not ray_installed():
        raise ValueError(ray_missing("config.env.executor='ray'"))


class ParallelEnv:
    """``build(specs[i])`` in worker ``i``; their environments come back in order.

    Each spec has a ``num_envs`` field. ``label`` names the workers in errors,
    ``death_hint`` says where a dead worker's traceback is, and ``after_close`` (if
    given) runs once the workers are stopped.
    """

    def __init__(
        self,
        build: Callable[[Any], Any],
        specs: Sequence[Any],
        *,
        observation_size: int,
        num_actions: int,
        label: str,
        death_hint: str,
        after_close: Callable[[], None] | None = None,
        executor: Executor = LOCAL_PROCESSES,
    ) -> None:
        self.num_envs = sum(spec.num_envs for spec in specs)
        self.observation_size = observation_size
        self.num_actions = num_actions
        self._after_close = after_close
        self._bounds = np.cumsum([0] + [spec.num_envs for spec in specs])
        self._runners = len(specs)
        envs_per_spec = [spec.num_envs for spec in specs]
        if executor.kind == "ray":
            from harlow.psychlab.ray_workers import RayWorkerPool  # noqa: PLC0415 - optional

            self._pool: WorkerPool | RayWorkerPool = RayWorkerPool(
                build,
                specs,
                len(specs),
                address=executor.ray_address,
                label=label,
                death_hint=death_hint,
                envs_per_spec=envs_per_spec,
                restore=self.restore_calls,
            )
        else:
            self._pool = WorkerPool(
                build,
                specs,
                num_workers=len(specs),
                label=label,
                death_hint=death_hint,
                envs_per_spec=envs_per_spec,
            )

    @property
    def pool(self) -> WorkerPool | Any:
        """The workers (a ``WorkerPool`` or a ``RayWorkerPool``)."""
        return self._pool

    def restore_calls(self) -> list[tuple[str, tuple]]:
        """Calls that bring a replacement worker's environments to where the others stand
        (before their reset); none here."""
        return []

    def reset(self) -> np.ndarray:
        """Starts new episodes everywhere; returns the first observations."""
        return np.concatenate(self._pool.call("reset"))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Steps every environment with its action; infos are concatenated key by key.
        The environments of a worker replaced during the step report ``done``."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        bounds = list(zip(self._bounds[:-1], self._bounds[1:], strict=True))
        results = self._pool.call("step", [(actions[a:b],) for a, b in bounds])
        observations, rewards, dones, infos = zip(*results, strict=True)
        info = {key: np.concatenate([i[key] for i in infos]) for key in infos[0]}
        dones = np.concatenate(dones)
        for index in self._pool.last_call_replaced:
            start, stop = bounds[index]
            dones[start:stop] = True
        return np.concatenate(observations), np.concatenate(rewards), dones, info

    def call_each(self, method: str, *args: Any) -> list[Any]:
        """Calls ``method(*args)`` on every worker's environments; their results in order."""
        return self._pool.call(method, [args] * self._runners)

    def close(self) -> None:
        """Stops the workers (they close their environments), then ``after_close``."""
        self._pool.close()
        if self._after_close is not None:
            self._after_close()
