"""Evaluation of saved checkpoints with frozen weights (library side of ``harlow.evaluate``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf

from harlow.atomic_io import atomic_write_text
from harlow.checkpointing import all_checkpoints, restore_agent
from harlow.config_validation import validate_config
from harlow.tasks import build_agent, get_task


def checkpoint_env_steps(path: str) -> int:
    """Environment steps recorded in a training checkpoint (0 if absent)."""
    reader = tf.train.load_checkpoint(path)
    key = "env_steps/.ATTRIBUTES/VARIABLE_VALUE"
    return int(reader.get_tensor(key)) if reader.has_tensor(key) else 0


def evaluate_checkpoint(
    config: ml_collections.ConfigDict,
    checkpoint: str,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: Path,
) -> dict:
    """Restores the agent from ``checkpoint`` and runs the task's evaluation."""
    validate_config(config)
    task = get_task(config.task)
    agent = build_agent(config, task.make_env(config, 1, seed))
    restore_agent(agent, checkpoint)
    summary = task.evaluate(agent, config, episodes, seed, greedy, output_dir)
    summary["checkpoint"] = checkpoint
    summary["env_steps"] = checkpoint_env_steps(checkpoint)
    summary["seed"] = config.seed
    atomic_write_text(output_dir / "report.json", json.dumps(summary, indent=2) + "\n")
    return summary


def stage_checkpoints(workdir: str | os.PathLike, stages: int) -> list[str]:
    """Up to ``stages`` of the workdir's checkpoints, first and last included.

    In between they are spaced geometrically in environment steps (as Harlow grouped
    problems: learning is fastest early), each the checkpoint nearest its target.
    """
    checkpoints = all_checkpoints(workdir)
    if len(checkpoints) <= stages:
        return checkpoints
    steps = np.array([max(checkpoint_env_steps(c), 1) for c in checkpoints], dtype=float)
    targets = np.geomspace(steps[0], steps[-1], stages)
    picks = {int(np.argmin(np.abs(np.log(steps) - np.log(t)))) for t in targets}
    return [checkpoints[i] for i in sorted(picks)]


def evaluate_stages(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    seed: int,
    greedy: bool,
    output_dir: Path,
) -> list[dict] | None:
    """The task's summary at successive checkpoints of a run, plotted as ``stages.png``.

    Uses ``config.eval.stages`` checkpoints and ``config.eval.stage_episodes`` episodes
    each; returns ``None`` for tasks without stage plots or runs with one checkpoint.
    """
    task = get_task(config.task)
    checkpoints = stage_checkpoints(workdir, config.eval.get("stages", 0))
    if task.stage_summary is None or task.plot_stages is None or len(checkpoints) < 2:
        return None
    agent = build_agent(config, task.make_env(config, 1, seed))
    stages = []
    for checkpoint in checkpoints:
        restore_agent(agent, checkpoint)
        summary = task.stage_summary(agent, config, config.eval.stage_episodes, seed, greedy)
        stages.append({"checkpoint": checkpoint, "env_steps": checkpoint_env_steps(checkpoint)})
        stages[-1] |= summary
    task.plot_stages(stages, output_dir / "stages.png")
    atomic_write_text(output_dir / "stages.json", json.dumps(stages, indent=2) + "\n")
    return stages
