"""Evaluation of saved checkpoints with frozen weights (library side of ``harlow.evaluate``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np

from harlow.agent import ActorCritic
from harlow.atomic_io import atomic_write_text
from harlow.checkpointing import (
    CheckpointSnapshot,
    UnreadableCheckpointError,
    all_checkpoints,
    checkpoint_env_steps,
    read_checkpoint,
    restore_agent,
)
from harlow.config_validation import validate_config
from harlow.tasks import Task, build_agent, get_task


def print_warning(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _agent_for(config: ml_collections.ConfigDict, task: Task, seed: int) -> ActorCritic:
    """The agent ``config`` describes, sized from one environment (closed again at once)."""
    env = task.make_env(config, 1, seed)
    try:
        return build_agent(config, env)
    finally:
        env.close()


def evaluate_checkpoint(
    config: ml_collections.ConfigDict,
    checkpoint: str | CheckpointSnapshot,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: Path,
    report: dict | None = None,
) -> dict:
    """Restores the agent from ``checkpoint`` and runs the task's evaluation.

    ``checkpoint`` is a path or a checkpoint read already (``read_checkpoint``): either
    way it is read whole before the first episode. Writes ``report.json`` once, the
    summary with ``report``'s entries added (e.g. ``config_overrides``).
    """
    validate_config(config)
    if not isinstance(checkpoint, CheckpointSnapshot):
        checkpoint = read_checkpoint(checkpoint)
    task = get_task(config.task)
    agent = _agent_for(config, task, seed)
    restore_agent(agent, checkpoint)
    summary = task.evaluate(agent, config, episodes, seed, greedy, output_dir)
    summary["checkpoint"] = checkpoint.path
    summary["env_steps"] = checkpoint.env_steps
    summary["seed"] = config.seed
    summary |= report or {}
    atomic_write_text(output_dir / "report.json", json.dumps(summary, indent=2) + "\n")
    return summary


def stage_checkpoints(
    workdir: str | os.PathLike, stages: int, warn: Callable[[str], None] = print_warning
) -> list[str]:
    """Up to ``stages`` of the workdir's checkpoints, first and last included.

    In between they are spaced geometrically in environment steps (as Harlow grouped
    problems: learning is fastest early), each the checkpoint nearest its target. A
    checkpoint that cannot be read (deleted meanwhile by training) is left out, with a
    ``warn`` line.
    """
    checkpoints, steps_read = [], []
    for checkpoint in all_checkpoints(workdir):
        try:
            steps_read.append(checkpoint_env_steps(checkpoint))
        except UnreadableCheckpointError as e:
            warn(f"learning-set stages: skipped {e}")
            continue
        checkpoints.append(checkpoint)
    if len(checkpoints) <= stages:
        return checkpoints
    steps = np.array([max(s, 1) for s in steps_read], dtype=float)
    targets = np.geomspace(steps[0], steps[-1], stages)
    picks = {int(np.argmin(np.abs(np.log(steps) - np.log(t)))) for t in targets}
    return [checkpoints[i] for i in sorted(picks)]


def evaluate_stages(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    seed: int,
    greedy: bool,
    output_dir: Path,
    warn: Callable[[str], None] = print_warning,
) -> list[dict] | None:
    """The task's summary at successive checkpoints of a run, plotted as ``stages.png``.

    Uses ``config.eval.stages`` checkpoints and ``config.eval.stage_episodes`` episodes
    each; returns ``None`` for tasks without stage plots or runs with one checkpoint.
    Every checkpoint is read into memory before the first episode, so that a training
    run deleting old checkpoints meanwhile changes nothing; one that cannot be read (it
    vanished before, or is damaged) is left out with a ``warn`` line.
    """
    task = get_task(config.task)
    if task.stage_summary is None or task.plot_stages is None:
        return None
    snapshots = []
    for checkpoint in stage_checkpoints(workdir, config.eval.get("stages", 0), warn):
        try:
            snapshots.append(read_checkpoint(checkpoint))
        except UnreadableCheckpointError as e:
            warn(f"learning-set stages: skipped {e}")
    if len(snapshots) < 2:
        return None
    agent = _agent_for(config, task, seed)
    stages = []
    for snapshot in snapshots:
        restore_agent(agent, snapshot)
        summary = task.stage_summary(agent, config, config.eval.stage_episodes, seed, greedy)
        stages.append({"checkpoint": snapshot.path, "env_steps": snapshot.env_steps})
        stages[-1] |= summary
    task.plot_stages(stages, output_dir / "stages.png")
    atomic_write_text(output_dir / "stages.json", json.dumps(stages, indent=2) + "\n")
    return stages
