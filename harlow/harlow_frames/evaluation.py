"""Runs a frozen agent on frame-level Harlow episodes and writes the learning-set report.

The report is the trial-level task's (accuracy by trial with Wilson intervals, trials
2..6, trial 2 after a wrong or a right trial 1, on ``config.eval.split``'s images) over
the trials that ended with a choice, plus what the agent has to learn first here:
fixation. Frames from a trial's start (the episode's start or the previous choice) to
the fixation reward, from there to the choice, the share of trials that time out (a
trial the episode's time limit cut short, or never reached, had no choice), and on the
simulator a plot of the gaze over a few episodes.

Evaluation plays the stock level's episodes: ``LEVEL_EPISODE_SECONDS`` (300 s) long,
spawn yaw over the whole ``config.env.spawn_yaw_range_deg`` (no training curriculum), so
that timed-out trials are the level's.

This module plays the episodes and writes the report and its text; ``records`` books the
episodes and computes the numbers, ``plots`` draws the figures. ``plot_seeds`` and
``plot_stages`` are imported from ``plots`` so that the task's lazy slots find every
name here.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import ml_collections
import numpy as np

from harlow.agent.network import ActorCritic
from harlow.atomic_io import atomic_write_text
from harlow.harlow_frames import env as frames_env
from harlow.harlow_frames.env import LEVEL_EPISODE_SECONDS
from harlow.harlow_frames.plots import plot_gaze
from harlow.harlow_frames.records import (
    EpisodeRecord,
    EpisodeRecorder,
    percent_or_na,
    summarize_episodes,
    trials_csv,
)
from harlow.harlow_task import evaluation as trial_evaluation
from harlow.harlow_task import plots
from harlow.harlow_task.env import dataset_path, with_level_sides
from harlow.learner.rollout import Actor
from harlow.progress import progress_bar
from harlow.signals import raise_if_interrupted

GAZE_EPISODES = 4  # episodes in the gaze plot: the first of as many environments


def _evaluation_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with the level's spawn range from the first episode (no curriculum) and
    the level's sides (half of the trials reward the left image)."""
    config = with_level_sides(config)
    config.env.spawn_curriculum_steps = 0
    return config


def collect_episodes(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    split: str,
    show_progress: bool | None = None,
    gaze_episodes: int = GAZE_EPISODES,
) -> list[EpisodeRecord]:
    """Plays ``episodes`` whole episodes of the level (``LEVEL_EPISODE_SECONDS``, no spawn
    curriculum) on ``split`` with frozen weights; records each.

    Each environment plays its share of the episodes (so that short episodes are not
    over-represented); the first episode of the first ``gaze_episodes`` environments
    keeps its gaze trace (simulator only).
    """
    num_envs = min(config.eval.num_envs, episodes)
    env = frames_env.make_env(
        _evaluation_config(config), num_envs, seed, split, LEVEL_EPISODE_SECONDS
    )
    quotas = [len(share) for share in np.array_split(np.arange(episodes), num_envs)]
    played: list[list[EpisodeRecord]] = [[] for _ in range(num_envs)]
    recorder = EpisodeRecorder(num_envs, traced_envs=gaze_episodes)
    try:
        actor = Actor(env, agent, np.random.default_rng(seed), greedy=greedy)
        with progress_bar(total=episodes, unit="episode", disable=show_progress is False) as bar:
            while any(len(p) < q for p, q in zip(played, quotas, strict=True)):
                raise_if_interrupted()
                _, rewards, dones, info = actor.step()
                for e, record in recorder.step(rewards, dones, info):
                    if len(played[e]) < quotas[e]:
                        played[e].append(record if not played[e] else replace(record, gaze=None))
                        bar.update()
    finally:
        env.close()
    return [record for records in played for record in records]


def _settings(config: ml_collections.ConfigDict) -> dict:
    return {
        "split": config.eval.split,
        "dataset": str(dataset_path(config)),
        "backend": config.env.backend,
        "observation": "frames",
    }


def evaluate(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: str | os.PathLike,
) -> dict:
    """Evaluates on ``config.eval.split``; writes ``trials.csv``, ``accuracy_by_trial.png``
    and, where the backend reports the gaze, ``gaze.png`` (``gaze_plot`` says which).

    Returns the summary; ``harlow.evaluation.evaluate_checkpoint`` writes it, completed,
    as ``report.json``.
    """
    records = collect_episodes(agent, config, episodes, seed, greedy, config.eval.split)
    summary = _settings(config) | summarize_episodes(records)
    output_dir = Path(output_dir)
    atomic_write_text(output_dir / "trials.csv", trials_csv(records))
    title = f"Harlow from frames, {config.eval.split} images, {episodes} episodes"
    plots.plot_accuracy_by_trial(summary, output_dir / "accuracy_by_trial.png", title)
    traced = [record for record in records if record.gaze is not None]
    if traced:
        plot_gaze(traced, output_dir / "gaze.png", summary)
        summary["gaze_plot"] = f"gaze.png ({len(traced)} episodes)"
    else:
        summary["gaze_plot"] = f"none: the {config.env.backend} backend does not report the gaze"
    return summary


def stage_summary(
    agent: ActorCritic, config: ml_collections.ConfigDict, episodes: int, seed: int, greedy: bool
) -> dict:
    """Accuracy by trial and fixation of one training stage (a checkpoint), on
    ``config.eval.split``."""
    split = config.eval.split
    records = collect_episodes(
        agent, config, episodes, seed, greedy, split, show_progress=False, gaze_episodes=0
    )
    return _settings(config) | summarize_episodes(records)


def _frames(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def format_summary(summary: dict) -> str:
    """Human-readable lines: accuracy per trial, trials 2..6, reward per episode, fixation."""
    percent = trial_evaluation.percent_text
    lines = [
        f"{summary['episodes']} episodes on {summary['split']} images ({summary['backend']}, "
        "frames; accuracy over the trials that ended with a choice):"
    ]
    for entry in summary["accuracy_by_trial"]:
        lines.append(f"  trial {entry['trial']}: {percent(entry)}")
    lines.append(f"  trials 2..6: {percent(summary['trials_2_to_6'])}")
    lines.append(
        f"  trial 2 after a wrong trial 1: {percent(summary['trial_2_after_wrong_trial_1'])}"
    )
    lines.append(
        f"reward per episode {summary['reward_per_episode']:.2f} "
        f"(optimum {summary['optimal_reward_per_episode']:g})"
    )
    fixation = summary["fixation"]
    lines.append(
        f"fixation: the cross after {_frames(fixation['frames_to_fixation_median'])} frames "
        f"(median; mean {_frames(fixation['frames_to_fixation_mean'])}), the choice "
        f"{_frames(fixation['frames_fixation_to_choice_median'])} frames later; "
        f"{fixation['timed_out_trials']} of {fixation['trials']} trials timed out "
        f"({percent_or_na(fixation['timed_out_share'])})"
    )
    if "gaze_plot" in summary:
        lines.append(f"gaze plot: {summary['gaze_plot']}")
    return "\n".join(lines)


def _percents(values: list[float | None]) -> str:
    return ", ".join("n/a" if v is None else f"{100 * v:.1f}" for v in values)


def format_aggregate(aggregate: dict) -> str:
    """One line: trials 2..6, trial 1 and trials timed out over seeds."""
    mean, worst = aggregate["trials_2_to_6_mean"], aggregate["trials_2_to_6_min"]
    return (
        f"trials 2..6 correct per seed (%): {_percents(aggregate['trials_2_to_6_per_seed'])}; "
        f"mean {_percents([mean])}, min {_percents([worst])}; "
        f"trial 1 per seed (%): {_percents(aggregate['trial_1_per_seed'])}; "
        f"trials timed out per seed (%): {_percents(aggregate['timed_out_share_per_seed'])}"
    )
