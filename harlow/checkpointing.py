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

Damaged checkpoints. A checkpoint is read whole before it is used (``read_checkpoint``):
its files are read into memory and every tensor is checked against its checksum, so a
missing, truncated or overwritten ``.index`` or ``.data-*`` file is named in a
``CheckpointError`` instead of failing later with a traceback. Held in memory, what was
read stays the same however a training run meanwhile deletes old checkpoints.
``harlow.evaluate`` evaluates the newest checkpoint that can be read, with a warning line
for each newer one skipped (listed in ``report.json``); given ``--checkpoint`` it uses that
one or stops with an error. Resuming training also takes the newest readable checkpoint:
each newer one that cannot be read is moved to ``checkpoints/unreadable/`` (nothing is
deleted) and dropped from the state file, with a warning, so that it is neither lost nor
still listed as the latest. If no recorded checkpoint can be read, training stops with an
error and changes nothing rather than start over. A state file (``checkpoints/checkpoint``)
that cannot be parsed is an error naming it, for training and evaluation alike.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
import ml_collections
import tensorflow as tf
from absl import logging
from google.protobuf import text_format
from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

from harlow.agent.network import ActorCritic
from harlow.atomic_io import atomic_write_text

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "checkpoint"  # tf.train.CheckpointManager's list of checkpoints, latest last
UNREADABLE_DIR = "unreadable"  # under CHECKPOINT_DIR: checkpoints set aside on resume
_ENV_STEPS_KEY = "env_steps/.ATTRIBUTES/VARIABLE_VALUE"
# Names tf.train.CheckpointManager (prefix "ckpt") and its state file use while saving.
_TEMP_DIR = re.compile(r"ckpt-\d+_temp")
_CHECKPOINT_FILE = re.compile(r"(ckpt-\d+)\.(index|data-\d{5}-of-\d{5})")
_TEMP_STATE_FILE = re.compile(r"checkpoint\.tmp[0-9a-f]{32}")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the configured agent."""


class UnreadableCheckpointError(CheckpointError):
    """A checkpoint's files are missing, truncated or corrupt (``reason`` says which)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"checkpoint {path} cannot be read: {reason}")
        self.path = path
        self.reason = reason


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
        self.workdir = Path(workdir)
        self.keep = keep
        # A corrupt state file: say so, before TensorFlow ignores it and starts over.
        recorded_checkpoints(workdir)
        self.manager = self._new_manager()
        removed = remove_interrupted_saves(workdir)
        if removed:
            logging.warning(
                "Removed %d leftover(s) of interrupted checkpoint saves: %s",
                len(removed),
                ", ".join(p.name for p in removed),
            )

    def _new_manager(self) -> tf.train.CheckpointManager:
        directory = str(self.workdir / CHECKPOINT_DIR)
        return tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=self.keep)

    def restore_latest(self) -> str | None:
        """Restores the newest checkpoint that can be read, if any; returns its path.

        Each newer one that cannot be read is set aside (``set_aside_unreadable``) with a
        warning. Raises ``CheckpointError`` if no recorded checkpoint can be read (then
        nothing is changed) or if the checkpoint does not fit the agent.
        """
        snapshot, unreadable = newest_readable_checkpoint(self.workdir)
        if snapshot is None:
            if unreadable:
                raise CheckpointError(
                    f"{none_readable(self.workdir, unreadable)}; nothing was changed: restore "
                    f"the files from a backup, or move {self.workdir / CHECKPOINT_DIR} away "
                    "to train from scratch"
                )
            return None
        snapshot.restore(self.checkpoint, expect_partial=False)
        if unreadable:
            moved = set_aside_unreadable(self.workdir, unreadable, snapshot.path)
            self.manager = self._new_manager()  # it read the state file before
            for error in unreadable:
                name = Path(error.path).name
                files = [p.name for p in moved if p.name.startswith(name + ".")]
                logging.warning(
                    "%s; resuming from the newest readable checkpoint, %s; %s",
                    error,
                    snapshot.path,
                    f"{', '.join(files)} moved to {moved[0].parent}"
                    if files
                    else "dropped from the list of checkpoints",
                )
        return snapshot.path

    def save(self) -> str:
        """Writes a checkpoint numbered by the update count; returns its path."""
        return self.manager.save(checkpoint_number=int(self.updates.numpy()))


def resolve_checkpoint(workdir: str | os.PathLike, checkpoint: str | None) -> str:
    """The checkpoint to evaluate: ``checkpoint`` if given, else the workdir's latest.

    Only checks that its index file exists; ``read_checkpoint`` reads it whole.
    """
    if checkpoint:
        if not tf.io.gfile.exists(checkpoint + ".index"):
            raise CheckpointError(f"checkpoint {checkpoint} not found (no {checkpoint}.index)")
        return checkpoint
    recorded = recorded_checkpoints(workdir)
    if not recorded or not tf.io.gfile.exists(recorded[-1] + ".index"):
        raise CheckpointError(f"no checkpoint in {Path(workdir) / CHECKPOINT_DIR}")
    return recorded[-1]


def recorded_checkpoints(workdir: str | os.PathLike) -> list[str]:
    """The checkpoints the state file records, oldest first and the latest last, whether
    or not their files are still there; ``[]`` without a state file.

    Raises ``CheckpointError`` naming the state file if it cannot be parsed.
    """
    directory = Path(workdir) / CHECKPOINT_DIR
    state = _read_state(directory)
    if state is None:
        return []
    paths = [p for p in state.all_model_checkpoint_paths if p != state.model_checkpoint_path]
    return [str(directory / p) for p in [*paths, state.model_checkpoint_path]]


def _read_state(directory: Path) -> CheckpointState | None:
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    state = CheckpointState()
    try:
        text = path.read_text()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        text_format.Parse(text, state)
        if not state.model_checkpoint_path:
            raise ValueError("it names no checkpoint")
    except (text_format.ParseError, UnicodeDecodeError, ValueError) as e:
        names = sorted(
            (p.name for p in directory.glob("ckpt-*.index") if _CHECKPOINT_FILE.fullmatch(p.name)),
            key=lambda name: int(name[len("ckpt-") : -len(".index")]),
        )
        hint = ""
        if names:
            newest = directory / names[-1][: -len(".index")]
            hint = (
                f"; the newest checkpoint there is {newest}: evaluate it with "
                f"--checkpoint={newest}, or make {path} the one line "
                f'model_checkpoint_path: "{newest.name}" to resume training from it'
            )
        raise CheckpointError(
            f"{path} (the list of checkpoints) is corrupt: {_first_line(e).rstrip('.')}{hint}"
        ) from e
    return state


@dataclass(frozen=True)
class CheckpointSnapshot:
    """A checkpoint's files, read into memory and checked whole (``read_checkpoint``).

    Nothing done to the workdir afterwards (a training run deleting old checkpoints)
    changes what is restored from it.
    """

    path: str
    files: dict[str, bytes] = field(repr=False)  # file name (ckpt-N.index, ...) -> bytes
    env_steps: int

    def restore(self, checkpoint: tf.train.Checkpoint, expect_partial: bool) -> None:
        """Restores ``checkpoint``'s objects (all created already) from these files."""
        with _private_copy(self.files, self.path) as copy:
            try:
                status = checkpoint.restore(copy)
                status.assert_existing_objects_matched()
                if expect_partial:
                    status.expect_partial()
            except (ValueError, AssertionError, tf.errors.OpError) as e:
                raise CheckpointError(
                    f"checkpoint {self.path} does not match the agent built from the config "
                    f"(was it written with other sizes or another task?): "
                    f"{_first_line(e).replace(copy, self.path)}"
                ) from e


def read_checkpoint(path: str) -> CheckpointSnapshot:
    """Reads checkpoint ``path`` (``.../ckpt-N``) into memory and checks every tensor.

    Raises ``UnreadableCheckpointError`` naming the file that is missing, truncated or
    corrupt, or ``CheckpointError`` if a file exists but cannot be read (permissions).
    """
    prefix = Path(path)
    index = prefix.with_name(prefix.name + ".index")
    data_name = re.compile(re.escape(prefix.name) + r"\.data-\d{5}-of-\d{5}")
    data = sorted(
        p
        for p in prefix.parent.glob(glob.escape(prefix.name) + ".data-*")
        if data_name.fullmatch(p.name)
    )
    if not index.exists():
        if not data:
            raise UnreadableCheckpointError(
                path, f"its files ({index.name}, {prefix.name}.data-*) are gone"
            )
        raise UnreadableCheckpointError(path, f"its index file {index} is missing")
    files = {f.name: _read_file(path, f) for f in [index, *data]}
    with _private_copy(files, path) as copy:

        def shown(error: BaseException) -> str:
            return _first_line(error).replace(str(Path(copy).parent), str(prefix.parent))

        try:
            reader = tf.train.load_checkpoint(copy)
        except Exception as e:  # any failure to parse the index: its bytes are bad
            raise UnreadableCheckpointError(
                path, f"its index file {index} is corrupt ({shown(e)})"
            ) from e
        for key in sorted(reader.get_variable_to_shape_map()):
            try:
                reader.get_tensor(key)
            except Exception as e:  # e.g. IndexError on a truncated file: its bytes are bad
                raise UnreadableCheckpointError(path, _data_problem(shown(e), prefix, data)) from e
        env_steps = (
            int(reader.get_tensor(_ENV_STEPS_KEY)) if reader.has_tensor(_ENV_STEPS_KEY) else 0
        )
    return CheckpointSnapshot(path=path, files=files, env_steps=env_steps)


def _read_file(path: str, file: Path) -> bytes:
    kind = "index" if file.name.endswith(".index") else "data"
    try:
        if not file.is_file():
            raise UnreadableCheckpointError(path, f"its {kind} file {file} is not a regular file")
        return file.read_bytes()
    except FileNotFoundError as e:
        raise UnreadableCheckpointError(
            path, f"its {kind} file {file} vanished while being read (deleted by training?)"
        ) from e
    except OSError as e:
        raise CheckpointError(f"cannot read {file}: {e.strerror or e}") from e


@contextlib.contextmanager
def _private_copy(files: dict[str, bytes], path: str) -> Iterator[str]:
    """The checkpoint ``files`` written to a temporary folder: yields the copy's path."""
    with contextlib.ExitStack() as stack:
        try:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harlow-ckpt-")))
            for name, content in files.items():
                (tmp / name).write_bytes(content)
        except OSError as e:
            raise CheckpointError(
                f"cannot copy checkpoint {path} to a temporary folder in "
                f"{tempfile.gettempdir()} (set TMPDIR to another one): {e.strerror or e}"
            ) from e
        yield str(tmp / Path(path).name)


def _data_problem(message: str, prefix: Path, data: list[Path]) -> str:
    """What is wrong with a checkpoint's data file, given the reader's error ``message``."""
    if "No such file" in message or "not found" in message.lower():
        named = re.search(re.escape(prefix.name) + r"\.data-\d{5}-of-\d{5}", message)
        name = named[0] if named else f"{prefix.name}.data-*"
        return f"its data file {prefix.parent / name} is missing"
    file = data[0] if len(data) == 1 else f"{prefix}.data-*"
    return f"its data file {file} is truncated or corrupt ({message})"


def checkpoint_env_steps(path: str) -> int:
    """Environment steps recorded in a training checkpoint (0 if absent).

    Raises ``UnreadableCheckpointError`` if the checkpoint cannot be read.
    """
    try:
        reader = tf.train.load_checkpoint(path)
        return int(reader.get_tensor(_ENV_STEPS_KEY)) if reader.has_tensor(_ENV_STEPS_KEY) else 0
    except Exception as e:  # missing, truncated or corrupt: read_checkpoint says which
        try:
            read_checkpoint(path)
        except CheckpointError as named:
            raise named from e
        raise UnreadableCheckpointError(path, _first_line(e)) from e


def newest_readable_checkpoint(
    workdir: str | os.PathLike,
) -> tuple[CheckpointSnapshot | None, list[UnreadableCheckpointError]]:
    """The newest recorded checkpoint that can be read (``None`` if none can or none is
    recorded) and, newest first, why each newer one cannot."""
    unreadable = []
    for path in reversed(recorded_checkpoints(workdir)):
        try:
            return read_checkpoint(path), unreadable
        except UnreadableCheckpointError as e:
            unreadable.append(e)
    return None, unreadable


def none_readable(workdir: str | os.PathLike, unreadable: list[UnreadableCheckpointError]) -> str:
    """The message for a workdir none of whose recorded checkpoints can be read."""
    reasons = "; ".join(f"{Path(e.path).name}: {e.reason}" for e in unreadable)
    return f"none of the checkpoints in {Path(workdir) / CHECKPOINT_DIR} can be read ({reasons})"


def set_aside_unreadable(
    workdir: str | os.PathLike, unreadable: list[UnreadableCheckpointError], latest: str
) -> list[Path]:
    """Moves the files of the ``unreadable`` checkpoints to ``checkpoints/unreadable/``
    (never overwriting) and rewrites the state file without them, ``latest`` the latest.

    Returns where the files went. Files move first: killed in between, the next start
    finds those checkpoints' files gone and sets them aside again; the other way round it
    would take the files for leftovers of an interrupted save and delete them.
    """
    directory = Path(workdir) / CHECKPOINT_DIR
    aside = directory / UNREADABLE_DIR
    names = {Path(e.path).name for e in unreadable}
    moved = []
    for file in sorted(directory.iterdir()):
        match = _CHECKPOINT_FILE.fullmatch(file.name)
        if match and match[1] in names:
            target, copies = aside / file.name, 0
            while target.exists():
                copies += 1
                target = aside / f"{file.name}.{copies}"
            try:
                aside.mkdir(exist_ok=True)
                file.rename(target)
            except OSError as e:
                raise CheckpointError(
                    f"cannot move the unreadable checkpoint file {file} to {aside}: "
                    f"{e.strerror or e}"
                ) from e
            moved.append(target)
    state = _read_state(directory)
    if state is not None:
        paths, stamps = (
            list(state.all_model_checkpoint_paths),
            state.all_model_checkpoint_timestamps,
        )
        stamps = list(stamps) if len(stamps) == len(paths) else [None] * len(paths)
        kept = [(p, t) for p, t in zip(paths, stamps, strict=True) if Path(p).name not in names]
        del state.all_model_checkpoint_paths[:]
        del state.all_model_checkpoint_timestamps[:]
        for path, stamp in kept:
            state.all_model_checkpoint_paths.append(path)
            if stamp is not None:
                state.all_model_checkpoint_timestamps.append(stamp)
        state.model_checkpoint_path = os.path.relpath(latest, directory)
        try:
            atomic_write_text(directory / STATE_FILE, text_format.MessageToString(state))
        except OSError as e:
            raise CheckpointError(
                f"cannot rewrite {directory / STATE_FILE}: {e.strerror or e}"
            ) from e
    return moved


def all_checkpoints(workdir: str | os.PathLike) -> list[str]:
    """Every checkpoint kept in the workdir, oldest first.

    A save killed while deleting the oldest checkpoint leaves the state file naming it
    until the next save; such a checkpoint (its index gone) is not listed.
    """
    return [p for p in recorded_checkpoints(workdir) if tf.io.gfile.exists(p + ".index")]


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
    # The latest checkpoint counts as recorded even where the state file lists it only as
    # model_checkpoint_path (a hand-written state file): never delete what it names.
    paths = recorded_checkpoints(workdir) if (directory / STATE_FILE).is_file() else None
    recorded = {Path(p).name for p in paths} if paths is not None else None
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


def restore_agent(agent: ActorCritic, checkpoint: str | CheckpointSnapshot) -> CheckpointSnapshot:
    """Loads only the agent's weights from ``checkpoint`` (a path or one read already);
    returns what was read (its ``env_steps`` included)."""
    if not isinstance(checkpoint, CheckpointSnapshot):
        checkpoint = read_checkpoint(checkpoint)
    checkpoint.restore(tf.train.Checkpoint(agent=agent), expect_partial=True)
    return checkpoint


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
