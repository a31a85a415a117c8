"""Evaluation of saved checkpoints with frozen weights (library side of ``harlow.evaluate``)."""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import tensorflow as tf

from harlow.atomic_io import atomic_write_text
from harlow.checkpointing import restore_agent
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
    atomic_write_text(output_dir / "report.json", json.dumps(summary, indent=2) + "\n")
    return summary
