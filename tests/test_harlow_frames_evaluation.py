"""The frame-level Harlow evaluation: per-trial bookkeeping of steps (``records``), the report
(``evaluation``), its plots (``plots``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from harlow.agent.builder import build_agent
from harlow.config.files import load_config_file
from harlow.config.validation import validate_config
from harlow.harlow_frames import env as frames_env
from harlow.harlow_frames import evaluation, records
from harlow.harlow_frames import plots as frames_plots
from harlow.harlow_frames.records import (
    EpisodeRecord,
    EpisodeRecorder,
    TrialRecord,
    split_reward,
    summarize_episodes,
    trials_csv,
)
from harlow.harlow_frames.task import eval_scalars
from harlow.harlow_task import plots
from harlow.psychlab import render
from harlow.psychlab.frame_env import FrameHarlowEnv
from harlow.psychlab.protocol import NO_SIDE, SCREEN_FIXATION, SCREEN_IMAGES
from harlow.psychlab.screen_env import DEGREES_PER_LOOK_UNIT
from harlow.psychlab.simulator import BatchedHarlowSimulator

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FRAMES = 4  # frames per agent step in the hand-made sequences
SHORT_EPISODE_SECONDS = 2.0  # 120 frames: evaluations in the tests stay short


def tiny_config():
    config = load_config_file(CONFIGS / "harlow_frames.py")
    config.env.num_workers = 0
    config.env.frame_size = 32
    config.env.observation_size = 24
    config.agent.lstm_units = 8
    config.agent.conv_filters = (4, 4)
    config.agent.conv_embedding_size = 8
    config.eval.num_envs = 3
    validate_config(config)
    return config


# ---------------------------------------------------------------- hand-made step sequences
def _step(reward=0.0, *, choice=None, done=False, timed_out=False, gaze=0.5):
    """One environment's agent step; ``choice``: None or (correct, side)."""
    info = {
        "frames": np.array([FRAMES]),
        "choices": np.array([int(choice is not None)]),
        "choice_correct": np.array([choice is not None and choice[0]]),
        "trial": np.array([1]),  # not read by the recorder
        "timed_out": np.array([timed_out]),
        "choice_side": np.array([NO_SIDE if choice is None else choice[1]]),
        "gaze_x": np.array([gaze], np.float32),
        "screen_state": np.array([SCREEN_FIXATION]),
    }
    return np.array([reward], np.float32), np.array([done]), info


def _play(steps, traced_envs=1) -> list[EpisodeRecord]:
    recorder = EpisodeRecorder(1, traced_envs=traced_envs)
    return [record for step in steps for _, record in recorder.step(*step)]


def _full_episode(correct: list[bool]) -> list:
    """Six trials of 5 steps: 2 idle, fixation (+1), idle, choice; each choice's reward
    arrives a step later (the level pays a frame late), the last one's in the last step."""
    steps, pending = [], 0.0
    for trial, right in enumerate(correct):
        choice_reward = 5.0 if right else -5.0
        last = trial == len(correct) - 1
        steps += [
            _step(pending, gaze=0.1 * trial),
            _step(),
            _step(1.0),
            _step(),
            _step(choice_reward if last else 0.0, choice=(right, trial % 2), done=last),
        ]
        pending = choice_reward
    return steps


@pytest.mark.parametrize(
    ("reward", "parts"),
    [(0, (0, 0)), (1, (1, 0)), (5, (0, 5)), (-5, (0, -5)), (6, (1, 5)), (-4, (1, -5))],
)
def test_a_steps_reward_splits_into_fixation_and_choice(reward, parts):
    assert split_reward(np.float32(reward)) == parts


def test_a_whole_episode_credits_each_trial_its_fixation_choice_and_rewards():
    [episode] = _play(_full_episode([False, True, True, True, True, True]))
    assert not episode.timed_out
    assert episode.frames == 6 * 5 * FRAMES
    assert episode.reward == pytest.approx(-4 + 5 * 6)
    trials = episode.trials
    assert [t.reward for t in trials] == [-4, 6, 6, 6, 6, 6]
    assert [t.correct for t in trials] == [False, True, True, True, True, True]
    assert [t.side for t in trials] == [0, 1, 0, 1, 0, 1]
    assert [t.start_frame for t in trials] == [0, 20, 40, 60, 80, 100]
    assert [t.frames_to_fixation for t in trials] == [3 * FRAMES] * 6
    assert [t.frames_to_choice for t in trials] == [2 * FRAMES] * 6
    # The gaze after every step but the last (that one shows the next episode).
    assert episode.gaze.frames.tolist() == list(range(FRAMES, 120, FRAMES))
    assert episode.gaze.gaze_x[[0, 5, 10]] == pytest.approx([0.0, 0.1, 0.2])


def test_a_timed_out_episode_counts_its_unfinished_and_unreached_trials():
    steps = [_step(), _step(1.0), _step(), _step(choice=(True, 1)), _step(5.0)]
    steps += [_step(), _step(1.0), _step(), _step(done=True, timed_out=True)]
    [episode] = _play(steps, traced_envs=0)
    assert episode.timed_out and episode.gaze is None
    first, second, *unreached = episode.trials
    assert first.chosen and first.correct and first.reward == 6
    assert (first.frames_to_fixation, first.frames_to_choice) == (8, 8)
    assert not second.chosen and second.start_frame == 16 and second.frames_to_fixation == 12
    assert second.frames_to_choice is None and second.reward == 1
    assert len(unreached) == 4
    assert all(t.start_frame is None and not t.chosen for t in unreached)
    fixation = summarize_episodes([episode])["fixation"]
    assert fixation["timed_out_trials"] == 5 and fixation["timed_out_share"] == 5 / 6
    assert fixation["frames_to_fixation_median"] == 10 and fixation["fixated_trials"] == 2


def test_rewards_that_share_a_step_go_to_their_own_trials():
    # Trial 1: its fixation paid late, in the step of the choice (+1 and +5 in one step).
    # Trial 2: its choice paid late, in the step of trial 3's fixation (-5 and +1).
    steps = [_step(), _step(6.0, choice=(True, 0))]
    steps += [_step(1.0), _step(choice=(False, 1)), _step(-4.0)]
    steps += [_step(done=True, timed_out=True)]
    [episode] = _play(steps)
    first, second, third = episode.trials[:3]
    assert (first.reward, first.frames_to_fixation, first.frames_to_choice) == (6, 8, 0)
    assert (second.reward, second.frames_to_fixation, second.frames_to_choice) == (-4, 4, 4)
    assert (third.reward, third.start_frame, third.frames_to_fixation) == (1, 16, 4)
    assert not third.chosen


def _record(outcomes: list[bool | None]) -> EpisodeRecord:
    """An episode whose trials end correct (True), wrong (False) or not at all (None):
    fixation 10 frames after the trial's start, the choice 6 frames later."""
    trials, frame = [], 0
    for outcome in outcomes:
        if outcome is None:
            trials.append(TrialRecord())
            continue
        reward = 1.0 + (5.0 if outcome else -5.0)
        trials.append(TrialRecord(frame, frame + 10, frame + 16, outcome, 0, reward))
        frame += 16
    reward = sum(t.reward for t in trials)
    return EpisodeRecord(tuple(trials), max(frame, 400), reward, None in outcomes)


def test_accuracies_count_the_trials_that_ended_with_a_choice():
    episodes = [
        _record([False, True, True, True, True, True]),
        _record([True, True, True, True, True, False]),
        _record([False, None, None, None, None, None]),
        _record([None] * 6),
        _record([True, None, None, None, None, None]),
    ]
    summary = summarize_episodes(episodes)
    by_trial = summary["accuracy_by_trial"]
    assert [e["n"] for e in by_trial] == [4, 2, 2, 2, 2, 2]
    assert [e["accuracy"] for e in by_trial] == [0.5, 1, 1, 1, 1, 0.5]
    assert all(e["ci_low"] <= e["accuracy"] <= e["ci_high"] for e in by_trial)
    assert summary["trials_2_to_6"]["accuracy"] == 0.9 and summary["trials_2_to_6"]["n"] == 10
    assert summary["trial_2_after_wrong_trial_1"] == pytest.approx(
        {"accuracy": 1.0, "ci_low": 0.2065, "ci_high": 1.0, "n": 1}, abs=1e-4
    )
    assert summary["trial_2_after_right_trial_1"]["n"] == 1  # trial 2 of episode 5 timed out
    assert summary["reward_per_episode"] == pytest.approx((26 + 26 - 4 + 0 + 6) / 5)
    assert summary["reward_per_trial"] == pytest.approx(10.8 / 6)
    fixation = summary["fixation"]
    assert fixation["trials"] == 30 and fixation["timed_out_trials"] == 16
    assert fixation["timed_out_share"] == 16 / 30 and fixation["timed_out_episodes"] == 3
    assert fixation["frames_to_fixation_median"] == 10
    assert fixation["frames_fixation_to_choice_median"] == 6
    json.dumps(summary, allow_nan=False)


def test_the_trials_table_has_a_row_per_trial_blank_where_undefined():
    unknown_side = TrialRecord(0, 10, 16, True, NO_SIDE, 6.0)  # DeepMind Lab: no side
    episodes = [_record([False] + [None] * 5), EpisodeRecord((unknown_side,) * 6, 96, 36, False)]
    rows = list(csv.DictReader(io.StringIO(trials_csv(episodes))))
    assert len(rows) == 12
    assert rows[0] == {
        "episode": "0",
        "trial": "1",
        "chosen_side": "left",
        "correct": "0",
        "reward": "-4",
        "frames_to_fixation": "10",
        "frames_to_choice": "6",
        "timed_out": "0",
    }
    assert rows[1] == {
        "episode": "0",
        "trial": "2",
        "chosen_side": "",
        "correct": "",
        "reward": "0",
        "frames_to_fixation": "",
        "frames_to_choice": "",
        "timed_out": "1",
    }
    assert (rows[6]["chosen_side"], rows[6]["correct"], rows[6]["timed_out"]) == ("", "1", "0")


def test_an_agent_that_never_fixates_has_no_accuracy_and_every_trial_timed_out():
    summary = summarize_episodes([_record([None] * 6), _record([None] * 6)])
    assert summary["trials_2_to_6"]["accuracy"] is None
    assert all(e["accuracy"] is None for e in summary["accuracy_by_trial"])
    assert summary["fixation"]["timed_out_share"] == 1.0
    assert summary["fixation"]["frames_to_fixation_median"] is None
    summary |= {"split": "heldout", "backend": "simulator"}
    text = evaluation.format_summary(summary)
    assert "trials 2..6: n/a" in text and "12 of 12 trials timed out (100.0 %)" in text
    assert eval_scalars(summary) == {"accuracy_trials_2_to_6": 0.0, "timed_out_trials": 1.0}


# ---------------------------------------------------------------- the simulator, scripted
def _units_to(fraction_now: np.ndarray, fraction_target: np.ndarray) -> np.ndarray:
    """Yaw look units turning the gaze from one screen-width fraction to another."""
    s = render.SCREEN_WIDTH_OVER_DISTANCE
    angle = np.degrees(np.arctan((fraction_target - 0.5) * s) - np.arctan((fraction_now - 0.5) * s))
    return angle / DEGREES_PER_LOOK_UNIT


def _scripted_actions(info: dict, env: FrameHarlowEnv, choose_correct: bool) -> np.ndarray:
    """The yaw move that brings each gaze closest to the cross, or to the image chosen."""
    side = info["correct_side"] if choose_correct else 1 - info["correct_side"]
    showing = info["screen_state"] == SCREEN_IMAGES
    target = np.where(showing, np.where(side == 0, 0.25, 0.75), 0.5)
    yaw = np.array([move[0] for move in env.look_moves.moves])
    return np.argmin(np.abs(_units_to(info["gaze_x"], target)[:, None] - yaw[None]), axis=1)


@pytest.mark.parametrize(("choose_correct", "trial_reward"), [(True, 6.0), (False, -4.0)])
def test_a_scripted_gaze_on_the_simulator_is_booked_trial_by_trial(choose_correct, trial_reward):
    images = np.zeros((6, 256, 256, 3), np.uint8)
    images[:] = np.arange(6, dtype=np.uint8)[:, None, None, None] * 40
    simulator = BatchedHarlowSimulator(2, images, [1, 2, 3, 4, 5, 6], width=32, height=32)
    env = FrameHarlowEnv(simulator, size=16, action_repeat=FRAMES)
    env.reset()
    recorder = EpisodeRecorder(2, traced_envs=2)
    episodes: list[EpisodeRecord] = []
    actions = np.zeros(2, np.int64)
    for _ in range(400):
        _, rewards, dones, info = env.step(actions)
        episodes += [record for _, record in recorder.step(rewards, dones, info)]
        actions = _scripted_actions(info, env, choose_correct)
    env.close()
    assert len(episodes) >= 4
    for episode in episodes:
        assert not episode.timed_out
        assert [t.reward for t in episode.trials] == [trial_reward] * 6
        assert all(t.chosen and t.correct == choose_correct for t in episode.trials)
        starts = [t.start_frame for t in episode.trials]
        assert starts[1:] == [t.choice_frame for t in episode.trials[:-1]]
        for trial in episode.trials:  # the level holds each gaze 4 frames: one step at least
            assert trial.frames_to_fixation >= FRAMES and trial.frames_to_choice >= FRAMES
        assert episode.gaze is not None and len(episode.gaze.frames) > 0
    summary = summarize_episodes(episodes)
    assert summary["fixation"]["timed_out_share"] == 0.0
    assert summary["trials_2_to_6"]["accuracy"] == float(choose_correct)


# ---------------------------------------------------------------- with an agent
def _short_episodes(monkeypatch, wrap=None) -> list[dict]:
    """Builds the evaluation's environments with short episodes (what it asked for is
    returned: split, seconds, curriculum, sides); ``wrap`` wraps them."""
    asked = []
    make_env = frames_env.make_env

    def short(config, num_envs, seed, split=None, episode_length_seconds=None):
        asked.append(
            {
                "split": split,
                "seconds": episode_length_seconds,
                "curriculum": config.env.spawn_curriculum_steps,
                "balanced_sides": config.env.balanced_sides,
            }
        )
        env = make_env(config, num_envs, seed, split, SHORT_EPISODE_SECONDS)
        return wrap(env) if wrap else env

    monkeypatch.setattr(frames_env, "make_env", short)
    return asked


def test_an_untrained_agent_is_evaluated_on_the_levels_episodes(tmp_path, monkeypatch):
    asked = _short_episodes(monkeypatch)
    config = tiny_config()
    config.env.spawn_curriculum_steps = 1_000
    config.env.balanced_sides = False
    agent = build_agent(config)
    summary = evaluation.evaluate(agent, config, 5, seed=3, greedy=False, output_dir=tmp_path)
    # The level's 300 s, its spawn range from the first episode (no curriculum), its sides.
    assert asked == [
        {"split": "heldout", "seconds": 300.0, "curriculum": 0, "balanced_sides": True}
    ]
    assert config.env.spawn_curriculum_steps == 1_000  # the caller's config is unchanged
    assert config.env.balanced_sides is False
    for key in ("split", "dataset", "backend", "observation", "episodes", "accuracy_by_trial"):
        assert key in summary
    for key in ("trial_1", "trials_2_to_6", "trial_2_after_wrong_trial_1", "reward_per_trial"):
        assert key in summary
    assert summary["observation"] == "frames" and summary["episodes"] == 5
    fixation = summary["fixation"]
    assert fixation["trials"] == 30 and 0.0 <= fixation["timed_out_share"] <= 1.0
    assert 0 < fixation["frames_per_episode_mean"] <= SHORT_EPISODE_SECONDS * 60
    json.dumps(summary, allow_nan=False)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "trials.csv").read_text())))
    assert len(rows) == 30 and rows[0]["episode"] == "0" and rows[0]["trial"] == "1"
    assert sum(int(row["timed_out"]) for row in rows) == fixation["timed_out_trials"]
    for name in ("trials.csv", "accuracy_by_trial.png", "gaze.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert summary["gaze_plot"] == "gaze.png (3 episodes)"  # the first of 3 environments
    text = evaluation.format_summary(summary)
    assert "trial 1:" in text and "trials 2..6:" in text and "trials timed out" in text

    stage = evaluation.stage_summary(agent, config, 3, seed=3, greedy=True)
    assert stage["episodes"] == 3 and stage["fixation"]["trials"] == 18
    assert "gaze_plot" not in stage


class _WithoutGaze:
    """A frame environment reporting only what DeepMind Lab's does: no gaze, no side."""

    def __init__(self, env) -> None:
        self.env = env
        self.num_envs, self.num_actions = env.num_envs, env.num_actions
        self.observation_size = env.observation_size

    def reset(self) -> np.ndarray:
        return self.env.reset()

    def step(self, actions: np.ndarray) -> tuple:
        observations, rewards, dones, info = self.env.step(actions)
        keys = ("frames", "choices", "choice_correct", "trial", "timed_out")
        return observations, rewards, dones, {key: info[key] for key in keys}

    def close(self) -> None:
        self.env.close()


def test_a_backend_without_gaze_gets_no_gaze_plot_and_says_so(tmp_path, monkeypatch):
    _short_episodes(monkeypatch, wrap=_WithoutGaze)
    config = tiny_config()
    config.eval.num_envs = 2
    summary = evaluation.evaluate(build_agent(config), config, 2, 0, False, tmp_path)
    assert summary["gaze_plot"] == "none: the simulator backend does not report the gaze"
    assert not (tmp_path / "gaze.png").exists()
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 1 + 2 * 6
    assert "gaze plot: none" in evaluation.format_summary(summary)


# ---------------------------------------------------------------- stages and seeds
def _report(outcomes: list[list[bool | None]], **extra) -> dict:
    settings = {"split": "heldout", "dataset": "faces", "backend": "simulator"}
    return settings | summarize_episodes([_record(o) for o in outcomes]) | extra


NEVER = [None] * 6
LEARNED = [False, True, True, True, True, True]


@pytest.fixture
def figures(monkeypatch) -> list[plt.Figure]:
    """The figures the plot functions draw (still open), instead of PNG files."""
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path: drawn.append(figure))
    yield drawn
    for figure in drawn:
        plt.close(figure)


def test_stages_show_the_learning_set_and_the_trials_timed_out(figures):
    stages = [
        _report([NEVER, NEVER], env_steps=1_000),
        _report([LEARNED[:1] + [None] * 5, NEVER], env_steps=10_000),
        _report([LEARNED, LEARNED], env_steps=100_000),
    ]
    frames_plots.plot_stages(stages, "unused.png", note="3 of 6 stages: why")
    [figure] = figures
    curves, course = figure.axes
    labels = [text.get_text() for text in curves.get_legend().get_texts()]
    assert labels[0] == "1,000 steps trained (n = 2 episodes)"
    assert "3 of 6 stages: why" in curves.get_title()
    learning, timed_out = course.get_lines()[:2]
    np.testing.assert_allclose(learning.get_ydata(), [np.nan, np.nan, 100.0])
    np.testing.assert_allclose(timed_out.get_ydata(), [100.0, 100 * 11 / 12, 0.0])


def test_seed_reports_with_and_without_choices(tmp_path):
    summaries = [_report([LEARNED, LEARNED], seed=0), _report([NEVER, NEVER], seed=1)]
    aggregate = records.aggregate_seeds(summaries)
    assert aggregate["trials_2_to_6_per_seed"] == [1.0, None]
    assert aggregate["trials_2_to_6_mean"] == aggregate["trials_2_to_6_min"] == 1.0
    assert aggregate["timed_out_share_per_seed"] == [0.0, 1.0]
    assert aggregate["mean_accuracy_by_trial"][0] == 0.0
    json.dumps(aggregate, allow_nan=False)
    line = evaluation.format_aggregate(aggregate)
    assert "per seed (%): 100.0, n/a" in line and "timed out per seed (%): 0.0, 100.0" in line
    frames_plots.plot_seeds(summaries, tmp_path / "seeds.png")
    frames_plots.plot_stages(
        [summaries[1] | {"env_steps": 0}, summaries[0] | {"env_steps": 50}], tmp_path / "s.png"
    )
    assert (tmp_path / "seeds.png").stat().st_size > 0
    assert (tmp_path / "s.png").stat().st_size > 0
