"""What a task provides to the generic layers: a fixed set of slots, in data-flow order.

Each task lives in one folder (``harlow/harlow_task``, ``harlow/two_step``) whose
``task.py`` fills a ``Task``; ``harlow.tasks`` registers them. The generic layers
(config validation, training, evaluation, reports) hold only what every task shares and
ask the task for the rest. A new task is a new folder and one line in ``harlow.tasks``.

Slots, in the order data flows:

* config: ``checks`` (required fields), ``optional_checks`` (fields older runs may
  lack), ``combination_checks`` (settings valid alone but not together);
* environment: ``make_env``, ``num_actions``, ``steps_per_trial`` (or
  ``trials_per_episode``);
* vision: ``observation_spec``, what the observation vector holds, from the config
  alone (the agent is sized from it, with no environment built);
* agent: ``model_fields`` (the task's fields that shape the agent, besides
  ``harlow.agent.builder.AGENT_FIELDS``) and ``input_meaning_fields`` (fields that keep
  its shapes but change what its inputs mean): evaluation refuses to override either;
* learner: ``resumable_fields``, the task's fields a resumed run may change (besides
  ``harlow.config.changes.RESUMABLE_FIELDS``);
* evaluation and reports: ``evaluation_name``, ``evaluate``, ``eval_scalars``,
  ``format_summary``, ``plot_seeds``, ``aggregate_seeds``, ``format_aggregate`` and,
  optionally, ``stages`` (the curves of successive checkpoints).

Validating a config must stay light (``harlow.sweep`` does it without TensorFlow), so a
task's evaluation and plots are named with ``Lazy``: imported at their first call.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ml_collections

from harlow.config.checks import FieldCheck
from harlow.observation_spec import ObservationSpec

if TYPE_CHECKING:
    from harlow.agent.network import ActorCritic
    from harlow.learner.rollout import BatchedEnv

Config = ml_collections.ConfigDict


@dataclass(frozen=True)
class Lazy:
    """``module.name``, imported at its first call: a task's evaluation and plots (they
    import TensorFlow and matplotlib) named in its ``Task`` without importing them."""

    module: str
    name: str

    def resolve(self) -> Callable[..., Any]:
        """The function itself (imports its module)."""
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class StageReport:
    """The task's summary of one training stage (checkpoint), and the plot of all stages.

    ``summarize(agent, config, episodes, seed, greedy)`` returns one stage's summary;
    ``plot(stages, path, note)`` draws them (``note``: why fewer stages than asked, or None).
    """

    summarize: Callable[[ActorCritic, Config, int, int, bool], dict]
    plot: Callable[[list[dict], os.PathLike, str | None], None]


@dataclass(frozen=True)
class Task:
    """The slots every task fills (see the module docstring); ``stages`` may be None."""

    name: str
    # Config.
    checks: tuple[FieldCheck, ...]
    optional_checks: tuple[FieldCheck, ...]
    combination_checks: tuple[Callable[[Config], None], ...]
    # Environment: make_env(config, num_envs, seed).
    make_env: Callable[[Config, int, int], BatchedEnv]
    num_actions: int
    # Agent steps per trial; None where a trial takes as many steps as the agent needs
    # (the frame-level task): reward per trial is then per episode / trials_per_episode.
    steps_per_trial: int | None
    # Vision: what the observation vector holds, from the config alone.
    observation_spec: Callable[[Config], ObservationSpec]
    # Agent.
    model_fields: tuple[str, ...]
    input_meaning_fields: tuple[str, ...]
    # Learner.
    resumable_fields: tuple[str, ...]
    # Evaluation and reports. evaluation_name(config): the default report folder's name
    # under <workdir>/eval ("" for the folder itself), telling evaluations apart.
    evaluation_name: Callable[[Config], str]
    # evaluate(agent, config, episodes, seed, greedy, output_dir) -> summary
    evaluate: Callable[[ActorCritic, Config, int, int, bool, Path], dict]
    # eval_scalars(summary): TensorBoard scalars besides reward_per_trial, {"tag": value}.
    eval_scalars: Callable[[dict], dict[str, float]]
    format_summary: Callable[[dict], str]
    plot_seeds: Callable[[list[dict], os.PathLike], None]
    aggregate_seeds: Callable[[list[dict]], dict]
    format_aggregate: Callable[[dict], str]
    stages: StageReport | None = None
    trials_per_episode: int | None = None

    def trials_in(self, episode_length: float) -> float:
        """Trials in an episode of ``episode_length`` agent steps."""
        if self.steps_per_trial is None:
            if self.trials_per_episode is None:
                raise ValueError(f"task {self.name!r} gives neither steps nor trials per episode")
            return float(self.trials_per_episode)
        return episode_length / self.steps_per_trial
