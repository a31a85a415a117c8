"""Evaluation of saved checkpoints with frozen weights (library side of ``harlow.evaluate``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np

from harlow.agent.builder import build_agent
from harlow.atomic_io import atomic_write_text
from harlow.checkpointing import (
    CheckpointSnapshot,
    UnreadableCheckpointError,
    all_checkpoints,
    checkpoint_env_steps,
    read_checkpoint,
    restore_agent,
)
from harlow.config.validation import validate_config
from harlow.tasks import get_task


def print_warning(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


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
    agent = build_agent(config)
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
    """``stages`` distinct checkpoints of the workdir (all of them if it has no more),
    first and last included.

    In between they are spaced geometrically in environment steps (as Harlow grouped
    problems: learning is fastest early), each the checkpoint nearest its target among
    those after the previous pick that leave one for each later target: two targets
    never share a checkpoint (checkpoints saved at a steady rate are evenly spaced, so
    the early targets fall closer together than the checkpoints). A checkpoint that
    cannot be read (deleted meanwhile by training) is left out, with a ``warn`` line.
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
    log_steps = np.log(np.array([max(s, 1) for s in steps_read], dtype=float))
    picks, low = [], 0
    for index, target in enumerate(np.linspace(log_steps[0], log_steps[-1], stages)):
        high = len(checkpoints) - (stages - index)  # the last this target may take
        picks.append(low + int(np.argmin(np.abs(log_steps[low : high + 1] - target))))
        low = picks[-1] + 1
    return [checkpoints[i] for i in picks]


def stages_shortfall(
    config: ml_collections.ConfigDict, drawn: int, checkpoints: int
) -> tuple[str, str | None] | None:
    """Why fewer than ``config.eval.stages`` stages are drawn, if they are: a short note for
    the figure, and a line for the user when the run has too few checkpoints (those that
    could not be read had their own line); ``checkpoints`` is how many were picked."""
    requested = config.eval.get("stages", 0)
    if drawn >= requested:
        return None
    reasons = []
    if checkpoints < requested:
        reasons.append(f"the run has only {checkpoints} readable checkpoints")
    if drawn < checkpoints:
        reasons.append(f"{checkpoints - drawn} could not be read")
    note = f"{drawn} of {requested} stages: {', '.join(reasons)}"
    if checkpoints >= requested:
        return note, None
    train = config.train
    return note, (
        f"learning-set stages (config.eval.stages = {requested}): {note} (training saves "
        f"one every config.train.checkpoint_every_seconds = "
        f"{train.get('checkpoint_every_seconds', '?')} s and keeps the last "
        f"config.train.keep_checkpoints = {train.get('keep_checkpoints', '?')})"
    )


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
    if task.stages is None:
        return None
    snapshots = []
    picked = stage_checkpoints(workdir, config.eval.get("stages", 0), warn)
    for checkpoint in picked:
        try:
            snapshots.append(read_checkpoint(checkpoint))
        except UnreadableCheckpointError as e:
            warn(f"learning-set stages: skipped {e}")
    if len(snapshots) < 2:
        return None
    shortfall = stages_shortfall(config, len(snapshots), len(picked))
    if shortfall and shortfall[1]:
        warn(shortfall[1])
    agent = build_agent(config)
    stages = []
    for snapshot in snapshots:
        restore_agent(agent, snapshot)
        summary = task.stages.summarize(agent, config, config.eval.stage_episodes, seed, greedy)
        stages.append({"checkpoint": snapshot.path, "env_steps": snapshot.env_steps})
        stages[-1] |= summary
    task.stages.plot(stages, output_dir / "stages.png", shortfall and shortfall[0])
    atomic_write_text(output_dir / "stages.json", json.dumps(stages, indent=2) + "\n")
    return stages
