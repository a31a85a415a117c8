"""Acting and learning in one compiled call equals collecting a segment and then
updating on it: the same segments, episodes and random stream, the same metrics and
weights (to float rounding). Under XLA it repeats itself for a seed."""

import numpy as np
import pytest

from harlow.agent.network import ActorCritic
from harlow.learner.a2c import A2CLearner, make_optimizer
from harlow.learner.act_and_learn import ActAndLearn, can_act_and_learn
from harlow.learner.rollout import Actor
from harlow.two_step.env import BatchedTwoStep, TwoStepParams


def _actor_and_learner(jit_compile: bool) -> tuple[Actor, A2CLearner]:
    # 3-trial episodes: 7-step segments cross episode ends at different points.
    env = BatchedTwoStep(6, TwoStepParams(trials_per_episode=3), seed=5)
    agent = ActorCritic(3, 2, 8, seed=2)
    optimizer = make_optimizer("adam", 1e-2)
    optimizer.build(agent.trainable_variables)
    learner = A2CLearner(agent, optimizer, 0.9, 0.9, 0.5, 0.01, 1.0, jit_compile)
    return Actor(env, agent, np.random.default_rng(7)), learner


def test_one_call_equals_collect_then_update():
    fused_actor, fused_learner = _actor_and_learner(jit_compile=False)
    actor, learner = _actor_and_learner(jit_compile=False)
    fused = ActAndLearn(fused_actor, fused_learner)
    for _ in range(3):  # the carry, the episodes and the weights continue across calls
        fused_metrics = fused(7)
        metrics = learner.update(actor.collect(7))
        for name in ("losses/total", "losses/policy", "losses/value", "optim/grad_norm"):
            np.testing.assert_allclose(fused_metrics[name], metrics[name], rtol=1e-4)
        assert bool(fused_metrics["optim/finite"])
        np.testing.assert_array_equal(fused_actor.observation, actor.observation)
        np.testing.assert_array_equal(fused_actor.prev_action, actor.prev_action)
        np.testing.assert_array_equal(fused_actor.first, actor.first)
        np.testing.assert_allclose(fused_actor.state[0], actor.state[0], atol=1e-5)
    assert fused_actor.stats.drain() == actor.stats.drain()
    for a, b in zip(
        fused_learner.agent.trainable_variables, learner.agent.trainable_variables, strict=True
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_the_update_changes_the_weights(jit_compile):
    actor, learner = _actor_and_learner(jit_compile)
    before = [v.numpy().copy() for v in learner.agent.trainable_variables]
    metrics = ActAndLearn(actor, learner)(5)
    assert bool(metrics["optim/finite"]) and np.isfinite(float(metrics["losses/total"]))
    after = learner.agent.trainable_variables
    assert all(not np.allclose(b, v.numpy()) for b, v in zip(before, after, strict=True))


def test_under_xla_a_seed_repeats_its_run():
    """XLA draws other random numbers than TensorFlow's kernels (so other episodes than
    the graph executor for the same seed), but the same ones for the same seed."""
    runs = []
    for _ in range(2):
        actor, learner = _actor_and_learner(jit_compile=True)
        fused = ActAndLearn(actor, learner)
        metrics = [float(fused(7)["losses/total"]) for _ in range(3)]
        weights = [v.numpy() for v in learner.agent.trainable_variables]
        runs.append((metrics, weights, actor.observation.numpy(), actor.stats.drain()))
    (metrics_a, weights_a, obs_a, stats_a), (metrics_b, weights_b, obs_b, stats_b) = runs
    assert metrics_a == metrics_b and stats_a == stats_b
    np.testing.assert_array_equal(obs_a, obs_b)
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(a, b)


class _NumpyEnv:
    """An environment stepped in NumPy (no tf_step), as the Harlow task's."""

    num_envs, observation_size, num_actions = 2, 3, 2

    def reset(self) -> np.ndarray:
        return np.zeros((2, 3), np.float32)


def test_an_environment_without_tf_step_is_refused_by_name():
    agent = ActorCritic(3, 2, 8, seed=0)
    actor = Actor(_NumpyEnv(), agent, np.random.default_rng(0))
    assert not can_act_and_learn(actor)
    _, learner = _actor_and_learner(jit_compile=False)
    with pytest.raises(ValueError, match="_NumpyEnv has no tf_step"):
        ActAndLearn(actor, learner)


def test_the_actor_and_learner_must_share_the_agent():
    actor, _ = _actor_and_learner(jit_compile=False)
    _, learner = _actor_and_learner(jit_compile=False)
    with pytest.raises(ValueError, match="share one agent"):
        ActAndLearn(actor, learner)
