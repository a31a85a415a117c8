"""Batched environments spread over worker processes, in lockstep, behind one interface.

``ParallelEnv`` runs ``build(spec)`` for each spec in its own worker process (a
``WorkerPool``) and offers the batched contract the trainer uses: ``reset()``,
``step(actions)`` and ``close()``, with every worker's environments concatenated in
spec order. It imports no TensorFlow, so workers start quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harlow.psychlab.dmlab_workers import WorkerPool


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
    ) -> None:
        self.num_envs = sum(spec.num_envs for spec in specs)
        self.observation_size = observation_size
        self.num_actions = num_actions
        self._after_close = after_close
        self._bounds = np.cumsum([0] + [spec.num_envs for spec in specs])
        self._runners = len(specs)
        self._pool = WorkerPool(
            build,
            specs,
            num_workers=len(specs),
            label=label,
            death_hint=death_hint,
            envs_per_spec=[spec.num_envs for spec in specs],
        )

    def reset(self) -> np.ndarray:
        """Starts new episodes everywhere; returns the first observations."""
        return np.concatenate(self._pool.call("reset"))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Steps every environment with its action; infos are concatenated key by key."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        bounds = zip(self._bounds[:-1], self._bounds[1:], strict=True)
        results = self._pool.call("step", [(actions[a:b],) for a, b in bounds])
        observations, rewards, dones, infos = zip(*results, strict=True)
        info = {key: np.concatenate([i[key] for i in infos]) for key in infos[0]}
        return np.concatenate(observations), np.concatenate(rewards), np.concatenate(dones), info

    def call_each(self, method: str, *args: Any) -> list[Any]:
        """Calls ``method(*args)`` on every worker's environments; their results in order."""
        return self._pool.call(method, [args] * self._runners)

    def close(self) -> None:
        """Stops the workers (they close their environments), then ``after_close``."""
        self._pool.close()
        if self._after_close is not None:
            self._after_close()
