"""Runs a frozen agent on Harlow episodes and writes the learning-set report."""

from __future__ import annotations

import os
from pathlib import Path

import ml_collections
import numpy as np

from harlow.agent.network import ActorCritic
from harlow.atomic_io import atomic_write_text
from harlow.harlow_task import analysis, plots
from harlow.harlow_task import env as harlow_env
from harlow.learner.rollout import Actor
from harlow.progress import progress_bar
from harlow.signals import raise_if_interrupted

_COLUMNS = ("choice", "correct_side", "reward", "left_id", "right_id", "timeouts")


def collect_trials(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    split: str,
    show_progress: bool | None = None,
) -> analysis.TrialTable:
    """Plays ``episodes`` whole episodes of the level (its sides, whatever training drew) on
    ``split`` with frozen weights; records every trial."""
    num_envs = min(config.eval.num_envs, episodes)
    env = harlow_env.make_env(harlow_env.with_level_sides(config), num_envs, seed, split)
    finished: dict[str, list[np.ndarray]] = {key: [] for key in _COLUMNS}
    current = [{key: [] for key in _COLUMNS} for _ in range(num_envs)]
    done_episodes = 0
    try:
        actor = Actor(env, agent, np.random.default_rng(seed), greedy=greedy)
        with progress_bar(total=episodes, unit="episode", disable=show_progress is False) as bar:
            while done_episodes < episodes:
                raise_if_interrupted()
                actions, rewards, dones, info = actor.step()
                row = {
                    "choice": actions,
                    "correct_side": info["correct_side"],
                    "reward": rewards,
                    "left_id": info["left_id"],
                    "right_id": info["right_id"],
                    "timeouts": info["timeouts"],
                }
                for e in range(num_envs):
                    for key in _COLUMNS:
                        current[e][key].append(row[key][e])
                    if dones[e]:
                        complete = len(current[e]["choice"]) == analysis.TRIALS
                        if complete and done_episodes < episodes:
                            for key in _COLUMNS:
                                finished[key].append(np.array(current[e][key]))
                            done_episodes += 1
                            bar.update()
                        current[e] = {key: [] for key in _COLUMNS}
    finally:
        env.close()
    return analysis.TrialTable(**{key: np.stack(finished[key]) for key in _COLUMNS})


def evaluate(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: str | os.PathLike,
) -> dict:
    """Evaluates on ``config.eval.split``; writes ``trials.csv`` and ``accuracy_by_trial.png``.

    Returns the summary; ``harlow.evaluation.evaluate_checkpoint`` writes it, completed,
    as ``report.json``.
    """
    split = config.eval.split
    table = collect_trials(agent, config, episodes, seed, greedy, split)
    summary = {
        "split": split,
        "dataset": str(harlow_env.dataset_path(config)),
        "backend": config.env.backend,
        "observation": config.env.observation,
    }
    summary |= analysis.summarize(table)
    output_dir = Path(output_dir)
    atomic_write_text(output_dir / "trials.csv", table.to_csv())
    title = f"Harlow, {split} images, {episodes} episodes"
    plots.plot_accuracy_by_trial(summary, output_dir / "accuracy_by_trial.png", title)
    return summary


def stage_summary(
    agent: ActorCritic, config: ml_collections.ConfigDict, episodes: int, seed: int, greedy: bool
) -> dict:
    """Accuracy by trial of one training stage (a checkpoint), on ``config.eval.split``."""
    table = collect_trials(agent, config, episodes, seed, greedy, config.eval.split, False)
    settings = {
        "split": config.eval.split,
        "dataset": str(harlow_env.dataset_path(config)),
        "backend": config.env.backend,
        "observation": config.env.observation,
    }
    return settings | analysis.summarize(table)


def plot_stages(stages: list[dict], path: str | os.PathLike, note: str | None = None) -> None:
    """The learning-set curves of successive checkpoints; ``note``: why fewer than asked."""
    for stage in stages:
        stage["episodes_trained"] = stage["env_steps"] // analysis.TRIALS
    plots.plot_stages(stages, path, note=note)


def percent_text(entry: dict) -> str:
    """An ``analysis.proportion`` entry as "97.5 % [96.0, 98.4] (n=2500)", or "n/a"."""
    if entry["accuracy"] is None:
        return "n/a"
    low, high = 100 * entry["ci_low"], 100 * entry["ci_high"]
    return f"{100 * entry['accuracy']:5.1f} % [{low:.1f}, {high:.1f}] (n={entry['n']})"


def format_summary(summary: dict) -> str:
    """Human-readable lines: accuracy per trial, trials 2..6, reward per episode."""
    backend = f" ({summary['backend']})" if "backend" in summary else ""
    lines = [f"{summary['episodes']} episodes on {summary['split']} images{backend}:"]
    for entry in summary["accuracy_by_trial"]:
        lines.append(f"  trial {entry['trial']}: {percent_text(entry)}")
    lines.append(f"  trials 2..6: {percent_text(summary['trials_2_to_6'])}")
    lines.append(
        f"  trial 2 after a wrong trial 1: {percent_text(summary['trial_2_after_wrong_trial_1'])}"
    )
    optimum, random = summary["optimal_reward_per_episode"], summary["random_reward_per_episode"]
    lines.append(
        f"reward per episode {summary['reward_per_episode']:.2f} "
        f"(optimum {optimum:g}, random {random:g})"
    )
    if summary["timeouts"]:
        lines.append(f"warning: {summary['timeouts']} trials timed out in the saccade wrapper")
    return "\n".join(lines)


def aggregate_seeds(summaries: list[dict]) -> dict:
    """Across seeds: mean accuracy per trial, and trials 2..6 and trial 1 per seed."""
    by_trial = np.array(
        [[e["accuracy"] for e in s["accuracy_by_trial"]] for s in summaries], dtype=float
    )
    trials_2_6 = [s["trials_2_to_6"]["accuracy"] for s in summaries]
    return {
        "mean_accuracy_by_trial": np.nanmean(by_trial, axis=0).tolist(),
        "trials_2_to_6_per_seed": trials_2_6,
        "trial_1_per_seed": [s["trial_1"]["accuracy"] for s in summaries],
        "trials_2_to_6_min": float(np.nanmin(trials_2_6)),
        "trials_2_to_6_mean": float(np.nanmean(trials_2_6)),
    }


def format_aggregate(aggregate: dict) -> str:
    """One line: trials 2..6 over seeds."""
    per_seed = ", ".join(f"{100 * a:.1f}" for a in aggregate["trials_2_to_6_per_seed"])
    first = ", ".join(f"{100 * a:.1f}" for a in aggregate["trial_1_per_seed"])
    mean, worst = aggregate["trials_2_to_6_mean"], aggregate["trials_2_to_6_min"]
    return (
        f"trials 2..6 correct per seed (%): {per_seed}; mean {100 * mean:.1f}, "
        f"min {100 * worst:.1f}; trial 1 per seed (%): {first}"
    )


def plot_seeds(summaries: list[dict], path: str | os.PathLike) -> None:
    """Accuracy by trial over seeds: mean and one line per seed."""
    labels = [f"seed {s.get('seed', i)}" for i, s in enumerate(summaries)]
    plots.plot_seeds(summaries, labels, path)
