"""Checkpoints and the resolved config in a workdir, with clear errors.

Layout of a workdir::

    config.json          the resolved config (written atomically)
    checkpoints/ckpt-N*  tf.train.Checkpoint files (agent, optimizer, counters)
    train/ eval/         TensorBoard event files
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import ml_collections
import tensorflow as tf

from harlow.agent import ActorCritic
from harlow.atomic_io import atomic_write_text

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the configured agent."""


def save_config(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> None:
    """Saves the resolved config as ``workdir/config.json``."""
    text = json.dumps(config.to_dict(), indent=2, sort_keys=True)
    atomic_write_text(Path(workdir) / CONFIG_FILE, text + "\n")


def load_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
    """Loads ``workdir/config.json``; raises ``CheckpointError`` if absent or corrupt."""
    path = Path(workdir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} not found: is {workdir} a training workdir?")
    try:
        return ml_collections.ConfigDict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e


class TrainingState:
    """Everything a resumed run needs: agent, optimizer and progress counters."""

    def __init__(
        self,
        agent: ActorCritic,
        optimizer: keras.optimizers.Optimizer,
        workdir: str | os.PathLike,
        keep: int,
    ) -> None:
        self.env_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="env_steps")
        self.episodes = tf.Variable(0, dtype=tf.int64, trainable=False, name="episodes")
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self.checkpoint = tf.train.Checkpoint(
            agent=agent,
            optimizer=optimizer,
            env_steps=self.env_steps,
            episodes=self.episodes,
            updates=self.updates,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(Path(workdir) / CHECKPOINT_DIR), max_to_keep=keep
        )

    def restore_latest(self) -> str | None:
        """Restores the newest checkpoint, if any; returns its path."""
        path = self.manager.latest_checkpoint
        if path is not None:
            _restore(self.checkpoint, path, expect_partial=False)
        return path

    def save(self) -> str:
        """Writes a checkpoint numbered by the update count; returns its path."""
        return self.manager.save(checkpoint_number=int(self.updates.numpy()))


def resolve_checkpoint(workdir: str | os.PathLike, checkpoint: str | None) -> str:
    """The checkpoint to evaluate: ``checkpoint`` if given, else the workdir's latest."""
    if checkpoint:
        if not tf.io.gfile.exists(checkpoint + ".index"):
            raise CheckpointError(f"checkpoint {checkpoint} not found (no {checkpoint}.index)")
        return checkpoint
    latest = tf.train.latest_checkpoint(str(Path(workdir) / CHECKPOINT_DIR))
    if latest is None:
        raise CheckpointError(f"no checkpoint in {Path(workdir) / CHECKPOINT_DIR}")
    return latest


def all_checkpoints(workdir: str | os.PathLike) -> list[str]:
    """Every checkpoint kept in the workdir, oldest first."""
    state = tf.train.get_checkpoint_state(str(Path(workdir) / CHECKPOINT_DIR))
    return list(state.all_model_checkpoint_paths) if state else []


def restore_agent(agent: ActorCritic, path: str) -> None:
    """Loads only the agent's weights from checkpoint ``path``."""
    _restore(tf.train.Checkpoint(agent=agent), path, expect_partial=True)


def _restore(checkpoint: tf.train.Checkpoint, path: str, expect_partial: bool) -> None:
    try:
        tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is missing or corrupt: {_first_line(e)}") from e
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
        if expect_partial:
            status.expect_partial()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        raise CheckpointError(
            f"checkpoint {path} does not match the agent built from the config "
            f"(was it written with other sizes or another task?): {_first_line(e)}"
        ) from e


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
