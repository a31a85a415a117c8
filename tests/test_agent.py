"""The LSTM actor-critic: one input builder, unroll == steps, resets at episode starts."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from harlow.agent.network import ActorCritic, LSTMState, PatchEncoderSpec
from harlow.learner.a2c import A2CLearner, Segment, make_optimizer


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


def test_while_loop_unroll_matches_the_python_loop():
    agent = ActorCritic(3, 2, 6, seed=4)
    obs, prev_actions, prev_rewards, first = map(tf.constant, _inputs(6, 3, seed=2))
    state = agent.initial_state(3)
    python, python_state = agent.unroll(obs, prev_actions, prev_rewards, first, state)
    looped = tf.function(
        lambda: agent.unroll(obs, prev_actions, prev_rewards, first, state, python_loop=False)
    )
    graph = looped.get_concrete_function().graph
    assert any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
    while_out, while_state = looped()
    np.testing.assert_allclose(python.policy_logits, while_out.policy_logits, atol=1e-5)
    np.testing.assert_allclose(python.value, while_out.value, atol=1e-5)
    np.testing.assert_allclose(python_state.c, while_state.c, atol=1e-5)


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


# A small encoder keeps the tests fast: 8x8 patches -> 3x3x4 -> 1x1x8 -> 6 features each.
_SPEC = PatchEncoderSpec(
    num_patches=2,
    patch_size=8,
    filters=(4, 8),
    kernel_sizes=(3, 3),
    strides=(2, 1),
    embedding_size=6,
)


def _patch_agent(seed: int = 0, units: int = 5) -> ActorCritic:
    return ActorCritic(_SPEC.observation_size, 2, units, seed=seed, encoder=_SPEC)


def _patch_inputs(t: int, b: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs = rng.random((t, b, _SPEC.observation_size)).astype(np.float32)
    _, prev_actions, prev_rewards, first = _inputs(t, b, seed)
    return obs, prev_actions, prev_rewards, first


def test_default_patch_spec_matches_the_harlow_patches():
    spec = PatchEncoderSpec()
    assert spec.observation_size == 2 * 24 * 24
    assert spec.spatial_sizes() == (10, 4)
    assert spec.feature_size == 128
    same = PatchEncoderSpec(filters=[8], kernel_sizes=[7], strides=[5], padding="SAME")
    assert same.filters == (8,) and same.spatial_sizes() == (5,)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("num_patches", {"num_patches": 0}),
        ("patch_size", {"patch_size": -3}),
        ("embedding_size", {"embedding_size": 0}),
        ("filters", {"filters": ()}),
        ("filters", {"filters": 16}),
        ("kernel_sizes", {"kernel_sizes": (5, 0)}),
        ("strides", {"strides": (2, 1.5)}),
        ("strides", {"strides": (2,)}),
        ("padding", {"padding": "FULL"}),
        ("kernel_sizes", {"patch_size": 6, "kernel_sizes": (5, 3)}),
    ],
)
def test_invalid_patch_spec_names_the_field(field, kwargs):
    with pytest.raises(ValueError, match=field):
        PatchEncoderSpec(**kwargs)


def test_encoder_observation_size_mismatch_raises():
    with pytest.raises(ValueError, match=r"observation_size=10\b.*128"):
        ActorCritic(10, 2, 4, encoder=_SPEC)


def test_encoder_none_keeps_the_original_variables():
    agent = ActorCritic(3, 2, 4)
    assert agent.encoder is None
    names = sorted(v.name for v in agent.variables)
    assert names == sorted(
        f"actor_critic/{n}:0" for n in ["w_x", "w_h", "b", "w_pi", "b_pi", "w_v", "b_v"]
    )
    assert agent.input_kernel.shape == (3 + 2 + 1, 16)
    obs = tf.constant([[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(agent.observation_features(obs), obs)


def test_encoder_shapes_for_step_and_unroll():
    agent = _patch_agent()
    assert agent.encoder is _SPEC
    t, b = 4, 3
    obs, prev_actions, prev_rewards, first = _patch_inputs(t, b)
    assert agent.observation_features(obs).shape == (t, b, _SPEC.feature_size)
    x = agent.core_input(obs[0], prev_actions[0], prev_rewards[0])
    assert x.shape == (b, _SPEC.feature_size + 2 + 1)
    out, state = agent.step(
        obs[0], prev_actions[0], prev_rewards[0], first[0], agent.initial_state(b)
    )
    assert out.policy_logits.shape == (b, 2) and out.value.shape == (b,)
    assert state.h.shape == (b, 5)
    out, state = agent.unroll(obs, prev_actions, prev_rewards, first, agent.initial_state(b))
    assert out.policy_logits.shape == (t, b, 2) and out.value.shape == (t, b)
    assert state.c.shape == (b, 5)


def test_encoder_unroll_matches_steps_static_and_dynamic():
    agent = _patch_agent(seed=2)
    t, b = 5, 2
    obs, prev_actions, prev_rewards, first = _patch_inputs(t, b, seed=1)
    state = agent.initial_state(b)
    unrolled, _ = agent.unroll(obs, prev_actions, prev_rewards, first, state)
    step_state = state
    for i in range(t):
        out, step_state = agent.step(obs[i], prev_actions[i], prev_rewards[i], first[i], step_state)
        np.testing.assert_allclose(out.value, unrolled.value[i], atol=1e-5)
    spec = [
        tf.TensorSpec([None, b, _SPEC.observation_size], tf.float32),
        tf.TensorSpec([None, b], tf.int32),
        tf.TensorSpec([None, b], tf.float32),
        tf.TensorSpec([None, b], tf.bool),
    ]
    dynamic_fn = tf.function(
        lambda o, a, r, f: agent.unroll(o, a, r, f, state)[0], input_signature=spec
    )
    dynamic = dynamic_fn(obs, prev_actions, prev_rewards, first)
    np.testing.assert_allclose(dynamic.policy_logits, unrolled.policy_logits, atol=1e-5)


def _flatten_patches(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Batched ``np.stack([left, right]).ravel()``, the patches observation layout."""
    return np.stack([left, right], axis=1).reshape(len(left), -1)


def test_both_patches_share_the_encoder_weights():
    agent = _patch_agent()
    rng = np.random.default_rng(3)
    size = _SPEC.patch_size
    left, right, other = rng.random((3, 4, size, size)).astype(np.float32)
    features = agent.observation_features(_flatten_patches(left, right)).numpy()
    swapped = agent.observation_features(_flatten_patches(right, left)).numpy()
    emb = _SPEC.embedding_size
    assert np.abs(features[:, :emb] - features[:, emb:]).max() > 1e-3
    np.testing.assert_allclose(swapped[:, :emb], features[:, emb:], atol=1e-6)
    np.testing.assert_allclose(swapped[:, emb:], features[:, :emb], atol=1e-6)
    # Each half depends on its own patch only.
    changed = agent.observation_features(_flatten_patches(left, other)).numpy()
    np.testing.assert_array_equal(changed[:, :emb], features[:, :emb])


def test_encoder_init_is_seeded():
    a, b, c = _patch_agent(seed=1), _patch_agent(seed=1), _patch_agent(seed=2)
    for va, vb in zip(a.trainable_variables, b.trainable_variables, strict=True):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert not np.allclose(a.conv_kernels[0].numpy(), c.conv_kernels[0].numpy())
    assert not np.allclose(a.conv_kernels[0].numpy(), a.conv_kernels[1].numpy()[:, :, :1, :4])


def test_gradients_reach_the_conv_kernels():
    agent = _patch_agent()
    obs, prev_actions, prev_rewards, first = _patch_inputs(3, 4)
    with tf.GradientTape() as tape:
        out, _ = agent.unroll(obs, prev_actions, prev_rewards, first, agent.initial_state(4))
        loss = tf.reduce_sum(out.value) + tf.reduce_sum(out.policy_logits)
    variables = [*agent.conv_kernels, *agent.conv_biases, agent.embedding_kernel]
    for variable, grad in zip(variables, tape.gradient(loss, variables), strict=True):
        assert grad is not None, variable.name
        assert np.abs(grad.numpy()).max() > 0, variable.name


def test_encoder_checkpoint_round_trip(tmp_path):
    agent = _patch_agent(seed=0)
    obs, prev_actions, prev_rewards, first = _patch_inputs(3, 2)

    def outputs(a: ActorCritic) -> np.ndarray:
        out, _ = a.unroll(obs, prev_actions, prev_rewards, first, a.initial_state(2))
        return out.policy_logits.numpy()

    expected = outputs(agent)
    path = tf.train.Checkpoint(agent=agent).write(str(tmp_path / "ckpt"))
    fresh = _patch_agent(seed=7)
    assert not np.allclose(outputs(fresh), expected)
    tf.train.Checkpoint(agent=fresh).read(path).assert_consumed()
    np.testing.assert_array_equal(outputs(fresh), expected)


def test_a2c_update_with_the_encoder_is_finite():
    agent = _patch_agent()
    optimizer = make_optimizer("rmsprop", 1e-2)
    optimizer.build(agent.trainable_variables)
    learner = A2CLearner(agent, optimizer, 0.9, 1.0, 0.5, 0.01, 1.0)
    t, b = 4, 2
    obs, prev_actions, prev_rewards, first = _patch_inputs(t + 1, b)
    rng = np.random.default_rng(4)
    segment = Segment(
        observations=tf.constant(obs),
        prev_actions=tf.constant(prev_actions),
        prev_rewards=tf.constant(prev_rewards),
        first=tf.constant(first),
        actions=tf.constant(rng.integers(0, 2, (t, b)), tf.int32),
        rewards=tf.constant(rng.random((t, b)), tf.float32),
        dones=tf.constant(rng.random((t, b)) < 0.2),
        initial_state=agent.initial_state(b),
    )
    before = agent.conv_kernels[0].numpy().copy()
    metrics = learner.update(segment)
    assert bool(metrics["optim/finite"])
    assert all(np.all(np.isfinite(v.numpy())) for v in metrics.values())
    assert not np.allclose(before, agent.conv_kernels[0].numpy())


def test_torso_layer_feeds_the_lstm_and_unrolls_like_steps():
    agent = ActorCritic(3, 2, 6, seed=3, torso_units=10)
    assert agent.torso_kernel.shape == (3 + 2 + 1, 10)
    assert agent.input_kernel.shape == (10, 24)
    t, b = 5, 4
    obs, prev_actions, prev_rewards, first = _inputs(t, b)
    state = agent.initial_state(b)
    unrolled, _ = agent.unroll(obs, prev_actions, prev_rewards, first, state)
    for i in range(t):
        out, state = agent.step(obs[i], prev_actions[i], prev_rewards[i], first[i], state)
        np.testing.assert_allclose(out.policy_logits, unrolled.policy_logits[i], atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(agent.unroll(obs, prev_actions, prev_rewards, first, state)[0].value)
    gradient = tape.gradient(loss, agent.torso_kernel)
    assert float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_torso_units_zero_adds_no_variables_and_negative_raises():
    assert not hasattr(ActorCritic(3, 2, 4), "torso_kernel")
    with pytest.raises(ValueError, match="torso_units"):
        ActorCritic(3, 2, 4, torso_units=-1)


def test_pairwise_differences_compare_every_pair_of_patches():
    spec = dataclasses.replace(_SPEC, num_patches=3, pairwise_differences=True)
    assert spec.pairs == [(0, 1), (0, 2), (1, 2)]
    assert spec.feature_size == 6 * spec.embedding_size
    agent = ActorCritic(spec.observation_size, 2, 4, seed=0, encoder=spec)
    rng = np.random.default_rng(0)
    size, emb = spec.patch_size, spec.embedding_size
    a, b = rng.random((2, 2, size, size)).astype(np.float32)
    observation = np.stack([a, b, a], axis=1).reshape(2, -1)  # third patch = first
    features = agent.observation_features(observation).numpy()
    embeddings = features[:, : 3 * emb].reshape(2, 3, emb)
    differences = features[:, 3 * emb :].reshape(2, 3, emb)
    np.testing.assert_allclose(differences[:, 0], np.abs(embeddings[:, 0] - embeddings[:, 1]))
    np.testing.assert_array_equal(differences[:, 1], 0.0)  # the same image: no difference
    np.testing.assert_allclose(differences[:, 2], np.abs(embeddings[:, 1] - embeddings[:, 2]))


def test_layer_norm_fixes_the_embedding_scale():
    spec = dataclasses.replace(_SPEC, layer_norm=True)
    agent = ActorCritic(spec.observation_size, 2, 4, seed=0, encoder=spec)
    assert agent.embedding_norm_gain.shape == (spec.embedding_size,)
    obs, *_ = _patch_inputs(3, 4)
    features = agent.observation_features(obs).numpy()
    # Whatever scale training gives the projection, the embeddings keep theirs.
    agent.embedding_kernel.assign(agent.embedding_kernel * 50.0)
    agent.embedding_bias.assign(tf.fill(agent.embedding_bias.shape, 3.0))
    np.testing.assert_allclose(agent.observation_features(obs).numpy(), features, atol=1e-3)
    # Each patch's pre-ReLU embedding has mean 0 and variance 1 before gain and offset.
    agent.embedding_norm_offset.assign(tf.fill(agent.embedding_norm_offset.shape, 10.0))
    shifted = agent.observation_features(obs).numpy().reshape(-1, spec.embedding_size) - 10.0
    np.testing.assert_allclose(shifted.mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(shifted.var(-1), 1.0, atol=1e-2)


def test_layer_norm_gain_and_offset_are_trained():
    spec = dataclasses.replace(_SPEC, layer_norm=True)
    agent = ActorCritic(spec.observation_size, 2, 4, seed=0, encoder=spec)
    obs, prev_actions, prev_rewards, first = _patch_inputs(3, 2)
    with tf.GradientTape() as tape:
        out, _ = agent.unroll(obs, prev_actions, prev_rewards, first, agent.initial_state(2))
        loss = tf.reduce_sum(out.value)
    gain, offset = tape.gradient(loss, [agent.embedding_norm_gain, agent.embedding_norm_offset])
    assert float(tf.reduce_sum(tf.abs(gain))) > 0 and float(tf.reduce_sum(tf.abs(offset))) > 0
    assert not hasattr(_patch_agent(), "embedding_norm_gain")  # off by default
