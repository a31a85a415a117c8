"""Acting in batched environments: the actor's carry and segment collection.

The policy step and the sampling of actions run in one compiled TensorFlow function.
An environment written in TensorFlow (one with ``tf_step``, like the two-step task)
steps inside the graph too: ``Actor.collect`` then runs a whole segment in a single
call, with no conversion between NumPy and TensorFlow on the way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import tensorflow as tf

from harlow.agent.network import ActorCritic, AgentOutput, LSTMState
from harlow.learner.a2c import Segment


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


def sample_actions(
    logits: tf.Tensor, generator: tf.random.Generator | None, greedy: bool
) -> tf.Tensor:
    """One int32 action per row of ``logits``: Gumbel-max samples, or the argmax."""
    if not greedy:
        # Uniforms in (0, 1): the Gumbel noise -log(-log(u)) stays finite.
        uniform = generator.uniform(tf.shape(logits), minval=1e-20, maxval=1.0)
        logits = logits - tf.math.log(-tf.math.log(uniform))
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


@dataclass
class ActingTime:
    """Seconds spent choosing actions (TensorFlow) and stepping the environment.

    An environment stepped inside the compiled acting loop (``tf_step``) is not timed
    apart: all of that loop's time counts as ``policy``.
    """

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


@dataclass
class ChoiceStats:
    """Choices counted by trial, and episodes that timed out, collected between reads.

    Filled from environments whose step ``info`` reports ``choices`` (choices completed
    in the step), ``choice_correct`` and ``trial`` (the 1-based trial each choice
    ended), and optionally ``timed_out``, as the frame-level Harlow environments do;
    others leave it empty.
    """

    made: dict[int, int] = field(default_factory=dict)
    correct: dict[int, int] = field(default_factory=dict)
    timed_out: int = 0

    def add(self, info: dict) -> None:
        """Counts the choices and timed-out episodes of one step's ``info``."""
        if "choices" not in info:
            return
        chosen = np.asarray(info["choices"]) > 0
        trials = np.asarray(info["trial"])[chosen]
        correct = np.asarray(info["choice_correct"])[chosen]
        for trial, right in zip(trials.tolist(), correct.tolist(), strict=True):
            self.made[trial] = self.made.get(trial, 0) + 1
            self.correct[trial] = self.correct.get(trial, 0) + int(right)
        if "timed_out" in info:
            self.timed_out += int(np.sum(info["timed_out"]))

    def merge(self, other: ChoiceStats) -> None:
        """Adds ``other``'s counts to these."""
        for trial, made in other.made.items():
            self.made[trial] = self.made.get(trial, 0) + made
            self.correct[trial] = self.correct.get(trial, 0) + other.correct.get(trial, 0)
        self.timed_out += other.timed_out

    def accuracy(self, first_trial: int, last_trial: int | None = None) -> float | None:
        """Share of the choices of trials ``first_trial``..``last_trial`` (no end: all
        later ones) that were correct; ``None`` without such choices."""
        trials = [
            t for t in self.made if t >= first_trial and (last_trial is None or t <= last_trial)
        ]
        made = sum(self.made[t] for t in trials)
        return sum(self.correct[t] for t in trials) / made if made else None

    def drain(self) -> ChoiceStats:
        """Returns the counts so far and starts again from zero."""
        out = ChoiceStats(self.made, self.correct, self.timed_out)
        self.made, self.correct, self.timed_out = {}, {}, 0
        return out


class Actor:
    """Steps a batched environment with the agent, carrying its inputs and state.

    The carry (last observation, previous action and reward, ``first`` flags
    and the LSTM state) persists across calls, so consecutive segments continue
    the same episodes. Actions are sampled in TensorFlow from a generator seeded
    by ``rng``: the same ``rng`` gives the same actions.
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
        if self.observation.shape != (n, agent.observation_size):
            raise ValueError(
                f"the environment's observations have shape {self.observation.shape}, the "
                f"agent takes ({n}, {agent.observation_size}): its observation spec does "
                "not describe this environment"
            )
        self.prev_action = np.full(n, -1, dtype=np.int32)
        self.prev_reward = np.zeros(n, dtype=np.float32)
        self.first = np.ones(n, dtype=bool)
        self.state = agent.initial_state(n)
        self.stats = EpisodeStats()
        self.choices = ChoiceStats()
        self.time = ActingTime()
        self._episode_return = np.zeros(n, dtype=np.float64)
        self._episode_length = np.zeros(n, dtype=np.int64)
        self._generator = tf.random.Generator.from_seed(int(rng.integers(2**63 - 1)))
        # Concrete functions skip tf.function's per-call argument matching:
        # about a third less overhead on every environment step.
        state_spec = tf.TensorSpec([n, agent.lstm_units], tf.float32)
        self._input_specs = (
            tf.TensorSpec([n, agent.observation_size], tf.float32),
            tf.TensorSpec([n], tf.int32),
            tf.TensorSpec([n], tf.float32),
            tf.TensorSpec([n], tf.bool),
            LSTMState(state_spec, state_spec),
        )
        self._policy = tf.function(self._act).get_concrete_function(*self._input_specs)
        self._rollouts: dict[int, tf.types.experimental.ConcreteFunction] = {}

    def _act(
        self,
        observation: tf.Tensor,
        prev_action: tf.Tensor,
        prev_reward: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
    ) -> tuple[tf.Tensor, LSTMState]:
        """The agent's step and the sampled actions (compiled)."""
        output, state = self.agent.step(observation, prev_action, prev_reward, first, state)
        return sample_actions(output.policy_logits, self._generator, self.greedy), state

    def step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Chooses actions, steps the env, updates the carry.

        Returns ``(actions, rewards, dones, info)`` of the step taken.
        """
        start = time.perf_counter()
        actions, self.state = self._policy(
            self.observation, self.prev_action, self.prev_reward, self.first, self.state
        )
        actions = actions.numpy()
        stepped = time.perf_counter()
        observation, rewards, dones, info = self.env.step(actions)
        self.time.policy += stepped - start
        self.time.env += time.perf_counter() - stepped
        if "frames" in info:
            self.time.frames += int(np.sum(info["frames"]))
        self._track_episodes(rewards, dones)
        self.choices.add(info)
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
        """Takes ``length`` steps and returns them as a time-major ``Segment``.

        With an environment written in TensorFlow the ``length`` steps run in one
        compiled call (the same steps, actions and episodes as ``length`` calls of
        ``step``); otherwise step by step.
        """
        if hasattr(self.env, "tf_step"):
            return self._collect_compiled(length)
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

    @property
    def carry(self) -> tuple[tf.Tensor | np.ndarray, ...]:
        """The inputs of the next step: observation, previous action and reward, ``first``
        flags and the LSTM state (the arguments of ``tf_rollout``)."""
        return (
            self.observation,
            self.prev_action,
            self.prev_reward,
            self.first,
            LSTMState(*self.state),
        )

    @property
    def input_specs(self) -> tuple:
        """The ``tf.TensorSpec`` of each part of ``carry``."""
        return self._input_specs

    def advance(self, carry: tuple, rewards: np.ndarray, dones: np.ndarray) -> None:
        """Takes the carry after a compiled rollout, and its ``[T, B]`` rewards and dones
        for the episode stats."""
        self.observation, self.prev_action, self.prev_reward, self.first, self.state = carry
        for reward, done in zip(rewards, dones, strict=True):
            self._track_episodes(reward, done)

    def _collect_compiled(self, length: int) -> Segment:
        """``collect`` of a TensorFlow environment: one call of a compiled rollout."""
        if length not in self._rollouts:
            self._rollouts[length] = tf.function(self._segment_only).get_concrete_function(
                *self._input_specs, length=length
            )
        start = time.perf_counter()
        segment, carry = self._rollouts[length](*self.carry, length=length)
        self.advance(carry, segment.rewards.numpy(), segment.dones.numpy())
        self.time.policy += time.perf_counter() - start
        return segment

    def _segment_only(self, *carry: tf.Tensor, length: int) -> tuple[Segment, tuple]:
        segment, _, carry = self.tf_rollout(*carry, length=length)
        return segment, carry

    def tf_rollout(
        self,
        observation: tf.Tensor,
        prev_action: tf.Tensor,
        prev_reward: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
        length: int,
        python_loop: bool = True,
    ) -> tuple[Segment, AgentOutput, tuple]:
        """``length`` steps of policy, sampling and ``env.tf_step``, for a ``tf.function``.

        Returns the segment, the agent's outputs at its ``length`` steps (``[T, B]``; a
        learner can differentiate through them, see ``harlow.learner.act_and_learn``) and the
        carry after the last step. With ``python_loop`` the steps are written into the
        graph (fastest for the graph executor), otherwise they run in a while loop (what
        XLA compiles quickly).
        """
        initial_state = state
        arrays = {
            name: tf.TensorArray(dtype, size=length)
            for name, dtype in (
                ("observations", tf.float32),
                ("prev_actions", tf.int32),
                ("prev_rewards", tf.float32),
                ("first", tf.bool),
                ("actions", tf.int32),
                ("rewards", tf.float32),
                ("dones", tf.bool),
                ("logits", tf.float32),
                ("values", tf.float32),
            )
        }
        for t in range(length) if python_loop else tf.range(length):
            output, state = self.agent.step(observation, prev_action, prev_reward, first, state)
            actions = sample_actions(output.policy_logits, self._generator, self.greedy)
            next_observation, rewards, dones = self.env.tf_step(actions)
            written = {
                "observations": observation,
                "prev_actions": prev_action,
                "prev_rewards": prev_reward,
                "first": first,
                "actions": actions,
                "rewards": rewards,
                "dones": dones,
                "logits": output.policy_logits,
                "values": output.value,
            }
            # Rebound, not updated in place: in a while loop the arrays are loop variables.
            arrays = {name: array.write(t, written[name]) for name, array in arrays.items()}
            observation = next_observation
            prev_action = tf.where(dones, -1, actions)
            prev_reward = tf.where(dones, 0.0, rewards)
            first = dones
        stacked = {name: array.stack() for name, array in arrays.items()}

        def with_last(name: str, last: tf.Tensor) -> tf.Tensor:
            return tf.concat([stacked[name], last[None]], axis=0)

        segment = Segment(
            observations=with_last("observations", observation),
            prev_actions=with_last("prev_actions", prev_action),
            prev_rewards=with_last("prev_rewards", prev_reward),
            first=with_last("first", first),
            actions=stacked["actions"],
            rewards=stacked["rewards"],
            dones=stacked["dones"],
            initial_state=initial_state,
        )
        outputs = AgentOutput(stacked["logits"], stacked["values"])
        return segment, outputs, (observation, prev_action, prev_reward, first, state)
