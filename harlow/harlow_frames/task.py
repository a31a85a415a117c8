"""The frame-level Harlow task's slots (``harlow.task.Task``): config checks, environments,
the frame observation, model fields, evaluation and reports."""

from __future__ import annotations

import ml_collections

from harlow.config.checks import FieldCheck, at_least, boolean, in_range, one_of
from harlow.datasets.manifest import SPLITS
from harlow.harlow_frames import env as frames_env
from harlow.harlow_task.task import evaluation_name
from harlow.psychlab.chosen_half import KEPT_HALVES
from harlow.psychlab.parallel_env import EXECUTOR_CHECKS, EXECUTOR_FIELDS, check_executor
from harlow.psychlab.protocol import ProtocolConfig
from harlow.psychlab.render import MAX_FRAME_SIZE, MIN_FRAME_SIZE
from harlow.psychlab.simulator import MAX_ROOM_JITTER
from harlow.task import Lazy, StageReport, Task

_EVALUATION = "harlow.harlow_frames.evaluation"
_RECORDS = "harlow.harlow_frames.records"
_PLOTS = "harlow.harlow_frames.plots"

CHECKS = (
    FieldCheck(
        "dataset", lambda v: isinstance(v, str), "a dataset folder path ('' for the bundled faces)"
    ),
    one_of("env.backend", frames_env.BACKENDS),
    in_range("env.frame_size", MIN_FRAME_SIZE, MAX_FRAME_SIZE),
    in_range("env.observation_size", 8, 256),
    in_range("env.action_repeat", 1, 60),
    in_range("env.spawn_yaw_range_deg", 0, 180),
    at_least("env.spawn_curriculum_steps", 0),
    in_range("env.episode_length_seconds", 1, 3600),
    in_range("env.num_workers", 0, 64),
    one_of("env.split", SPLITS),
    one_of("agent.encoder", ("conv",)),
    in_range("agent.torso_units", 0, 8192),
    one_of("eval.split", SPLITS),
    at_least("eval.stages", 0),
    at_least("eval.stage_episodes", 1),
)


def check_observation_fits_frame(config: ml_collections.ConfigDict) -> None:
    """The observation is the frame downsampled, the fovea a part of the frame: neither can
    be larger than the frame."""
    if config.env.observation_size > config.env.frame_size:
        raise ValueError(
            f"config.env.observation_size={config.env.observation_size} exceeds "
            f"config.env.frame_size={config.env.frame_size}: observations are the rendered "
            "frames downsampled"
        )
    fovea_size = config.env.get("fovea_size", 0)
    if fovea_size > config.env.frame_size:
        raise ValueError(
            f"config.env.fovea_size={fovea_size} exceeds config.env.frame_size="
            f"{config.env.frame_size}: the fovea is the centre of the rendered frame"
        )


def check_chosen_view_is_shown(config: ml_collections.ConfigDict) -> None:
    """``env.chosen_view`` picks the half the chosen view keeps: it needs that view."""
    chosen_view = config.env.get("chosen_view", "chosen")
    if chosen_view != "chosen" and not config.env.get("show_chosen", False):
        raise ValueError(
            f"config.env.chosen_view={chosen_view!r} needs config.env.show_chosen=True: it "
            "picks the half of the chosen view, which is shown only with show_chosen"
        )


def eval_scalars(summary: dict) -> dict[str, float]:
    """Trials 2..6 correct (the learning set) and the share of trials that timed out."""
    return {
        "accuracy_trials_2_to_6": summary["trials_2_to_6"]["accuracy"] or 0.0,
        "timed_out_trials": summary["fixation"]["timed_out_share"],
    }


TASK = Task(
    name="harlow_frames",
    checks=CHECKS,
    optional_checks=(
        boolean("env.balanced_sides"),
        in_range("env.fovea_size", 0, MAX_FRAME_SIZE),
        boolean("env.show_chosen"),
        one_of("env.chosen_view", KEPT_HALVES),
        in_range("env.room_jitter", 0, MAX_ROOM_JITTER),
        *EXECUTOR_CHECKS,
    ),
    combination_checks=(
        check_observation_fits_frame,
        check_chosen_view_is_shown,
        check_executor,
    ),
    make_env=frames_env.make_env,
    num_actions=frames_env.NUM_ACTIONS,
    steps_per_trial=None,
    trials_per_episode=ProtocolConfig().trials_per_episode,
    observation_spec=frames_env.observation_spec,
    model_fields=("env.observation_size", "env.fovea_size", "env.show_chosen"),
    # The same frames mean another thing at another repeat or frame size.
    input_meaning_fields=("env.action_repeat", "env.frame_size", "env.chosen_view"),
    resumable_fields=(
        "env.num_workers",
        "env.spawn_curriculum_steps",
        "env.episode_length_seconds",
        "env.balanced_sides",
        *EXECUTOR_FIELDS,
    ),
    evaluation_name=evaluation_name,
    evaluate=Lazy(_EVALUATION, "evaluate"),
    eval_scalars=eval_scalars,
    format_summary=Lazy(_EVALUATION, "format_summary"),
    plot_seeds=Lazy(_PLOTS, "plot_seeds"),
    aggregate_seeds=Lazy(_RECORDS, "aggregate_seeds"),
    format_aggregate=Lazy(_EVALUATION, "format_aggregate"),
    stages=StageReport(
        summarize=Lazy(_EVALUATION, "stage_summary"), plot=Lazy(_PLOTS, "plot_stages")
    ),
)
