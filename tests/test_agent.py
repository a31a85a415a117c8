"""The LSTM actor-critic: one input builder, unroll == steps, resets at episode starts."""

import numpy as np
import tensorflow as tf

from harlow.agent import ActorCritic, LSTMState


def _inputs(t: int, b: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (t, b))]
    prev_actions = rng.integers(-1, 2, (t, b)).astype(np.int32)
    prev_rewards = rng.random((t, b)).astype(np.float32)
    first = rng.random((t, b)) < 0.2
    return obs, prev_actions, prev_rewards, first


def test_core_input_layout_and_episode_start_encoding():
    agent = ActorCritic(3, 2, 4)
    x = agent.core_input(
        tf.constant([[0.0, 1.0, 0.0]]), tf.constant([-1]), tf.constant([0.5])
    ).numpy()
    np.testing.assert_allclose(x, [[0.0, 1.0, 0.0, 0.0, 0.0, 0.5]])
    x = agent.core_input(tf.constant([[1.0, 0.0, 0.0]]), tf.constant([1]), tf.constant([1.0]))
    np.testing.assert_allclose(x.numpy(), [[1.0, 0.0, 0.0, 0.0, 1.0, 1.0]])


def test_unroll_matches_step_by_step_with_resets():
    agent = ActorCritic(3, 2, 6, seed=3)
    t, b = 7, 5
    obs, prev_actions, prev_rewards, first = _inputs(t, b)
    state = LSTMState(tf.random.normal([b, 6]), tf.random.normal([b, 6]))
    unrolled, final = agent.unroll(obs, prev_actions, prev_rewards, first, state)
    step_state = state
    for i in range(t):
        out, step_state = agent.step(obs[i], prev_actions[i], prev_rewards[i], first[i], step_state)
        np.testing.assert_allclose(out.policy_logits, unrolled.policy_logits[i], atol=1e-5)
        np.testing.assert_allclose(out.value, unrolled.value[i], atol=1e-5)
    np.testing.assert_allclose(final.h, step_state.h, atol=1e-5)


def test_static_and_dynamic_unroll_agree():
    agent = ActorCritic(3, 2, 6, seed=4)
    obs, prev_actions, prev_rewards, first = _inputs(6, 3, seed=1)
    state = agent.initial_state(3)
    static, _ = agent.unroll(obs, prev_actions, prev_rewards, first, state)
    spec = [
        tf.TensorSpec([None, 3, 3], tf.float32),
        tf.TensorSpec([None, 3], tf.int32),
        tf.TensorSpec([None, 3], tf.float32),
        tf.TensorSpec([None, 3], tf.bool),
    ]
    dynamic_fn = tf.function(
        lambda o, a, r, f: agent.unroll(o, a, r, f, state)[0], input_signature=spec
    )
    dynamic = dynamic_fn(obs, prev_actions, prev_rewards, first)
    np.testing.assert_allclose(static.policy_logits, dynamic.policy_logits, atol=1e-5)


def test_first_flag_forgets_the_past():
    agent = ActorCritic(3, 2, 6, seed=5)
    obs, prev_actions, prev_rewards, _ = _inputs(1, 2)
    first = np.array([True, True])
    history = LSTMState(tf.random.normal([2, 6]), tf.random.normal([2, 6]))
    with_history, _ = agent.step(obs[0], prev_actions[0], prev_rewards[0], first, history)
    fresh, _ = agent.step(obs[0], prev_actions[0], prev_rewards[0], first, agent.initial_state(2))
    np.testing.assert_allclose(with_history.policy_logits, fresh.policy_logits, atol=1e-6)
    not_first, _ = agent.step(obs[0], prev_actions[0], prev_rewards[0], ~first, history)
    assert not np.allclose(not_first.policy_logits, fresh.policy_logits)


def test_initial_policy_is_near_uniform_and_seeded():
    a, b = ActorCritic(3, 2, 8, seed=1), ActorCritic(3, 2, 8, seed=1)
    for va, vb in zip(a.trainable_variables, b.trainable_variables, strict=True):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    obs, prev_actions, prev_rewards, first = _inputs(4, 16)
    out, _ = a.unroll(obs, prev_actions, prev_rewards, first, a.initial_state(16))
    probs = tf.nn.softmax(out.policy_logits).numpy()
    assert np.abs(probs - 0.5).max() < 0.05
