"""Batched two-step task (Daw et al. 2011, Wang et al. 2018 variant) in NumPy.

Contract (one docstring, as promised):
  * ``reset()`` starts ``num_envs`` new episodes and returns their first
    observations, shape ``[num_envs, 3]`` (one-hot of S1, S2, S3).
  * ``step(actions)`` advances every episode by one environment step and returns
    ``(observation, reward, done, info)``. All episodes advance in lockstep: a
    trial is two steps (first stage in S1, second stage in S2 or S3), an episode
    is ``2 * trials_per_episode`` steps, so every episode ends on the same step.
  * Auto-reset: when ``done`` is true, ``reward`` belongs to the step just taken
    and ``observation`` is already the first observation of the next episode.
  * ``info`` is filled on second-stage steps (the end of a trial) with the
    trial's record: ``trial`` (0-based index), ``first_action``, ``common``,
    ``second_state`` (0 for S2, 1 for S3), ``rewarded`` and ``good_state``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_STATES = 3  # S1 (first stage), S2, S3 (second stage)
NUM_ACTIONS = 2


@dataclass(frozen=True)
class TwoStepParams:
    """Task parameters; defaults are those of Wang et al. 2018."""

    common_prob: float = 0.8
    reward_prob_good: float = 0.9
    reward_prob_bad: float = 0.1
    switch_prob: float = 0.025
    trials_per_episode: int = 100

    def __post_init__(self) -> None:
        for name in ("common_prob", "reward_prob_good", "reward_prob_bad", "switch_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.trials_per_episode < 2:
            raise ValueError(f"trials_per_episode must be >= 2, got {self.trials_per_episode}")


class BatchedTwoStep:
    """``num_envs`` two-step episodes advancing in lockstep (see module docstring)."""

    observation_size = NUM_STATES
    num_actions = NUM_ACTIONS

    def __init__(self, num_envs: int, params: TwoStepParams, seed: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.params = params
        self._rng = np.random.default_rng(seed)
        self._eye = np.eye(NUM_STATES, dtype=np.float32)
        self._stage = 0
        self._trial = 0
        self._good_state = np.zeros(num_envs, dtype=np.int64)
        self._second_state = np.zeros(num_envs, dtype=np.int64)
        self._first_action = np.zeros(num_envs, dtype=np.int64)
        self._common = np.zeros(num_envs, dtype=bool)

    @property
    def steps_per_episode(self) -> int:
        """Environment steps in one episode (two per trial)."""
        return 2 * self.params.trials_per_episode

    def close(self) -> None:
        """Nothing to release (arrays only); part of the batched environment interface."""

    def reset(self) -> np.ndarray:
        """Starts new episodes in every environment; returns first observations."""
        self._stage = 0
        self._trial = 0
        self._good_state = self._rng.integers(0, 2, size=self.num_envs)
        return self._first_stage_observation()

    def _first_stage_observation(self) -> np.ndarray:
        return np.repeat(self._eye[:1], self.num_envs, axis=0)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advances every episode by one step; see the module docstring."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        if self._stage == 0:
            return self._first_stage_step(actions)
        return self._second_stage_step()

    def _first_stage_step(self, actions: np.ndarray):
        p = self.params
        self._first_action = actions.astype(np.int64)
        self._common = self._rng.random(self.num_envs) < p.common_prob
        # Action 0 commonly leads to S2 (0), action 1 commonly to S3 (1).
        self._second_state = np.where(self._common, self._first_action, 1 - self._first_action)
        self._stage = 1
        observation = self._eye[1 + self._second_state]
        reward = np.zeros(self.num_envs, dtype=np.float32)
        done = np.zeros(self.num_envs, dtype=bool)
        return observation, reward, done, {}

    def _second_stage_step(self):
        p = self.params
        good = self._second_state == self._good_state
        reward_prob = np.where(good, p.reward_prob_good, p.reward_prob_bad)
        rewarded = self._rng.random(self.num_envs) < reward_prob
        info = {
            "trial": self._trial,
            "first_action": self._first_action,
            "common": self._common,
            "second_state": self._second_state,
            "rewarded": rewarded,
            "good_state": self._good_state.copy(),
        }
        switch = self._rng.random(self.num_envs) < p.switch_prob
        self._good_state = np.where(switch, 1 - self._good_state, self._good_state)
        self._trial += 1
        self._stage = 0
        episode_over = self._trial >= p.trials_per_episode
        done = np.full(self.num_envs, episode_over, dtype=bool)
        if episode_over:
            self.reset()
        return self._first_stage_observation(), rewarded.astype(np.float32), done, info
