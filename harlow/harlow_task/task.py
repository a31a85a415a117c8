"""The Harlow task's slots (``harlow.task.Task``): its config, environments, observations,
model fields, evaluation and reports."""

from __future__ import annotations

from pathlib import Path

import ml_collections

from harlow.config.checks import (
    FieldCheck,
    at_least,
    boolean,
    in_range,
    one_of,
)
from harlow.datasets.manifest import SPLITS
from harlow.harlow_task import env as harlow_env
from harlow.observation_spec import ObservationSpec
from harlow.psychlab.observations import OBSERVATION_MODES
from harlow.psychlab.parallel_env import EXECUTOR_CHECKS, EXECUTOR_FIELDS, check_executor
from harlow.psychlab.render import MAX_FRAME_SIZE, MIN_FRAME_SIZE
from harlow.psychlab.saccade import SaccadeWrapper
from harlow.psychlab.simulator import MAX_ROOM_JITTER
from harlow.task import Lazy, StageReport, Task

_EVALUATION = "harlow.harlow_task.evaluation"

CHECKS = (
    FieldCheck(
        "dataset", lambda v: isinstance(v, str), "a dataset folder path ('' for the bundled faces)"
    ),
    one_of("env.backend", harlow_env.BACKENDS),
    one_of("env.observation", OBSERVATION_MODES),
    boolean("env.show_chosen"),
    at_least("env.num_ids", 2),
    one_of("env.id_scope", ("episode", "dataset")),
    in_range("env.patch_size", 4, 256),
    in_range("env.pixels_size", 4, 256),
    in_range("env.frame_size", MIN_FRAME_SIZE, MAX_FRAME_SIZE),
    in_range("env.spawn_yaw_range_deg", 0, 180),
    at_least("env.max_frames_per_trial", 20),
    in_range("env.num_workers", 0, 64),
    one_of("env.split", SPLITS),
    one_of("agent.encoder", ("none", "conv")),
    in_range("agent.torso_units", 0, 8192),
    one_of("eval.split", SPLITS),
    at_least("eval.stages", 0),
    at_least("eval.stage_episodes", 1),
)

# Fields checked only when present: runs saved before they existed lack them.
OPTIONAL_CHECKS = (
    boolean("agent.conv_pairwise_differences"),
    boolean("agent.conv_layer_norm"),
    at_least("env.dmlab_episodes_per_reset", 1),
    in_range("env.room_jitter", 0, MAX_ROOM_JITTER),
    boolean("env.balanced_sides"),
    *EXECUTOR_CHECKS,
)


def check_conv_observation(config: ml_collections.ConfigDict) -> None:
    """The conv encoder needs image observations: ``patches`` or ``pixels``."""
    if config.agent.encoder == "conv" and config.env.observation not in ("patches", "pixels"):
        raise ValueError(
            "config.agent.encoder='conv' needs config.env.observation='patches' or 'pixels', got "
            f"{config.env.observation!r}"
        )


def observation_spec(config: ml_collections.ConfigDict) -> ObservationSpec:
    """What the observer of ``config.env.observation`` emits."""
    return harlow_env.observation_spec(config.env)


def evaluation_name(config: ml_collections.ConfigDict) -> str:
    """``[<backend>-][<dataset>-]<split>``: what an evaluation ran on, e.g. ``heldout``,
    ``train``, ``dmlab-heldout`` or ``my_faces-heldout``.

    The backend is named unless it is the simulator, the dataset folder unless it is the
    bundled faces (``config.dataset`` empty); the split (``config.eval.split``) always.
    """
    parts = [] if config.env.backend == "simulator" else [config.env.backend]
    if config.dataset:
        parts.append(Path(config.dataset).resolve().name)
    parts.append(config.eval.split)
    return "-".join(part for part in parts if part)


def eval_scalars(summary: dict) -> dict[str, float]:
    """Trials 2..6 correct, the learning-set measure."""
    return {"accuracy_trials_2_to_6": summary["trials_2_to_6"]["accuracy"]}


TASK = Task(
    name="harlow",
    checks=CHECKS,
    optional_checks=OPTIONAL_CHECKS,
    combination_checks=(check_conv_observation, check_executor),
    make_env=harlow_env.make_env,
    num_actions=SaccadeWrapper.num_actions,
    steps_per_trial=1,
    observation_spec=observation_spec,
    model_fields=(
        "env.observation",
        "env.show_chosen",
        "env.num_ids",
        "env.patch_size",
        "env.pixels_size",
    ),
    # Per-episode ids (first image seen = 0) or per-dataset ids: same one-hot size,
    # another meaning.
    input_meaning_fields=("env.id_scope",),
    # Worker processes and Lab resets change how fast episodes come, not what they are;
    # the sides rule changes what training plays, not what the agent is.
    resumable_fields=(
        "env.num_workers",
        "env.dmlab_episodes_per_reset",
        "env.balanced_sides",
        *EXECUTOR_FIELDS,
    ),
    evaluation_name=evaluation_name,
    evaluate=Lazy(_EVALUATION, "evaluate"),
    eval_scalars=eval_scalars,
    format_summary=Lazy(_EVALUATION, "format_summary"),
    plot_seeds=Lazy(_EVALUATION, "plot_seeds"),
    aggregate_seeds=Lazy(_EVALUATION, "aggregate_seeds"),
    format_aggregate=Lazy(_EVALUATION, "format_aggregate"),
    stages=StageReport(
        summarize=Lazy(_EVALUATION, "stage_summary"), plot=Lazy(_EVALUATION, "plot_stages")
    ),
)
