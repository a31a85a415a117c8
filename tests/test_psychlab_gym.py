"""HarlowGymEnv: Gymnasium's checker, registration, termination and truncation."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from harlow.datasets import DatasetError, default_dataset_path, load_dataset
from harlow.psychlab.gym_env import ENV_ID, HarlowGymEnv
from harlow.psychlab.protocol import SCREEN_IMAGES
from harlow.psychlab.screen_env import ACTION_MAX, ACTION_MIN, DEGREES_PER_LOOK_UNIT, LOOK_YAW


def make_images(count: int = 4) -> np.ndarray:
    images = np.zeros((count, 256, 256, 3), dtype=np.uint8)
    images[:] = np.arange(count, dtype=np.uint8)[:, None, None, None] * 60
    return images


def test_passes_gymnasiums_env_checker():
    env = HarlowGymEnv(make_images(), [1, 2, 3], width=40, height=36)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test, except the advice
        # to normalise Box actions to [-1, 1]: the actions are DeepMind Lab's own integers.
        warnings.filterwarnings("ignore", message=".*symmetric and normalized space")
        check_env(env, skip_render_check=True)


def test_registered_id_builds_the_environment():
    env = gymnasium.make(ENV_ID, images=make_images(), image_ids=[1, 2], width=32, height=32)
    observation, _ = env.reset(seed=3)
    assert observation.shape == (32, 32, 3) and observation.dtype == np.uint8
    assert env.observation_space.contains(observation)
    low, high = env.action_space.low, env.action_space.high
    assert low.tolist() == [-512, -512, -1, -1, 0, 0, 0]
    assert high.tolist() == [512, 512, 1, 1, 1, 1, 1]
    # The bounds every ScreenEnv checks actions against (screen_env.validate_actions).
    np.testing.assert_array_equal(low, ACTION_MIN)
    np.testing.assert_array_equal(high, ACTION_MAX)
    env.close()


def test_render_returns_the_current_frame():
    env = HarlowGymEnv(make_images(), [1, 2], width=32, height=32, render_mode="rgb_array")
    observation, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), observation)
    with pytest.raises(ValueError, match="render_mode"):
        HarlowGymEnv(make_images(), [1, 2], render_mode="human")


def _look(yaw_degrees: float) -> np.ndarray:
    action = np.zeros(7, dtype=np.int32)
    units = round(yaw_degrees / DEGREES_PER_LOOK_UNIT)
    action[LOOK_YAW] = np.clip(units, ACTION_MIN[LOOK_YAW], ACTION_MAX[LOOK_YAW])
    return action


def test_terminates_after_the_last_trial_and_needs_a_reset():
    env = HarlowGymEnv(make_images(), [1, 2], width=32, height=32, trials_per_episode=2)
    env.reset(seed=1)
    info = env.step(np.zeros(7, dtype=np.int32))[4]
    rewards, terminated = [], False
    for _ in range(200):
        # Look at the screen's centre line, then at the rewarded image (about 17 degrees off).
        target = 0.0
        if info["screen_state"] == SCREEN_IMAGES:
            target = -17.3 if info["correct_side"] == 0 else 17.05
        observation, reward, terminated, truncated, info = env.step(_look(target - info["yaw"]))
        rewards.append(reward)
        assert not truncated
        if terminated:
            break
    assert terminated
    assert sum(rewards) == 2 * 1.0 + 2 * 5.0
    assert observation.shape == (32, 32, 3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7, dtype=np.int32))
    env.reset()
    env.step(np.zeros(7, dtype=np.int32))


def test_time_limit_truncates():
    env = HarlowGymEnv(make_images(), [1, 2], width=32, height=32, episode_length_seconds=0.1)
    env.reset(seed=0)
    outcomes = [env.step(np.zeros(7, dtype=np.int32))[2:4] for _ in range(6)]
    assert outcomes == [(False, False)] * 5 + [(False, True)]


def test_make_without_arguments_plays_the_bundled_faces():
    env = gymnasium.make(ENV_ID)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (84, 84, 3) and observation.dtype == np.uint8
    for _ in range(3):
        observation, reward, terminated, truncated, info = env.step(np.zeros(7, dtype=np.int32))
    assert env.observation_space.contains(observation)
    assert not (terminated or truncated)
    # The training split of datasets/faces: the ids the simulator draws from.
    train_ids = set(load_dataset(default_dataset_path()).train_ids.tolist())
    assert set(env.unwrapped._simulator._image_ids.tolist()) == train_ids
    env.close()


def test_dataset_and_split_choose_the_images(tmp_path):
    env = gymnasium.make(ENV_ID, dataset=str(default_dataset_path()), split="heldout")
    heldout = set(load_dataset(default_dataset_path()).heldout_ids.tolist())
    assert set(env.unwrapped._simulator._image_ids.tolist()) == heldout
    env.close()
    with pytest.raises(ValueError, match="split must be"):
        HarlowGymEnv(split="test")


def test_a_bad_dataset_path_says_which_folder_and_why(tmp_path):
    missing = tmp_path / "no_such_dataset"
    with pytest.raises(DatasetError, match="not a valid dataset") as error:
        gymnasium.make(ENV_ID, dataset=missing)
    assert str(missing) in str(error.value) and "no such folder" in str(error.value)
    with pytest.raises(DatasetError, match="manifest"):
        gymnasium.make(ENV_ID, dataset=tmp_path)  # a folder, but no manifest.json


def test_images_without_ids_play_all_of_them_and_cannot_be_mixed_with_a_dataset():
    env = HarlowGymEnv(make_images(3), width=32, height=32)
    assert env._simulator._image_ids.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="not both"):
        HarlowGymEnv(make_images(3), dataset=default_dataset_path())
    with pytest.raises(ValueError, match="image_ids needs images"):
        HarlowGymEnv(image_ids=[1, 2])
