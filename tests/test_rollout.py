"""The actor: a compiled segment (TensorFlow environment) equals the same steps taken
one by one, and a seed repeats its actions."""

import numpy as np

from harlow.agent.network import ActorCritic
from harlow.learner.rollout import Actor
from harlow.two_step.env import BatchedTwoStep, TwoStepParams


def _actor(seed: int, num_envs: int = 6) -> Actor:
    env = BatchedTwoStep(num_envs, TwoStepParams(trials_per_episode=3), seed=seed)
    agent = ActorCritic(3, 2, 8, seed=0)
    return Actor(env, agent, np.random.default_rng(seed))


def test_a_compiled_segment_equals_the_same_steps_one_by_one():
    compiled, stepped = _actor(1), _actor(1)
    for _ in range(2):  # the carry continues across segments, through episode ends
        segment = compiled.collect(7)
        actions, rewards, dones = zip(*(stepped.step()[:3] for _ in range(7)), strict=True)
        np.testing.assert_array_equal(segment.actions.numpy(), np.stack(actions))
        np.testing.assert_array_equal(segment.rewards.numpy(), np.stack(rewards))
        np.testing.assert_array_equal(segment.dones.numpy(), np.stack(dones))
        np.testing.assert_array_equal(segment.observations.numpy()[-1], stepped.observation)
        assert segment.initial_state.h.shape == (6, 8)
    assert compiled.stats.drain() == stepped.stats.drain()
    assert compiled.time.drain().policy > 0


def test_the_same_seed_repeats_the_segment_and_another_does_not():
    a, b, c = _actor(3).collect(6), _actor(3).collect(6), _actor(4).collect(6)
    np.testing.assert_array_equal(a.actions.numpy(), b.actions.numpy())
    np.testing.assert_array_equal(a.observations.numpy(), b.observations.numpy())
    assert not np.array_equal(a.actions.numpy(), c.actions.numpy())


def test_greedy_actions_are_the_argmax():
    env = BatchedTwoStep(4, TwoStepParams(), seed=0)
    agent = ActorCritic(3, 2, 8, seed=0)
    actor = Actor(env, agent, np.random.default_rng(0), greedy=True)
    state = actor.state
    output, _ = agent.step(
        actor.observation, actor.prev_action, actor.prev_reward, actor.first, state
    )
    actions, *_ = actor.step()
    np.testing.assert_array_equal(actions, np.argmax(output.policy_logits.numpy(), -1))
