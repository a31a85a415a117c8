"""The frame-level Harlow task's environments, config checks and agent, built from a config."""

from pathlib import Path

import numpy as np
import pytest

from harlow.agent.builder import build_agent
from harlow.config.files import load_config_file
from harlow.config.validation import validate_config
from harlow.harlow_frames.env import (
    NUM_ACTIONS,
    ParallelFrameEnv,
    SpawnYawCurriculum,
    make_env,
)
from harlow.tasks import get_task

CONFIG_FILE = Path(__file__).resolve().parent.parent / "configs" / "harlow_frames.py"


def _config(**env):
    config = load_config_file(CONFIG_FILE)
    config.env.num_workers = 0
    config.env.frame_size = 48
    config.env.observation_size = 24
    config.agent.lstm_units = 16
    config.agent.conv_filters = (4, 8)
    config.agent.conv_kernel_sizes = (4, 3)
    config.agent.conv_strides = (2, 2)
    config.agent.conv_embedding_size = 16
    for key, value in env.items():
        config.env[key] = value
    return config


def _play(env, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    observations = [env.reset()]
    rewards = []
    for _ in range(steps):
        obs, reward, _, _ = env.step(rng.integers(0, NUM_ACTIONS, env.num_envs))
        observations.append(obs)
        rewards.append(reward)
    env.close()
    return np.stack(observations), np.stack(rewards)


def test_observations_are_the_specs_grayscale_frames():
    config = _config(show_chosen=False, chosen_view="chosen")  # the frame alone
    spec = get_task("harlow_frames").observation_spec(config)
    assert spec.image_layout() == (1, 24)
    env = make_env(config, 3, seed=0)
    observations, _ = _play(env, 2)
    assert observations.shape == (3, 3, 24 * 24)
    assert observations.min() >= 0.0 and observations.max() <= 1.0
    assert build_agent(config).observation_size == spec.size


def test_a_fovea_and_the_chosen_view_follow_the_frame_and_reach_the_agent():
    config = _config(fovea_size=16, show_chosen=True)
    validate_config(config)
    spec = get_task("harlow_frames").observation_spec(config)
    assert [part.name for part in spec.parts] == ["frame", "fovea", "chosen"]
    assert spec.image_layout() == (3, 24)
    config.env.num_workers = 2
    env = make_env(config, 3, seed=0)
    observations, _ = _play(env, 2)
    assert observations.shape == (3, 3, 3 * 24 * 24)
    assert not observations[..., -24 * 24 :].any()  # no choice yet
    agent = build_agent(config)
    assert agent.observation_size == spec.size
    assert agent.encoder.num_patches == 3


def test_results_do_not_depend_on_worker_processes():
    in_process = make_env(_config(), 4, seed=7)
    workers = make_env(_config(num_workers=2), 4, seed=7)
    assert isinstance(workers, ParallelFrameEnv)
    a_obs, a_rewards = _play(in_process, 12)
    b_obs, b_rewards = _play(workers, 12)
    np.testing.assert_array_equal(a_obs, b_obs)
    np.testing.assert_array_equal(a_rewards, b_rewards)


def test_the_spawn_range_widens_over_the_runs_env_steps():
    config = _config(spawn_curriculum_steps=40, spawn_yaw_range_deg=20.0)
    env = make_env(config, 4, seed=0)
    assert isinstance(env, SpawnYawCurriculum)
    env.reset()
    assert env.spawn_yaw_range_deg == 0.0
    env.step(np.zeros(4, int))  # 4 env steps of the run
    assert env.spawn_yaw_range_deg == pytest.approx(2.0)
    assert env.env.screen.spawn_yaw_range_deg == pytest.approx(2.0)
    env.start_at(30)  # a resumed run
    assert env.spawn_yaw_range_deg == pytest.approx(15.0)
    env.step(np.zeros(4, int))
    env.step(np.zeros(4, int))
    assert env.spawn_yaw_range_deg == pytest.approx(19.0)
    env.step(np.zeros(4, int))
    assert env.spawn_yaw_range_deg == 20.0  # the level's range once the curriculum is over
    env.close()


def test_a_curriculum_start_puts_the_gaze_on_the_cross():
    env = make_env(_config(spawn_curriculum_steps=10**6), 4, seed=1)
    env.reset()
    _, rewards, _, info = env.step(np.zeros(4, int))  # hold still
    np.testing.assert_allclose(info["gaze_x"], 0.5, atol=1e-6)
    rewards = rewards + env.step(np.zeros(4, int))[1]
    assert (rewards == 1.0).all()  # the fixation reward, for holding the cross
    env.close()


def test_without_a_curriculum_episodes_spawn_off_the_cross():
    env = make_env(_config(spawn_curriculum_steps=0), 8, seed=2)
    env.reset()
    _, _, _, info = env.step(np.zeros(8, int))
    assert np.abs(info["gaze_x"] - 0.5).max() > 0.05
    env.close()


def test_workers_forward_the_curriculums_start():
    env = make_env(_config(num_workers=2, spawn_curriculum_steps=100), 4, seed=0)
    env.start_at(50)
    assert env.call_each("start_at", 50) == [None, None]
    env.close()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("observation_size", 64, "exceeds config.env.frame_size"),
        ("action_repeat", 0, r"config.env.action_repeat must be in \[1, 60\]"),
        ("spawn_curriculum_steps", -1, "config.env.spawn_curriculum_steps must be >= 0"),
        ("backend", "unity", "config.env.backend must be 'simulator' or 'dmlab'"),
        ("fovea_size", -1, r"config.env.fovea_size must be in \[0, "),
        ("fovea_size", 64, "config.env.fovea_size=64 exceeds config.env.frame_size=48"),
        ("chosen_view", "left", "config.env.chosen_view must be 'chosen' or 'rewarded'"),
        ("show_chosen", False, "chosen_view='rewarded' needs config.env.show_chosen=True"),
        ("room_jitter", 1.5, r"config.env.room_jitter must be in \[0, 0.9\]"),
    ],
)
def test_bad_frame_settings_name_the_field(field, value, message):
    config = _config()
    config.env[field] = value
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_room_jitter_varies_the_room_and_not_the_screen():
    """With room_jitter the simulator draws each episode's room greys: the first frames
    differ from the unjittered ones, while the cross at the centre of the screen's face,
    where the gaze starts, stays as it was."""
    plain, jittered = (
        make_env(_config(room_jitter=jitter, spawn_curriculum_steps=10**6), 2, seed=3)
        for jitter in (0.0, 0.6)
    )
    assert jittered.env.screen.room_jitter == 0.6
    plain_obs, jittered_obs = plain.reset(), jittered.reset()
    plain.close()
    jittered.close()
    changed = np.abs(plain_obs - jittered_obs) > 1e-6
    assert changed.any()
    centre = np.zeros((24, 24), bool)
    centre[8:16, 8:16] = True  # the cross on the screen's face, where the gaze starts
    assert not changed.reshape(2, -1, 24, 24)[:, 0][:, centre].any()


def test_unbalanced_sides_are_for_simulator_training_only():
    config = _config(balanced_sides=False)
    env = make_env(config, 2, seed=0)
    assert env.env.screen.balanced_sides is False
    env.close()
    config.env.backend = "dmlab"
    with pytest.raises(ValueError, match="config.env.balanced_sides=False needs"):
        make_env(config, 2, seed=0)
    config = _config()
    del config.env["balanced_sides"]  # optional: configs from before it keep the level's rule
    validate_config(config)
    assert make_env(config, 1, seed=0).env.screen.balanced_sides is True
    config.env.balanced_sides = "no"
    with pytest.raises(ValueError, match="config.env.balanced_sides must be true or false"):
        validate_config(config)


def test_the_shipped_config_builds_its_agent():
    config = load_config_file(CONFIG_FILE)
    validate_config(config)
    agent = build_agent(config)
    assert agent.num_actions == NUM_ACTIONS == 7
    assert agent.encoder is not None and agent.encoder.patch_size == 84
    assert agent.encoder.num_patches == 2 and agent.encoder.pairwise_differences
