"""The registry of tasks the trainer and the evaluator know."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import ml_collections

from harlow.agent import ActorCritic
from harlow.rollout import BatchedEnv
from harlow.two_step import evaluation as two_step_evaluation


@dataclass(frozen=True)
class Task:
    """What a task provides: its environment, its evaluation and its report."""

    make_env: Callable[[ml_collections.ConfigDict, int, int], BatchedEnv]
    evaluate: Callable[[ActorCritic, ml_collections.ConfigDict, int, int, bool, os.PathLike], dict]
    format_summary: Callable[[dict], str]
    plot_seeds: Callable[[list[dict], os.PathLike], None]
    steps_per_trial: int


TASKS: dict[str, Task] = {
    "two_step": Task(
        make_env=two_step_evaluation.make_env,
        evaluate=two_step_evaluation.evaluate,
        format_summary=two_step_evaluation.format_summary,
        plot_seeds=two_step_evaluation.plot_seeds,
        steps_per_trial=2,
    ),
}


def get_task(name: str) -> Task:
    """The task called ``name``; raises ``ValueError`` listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}")
    return TASKS[name]


def build_agent(config: ml_collections.ConfigDict, env: BatchedEnv) -> ActorCritic:
    """The agent described by ``config.agent`` for ``env``'s spaces."""
    return ActorCritic(
        observation_size=env.observation_size,
        num_actions=env.num_actions,
        lstm_units=config.agent.lstm_units,
        seed=config.seed,
    )
