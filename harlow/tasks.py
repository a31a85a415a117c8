"""The registry of tasks the trainer and the evaluator know."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import ml_collections

from harlow.agent import ActorCritic, PatchEncoderSpec
from harlow.harlow_task import evaluation as harlow_evaluation
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
    # Optional: the summary of one training stage (checkpoint) and the plot of all stages.
    stage_summary: (
        Callable[[ActorCritic, ml_collections.ConfigDict, int, int, bool], dict] | None
    ) = None
    plot_stages: Callable[[list[dict], os.PathLike], None] | None = None
    # Optional: task-specific numbers over seeds for the multi-seed report, and their line.
    aggregate_seeds: Callable[[list[dict]], dict] | None = None
    format_aggregate: Callable[[dict], str] | None = None
    # Config fields that shape the agent: a checkpoint only fits a config with the same values.
    model_fields: tuple[str, ...] = ("agent.lstm_units",)


TASKS: dict[str, Task] = {
    "two_step": Task(
        make_env=two_step_evaluation.make_env,
        evaluate=two_step_evaluation.evaluate,
        format_summary=two_step_evaluation.format_summary,
        plot_seeds=two_step_evaluation.plot_seeds,
        steps_per_trial=2,
    ),
    "harlow": Task(
        make_env=harlow_evaluation.make_env,
        evaluate=harlow_evaluation.evaluate,
        format_summary=harlow_evaluation.format_summary,
        plot_seeds=harlow_evaluation.plot_seeds,
        steps_per_trial=1,
        stage_summary=harlow_evaluation.stage_summary,
        plot_stages=harlow_evaluation.plot_stages,
        aggregate_seeds=harlow_evaluation.aggregate_seeds,
        format_aggregate=harlow_evaluation.format_aggregate,
        model_fields=(
            "env.observation",
            "env.show_chosen",
            "env.num_ids",
            "env.patch_size",
            "env.pixels_size",
            "agent.lstm_units",
            "agent.torso_units",
            "agent.encoder",
            "agent.conv_filters",
            "agent.conv_kernel_sizes",
            "agent.conv_strides",
            "agent.conv_embedding_size",
            "agent.conv_pairwise_differences",
            "agent.conv_layer_norm",
        ),
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
        encoder=patch_encoder_spec(config, env.observation_size),
        torso_units=config.agent.get("torso_units", 0),  # the two-step agent has none
    )


def patch_encoder_spec(
    config: ml_collections.ConfigDict, observation_size: int
) -> PatchEncoderSpec | None:
    """The conv encoder of ``config.agent.encoder == "conv"`` (``None`` otherwise).

    With ``patches`` observations it encodes each image crop; with ``pixels``
    observations the whole downsampled frame is its one patch.
    """
    if config.agent.get("encoder", "none") != "conv":
        return None
    if config.env.observation == "pixels":
        patch_size = config.env.pixels_size
    else:
        patch_size = config.env.patch_size
    return PatchEncoderSpec(
        num_patches=observation_size // patch_size**2,
        patch_size=patch_size,
        filters=tuple(config.agent.conv_filters),
        kernel_sizes=tuple(config.agent.conv_kernel_sizes),
        strides=tuple(config.agent.conv_strides),
        embedding_size=config.agent.conv_embedding_size,
        pairwise_differences=config.agent.get("conv_pairwise_differences", False),
        # Runs saved before the field existed have no layer norm.
        layer_norm=config.agent.get("conv_layer_norm", False),
    )
