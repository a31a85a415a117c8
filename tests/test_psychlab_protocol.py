"""Trial logic of the Psychlab Harlow level: unit timings and replays of the real level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harlow.psychlab.protocol import (
    DONE_TIME_LIMIT,
    DONE_TRIALS_COMPLETE,
    LEFT_ZONE,
    NOT_DONE,
    RIGHT_ZONE,
    SCREEN_BLANK,
    SCREEN_FIXATION,
    SCREEN_IMAGES,
    SIDE_LEFT,
    SIDE_RIGHT,
    HarlowProtocol,
    ProtocolConfig,
    fixation_image,
    level_pointer,
)
from harlow.psychlab.screen_env import DEGREES_PER_LOOK_UNIT
from harlow.psychlab.simulator import (
    BatchedHarlowSimulator,
    EpisodeSetup,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"
# A protocol with the identity pointer, so unit tests place the pointer exactly.
EXACT = ProtocolConfig(pointer_gain_x=1.0, pointer_inset_x=0.0, pointer_offset_y=0.0)
CENTRE = (256.0, 256.0)
LEFT_IMAGE = ((LEFT_ZONE[0] + LEFT_ZONE[1]) / 2, 256.0)
RIGHT_IMAGE = ((RIGHT_ZONE[0] + RIGHT_ZONE[1]) / 2, 256.0)
AWAY = (np.nan, np.nan)


def run(protocol: HarlowProtocol, gazes: list[tuple[float, float]]):
    """Steps one environment through gazes; returns per-step rewards, states, dones."""
    rewards, states, dones = [], [], []
    for gaze in gazes:
        result = protocol.step(np.array([gaze]))
        rewards.append(float(result.rewards[0]))
        states.append(int(protocol.screen_state[0]))
        dones.append(bool(result.dones[0]))
    return rewards, states, dones


def fresh(config: ProtocolConfig = EXACT, sides=(0, 1, 0, 1, 0, 1)) -> HarlowProtocol:
    protocol = HarlowProtocol(1, config)
    protocol.start_episodes(np.array([0]), np.array([sides]), np.array([AWAY]))
    return protocol


def test_fixation_hold_shows_images_four_frames_later_and_pays_one_step_after():
    protocol = fresh()
    rewards, states, _ = run(protocol, [AWAY, AWAY] + [CENTRE] * 6)
    # Gaze lands on step 2: the frame of step 6 shows the images, step 7 returns +1.
    assert states == [SCREEN_FIXATION] * 6 + [SCREEN_IMAGES] * 2
    assert rewards == [0.0] * 7 + [1.0]
    assert protocol.trial[0] == 1


def test_hold_restarts_when_the_gaze_leaves_the_zone():
    protocol = fresh()
    _, states, _ = run(protocol, [CENTRE] * 3 + [AWAY] + [CENTRE] * 4)
    assert SCREEN_IMAGES not in states
    _, states, _ = run(protocol, [CENTRE])
    assert states == [SCREEN_IMAGES]


def test_choice_blanks_after_hold_then_cross_returns_after_five_frames():
    protocol = fresh(sides=(SIDE_LEFT, 1, 0, 1, 0, 1))
    _, states, _ = run(protocol, [CENTRE] * 5)  # the reset frame looked away
    assert states[-1] == SCREEN_IMAGES
    rewards, states, _ = run(protocol, [LEFT_IMAGE] * 5)
    # Left image gazed from the first step s of this run: blank in the frame of s + 4.
    assert states == [SCREEN_IMAGES] * 4 + [SCREEN_BLANK]
    assert rewards == [1.0, 0.0, 0.0, 0.0, 0.0]
    rewards, states, _ = run(protocol, [CENTRE] * 5)
    assert rewards == [5.0, 0.0, 0.0, 0.0, 0.0]  # paid one step after the blank frame
    assert states == [SCREEN_BLANK] * 4 + [SCREEN_FIXATION]
    # The gaze already rests where the cross returns: it counts from the cross's first frame,
    # so the images come 3 steps after the cross.
    _, states, _ = run(protocol, [CENTRE] * 3)
    assert states == [SCREEN_FIXATION, SCREEN_FIXATION, SCREEN_IMAGES]


def test_wrong_choice_pays_minus_five():
    protocol = fresh(sides=(SIDE_RIGHT, 0, 0, 1, 0, 1))
    run(protocol, [CENTRE] * 5)
    rewards, _, _ = run(protocol, [LEFT_IMAGE] * 6)
    assert rewards[-1] == -5.0
    assert rewards.count(-5.0) == 1


def test_last_choice_ends_the_episode_and_pays_on_the_terminal_step():
    config = ProtocolConfig(
        trials_per_episode=2, pointer_gain_x=1.0, pointer_inset_x=0.0, pointer_offset_y=0.0
    )
    protocol = fresh(config, sides=(SIDE_LEFT, SIDE_RIGHT))
    total = 0.0
    for target in (LEFT_IMAGE, RIGHT_IMAGE):
        rewards, _, dones = run(protocol, [CENTRE] * 6)
        total += sum(rewards)
        rewards, _, dones = run(protocol, [target] * 5)
        total += sum(rewards)
        if not dones[-1]:
            rewards, _, dones = run(protocol, [CENTRE] * 5)
            total += sum(rewards)
    assert dones[-1] and sum(dones) == 1
    assert rewards[-1] == 5.0  # paid by the terminal step itself
    assert total == 2 * 1.0 + 2 * 5.0


def test_time_limit_ends_the_episode():
    protocol = fresh(ProtocolConfig(episode_length_seconds=0.1, fps=60))
    result = None
    for _ in range(6):
        result = protocol.step(np.array([AWAY]))
    assert result.dones[0] and result.done_reasons[0] == DONE_TIME_LIMIT


def test_reasons_are_distinct():
    assert len({NOT_DONE, DONE_TRIALS_COMPLETE, DONE_TIME_LIMIT}) == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"trials_per_episode": 5}, "even"),
        ({"hold_frames": 0}, "hold_frames"),
        ({"episode_length_seconds": 0.0}, "episode_length_seconds"),
        ({"pointer_gain_x": 0.0}, "pointer_gain_x"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProtocolConfig(**kwargs)


def test_start_episodes_rejects_bad_sides():
    protocol = HarlowProtocol(2, EXACT)
    with pytest.raises(ValueError, match="0 \\(left\\) and 1"):
        protocol.start_episodes(np.array([0]), np.array([[0, 1, 2, 0, 1, 0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        protocol.start_episodes(np.array([0, 1]), np.zeros((2, 4)), np.zeros((2, 2)))


def test_fixation_image_has_thirteen_texel_bars_like_the_level():
    cross = fixation_image()
    red = cross[:, :, 0] == 255
    assert cross.shape == (51, 51, 3)
    assert red[25].sum() == 51 and red[:, 25].sum() == 51
    assert red[0].sum() == 13 and np.flatnonzero(red[0]).tolist() == list(range(19, 32))


def test_level_pointer_moves_towards_the_centre_line_and_down():
    gaze = np.array([[256.0 + 100, 300.0], [256.0 - 100, 100.0], [np.nan, np.nan]])
    pointer = level_pointer(gaze, ProtocolConfig())
    np.testing.assert_allclose(pointer[:2], [[256 + 93.85, 301.6], [256 - 93.85, 101.6]])
    assert np.isnan(pointer[2]).all()


# ------------------------------------------------------------------------------- fixture replays
def _episodes():
    if not FIXTURES.is_dir():
        return []
    trials = json.loads((FIXTURES / "trials.json").read_text())
    return [
        (name, episode)
        for name in ("harlow_84.npz", "harlow_128.npz", "harlow_256.npz")
        for episode in trials[name]["episodes"]
    ]


def _events(states: list[int], rewards: list[float]) -> list[dict[str, int]]:
    """Per-trial event steps, named as in trials.json, from per-frame states and rewards."""
    trials: list[dict[str, int]] = []
    for step in range(1, len(states)):
        before, now = states[step - 1], states[step]
        if before == SCREEN_FIXATION and now == SCREEN_IMAGES:
            trials.append({"images_on_step": step})
        elif before == SCREEN_IMAGES and now == SCREEN_BLANK:
            trials[-1]["trial_end_step"] = step
        elif before == SCREEN_BLANK and now == SCREEN_FIXATION:
            trials[-1]["fixation_on_step"] = step
    paid = [(step, r) for step, r in enumerate(rewards) if r != 0]
    fixations = [step for step, r in paid if r == 1.0]
    choices = [step for step, r in paid if abs(r) == 5.0]
    for trial, step in zip(trials, fixations, strict=False):
        trial["fixation_reward_step"] = step
    for trial, step in zip(trials, choices, strict=False):
        trial["choice_reward_step"] = step
    return trials


@pytest.mark.parametrize(
    "name, episode", _episodes(), ids=lambda v: v if isinstance(v, str) else str(v["episode"])
)
def test_replay_of_recorded_episode_matches_the_real_level(name, episode):
    """The recorded actions, spawn view, ids and sides reproduce every reward and event step.

    All 18 recorded episodes (including the noisy ones with drifts and pitch excursions) are
    replayed; none is excluded.
    """
    with np.load(FIXTURES / name) as recording:
        data = {k: recording[k] for k in ("episode", "actions", "rewards", "rot", "state", "trial")}
    rows = np.flatnonzero(data["episode"] == episode["episode"])
    actions = data["actions"][rows].astype(np.int32)
    recorded_rewards = data["rewards"][rows].astype(float).tolist()
    final = episode.get("final_step")
    if final:
        actions = np.concatenate([actions, np.array([final["action"]], dtype=np.int32)])
        recorded_rewards.append(final["reward"])
    sides = [trial["correctResponse"] - 1 for trial in episode["trials"]]
    while len(sides) < 6:  # trials the recording never reached: any balanced completion
        sides.append(0 if sides.count(0) < 3 else 1)
    first_yaw = float(data["rot"][rows[0], 1]) + actions[0, 0] * DEGREES_PER_LOOK_UNIT
    images = np.zeros((24, 256, 256, 3), dtype=np.uint8)
    simulator = BatchedHarlowSimulator(1, images, range(1, 25), width=32, height=32)
    setup = EpisodeSetup(
        episode["correct_id"], episode["incorrect_id"], tuple(sides), 90.0 - first_yaw
    )
    simulator.reset([setup])

    rewards, states, trial_numbers, ended_at = [], [], [], None
    for step, action in enumerate(actions):
        _, reward, done, info = simulator.step(action[None])
        rewards.append(float(reward[0]))
        if done[0]:
            ended_at = step
            break
        states.append(int(info["screen_state"][0]))
        trial_numbers.append(int(info["trial"][0]))

    assert rewards == recorded_rewards
    assert states[: len(rows)] == data["state"][rows].tolist()
    assert trial_numbers[: len(rows)] == data["trial"][rows].tolist()
    assert ended_at == (len(actions) - 1 if final else None)
    keys = (
        "images_on_step",
        "fixation_reward_step",
        "trial_end_step",
        "choice_reward_step",
        "fixation_on_step",
    )
    expected = [{k: t[k] for k in keys if k in t} for t in episode["trials"]]
    if final:
        states.append(SCREEN_BLANK)  # the terminal step blanks the screen (no frame recorded)
    assert _events(states, rewards)[: len(expected)] == expected


def test_fixture_replays_are_present_or_skipped():
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (CI clones shared/ beside the repo)")
    assert len(_episodes()) == 18
