"""LSTM actor-critic: the meta-RL agent of Wang et al. (2018).

The agent sees, at each step, the observation, the previous action (one-hot)
and the previous reward; that input is built in exactly one place,
``ActorCritic.core_input``. Its recurrent state is reset wherever an episode
starts (``first`` is true), so one unroll can span episode boundaries.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


class LSTMState(NamedTuple):
    """Hidden and cell state, each ``[batch, units]``."""

    h: tf.Tensor
    c: tf.Tensor


class AgentOutput(NamedTuple):
    """Policy logits ``[..., num_actions]`` and value ``[...]``."""

    policy_logits: tf.Tensor
    value: tf.Tensor


def _glorot(shape: tuple[int, int], seed: int) -> tf.Tensor:
    limit = (6.0 / (shape[0] + shape[1])) ** 0.5
    return tf.random.stateless_uniform(shape, seed=[seed, 0], minval=-limit, maxval=limit)


def _orthogonal(rows: int, cols: int, seed: int) -> tf.Tensor:
    matrix = tf.random.stateless_normal((max(rows, cols), min(rows, cols)), seed=[seed, 1])
    q, r = tf.linalg.qr(matrix)
    q *= tf.sign(tf.linalg.diag_part(r))
    return q if rows >= cols else tf.transpose(q)


class ActorCritic(tf.Module):
    """Encoder-free LSTM actor-critic with policy and value heads."""

    def __init__(
        self,
        observation_size: int,
        num_actions: int,
        lstm_units: int,
        seed: int = 0,
        name: str = "actor_critic",
    ) -> None:
        super().__init__(name=name)
        self.observation_size = observation_size
        self.num_actions = num_actions
        self.lstm_units = lstm_units
        input_size = observation_size + num_actions + 1
        units = lstm_units
        with self.name_scope:
            self.input_kernel = tf.Variable(_glorot((input_size, 4 * units), seed), name="w_x")
            recurrent = tf.concat([_orthogonal(units, units, seed + 1 + k) for k in range(4)], 1)
            self.recurrent_kernel = tf.Variable(recurrent, name="w_h")
            # Gate order i, f, g, o; forget-gate bias 1 keeps memory early in training.
            bias = tf.concat([tf.zeros(units), tf.ones(units), tf.zeros(2 * units)], 0)
            self.lstm_bias = tf.Variable(bias, name="b")
            self.policy_kernel = tf.Variable(
                0.01 * _glorot((units, num_actions), seed + 10), name="w_pi"
            )
            self.policy_bias = tf.Variable(tf.zeros(num_actions), name="b_pi")
            self.value_kernel = tf.Variable(_glorot((units, 1), seed + 11), name="w_v")
            self.value_bias = tf.Variable(tf.zeros(1), name="b_v")

    def initial_state(self, batch_size: int) -> LSTMState:
        """Zero recurrent state for ``batch_size`` episodes."""
        zeros = tf.zeros((batch_size, self.lstm_units), tf.float32)
        return LSTMState(zeros, zeros)

    def core_input(
        self, observation: tf.Tensor, prev_action: tf.Tensor, prev_reward: tf.Tensor
    ) -> tf.Tensor:
        """The meta-RL input: observation, previous action one-hot, previous reward.

        ``prev_action`` is -1 at the start of an episode, which one-hot encodes
        to all zeros.
        """
        action_one_hot = tf.one_hot(prev_action, self.num_actions, dtype=tf.float32)
        reward = tf.expand_dims(tf.cast(prev_reward, tf.float32), -1)
        return tf.concat([tf.cast(observation, tf.float32), action_one_hot, reward], -1)

    def _cell(self, projected_input: tf.Tensor, state: LSTMState) -> LSTMState:
        z = projected_input + tf.matmul(state.h, self.recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * state.c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return LSTMState(h, c)

    def _heads(self, h: tf.Tensor) -> AgentOutput:
        logits = tf.matmul(h, self.policy_kernel) + self.policy_bias
        value = tf.squeeze(tf.matmul(h, self.value_kernel) + self.value_bias, -1)
        return AgentOutput(logits, value)

    @staticmethod
    def _reset_where_first(first: tf.Tensor, state: LSTMState) -> LSTMState:
        keep = 1.0 - tf.cast(first, tf.float32)[:, None]
        return LSTMState(state.h * keep, state.c * keep)

    def step(
        self,
        observation: tf.Tensor,
        prev_action: tf.Tensor,
        prev_reward: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
    ) -> tuple[AgentOutput, LSTMState]:
        """One step for a batch: inputs ``[B, ...]``; resets state where ``first``."""
        state = self._reset_where_first(first, state)
        x = self.core_input(observation, prev_action, prev_reward)
        state = self._cell(tf.matmul(x, self.input_kernel) + self.lstm_bias, state)
        return self._heads(state.h), state

    def unroll(
        self,
        observations: tf.Tensor,
        prev_actions: tf.Tensor,
        prev_rewards: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
    ) -> tuple[AgentOutput, LSTMState]:
        """Unrolls over time-major inputs ``[T, B, ...]``; outputs are ``[T, B, ...]``."""
        x = self.core_input(observations, prev_actions, prev_rewards)
        projected = tf.einsum("tbi,ij->tbj", x, self.input_kernel) + self.lstm_bias
        static_steps = projected.shape[0]
        if static_steps is not None:
            # A Python loop unrolls into the graph: faster than a while loop on CPU.
            hidden = []
            for t in range(static_steps):
                state = self._cell(projected[t], self._reset_where_first(first[t], state))
                hidden.append(state.h)
            return self._heads(tf.stack(hidden)), state
        steps = tf.shape(projected)[0]
        hidden_array = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            state = self._cell(projected[t], self._reset_where_first(first[t], state))
            hidden_array = hidden_array.write(t, state.h)
        return self._heads(hidden_array.stack()), state
