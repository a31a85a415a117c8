"""Checkpoints and the resolved config in a workdir, with clear errors.

Layout of a workdir::

    config.json          the resolved config (written atomically)
    checkpoints/ckpt-N*  tf.train.Checkpoint files (agent, optimizer, counters)
    train/ eval/         TensorBoard event files

A checkpoint counts once the ``checkpoints/checkpoint`` state file names it: TensorFlow
writes it last, atomically, so a process killed while saving leaves the previous
checkpoint as the latest. What such a save leaves behind (``ckpt-N_temp/`` folders
with a partial data file, files of a checkpoint never recorded, temporary state files)
is removed when training starts again; see ``remove_interrupted_saves``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from harlow.agent import ActorCritic
from harlow.atomic_io import atomic_write_text

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
# Names tf.train.CheckpointManager (prefix "ckpt") and its state file use while saving.
_TEMP_DIR = re.compile(r"ckpt-\d+_temp")
_CHECKPOINT_FILE = re.compile(r"(ckpt-\d+)\.(index|data-\d{5}-of-\d{5})")
_TEMP_STATE_FILE = re.compile(r"checkpoint\.tmp[0-9a-f]{32}")


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
        removed = remove_interrupted_saves(workdir)
        if removed:
            logging.warning(
                "Removed %d leftover(s) of interrupted checkpoint saves: %s",
                len(removed),
                ", ".join(p.name for p in removed),
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
    """Every checkpoint kept in the workdir, oldest first.

    A save killed while deleting the oldest checkpoint leaves the state file naming it
    until the next save; such a checkpoint (its index gone) is not listed.
    """
    state = tf.train.get_checkpoint_state(str(Path(workdir) / CHECKPOINT_DIR))
    paths = state.all_model_checkpoint_paths if state else []
    return [p for p in paths if tf.io.gfile.exists(p + ".index")]


def remove_interrupted_saves(workdir: str | os.PathLike) -> list[Path]:
    """Deletes what killed checkpoint saves left in the workdir; returns what it removed.

    That is ``ckpt-N_temp/`` folders (TensorFlow writes the data there first and leaves
    them, partial data file included, when killed), ``ckpt-N.*`` files of checkpoints
    the state file does not record (killed between writing them and recording them),
    and the state file's own temporary copies. Only the process that writes checkpoints
    may call this, before its first save: it would delete another one's save in progress.
    """
    directory = Path(workdir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    state = tf.train.get_checkpoint_state(str(directory))
    recorded = {Path(p).name for p in state.all_model_checkpoint_paths} if state else None
    removed = []
    for path in sorted(directory.iterdir()):
        checkpoint_file = _CHECKPOINT_FILE.fullmatch(path.name)
        if _TEMP_DIR.fullmatch(path.name) and path.is_dir():
            shutil.rmtree(path)
        elif _TEMP_STATE_FILE.fullmatch(path.name) or (
            # Without a state file, nothing says which checkpoints are whole: keep them.
            checkpoint_file and recorded is not None and checkpoint_file[1] not in recorded
        ):
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


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
