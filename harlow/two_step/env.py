"""Batched two-step task (Daw et al. 2011, Wang et al. 2018 variant) in TensorFlow.

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
  * ``tf_step(actions)`` is the same step on tensors, for a compiled acting loop
    (``harlow.learner.rollout.Actor.collect`` steps the environment inside its graph):
    ``(observation, reward, done)``. ``step`` calls it, so there is one copy of the
    task's logic, and both advance the same state and the same random stream: a seed
    gives the same episodes whichever of them steps.

TensorFlow is imported when an environment is built, not with this module: config
validation (``harlow.sweep``) reads the constants below without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harlow.observation_spec import ONE_HOT, ObservationPart, ObservationSpec

NUM_STATES = 3  # S1 (first stage), S2, S3 (second stage)
NUM_ACTIONS = 2
OBSERVATION_SPEC = ObservationSpec((ObservationPart("state", (NUM_STATES,), ONE_HOT),))


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

    observation_spec = OBSERVATION_SPEC
    observation_size = NUM_STATES
    num_actions = NUM_ACTIONS

    def __init__(self, num_envs: int, params: TwoStepParams, seed: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        import tensorflow as tf

        self.num_envs = num_envs
        self.params = params
        n = num_envs
        with tf.init_scope():  # variables, even when built inside a tf.function
            self._rng = tf.random.Generator.from_seed(seed)
            self._stage = tf.Variable(0, trainable=False, name="stage")
            self._trial = tf.Variable(0, trainable=False, name="trial")
            self._good_state = tf.Variable(tf.zeros(n, tf.int32), trainable=False)
            self._first_action = tf.Variable(tf.zeros(n, tf.int32), trainable=False)
            self._common = tf.Variable(tf.zeros(n, tf.bool), trainable=False)
        self._eye = tf.eye(NUM_STATES, dtype=tf.float32)
        self._reset_fn = tf.function(self._tf_reset).get_concrete_function()
        self._step_fn = tf.function(self._step_with_record).get_concrete_function(
            tf.TensorSpec([n], tf.int32)
        )

    @property
    def steps_per_episode(self) -> int:
        """Environment steps in one episode (two per trial)."""
        return 2 * self.params.trials_per_episode

    def close(self) -> None:
        """Nothing to release (tensors only); part of the batched environment interface."""

    def reset(self) -> np.ndarray:
        """Starts new episodes in every environment; returns first observations."""
        return self._reset_fn().numpy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advances every episode by one step; see the module docstring."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        observation, reward, done, record = self._step_fn(actions.astype(np.int32))
        info = {}
        if bool(record["trial_ended"]):
            info = {"trial": int(record["trial"])}
            for key in ("first_action", "second_state", "good_state"):
                info[key] = record[key].numpy().astype(np.int64)
            info["common"] = record["common"].numpy()
            info["rewarded"] = record["rewarded"].numpy()
        return observation.numpy(), reward.numpy(), done.numpy(), info

    def tf_step(self, actions):
        """``step`` on tensors: ``(observation, reward, done)`` for int32 ``actions [n]``."""
        return self._step_with_record(actions)[:3]

    def _tf_reset(self):
        import tensorflow as tf

        self._stage.assign(0)
        self._trial.assign(0)
        self._good_state.assign(tf.cast(self._rng.uniform([self.num_envs]) < 0.5, tf.int32))
        return tf.tile(self._eye[:1], [self.num_envs, 1])

    def _step_with_record(self, actions):
        """One step of every episode, first or second stage (all are in the same stage)."""
        import tensorflow as tf

        p = self.params
        n = self.num_envs
        first_stage = tf.equal(self._stage, 0)
        # One draw per step: transition, reward, switch and the next episode's good state.
        draws = self._rng.uniform([4, n])
        # First stage: remember the action and draw the transition.
        first_action = tf.where(first_stage, actions, self._first_action)
        common = tf.where(first_stage, draws[0] < p.common_prob, self._common)
        # Action 0 commonly leads to S2 (0), action 1 commonly to S3 (1).
        second_state = tf.where(common, first_action, 1 - first_action)
        # Second stage: reward, switch of the good state, end of the trial and episode.
        good_state = self._good_state.value()
        reward_prob = tf.where(second_state == good_state, p.reward_prob_good, p.reward_prob_bad)
        rewarded = tf.logical_and(draws[1] < reward_prob, tf.logical_not(first_stage))
        switched = tf.where(draws[2] < p.switch_prob, 1 - good_state, good_state)
        trial = self._trial.value()
        episode_over = tf.logical_and(
            tf.logical_not(first_stage), trial + 1 >= p.trials_per_episode
        )
        next_episode_good = tf.cast(draws[3] < 0.5, tf.int32)
        new_good = tf.where(
            first_stage, good_state, tf.where(episode_over, next_episode_good, switched)
        )
        self._first_action.assign(first_action)
        self._common.assign(common)
        self._good_state.assign(new_good)
        self._trial.assign(tf.where(first_stage, trial, tf.where(episode_over, 0, trial + 1)))
        self._stage.assign(1 - self._stage)
        state_index = tf.where(first_stage, 1 + second_state, tf.zeros_like(second_state))
        observation = tf.gather(self._eye, state_index)
        done = tf.fill([n], episode_over)
        record = {
            "trial_ended": tf.logical_not(first_stage),
            "trial": trial,
            "first_action": first_action,
            "common": common,
            "second_state": second_state,
            "rewarded": rewarded,
            "good_state": good_state,
        }
        return observation, tf.cast(rewarded, tf.float32), done, record
