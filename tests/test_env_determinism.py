"""Same config and seed, same trials, whatever ``config.env.num_workers`` (issue 14).

Every environment draws its episodes from streams keyed by the run's seed and its global
index in the run, so splitting the environments over worker processes changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from env_playback import assert_same, play

from configs.harlow import get_config
from harlow.datasets import default_dataset_path, load_dataset
from harlow.harlow_task.env import make_env
from harlow.psychlab.simulator import BatchedHarlowSimulator

NUM_ENVS = 5  # 2 workers: 2 and 3 environments (worker 1 starts at environment 2)
TRIALS = 12  # two episodes each


def _config(backend: str, num_workers: int):
    config = get_config()
    config.env.backend, config.env.num_workers = backend, num_workers
    return config


def _play(config, seed: int) -> dict[str, np.ndarray]:
    """TRIALS trials under a fixed choice sequence that differs by env and trial."""
    env = make_env(config, NUM_ENVS, seed)
    return play(env, TRIALS, lambda trial: (np.arange(NUM_ENVS) * 3 + trial * trial) % 2)


@pytest.mark.parametrize("num_workers", [1, 2])
def test_simulator_trials_do_not_depend_on_the_number_of_workers(num_workers):
    in_process = _play(_config("simulator", 0), seed=11)
    assert (in_process["left_id"] > 0).all() and in_process["done"][[5, 11]].all()
    assert len(np.unique(in_process["left_id"][0])) > 1  # the environments differ
    assert {-4.0, 6.0} <= set(in_process["reward"].ravel().tolist())  # both outcomes played
    assert_same(in_process, _play(_config("simulator", num_workers), seed=11))
    other_seed = _play(_config("simulator", 0), seed=12)
    assert not np.array_equal(in_process["left_id"], other_seed["left_id"])


def test_dmlab_trials_do_not_depend_on_the_number_of_workers(fake_deepmind_lab):
    in_process = _play(_config("dmlab", 0), seed=11)
    assert (in_process["left_id"] > 0).all() and in_process["done"][[5, 11]].all()
    assert len(np.unique(in_process["left_id"][0])) > 1
    assert_same(in_process, _play(_config("dmlab", 2), seed=11))


def test_simulator_from_first_env_k_replays_environment_k_of_a_bigger_batch():
    faces = load_dataset(default_dataset_path())
    ids = faces.ids("train")
    kwargs = {"width": 48, "height": 48, "seed": 3, "room_jitter": 0.3, "episode_length_seconds": 1}
    batch = BatchedHarlowSimulator(4, faces.images, ids, **kwargs)
    part = BatchedHarlowSimulator(2, faces.images, ids, first_env=2, **kwargs)
    frames_batch, frames_part = batch.reset(), part.reset()
    np.testing.assert_array_equal(frames_batch[2:], frames_part)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(150):  # 60-frame episodes: new ones drawn per environment, twice
        actions = np.zeros((4, 7), np.int32)
        actions[:, :2] = rng.integers(-60, 61, size=(4, 2))
        frames_batch, reward_batch, done_batch, info_batch = batch.step(actions)
        frames_part, reward_part, done_part, info_part = part.step(actions[2:])
        np.testing.assert_array_equal(frames_batch[2:], frames_part)
        np.testing.assert_array_equal(reward_batch[2:], reward_part)
        np.testing.assert_array_equal(done_batch[2:], done_part)
        assert info_batch.keys() == info_part.keys()
        for key, value in info_batch.items():
            np.testing.assert_array_equal(value[2:], info_part[key], err_msg=key)
        ended += int(done_part.sum())
    assert ended == 4
