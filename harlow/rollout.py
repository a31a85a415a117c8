"""Acting in batched environments: the actor's carry and segment collection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import tensorflow as tf

from harlow.a2c import Segment
from harlow.agent import ActorCritic, LSTMState


class BatchedEnv(Protocol):
    """What the actor needs from an environment (see each env's contract)."""

    num_envs: int
    observation_size: int
    num_actions: int

    def reset(self) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]: ...

    def close(self) -> None:
        """Releases what the environments hold (worker processes, DeepMind Lab instances,
        temporary folders); their owner calls it once done with them."""


def sample_actions(logits: np.ndarray, rng: np.random.Generator, greedy: bool) -> np.ndarray:
    """Samples one action per row of ``logits`` (Gumbel-max), or takes the argmax."""
    if greedy:
        return np.argmax(logits, axis=-1)
    gumbel = -np.log(-np.log(rng.random(logits.shape)))
    return np.argmax(logits + gumbel, axis=-1)


@dataclass
class ActingTime:
    """Seconds spent choosing actions (TensorFlow) and stepping the environment."""

    policy: float = 0.0
    env: float = 0.0
    frames: int = 0  # frames rendered, where the environment reports them (info["frames"])

    def drain(self) -> ActingTime:
        """Returns the totals so far and starts again from zero."""
        out = ActingTime(self.policy, self.env, self.frames)
        self.policy, self.env, self.frames = 0.0, 0.0, 0
        return out


@dataclass
class EpisodeStats:
    """Returns and lengths of episodes that finished, collected between reads."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def drain(self) -> tuple[list[float], list[int]]:
        """Returns the collected stats and clears them."""
        out = (self.returns, self.lengths)
        self.returns, self.lengths = [], []
        return out


class Actor:
    """Steps a batched environment with the agent, carrying its inputs and state.

    The carry (last observation, previous action and reward, ``first`` flags
    and the LSTM state) persists across calls, so consecutive segments continue
    the same episodes.
    """

    def __init__(
        self, env: BatchedEnv, agent: ActorCritic, rng: np.random.Generator, greedy: bool = False
    ) -> None:
        self.env = env
        self.agent = agent
        self.rng = rng
        self.greedy = greedy
        n = env.num_envs
        self.observation = env.reset()
        self.prev_action = np.full(n, -1, dtype=np.int32)
        self.prev_reward = np.zeros(n, dtype=np.float32)
        self.first = np.ones(n, dtype=bool)
        self.state = agent.initial_state(n)
        self.stats = EpisodeStats()
        self.time = ActingTime()
        self._episode_return = np.zeros(n, dtype=np.float64)
        self._episode_length = np.zeros(n, dtype=np.int64)
        # A concrete function skips tf.function's per-call argument matching:
        # about a third less overhead on every environment step.
        state_spec = tf.TensorSpec([None, agent.lstm_units], tf.float32)
        self._policy = tf.function(agent.step).get_concrete_function(
            tf.TensorSpec([None, env.observation_size], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None], tf.bool),
            LSTMState(state_spec, state_spec),
        )

    def step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Chooses actions, steps the env, updates the carry.

        Returns ``(actions, rewards, dones, info)`` of the step taken.
        """
        start = time.perf_counter()
        output, self.state = self._policy(
            self.observation, self.prev_action, self.prev_reward, self.first, self.state
        )
        actions = sample_actions(output.policy_logits.numpy(), self.rng, self.greedy)
        stepped = time.perf_counter()
        observation, rewards, dones, info = self.env.step(actions)
        self.time.policy += stepped - start
        self.time.env += time.perf_counter() - stepped
        if "frames" in info:
            self.time.frames += int(np.sum(info["frames"]))
        self._track_episodes(rewards, dones)
        self.observation = observation
        self.prev_action = np.where(dones, -1, actions).astype(np.int32)
        self.prev_reward = np.where(dones, 0.0, rewards).astype(np.float32)
        self.first = dones
        return actions, rewards, dones, info

    def _track_episodes(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        self._episode_return += rewards
        self._episode_length += 1
        if dones.any():
            self.stats.returns.extend(self._episode_return[dones].tolist())
            self.stats.lengths.extend(self._episode_length[dones].tolist())
            self._episode_return[dones] = 0.0
            self._episode_length[dones] = 0

    def collect(self, length: int) -> Segment:
        """Takes ``length`` steps and returns them as a time-major ``Segment``."""
        initial_state = self.state
        observations, prev_actions, prev_rewards, first = [], [], [], []
        actions, rewards, dones = [], [], []
        for _ in range(length):
            observations.append(self.observation)
            prev_actions.append(self.prev_action)
            prev_rewards.append(self.prev_reward)
            first.append(self.first)
            action, reward, done, _ = self.step()
            actions.append(action)
            rewards.append(reward)
            dones.append(done)
        observations.append(self.observation)
        prev_actions.append(self.prev_action)
        prev_rewards.append(self.prev_reward)
        first.append(self.first)
        return Segment(
            observations=tf.constant(np.stack(observations), tf.float32),
            prev_actions=tf.constant(np.stack(prev_actions), tf.int32),
            prev_rewards=tf.constant(np.stack(prev_rewards), tf.float32),
            first=tf.constant(np.stack(first), tf.bool),
            actions=tf.constant(np.stack(actions), tf.int32),
            rewards=tf.constant(np.stack(rewards), tf.float32),
            dones=tf.constant(np.stack(dones), tf.bool),
            initial_state=LSTMState(*initial_state),
        )
