"""The batched two-step environment: statistics, lockstep, auto-reset, validation."""

import numpy as np
import pytest

from harlow.two_step.env import BatchedTwoStep, TwoStepParams


def _play(env: BatchedTwoStep, episodes: int, rng: np.random.Generator) -> list[dict]:
    env.reset()
    infos = []
    for _ in range(episodes * env.steps_per_episode):
        _, _, _, info = env.step(rng.integers(0, 2, env.num_envs))
        if info:
            infos.append(info)
    return infos


def test_common_transition_frequency_is_080():
    env = BatchedTwoStep(200, TwoStepParams(), seed=1)
    infos = _play(env, 5, np.random.default_rng(0))
    common = np.concatenate([i["common"] for i in infos])
    assert common.size == 200 * 5 * 100
    assert abs(common.mean() - 0.8) < 0.006


def test_transitions_follow_action_and_commonness():
    env = BatchedTwoStep(64, TwoStepParams(), seed=2)
    for info in _play(env, 1, np.random.default_rng(1)):
        expected = np.where(info["common"], info["first_action"], 1 - info["first_action"])
        np.testing.assert_array_equal(info["second_state"], expected)


def test_switch_rate_is_0025():
    env = BatchedTwoStep(500, TwoStepParams(), seed=3)
    infos = _play(env, 2, np.random.default_rng(2))
    good = np.stack([i["good_state"] for i in infos])  # [trials over 2 episodes, envs]
    per_episode = good.reshape(2, 100, 500)
    switches = per_episode[:, 1:] != per_episode[:, :-1]
    assert abs(switches.mean() - 0.025) < 0.003


def test_reward_probabilities_of_good_and_bad_states():
    env = BatchedTwoStep(400, TwoStepParams(), seed=4)
    infos = _play(env, 2, np.random.default_rng(3))
    good = np.concatenate([i["second_state"] == i["good_state"] for i in infos])
    rewarded = np.concatenate([i["rewarded"] for i in infos])
    assert abs(rewarded[good].mean() - 0.9) < 0.01
    assert abs(rewarded[~good].mean() - 0.1) < 0.01


def test_lockstep_episodes_and_auto_reset():
    params = TwoStepParams(trials_per_episode=3)
    env = BatchedTwoStep(5, params, seed=0)
    obs = env.reset()
    np.testing.assert_array_equal(obs, np.tile([1.0, 0.0, 0.0], (5, 1)))
    dones = []
    for step in range(12):
        obs, reward, done, info = env.step(np.zeros(5, dtype=np.int64))
        dones.append(done.copy())
        if step % 2 == 0:  # first stage: now in S2 or S3, no reward, no record
            assert not info and not reward.any()
            assert (obs[:, 0] == 0).all() and (obs[:, 1:].sum(1) == 1).all()
        else:  # second stage: back to S1 with the trial's record
            assert info["trial"] == (step // 2) % 3
            np.testing.assert_array_equal(obs, np.tile([1.0, 0.0, 0.0], (5, 1)))
    done_steps = [i for i, d in enumerate(dones) if d.all()]
    assert done_steps == [5, 11]
    assert not any(d.any() for i, d in enumerate(dones) if i not in done_steps)


def test_seeded_runs_repeat():
    def run(seed):
        env = BatchedTwoStep(8, TwoStepParams(), seed=seed)
        infos = _play(env, 1, np.random.default_rng(0))
        return np.stack([i["rewarded"] for i in infos])

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"common_prob": 1.2}, "common_prob"),
        ({"switch_prob": -0.1}, "switch_prob"),
        ({"trials_per_episode": 1}, "trials_per_episode"),
    ],
)
def test_invalid_parameters_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TwoStepParams(**kwargs)


def test_bad_action_shape_and_env_count():
    env = BatchedTwoStep(3, TwoStepParams(), seed=0)
    env.reset()
    with pytest.raises(ValueError, match="actions must have shape"):
        env.step(np.zeros(4))
    with pytest.raises(ValueError, match="num_envs"):
        BatchedTwoStep(0, TwoStepParams(), seed=0)


def test_tf_step_advances_the_same_episodes_as_step():
    def run(use_tf: bool) -> list[np.ndarray]:
        env = BatchedTwoStep(4, TwoStepParams(trials_per_episode=2), seed=5)
        env.reset()
        rng = np.random.default_rng(0)
        out = []
        for _ in range(10):
            actions = rng.integers(0, 2, 4).astype(np.int32)
            step = env.tf_step(actions) if use_tf else env.step(actions)[:3]
            out += [np.asarray(x) for x in step]
        return out

    for a, b in zip(run(True), run(False), strict=True):
        np.testing.assert_array_equal(a, b)
