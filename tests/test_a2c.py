"""A2C returns and losses against slow NumPy references; the update step."""

import numpy as np
import pytest
import tensorflow as tf

from harlow.agent.network import ActorCritic
from harlow.learner.a2c import A2CLearner, LossWeights, a2c_loss, lambda_returns, make_optimizer
from harlow.learner.rollout import Actor
from harlow.two_step.env import BatchedTwoStep, TwoStepParams


def _reference_returns(rewards, values, discounts, bootstrap, lam):
    """Slow, obvious TD(lambda) returns, one environment and one step at a time."""
    t_max, batch = rewards.shape
    out = np.zeros_like(rewards)
    for b in range(batch):
        acc = bootstrap[b]
        for t in reversed(range(t_max)):
            next_value = bootstrap[b] if t == t_max - 1 else values[t + 1, b]
            acc = rewards[t, b] + discounts[t, b] * ((1 - lam) * next_value + lam * acc)
            out[t, b] = acc
    return out


@pytest.mark.parametrize("lam", [1.0, 0.9, 0.0])
def test_lambda_returns_match_reference(lam):
    rng = np.random.default_rng(0)
    t, b = 9, 4
    rewards = rng.normal(size=(t, b)).astype(np.float32)
    values = rng.normal(size=(t, b)).astype(np.float32)
    dones = rng.random((t, b)) < 0.2
    discounts = (0.9 * (1 - dones)).astype(np.float32)
    bootstrap = rng.normal(size=b).astype(np.float32)
    got = lambda_returns(rewards, values, discounts, bootstrap, lam).numpy()
    want = _reference_returns(rewards, values, discounts, bootstrap, lam)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_discounted_returns_by_hand():
    rewards = np.array([[1.0], [0.0], [2.0]], np.float32)
    discounts = np.array([[0.5], [0.0], [0.5]], np.float32)  # episode ends after step 1
    got = lambda_returns(
        rewards, np.zeros_like(rewards), discounts, np.array([4.0], np.float32), 1.0
    )
    np.testing.assert_allclose(got.numpy()[:, 0], [1.0, 0.0, 4.0])


def test_a2c_loss_matches_reference():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 2, 2)).astype(np.float32)
    values = rng.normal(size=(3, 2)).astype(np.float32)
    actions = rng.integers(0, 2, (3, 2)).astype(np.int32)
    returns = rng.normal(size=(3, 2)).astype(np.float32)
    total, metrics = a2c_loss(logits, values, actions, returns, LossWeights(0.5, 0.01))
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_p, actions[..., None], -1)[..., 0]
    policy = -np.mean(chosen * (returns - values))
    value = 0.5 * np.mean((returns - values) ** 2)
    entropy = -np.mean((np.exp(log_p) * log_p).sum(-1))
    np.testing.assert_allclose(metrics["losses/policy"], policy, rtol=1e-5)
    np.testing.assert_allclose(metrics["losses/value"], value, rtol=1e-5)
    np.testing.assert_allclose(metrics["policy/entropy"], entropy, rtol=1e-5)
    np.testing.assert_allclose(total, policy + 0.5 * value - 0.01 * entropy, rtol=1e-5)


def _learner(lr=1e-2, grad_norm=1.0, jit_compile=False):
    env = BatchedTwoStep(4, TwoStepParams(trials_per_episode=3), seed=0)
    agent = ActorCritic(3, 2, 8)
    optimizer = make_optimizer("rmsprop", lr)
    optimizer.build(agent.trainable_variables)
    learner = A2CLearner(agent, optimizer, 0.9, 1.0, 0.5, 0.01, grad_norm, jit_compile)
    return learner, Actor(env, agent, np.random.default_rng(0))


def test_xla_update_matches_the_graph_update():
    graph, actor = _learner()
    xla, _ = _learner(jit_compile=True)
    segment = actor.collect(6)
    graph_metrics, xla_metrics = graph.update(segment), xla.update(segment)
    for name in ("losses/total", "losses/policy", "losses/value", "optim/grad_norm"):
        np.testing.assert_allclose(xla_metrics[name], graph_metrics[name], rtol=1e-4)
    for a, b in zip(graph.agent.trainable_variables, xla.agent.trainable_variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5)


def test_update_changes_weights_and_reports_metrics():
    learner, actor = _learner()
    before = [v.numpy().copy() for v in learner.agent.trainable_variables]
    metrics = learner.update(actor.collect(6))
    assert bool(metrics["optim/finite"])
    assert np.isfinite(float(metrics["losses/total"]))
    changed = [
        not np.allclose(b, v.numpy())
        for b, v in zip(before, learner.agent.trainable_variables, strict=True)
    ]
    assert all(changed)


def test_non_finite_loss_skips_the_update():
    learner, actor = _learner()
    segment = actor.collect(6)
    segment = segment._replace(rewards=tf.fill(tf.shape(segment.rewards), np.nan))
    before = [v.numpy().copy() for v in learner.agent.trainable_variables]
    metrics = learner.update(segment)
    assert not bool(metrics["optim/finite"])
    for b, v in zip(before, learner.agent.trainable_variables, strict=True):
        np.testing.assert_array_equal(b, v.numpy())


def test_unknown_optimizer_is_rejected():
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("sgd", 0.1)
