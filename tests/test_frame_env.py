"""The frame-level Harlow environment: look moves, frames, rewards and trial outcomes."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from harlow.psychlab import render
from harlow.psychlab.frame_env import (
    DEFAULT_LOOK_MOVES,
    FrameHarlowEnv,
    LookMoves,
    choice_outcomes,
    downsample_frames,
)
from harlow.psychlab.protocol import SCREEN_IMAGES
from harlow.psychlab.screen_env import DEGREES_PER_LOOK_UNIT
from harlow.psychlab.simulator import BatchedHarlowSimulator


def _images(count: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 256, 256, 3), dtype=np.uint8)
    images[:] = rng.integers(0, 256, size=(count, 1, 1, 3), dtype=np.uint8)
    return images


def _env(num_envs: int = 4, seed: int = 0, **kwargs) -> FrameHarlowEnv:
    simulator = BatchedHarlowSimulator(num_envs, _images(), [1, 2, 3, 4, 5, 6], seed=seed)
    return FrameHarlowEnv(simulator, **kwargs)


def _units_to(fraction_now: np.ndarray, fraction_target: np.ndarray) -> np.ndarray:
    """Look units turning the gaze from one screen fraction to another (horizontal or vertical)."""
    s = render.SCREEN_WIDTH_OVER_DISTANCE
    angle = np.degrees(np.arctan((fraction_target - 0.5) * s) - np.arctan((fraction_now - 0.5) * s))
    return angle / DEGREES_PER_LOOK_UNIT


def _scripted_moves(info: dict, moves: LookMoves, choose_correct: bool) -> np.ndarray:
    """The look move that brings each gaze closest to its target: the cross or an image."""
    showing = info["screen_state"] == SCREEN_IMAGES
    side = np.where(choose_correct, info["correct_side"], 1 - info["correct_side"])
    target_x = np.where(showing, np.where(side == 0, 0.25, 0.75), 0.5)
    want = np.stack(
        [
            _units_to(info["gaze_x"], target_x),
            _units_to(info["gaze_y"], np.full_like(target_x, 0.5)),
        ],
        axis=1,
    )
    table = np.array(moves.moves, dtype=np.float64)
    distance = np.linalg.norm(want[:, None, :] - table[None, :, :], axis=-1)
    return np.argmin(distance, axis=1)


def _first_info(env: FrameHarlowEnv) -> dict:
    _, _, _, info = env.step(np.zeros(env.num_envs, np.int64))
    return info


@pytest.mark.parametrize("choose_correct, trial_reward", [(True, 6.0), (False, -4.0)])
def test_a_scripted_gaze_completes_every_trial_with_the_levels_rewards(
    choose_correct, trial_reward
):
    env = _env(num_envs=4)
    env.reset()
    info = _first_info(env)
    returns, trials, correct = np.zeros(4), np.zeros(4, int), np.zeros(4, int)
    finished: list[float] = []
    for _ in range(600):
        _, rewards, dones, info = env.step(_scripted_moves(info, env.look_moves, choose_correct))
        returns += rewards
        trials += info["choices"]
        correct += info["choices"] * info["choice_correct"]
        assert not info["timed_out"].any()
        for i in np.flatnonzero(dones):
            finished.append(returns[i])
            returns[i] = 0.0
    assert len(finished) >= 4
    assert finished == pytest.approx([6 * trial_reward] * len(finished))
    assert correct.sum() == (trials.sum() if choose_correct else 0)


def test_trial_counts_the_choices_of_each_episode():
    env = _env(num_envs=2)
    env.reset()
    info = _first_info(env)
    seen: list[list[int]] = [[], []]
    for _ in range(400):
        _, _, dones, info = env.step(_scripted_moves(info, env.look_moves, True))
        for i in np.flatnonzero(info["choices"]):
            seen[i].append(int(info["trial"][i]))
    for trials in seen:
        assert trials[:12] == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]


def test_action_repeat_turns_once_then_holds_still():
    single, repeated = _env(num_envs=2, seed=3), _env(num_envs=2, seed=3, action_repeat=3)
    single.reset()
    repeated.reset()
    actions = np.array([2, 1])  # small look right, small look left
    total = np.zeros(2, np.float32)
    for step_actions in (actions, np.zeros(2, int), np.zeros(2, int)):
        observation, rewards, _, single_info = single.step(step_actions)
        total += rewards
    repeated_observation, repeated_rewards, _, info = repeated.step(actions)
    np.testing.assert_array_equal(repeated_observation, observation)
    np.testing.assert_array_equal(repeated_rewards, total)
    np.testing.assert_array_equal(info["gaze_x"], single_info["gaze_x"])
    np.testing.assert_array_equal(info["frames"], [3, 3])


def test_an_episode_out_of_time_counts_as_timed_out():
    simulator = BatchedHarlowSimulator(
        2, _images(), [1, 2, 3], seed=0, episode_length_seconds=0.5, fps=60
    )
    env = FrameHarlowEnv(simulator)
    env.reset()
    dones_seen = timed_out_seen = 0
    for _ in range(30):  # the level's limit: 0.5 s at 60 fps
        _, _, dones, info = env.step(np.full(2, 5))  # keeps turning left: no choice
        dones_seen += dones.sum()
        timed_out_seen += info["timed_out"].sum()
    assert dones_seen == timed_out_seen == 2


def test_observations_are_downsampled_frames_in_unit_range():
    env = _env(num_envs=3, size=21, grayscale=True)
    observation = env.reset()
    assert observation.shape == (3, 21 * 21) == (3, env.observation_size)
    assert observation.dtype == np.float32
    assert observation.min() >= 0.0 and observation.max() <= 1.0
    colour = _env(num_envs=3, size=21).reset()
    assert colour.shape == (3, 21 * 21 * 3)
    red_cross = colour.reshape(3, 21, 21, 3)[:, 9:12, 9:12]
    assert (red_cross[..., 0] > red_cross[..., 1] + 0.2).any()


def test_downsample_matches_opencv_area_resampling_of_each_frame():
    frames = np.random.default_rng(0).integers(0, 256, (2, 84, 84, 3), dtype=np.uint8)
    out = downsample_frames(frames, 42, grayscale=False)
    expected = frames.reshape(2, 42, 2, 42, 2, 3).mean(axis=(2, 4)) / 255.0
    np.testing.assert_allclose(out.reshape(2, 42, 42, 3), expected, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize(
    "moves, message",
    [
        (((0, 0),), "at least 2"),
        (((0, 0), (600, 0)), "outside"),
        (((0, 0), (0, 0)), "repeat"),
        (((0, 0), (1,)), "(yaw units, pitch units)"),
    ],
)
def test_bad_look_move_sets_are_refused(moves, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LookMoves(moves)


def test_actions_outside_the_move_set_are_refused():
    env = _env(num_envs=2)
    env.reset()
    with pytest.raises(ValueError, match=f"not one of the {len(DEFAULT_LOOK_MOVES)} look moves"):
        env.step(np.array([0, len(DEFAULT_LOOK_MOVES)]))
    with pytest.raises(ValueError, match="1-D integer"):
        env.step(np.array([0.0, 1.0]))


def test_deepmind_lab_trial_events_give_the_choices():
    info = {"trial": np.array([0, 3, 2]), "correct": np.array([-1, 1, 0], np.int8)}
    made, correct = choice_outcomes(info)
    np.testing.assert_array_equal(made, [False, True, True])
    np.testing.assert_array_equal(correct, [False, True, False])
    with pytest.raises(ValueError, match="no trial outcomes"):
        choice_outcomes({"rewards": np.zeros(3)})


def test_images_sit_about_163_look_units_beside_the_cross():
    # DEFAULT_LOOK_MOVES' largest yaw move lands a gaze at the cross inside an image's zone.
    units = (
        math.degrees(math.atan(0.25 * render.SCREEN_WIDTH_OVER_DISTANCE)) / DEGREES_PER_LOOK_UNIT
    )
    assert abs(units - 160) < 62 / 2


def test_the_fovea_is_the_frames_centre_and_the_frame_comes_first():
    twin = BatchedHarlowSimulator(2, _images(), [1, 2, 3, 4, 5, 6], seed=5)
    env = _env(num_envs=2, seed=5, size=16, grayscale=True, fovea_size=16)
    assert env.observation_size == 2 * 16 * 16
    rng = np.random.default_rng(0)
    observations, frames = [env.reset()], [twin.reset()]
    for _ in range(5):
        actions = rng.integers(0, len(DEFAULT_LOOK_MOVES), 2)
        observations.append(env.step(actions)[0])
        frames.append(twin.step(env.look_moves.lab_actions(actions))[0])
    for observation, frame in zip(observations, frames, strict=True):
        whole, fovea = observation.reshape(2, 2, 16 * 16).transpose(1, 0, 2)
        np.testing.assert_array_equal(whole, downsample_frames(frame, 16, grayscale=True))
        top, left = (frame.shape[1] - 16) // 2, (frame.shape[2] - 16) // 2
        centre = np.ascontiguousarray(frame[:, top : top + 16, left : left + 16])
        np.testing.assert_array_equal(fovea, downsample_frames(centre, 16, grayscale=True))


def _chosen_half(onset: np.ndarray, side: int, size: int) -> np.ndarray:
    """``onset`` views [N, size * size] with the half of ``side`` (0 left, 1 right) kept."""
    views = onset.reshape(-1, size, size).copy()
    if side == 0:
        views[:, :, size - size // 2 :] = 0.0
    else:
        views[:, :, : size // 2] = 0.0
    return views.reshape(len(onset), -1)


@pytest.mark.parametrize("fovea_size", [0, 24])
def test_the_chosen_view_is_the_onset_frames_chosen_half_until_the_next_choice(fovea_size):
    env = _env(num_envs=3, seed=1, size=12, grayscale=True, fovea_size=fovea_size)
    chosen_env = _env(
        num_envs=3, seed=1, size=12, grayscale=True, fovea_size=fovea_size, show_chosen=True
    )
    view = 12 * 12
    plain = env.reset()
    observation = chosen_env.reset()
    assert observation.shape == (3, plain.shape[1] + view)
    np.testing.assert_array_equal(observation[:, -view:], 0.0)
    info = _first_info(env)
    _first_info(chosen_env)
    rng = np.random.default_rng(0)
    choose_correct = rng.random(3) < 0.5
    onset = np.zeros((3, view), np.float32)
    held = np.zeros((3, view), np.float32)
    previous = plain
    sides_chosen: set[int] = set()
    episodes = 0
    for _ in range(400):
        actions = _scripted_moves(info, env.look_moves, choose_correct)
        now, rewards, dones, info = env.step(actions)
        observation, _, chosen_dones, _ = chosen_env.step(actions)
        np.testing.assert_array_equal(observation[:, : now.shape[1]], now)
        np.testing.assert_array_equal(chosen_dones, dones)
        for i in np.flatnonzero(info["choices"]):
            side = int(info["choice_side"][i])  # the simulator's own record of the side
            held[i] = _chosen_half(onset[i : i + 1], side, 12)[0]
            sides_chosen.add(side)
            choose_correct[i] = rng.random() < 0.5
        # The fixation reward comes one frame after the images appear, gaze on the cross.
        fixated = rewards == 1.0
        onset[fixated] = previous[fixated, :view]
        held[dones] = 0.0  # a new episode has no choice yet
        onset[dones] = 0.0
        np.testing.assert_array_equal(observation[:, -view:], held)
        episodes += dones.sum()
        previous = now
    assert sides_chosen == {0, 1} and episodes >= 3
    assert held.any()


@pytest.mark.parametrize("chosen_view", ["chosen", "rewarded"])
def test_the_kept_half_follows_the_side_the_gaze_took_with_repeated_actions(chosen_view):
    # A scripted gaze with one move in three random: it wanders, overshoots and turns back.
    env = _env(
        num_envs=4,
        seed=2,
        size=16,
        grayscale=True,
        action_repeat=4,
        show_chosen=True,
        chosen_view=chosen_view,
    )
    env.reset()
    info = _first_info(env)
    rng = np.random.default_rng(1)
    choose_correct = rng.random(4) < 0.5
    checked = 0
    outcomes = set()
    for _ in range(600):
        actions = _scripted_moves(info, env.look_moves, choose_correct)
        wander = rng.random(4) < 1 / 3
        actions[wander] = rng.integers(0, env.num_actions, wander.sum())
        observation, _, dones, info = env.step(actions)
        for i in np.flatnonzero(info["choices"] & ~dones):  # a last choice starts an episode
            view = observation[i, -16 * 16 :].reshape(16, 16)
            side = int(info["choice_side"][i])  # the simulator's own records
            if chosen_view == "rewarded" and not info["choice_correct"][i]:
                side = 1 - side
            blanked = view[:, 8:] if side == 0 else view[:, :8]
            kept = view[:, :8] if side == 0 else view[:, 8:]
            assert not blanked.any() and kept.any()
            outcomes.add(bool(info["choice_correct"][i]))
            choose_correct[i] = rng.random() < 0.5
            checked += 1
    assert checked >= 30 and outcomes == {True, False}


def test_a_fovea_larger_than_the_frame_is_refused():
    with pytest.raises(ValueError, match="fovea_size must be 0 or in"):
        _env(num_envs=1, fovea_size=1000)
