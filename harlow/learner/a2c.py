"""Advantage actor-critic (A2C) learner: returns, advantages, losses, updates."""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from harlow.agent.network import ActorCritic, AgentOutput, LSTMState


class Segment(NamedTuple):
    """A time-major batch of experience from ``B`` environments.

    The agent inputs (``observations``, ``prev_actions``, ``prev_rewards``,
    ``first``) have ``T + 1`` entries: the last one is the input after the final
    step, used only to bootstrap the value. ``actions``, ``rewards`` and
    ``dones`` have ``T``. ``initial_state`` is the recurrent state before input 0.
    """

    observations: tf.Tensor
    prev_actions: tf.Tensor
    prev_rewards: tf.Tensor
    first: tf.Tensor
    actions: tf.Tensor
    rewards: tf.Tensor
    dones: tf.Tensor
    initial_state: LSTMState


def lambda_returns(
    rewards: tf.Tensor,
    values: tf.Tensor,
    discounts: tf.Tensor,
    bootstrap_value: tf.Tensor,
    lambda_: float,
) -> tf.Tensor:
    """TD(lambda) returns, time-major ``[T, B]``.

    ``G_t = r_t + d_t * ((1 - lambda) * V_{t+1} + lambda * G_{t+1})`` with
    ``G_T = V_T = bootstrap_value``; ``lambda_ = 1`` gives discounted n-step
    returns bootstrapped at the end of the segment, ``d_t`` is zero where an
    episode ended.
    """
    next_values = tf.concat([values[1:], bootstrap_value[None]], axis=0)
    steps = rewards.shape[0]
    if steps is not None:
        # A known length unrolls into the graph: cheaper than tf.scan's loop on CPU.
        returns = []
        acc = bootstrap_value
        for t in reversed(range(steps)):
            acc = rewards[t] + discounts[t] * ((1.0 - lambda_) * next_values[t] + lambda_ * acc)
            returns.append(acc)
        return tf.stack(returns[::-1])

    def backward(acc: tf.Tensor, inputs: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        reward, discount, next_value = inputs
        return reward + discount * ((1.0 - lambda_) * next_value + lambda_ * acc)

    return tf.scan(
        backward,
        (rewards, discounts, next_values),
        initializer=bootstrap_value,
        reverse=True,
    )


class LossWeights(NamedTuple):
    """Coefficients of the A2C loss terms."""

    value: float
    entropy: float


def a2c_loss(
    logits: tf.Tensor,
    values: tf.Tensor,
    actions: tf.Tensor,
    returns: tf.Tensor,
    weights: LossWeights,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Policy-gradient, value and entropy terms, averaged over ``[T, B]``."""
    advantages = tf.stop_gradient(returns - values)
    log_probs = tf.nn.log_softmax(logits)
    action_log_probs = tf.gather(log_probs, actions, batch_dims=2)
    policy_loss = -tf.reduce_mean(action_log_probs * advantages)
    value_loss = 0.5 * tf.reduce_mean(tf.square(tf.stop_gradient(returns) - values))
    entropy = -tf.reduce_mean(tf.reduce_sum(tf.exp(log_probs) * log_probs, -1))
    total = policy_loss + weights.value * value_loss - weights.entropy * entropy
    metrics = {
        "losses/total": total,
        "losses/policy": policy_loss,
        "losses/value": value_loss,
        "policy/entropy": entropy,
        "policy/advantage_mean": tf.reduce_mean(advantages),
        "values/mean": tf.reduce_mean(values),
    }
    return total, metrics


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """RMSProp or Adam, as named in the config."""
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, epsilon=1e-5)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise ValueError(f"optimizer must be 'rmsprop' or 'adam', got {name!r}")


class A2CLearner:
    """Computes A2C gradients on a segment and applies them (compiled with tf.function)."""

    def __init__(
        self,
        agent: ActorCritic,
        optimizer: keras.optimizers.Optimizer,
        discount: float,
        gae_lambda: float,
        value_coef: float,
        entropy_coef: float,
        max_grad_norm: float,
        jit_compile: bool = False,
    ) -> None:
        self.agent = agent
        self.jit_compile = jit_compile
        self.optimizer = optimizer
        self.discount = discount
        self.gae_lambda = gae_lambda
        self.max_grad_norm = max_grad_norm
        # A variable, so a schedule can change it without retracing.
        self.entropy_coef = tf.Variable(entropy_coef, trainable=False, name="entropy_coef")
        self.value_coef = value_coef
        # XLA fuses the unroll's many small ops: about a fifth less time per update on
        # CPU for the two-step LSTM (docs/benchmarks.md), for a second of compiling.
        self.update = tf.function(self._update, jit_compile=jit_compile)

    def _update(self, segment: Segment) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            output, _ = self.agent.unroll(
                segment.observations,
                segment.prev_actions,
                segment.prev_rewards,
                segment.first,
                segment.initial_state,
                python_loop=not self.jit_compile,
            )
            loss, metrics = self.loss(output, segment)
        return self.apply_gradients(
            tape.gradient(loss, self.agent.trainable_variables), loss, metrics
        )

    def loss(self, output: AgentOutput, segment: Segment) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """The A2C loss of ``segment`` from the agent's outputs on its ``T + 1`` inputs
        (the last one bootstraps the value), and its metrics."""
        values = output.value[:-1]
        discounts = self.discount * (1.0 - tf.cast(segment.dones, tf.float32))
        returns = lambda_returns(
            segment.rewards, values, discounts, output.value[-1], self.gae_lambda
        )
        weights = LossWeights(self.value_coef, self.entropy_coef)
        return a2c_loss(output.policy_logits[:-1], values, segment.actions, returns, weights)

    def apply_gradients(
        self, gradients: list[tf.Tensor], loss: tf.Tensor, metrics: dict[str, tf.Tensor]
    ) -> dict[str, tf.Tensor]:
        """Clips ``gradients`` (of ``loss``, in the order of the agent's trainable
        variables) by their global norm and applies them, unless the norm or the loss is
        not finite; returns ``metrics`` with the norm and whether they were applied."""
        variables = self.agent.trainable_variables
        gradients, grad_norm = tf.clip_by_global_norm(gradients, self.max_grad_norm)
        finite = tf.math.is_finite(grad_norm) & tf.math.is_finite(loss)
        if finite:
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {**metrics, "optim/grad_norm": grad_norm, "optim/finite": finite}
