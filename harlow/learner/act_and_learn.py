"""Acting and learning in one compiled call, for environments written in TensorFlow.

A2C learns from a segment with the weights that collected it: the learner's forward
pass over the segment recomputes, with the same weights and inputs, the outputs the
actor already computed step by step. When the environment steps inside the graph
(``tf_step``, the two-step task), ``ActAndLearn`` records the gradient through the
acting pass itself and skips that second forward pass: the same segment, the same
loss and the same update as ``Actor.collect`` followed by ``A2CLearner.update`` (up to
float rounding), in one call instead of two, with no transfer in between. On the
two-step LSTM that is about twice the steps per second (docs/benchmarks.md).

With the learner's ``jit_compile`` the call is compiled by XLA (the steps in a while
loop). XLA draws other random numbers than TensorFlow's kernels from the same generator
state, so such a run plays other episodes (from the same distributions) than the same
seed in the graph executor; it repeats itself for a seed all the same.
"""

from __future__ import annotations

import tensorflow as tf

from harlow.agent.network import AgentOutput, LSTMState
from harlow.learner.a2c import A2CLearner
from harlow.learner.rollout import Actor


def can_act_and_learn(actor: Actor) -> bool:
    """Whether the actor's environment steps in TensorFlow (``tf_step``)."""
    return hasattr(actor.env, "tf_step")


class ActAndLearn:
    """Collects a segment with ``actor`` and applies ``learner``'s update to it, in one
    ``tf.function`` (compiled by XLA when the learner is); the actor's carry, episode
    stats and random stream advance as with ``actor.collect``."""

    def __init__(self, actor: Actor, learner: A2CLearner) -> None:
        if not can_act_and_learn(actor):
            raise ValueError(
                f"{type(actor.env).__name__} has no tf_step: acting and learning in one call "
                "needs an environment written in TensorFlow"
            )
        if actor.agent is not learner.agent:
            raise ValueError("the actor and the learner must share one agent")
        self.actor = actor
        self.learner = learner
        self._calls: dict[int, tf.types.experimental.ConcreteFunction] = {}

    def __call__(self, length: int) -> dict[str, tf.Tensor]:
        """Takes ``length`` steps in every environment and learns from them; returns the
        learner's metrics."""
        if length not in self._calls:
            compiled = tf.function(self._act_and_learn, jit_compile=self.learner.jit_compile)
            self._calls[length] = compiled.get_concrete_function(
                *self.actor.input_specs, length=length
            )
        metrics, carry, rewards, dones = self._calls[length](*self.actor.carry, length=length)
        self.actor.advance(carry, rewards.numpy(), dones.numpy())
        return metrics

    def _act_and_learn(
        self, *carry: tf.Tensor | LSTMState, length: int
    ) -> tuple[dict[str, tf.Tensor], tuple, tf.Tensor, tf.Tensor]:
        """``carry`` as ``Actor.carry``: the inputs of the segment's first step."""
        agent = self.actor.agent
        with tf.GradientTape() as tape:
            segment, outputs, carry = self.actor.tf_rollout(
                *carry, length=length, python_loop=not self.learner.jit_compile
            )
            bootstrap, _ = agent.step(*carry)  # the value after the last step
            output = AgentOutput(
                tf.concat([outputs.policy_logits, bootstrap.policy_logits[None]], axis=0),
                tf.concat([outputs.value, bootstrap.value[None]], axis=0),
            )
            loss, metrics = self.learner.loss(output, segment)
        gradients = tape.gradient(loss, agent.trainable_variables)
        metrics = self.learner.apply_gradients(gradients, loss, metrics)
        return metrics, carry, segment.rewards, segment.dones
