"""Runs a frozen agent on the two-step task and writes the stay-probability report."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import ml_collections
import numpy as np

from harlow.agent.network import ActorCritic
from harlow.atomic_io import atomic_write_text
from harlow.learner.rollout import Actor
from harlow.signals import raise_if_interrupted
from harlow.two_step import analysis, plots
from harlow.two_step.task import make_env


@dataclass
class TrialRecords:
    """Per-trial records, each ``[episodes, trials]``."""

    actions: np.ndarray
    second_states: np.ndarray
    common: np.ndarray
    rewarded: np.ndarray

    def to_csv(self) -> str:
        """One row per trial: episode, trial, action, state reached, transition, reward."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["episode", "trial", "action", "state", "transition", "reward"])
        episodes, trials = self.actions.shape
        for e in range(episodes):
            for t in range(trials):
                writer.writerow(
                    [
                        e,
                        t + 1,
                        int(self.actions[e, t]),
                        f"S{2 + int(self.second_states[e, t])}",
                        "common" if self.common[e, t] else "rare",
                        int(self.rewarded[e, t]),
                    ]
                )
        return out.getvalue()


def collect_trials(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
) -> TrialRecords:
    """Plays ``episodes`` full episodes with frozen weights and records every trial."""
    num_envs = min(config.eval.num_envs, episodes)
    rounds = -(-episodes // num_envs)
    fields = {"first_action": [], "second_state": [], "common": [], "rewarded": []}
    with contextlib.closing(make_env(config, num_envs, seed)) as env:
        actor = Actor(env, agent, np.random.default_rng(seed), greedy=greedy)
        for _ in range(rounds * env.steps_per_episode):
            raise_if_interrupted()  # a Ctrl-C or SIGTERM lost in a finalizer stops here
            _, _, _, info = actor.step()
            if info:
                for key, column in fields.items():
                    column.append(info[key])
    # Each list holds [rounds * trials] arrays of shape [num_envs]: regroup per episode.
    trials = config.env.trials_per_episode

    def per_episode(column: list[np.ndarray]) -> np.ndarray:
        stacked = np.stack(column).reshape(rounds, trials, num_envs)
        return stacked.transpose(0, 2, 1).reshape(rounds * num_envs, trials)[:episodes]

    return TrialRecords(
        actions=per_episode(fields["first_action"]),
        second_states=per_episode(fields["second_state"]),
        common=per_episode(fields["common"]).astype(bool),
        rewarded=per_episode(fields["rewarded"]).astype(bool),
    )


def evaluate(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: str | os.PathLike,
) -> dict:
    """Evaluates, writes ``trials.csv`` and ``stay_probability.png``; returns the summary
    (``harlow.evaluation.evaluate_checkpoint`` writes it, completed, as ``report.json``)."""
    records = collect_trials(agent, config, episodes, seed, greedy)
    summary = analysis.summarize(records.actions, records.common, records.rewarded)
    summary["task_settings"] = config.env.to_dict()  # for the figures' titles
    output_dir = Path(output_dir)
    atomic_write_text(output_dir / "trials.csv", records.to_csv())
    plots.plot_stay_probabilities(
        [summary["stay_probabilities"]],
        output_dir / "stay_probability.png",
        settings=summary["task_settings"],
    )
    return summary


def _number(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def format_summary(summary: dict) -> str:
    """Human-readable lines: the four stay probabilities and the regression."""
    lines = [f"reward per trial: {summary['reward_per_trial']:.3f}", "P(stay):"]
    for name in analysis.CLASSES:
        entry = summary["stay_probabilities"][name]
        lines.append(f"  {name:<18} {_number(entry['p_stay'], '.3f')}  (n={entry['n']})")
    for name, value in summary["model_based_indices"].items():
        lines.append(f"  {name:<30} {_number(value, '+.3f')}")
    regression = summary["regression"]
    if "error" in regression:
        lines.append(f"logistic regression: {regression['error']}")
    else:
        lines.append("logistic regression of stay (coef +- se):")
        for name in ("intercept", "reward", "transition", "interaction"):
            lines.append(
                f"  {name:<12} {regression[name]['coef']:+.3f} +- {regression[name]['se']:.3f}"
            )
    return "\n".join(lines)


def _mean(values: list[float | None]) -> float | None:
    """The mean of the values that are not None (None if none is)."""
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


def aggregate_seeds(summaries: list[dict]) -> dict:
    """Across seeds: the mean stay probability of each class, the model-based indices per
    seed."""
    indices = summaries[0]["model_based_indices"]
    return {
        "mean_p_stay": {
            name: _mean([s["stay_probabilities"][name]["p_stay"] for s in summaries])
            for name in analysis.CLASSES
        },
        "model_based_indices_per_seed": {
            name: [s["model_based_indices"][name] for s in summaries] for name in indices
        },
    }


def format_aggregate(aggregate: dict) -> str:
    """Lines: mean P(stay) per class, then each model-based index per seed."""
    means = ", ".join(
        f"{name} {_number(value, '.3f')}" for name, value in aggregate["mean_p_stay"].items()
    )
    lines = [f"mean P(stay) over seeds: {means}"]
    for name, values in aggregate["model_based_indices_per_seed"].items():
        lines.append(f"{name} per seed: {', '.join(_number(v, '+.3f') for v in values)}")
    return "\n".join(lines)


def plot_seeds(summaries: list[dict], path: str | os.PathLike) -> None:
    """The multi-seed figure: bars = mean over seeds, one dot per seed."""
    plots.plot_stay_probabilities(
        [s["stay_probabilities"] for s in summaries],
        path,
        settings=[s.get("task_settings", {}) for s in summaries],
    )
