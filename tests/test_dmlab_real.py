"""The adapter and harlow_custom.lua on the real DeepMind Lab (skipped when it is not installed).

The module imports TensorFlow first, as the whole suite does: DeepMind Lab's software
renderer crashes next to it, so every Lab must live in a worker process.

The recordings in shared/fixtures/dmlab_harlow were made on the stock Harlow factory with
trainBatch = 24; DeepMind Lab is deterministic for a seed, config and action sequence, so
replaying a recorded episode through the project's level script must give the same
rewards, trial records, image pair and frames.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow  # noqa: F401 - as in the whole suite: the engine must cope with it
from dmlab_replay import RecordedEpisodeReplay, ReplaySpec
from PIL import Image
from ray_cluster import CLIENT_ENV

from harlow.psychlab.dmlab import (
    DmlabHarlowEnv,
    HarlowLevelSettings,
    measure_steps_per_second,
    parse_trial_record,
)
from harlow.psychlab.dmlab_workers import WorkerPool
from harlow.psychlab.observations import IdsObserver
from harlow.psychlab.saccade import SaccadeWrapper

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"


@pytest.fixture(scope="module")
def deepmind_lab():
    """The real deepmind_lab module."""
    try:
        module = importlib.import_module("deepmind_lab")
    except ImportError as error:
        pytest.skip(
            f"deepmind_lab is not importable ({error}); build it from source with Bazel "
            "(github.com/google-deepmind/lab) to run these tests"
        )
    if getattr(module, "IS_FAKE", False):
        pytest.skip("only the test fake of deepmind_lab is importable")
    return module


@pytest.fixture(scope="module")
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"the DeepMind Lab recordings are not at {FIXTURES}")
    return FIXTURES


@pytest.fixture
def private_tmp(monkeypatch, tmp_path) -> Path:
    """Every temporary folder (the adapter's and the engine's) goes under tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return tmp_path


def _dataset(fixtures: Path) -> np.ndarray:
    paths = sorted((fixtures / "dataset").glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def test_level_script_replays_a_recorded_episode(deepmind_lab, fixtures, private_tmp):
    """In a worker: the suite has imported TensorFlow, next to which the engine crashes."""
    spec = ReplaySpec(fixtures, "harlow_84.npz", 0, private_tmp)
    pool = WorkerPool(RecordedEpisodeReplay, [spec], num_workers=1, label="replay")
    try:
        (replay,) = pool.call("run")
    finally:
        pool.close()
    episode = replay["episode"]
    assert episode["terminated"]
    assert replay["pairs"] == [[str(episode["correct_id"]), str(episode["incorrect_id"])]]
    assert replay["rewards"] == replay["recorded_rewards"]
    assert replay["final_reward"] == episode["final_step"]["reward"]
    assert not replay["running"]
    assert replay["same_pixels"] > 0.99
    recorded = [(t["trial"], t["correct"]) for t in episode["trials"]]
    parsed = [parse_trial_record(r) for r in replay["records"]]
    assert [(int(p["trial"]), int(p["correct"])) for p in parsed] == recorded


def test_adapter_runs_the_real_level_in_workers(deepmind_lab, fixtures, private_tmp):
    images = _dataset(fixtures)
    env = DmlabHarlowEnv(2, images, list(range(1, 25)), num_workers=2, seed=1)
    try:
        frames = env.reset()
        assert frames.shape == (2, 84, 84, 3) and frames.dtype == np.uint8
        red = (frames[..., 0] > 200) & (frames[..., 1] < 60) & (frames[..., 2] < 60)
        assert red.sum(axis=(1, 2)).min() > 0  # the cross is in view in the first frame
        for _ in range(10):
            frames, rewards, dones, info = env.step(np.zeros((2, 7), np.int64))
        assert not dones.any() and info["correct_image"].min() >= 0
        assert np.all(info["correct_image"] != info["incorrect_image"])
    finally:
        env.close()
    assert os.listdir(private_tmp) == []


def test_report_real_throughput(deepmind_lab, fixtures, private_tmp):
    """Prints steps per second (run with -s); a measurement, not an assertion."""
    images = _dataset(fixtures)
    for num_workers in (0, 2):
        env = DmlabHarlowEnv(2, images, list(range(1, 25)), num_workers=num_workers)
        try:
            rate = measure_steps_per_second(env, num_steps=300)
        finally:
            env.close()
        print(f"DeepMind Lab 2 envs, 84x84, num_workers={num_workers}: {rate:.0f} steps/s")


def test_every_trial_reads_fixation_plus_choice_reward(deepmind_lab, fixtures, private_tmp):
    """Trial 1 takes different numbers of frames by spawn angle; rewards stay per trial."""
    num_envs = 8
    backend = DmlabHarlowEnv(num_envs, _dataset(fixtures), list(range(1, 25)), seed=4)
    wrapper = SaccadeWrapper(backend, IdsObserver(num_envs))
    try:
        wrapper.reset()
        rng = np.random.default_rng(0)
        frames = []
        for _ in range(7):
            _, reward, _, info = wrapper.step(rng.integers(0, 2, num_envs))
            np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)
            assert info["timeouts"].sum() == 0
            frames.append(info["frames"])
    finally:
        wrapper.close()
    assert os.listdir(private_tmp) == []


def test_episodes_start_in_place_between_resets(deepmind_lab, fixtures, private_tmp):
    """episodes_per_reset: the next episode starts without reloading the level."""
    num_envs = 2
    level = HarlowLevelSettings(episodes_per_reset=3)
    backend = DmlabHarlowEnv(num_envs, _dataset(fixtures), list(range(1, 25)), seed=5, level=level)
    wrapper = SaccadeWrapper(backend, IdsObserver(num_envs))
    try:
        wrapper.reset()
        rng = np.random.default_rng(2)
        dones, pairs = [], []
        for _ in range(18):
            _, reward, done, info = wrapper.step(rng.integers(0, 2, num_envs))
            np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)
            assert info["timeouts"].sum() == 0
            dones.append(bool(done.all()))
            pairs.append(frozenset((int(info["left_id"][0]), int(info["right_id"][0]))))
    finally:
        wrapper.close()
    assert dones == ([False] * 5 + [True]) * 3
    assert len({pairs[0], pairs[6], pairs[12]}) == 3
    assert all(pairs[t] == pairs[6 * (t // 6)] for t in range(18))


def test_frame_level_task_on_the_real_level(deepmind_lab, private_tmp):
    """The frame-level environments of configs/harlow_frames.py on the engine: frames
    as the agent sees them, and the level's time limit ending an episode with no choice
    as a timed-out one (the level is given 2 s: 120 frames, 30 steps of 4)."""
    from harlow.config.files import load_config_file
    from harlow.harlow_frames.env import NUM_ACTIONS, make_env

    config = load_config_file(Path(__file__).resolve().parents[1] / "configs/harlow_frames.py")
    config.env.num_workers = 0  # the adapter puts its Labs in workers itself
    # The frame alone, 4 frames per step, and the level's own sides (needed on the engine).
    config.env.update(
        observation_size=42,
        action_repeat=4,
        show_chosen=False,
        chosen_view="chosen",
        balanced_sides=True,
    )
    env = make_env(config, 2, seed=3, split="heldout", episode_length_seconds=2.0)
    try:
        observations = env.reset()
        assert observations.shape == (2, 42 * 42)
        assert observations.min() >= 0.0 and observations.max() <= 1.0
        ends = []
        for step in range(1, 40):
            # Keeps turning left by 160 units (17 degrees): the gaze leaves the screen
            # within two steps, so no fixation and no choice (the engine is deterministic
            # for a seed: these spawns do not land on the cross first).
            _, rewards, dones, info = env.step(np.full(2, 5))
            assert NUM_ACTIONS == 7 and (rewards == 0).all() and (info["choices"] == 0).all()
            if dones.any():
                assert dones.all() and info["timed_out"].all()
                ends.append(step)
        assert ends[0] == 30
    finally:
        env.close()
    assert os.listdir(private_tmp) == []


def test_trials_on_ray_actors_equal_local_workers_on_the_real_level(deepmind_lab, monkeypatch):
    """The trial-level environments on the engine in 2 Ray actors (a private local Ray
    instance) play what 2 local worker processes play, and leave no Lab folder behind."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    # As the cluster tests' clients: a private instance with Ray's default token auth
    # leaves this process unable to use the test cluster started later (its actors are
    # cancelled before they start).
    for key, value in CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    from configs.harlow import get_config
    from harlow.harlow_task.env import make_env
    from harlow.psychlab.dmlab import TEMP_PREFIX

    def play(executor: str) -> list[np.ndarray]:
        config = get_config()
        config.env.backend, config.env.executor = "dmlab", executor
        env = make_env(config, 4, seed=5, split="heldout")
        try:
            record = [env.reset()]
            for trial in range(8):
                observation, reward, done, info = env.step((np.arange(4) + trial) % 2)
                record += [observation, reward, done, info["left_id"], info["right_id"]]
            return record
        finally:
            env.close()

    before = set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"))
    try:
        on_ray = play("ray")
    finally:
        ray.shutdown()
    local = play("processes")
    for expected, actual in zip(local, on_ray, strict=True):
        np.testing.assert_array_equal(expected, actual)
    assert set(local[2].tolist()) <= {6.0, -4.0}  # fixation +1 and the choice's +-5
    assert set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")) == before


class _KeepsFrames:
    """A screen environment that keeps the RGB frames it last returned (for a controller)."""

    def __init__(self, screen) -> None:
        self.screen = screen
        self.num_envs, self.height, self.width = screen.num_envs, screen.height, screen.width
        self.frames = None

    def reset(self):
        self.frames = self.screen.reset()
        return self.frames

    def step(self, actions):
        self.frames, *rest = self.screen.step(actions)
        return (self.frames, *rest)

    def close(self):
        self.screen.close()


def _look_move_towards(frame: np.ndarray, moves, side: int) -> int:
    """The yaw move that turns the gaze closest to the cross, else to the image on ``side``
    (0 left, 1 right)."""
    from harlow.psychlab.screen_env import DEGREES_PER_LOOK_UNIT
    from preprocessing.locate import locate

    found = locate(frame)
    image = found.left if side == 0 else found.right
    if found.cross_center is not None:
        x = found.cross_center[0]
    elif image is not None:
        x = image.x + image.width / 2
    else:
        return 0
    half_width = frame.shape[1] / 2  # a 90-degree field of view: tan(45) = 1
    units = np.degrees(np.arctan((x - half_width) / half_width)) / DEGREES_PER_LOOK_UNIT
    return int(np.argmin([abs(units - yaw) for yaw, _ in moves.moves]))


@pytest.mark.parametrize("chosen_view", ["chosen", "rewarded"])
def test_the_chosen_view_is_the_kept_half_of_the_onset_frame_on_the_real_level(
    deepmind_lab, fixtures, private_tmp, chosen_view
):
    """The frame-level show_chosen on the engine: after each choice (left, right, left, ...),
    the view held is the images' first frame of the trial (the one before the fixation
    reward's) with one half blanked; its other half shows the image. That half is the chosen
    one, or with chosen_view="rewarded" the rewarded image's: the chosen half after a right
    choice, the other after a wrong one (played until both have been seen)."""
    from harlow.psychlab.frame_env import FrameHarlowEnv

    screen = _KeepsFrames(DmlabHarlowEnv(1, _dataset(fixtures), list(range(1, 25)), seed=2))
    env = FrameHarlowEnv(screen, size=28, grayscale=True, show_chosen=True, chosen_view=chosen_view)
    view, half = 28 * 28, 14
    try:
        before_previous = previous = env.reset()[0, :view]
        onset = cross = None
        checked = []
        for _ in range(900):
            side = len(checked) % 2
            action = _look_move_towards(screen.frames[0], env.look_moves, side)
            observation, reward, _, info = env.step(np.array([action]))
            frame, chosen = observation[0, :view], observation[0, -view:]
            if reward[0] == 1.0:  # the fixation reward: the frame before showed the images,
                onset, cross = previous, before_previous  # the one before, the cross alone
            if info["choices"][0]:
                correct = bool(info["choice_correct"][0])
                checked.append((side, correct, onset, cross, chosen))
                outcomes = {c for _, c, *_ in checked}
                if len(checked) >= 3 and (chosen_view == "chosen" or len(outcomes) == 2):
                    break
            before_previous, previous = previous, frame
    finally:
        env.close()
    assert len(checked) >= 3
    if chosen_view == "rewarded":
        assert {correct for _, correct, *_ in checked} == {True, False}
    for side, correct, onset, cross, chosen in checked:
        kept_side = side if chosen_view == "chosen" or correct else 1 - side
        left, right = slice(0, half), slice(half, 28)
        kept, blanked = (left, right) if kept_side == 0 else (right, left)
        onset, cross, chosen = (a.reshape(28, 28) for a in (onset, cross, chosen))
        assert not chosen[:, blanked].any()
        np.testing.assert_array_equal(chosen[:, kept], onset[:, kept])
        assert (np.abs(chosen[:, kept] - cross[:, kept]) > 0.1).sum() >= 8  # the image
    assert os.listdir(private_tmp) == []
