"""Workdirs and output folders that cannot be written fail at once, in one line.

A path that is a file, a folder under /proc, a name over 255 bytes, a read-only or full
file system: ``harlow.train``, ``harlow.sweep`` and ``harlow.evaluate`` check the folders
they write to (creating them and writing a probe file) before any work, and say which
folder and why, with exit code 1 and no traceback. A disk that fills up while training
stops it with one line naming the checkpoint folder, the previous checkpoint kept whole.
Tests run as root, where permissions do not stop writes: read-only and full file systems
are simulated by making the system calls fail as they would.
"""

import errno
import os
import shutil
from pathlib import Path

import pytest
import tensorflow as tf
from cli_runner import LONG_TWO_STEP_RUN, run_module
from patched_cli import run_patched

from harlow.workdirs import WorkdirError, os_reason, output_folders, workdir_lock, writable_folder

LONG_NAME = "x" * 300
TWO_STEP = ["--config=configs/two_step.py", *LONG_TWO_STEP_RUN]


def _unusable(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A folder that cannot be created, and the reason the error gives."""
    if case == "file":
        path = tmp_path / "a_file"
        path.write_text("not a folder\n")
        return path, "it is a file, not a folder"
    if case == "under a file":
        (tmp_path / "a_file").write_text("not a folder\n")
        return tmp_path / "a_file" / "run", f"{tmp_path / 'a_file'} is a file, not a folder"
    if case == "proc":
        return Path("/proc/harlow_test"), "/proc takes no new folders (No such file or directory)"
    assert case == "long name"
    return tmp_path / LONG_NAME / "run", "File name too long (a name in it has 300 bytes"


def _only_error_line(result) -> str:
    """The one ``error:`` line of a failed command (which printed no traceback)."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


# --- the check itself -------------------------------------------------------------------


def test_writable_folder_creates_the_folder_and_leaves_nothing_in_it(tmp_path):
    folder = writable_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert writable_folder(folder) == folder  # an existing folder is fine


@pytest.mark.parametrize("case", ["file", "under a file", "proc", "long name"])
def test_folders_that_cannot_be_created_are_named_with_the_reason(tmp_path, case):
    path, reason = _unusable(tmp_path, case)
    with pytest.raises(WorkdirError) as caught:
        writable_folder(path)
    assert str(caught.value).startswith(f"cannot use {path} as a workdir: {reason}")
    assert "\n" not in str(caught.value)


def _fail_with(error_number: int, call, only_if=lambda *args: True):
    """A replacement for ``os.<call>`` that fails with ``error_number`` (when ``only_if``)."""

    def failing(*args, **kwargs):
        if only_if(*args):
            raise OSError(error_number, os.strerror(error_number), str(args[0]))
        return call(*args, **kwargs)

    return failing


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "mkdir", _fail_with(errno.EROFS, os.mkdir))
    folder = tmp_path / "run"
    with pytest.raises(WorkdirError) as caught:
        writable_folder(folder, "--output_dir")
    assert str(caught.value) == (
        f"cannot use {folder} as --output_dir: cannot create {folder}: Read-only file system"
    )


@pytest.mark.parametrize(
    ("error_number", "call_name", "reason"),
    [
        (errno.EROFS, "open", "Read-only file system"),  # an existing folder, mounted read-only
        (errno.EACCES, "open", "Permission denied"),
        (errno.ENOSPC, "write", "No space left on device"),
    ],
)
def test_a_folder_that_takes_no_file_is_refused_and_cleaned_up(
    tmp_path, monkeypatch, error_number, call_name, reason
):
    call = getattr(os, call_name)
    if call_name == "open":
        is_probe = lambda path, *_: ".write-probe" in str(path)  # noqa: E731
    else:
        is_probe = lambda fd, data: b"write probe" in data  # noqa: E731
    monkeypatch.setattr(os, call_name, _fail_with(error_number, call, is_probe))
    folder = tmp_path / "new" / "run"
    with pytest.raises(WorkdirError) as caught:
        writable_folder(folder)
    assert (
        str(caught.value)
        == f"cannot use {folder} as a workdir: cannot write a file there: {reason}"
    )
    assert list(tmp_path.iterdir()) == []  # the folders it made are gone, with the probe


def test_a_full_disk_when_writing_the_lock_file_is_one_error(tmp_path, monkeypatch):
    pid_line = f"{os.getpid()}\n".encode()
    monkeypatch.setattr(
        os, "write", _fail_with(errno.ENOSPC, os.write, lambda fd, data: data == pid_line)
    )
    full = pytest.raises(WorkdirError, match="train.lock: No space left on device$")
    with full, workdir_lock(tmp_path / "run"):
        pass


def test_output_folders_removes_the_empty_folders_it_made_when_the_command_fails(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    folders = [(tmp_path / "new" / "eval", "x"), (existing, "y")]
    with pytest.raises(KeyboardInterrupt), output_folders(folders):
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    with pytest.raises(ValueError), output_folders([(tmp_path / "out", "x")]):
        (tmp_path / "out" / "report.json").write_text("{}\n")
        raise ValueError
    assert (tmp_path / "out" / "report.json").is_file()  # what was written stays


def test_os_reason_of_a_tensorflow_error():
    message = (
        "{{function_node __wrapped__SaveV2_dtypes_28_device_/job:localhost/replica:0/task:0/"
        "device:CPU:0}} /r/checkpoints/ckpt-10_temp/part-00000-of-00001.data-00000-of-00001"
        ".tempstate1956250308882617589; No space left on device [Op:SaveV2]"
    )  # what TensorFlow 2 raised, saving a checkpoint on a full tmpfs
    assert os_reason(tf.errors.ResourceExhaustedError(None, None, message)) == (
        "No space left on device"
    )
    assert os_reason(OSError(errno.EROFS, os.strerror(errno.EROFS))) == "Read-only file system"


# --- the command lines ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["file", "long name"])
def test_train_refuses_an_unusable_workdir_in_one_line(tmp_path, case):
    workdir, reason = _unusable(tmp_path, case)
    result = run_module("harlow.train", *TWO_STEP, f"--workdir={workdir}")
    assert _only_error_line(result).startswith(
        f"error: cannot use {workdir} as a workdir: {reason}"
    )


@pytest.mark.parametrize("case", ["file", "under a file", "proc", "long name"])
def test_sweep_refuses_an_unusable_workdir_before_training(tmp_path, case):
    workdir, reason = _unusable(tmp_path, case)
    result = run_module("harlow.sweep", *TWO_STEP, "--seeds=2", f"--workdir={workdir}")
    assert _only_error_line(result).startswith(
        f"error: cannot use {workdir} as a workdir: {reason}"
    )
    assert "training seeds" not in result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A two-step run of three updates, to evaluate."""
    workdir = tmp_path_factory.mktemp("unwritable") / "run"
    result = run_module(
        "harlow.train", *TWO_STEP, f"--workdir={workdir}", "--config.train.total_env_steps=96"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.mark.parametrize("case", ["file", "proc", "long name"])
def test_evaluate_refuses_an_unusable_output_dir_before_any_episode(trained, tmp_path, case):
    output_dir, reason = _unusable(tmp_path, case)
    result = run_module(
        "harlow.evaluate", f"--workdir={trained}", "--episodes=4", f"--output_dir={output_dir}"
    )
    error = _only_error_line(result)
    assert error.startswith(f"error: cannot use {output_dir} as --output_dir: {reason}")
    assert "== " not in result.stdout  # no episode was run


def test_evaluate_refuses_a_file_in_place_of_the_default_eval_folder(trained, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(trained, workdir)
    (workdir / "eval").write_text("not a folder\n")
    result = run_module("harlow.evaluate", f"--workdir={workdir}", "--episodes=4")
    assert _only_error_line(result) == (
        f"error: cannot use {workdir / 'eval'} as an evaluation folder: it is a file, not a folder"
    )
    assert "== " not in result.stdout


def test_evaluate_into_output_dir_skips_summaries_a_workdir_cannot_take(trained, tmp_path):
    """Reports go to --output_dir: a workdir whose eval folder cannot be written (read-only,
    someone else's) only loses its TensorBoard summaries, with a warning."""
    workdir = tmp_path / "run"
    shutil.copytree(trained, workdir)
    (workdir / "eval").write_text("not a folder\n")
    output_dir = tmp_path / "reports"
    result = run_module(
        "harlow.evaluate", f"--workdir={workdir}", "--episodes=4", f"--output_dir={output_dir}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"warning: cannot use {workdir / 'eval'} as the folder of its TensorBoard" in (
        result.stderr
    )
    assert (output_dir / "report.json").is_file()
    assert (workdir / "eval").read_text() == "not a folder\n"


# A disk that fills up at the third checkpoint save: TensorFlow leaves the save's partial
# data file in ckpt-3_temp/ and raises what it raised on a full tmpfs.
_DISK_FULL_AT_THIRD_SAVE = """
from pathlib import Path
import tensorflow as tf
real_save = tf.train.CheckpointManager.save
numbers = []
def save(self, checkpoint_number=None, **kwargs):
    numbers.append(checkpoint_number)
    if len(numbers) < 3:
        return real_save(self, checkpoint_number=checkpoint_number, **kwargs)
    temp = Path(self.directory) / f"ckpt-{checkpoint_number}_temp"
    temp.mkdir()
    data = temp / "part-00000-of-00001.data-00000-of-00001.tempstate123"
    data.write_bytes(b"partial")
    raise tf.errors.ResourceExhaustedError(
        None, None, "{{function_node __wrapped__SaveV2}} " + f"{data}; No space left on device"
        " [Op:SaveV2]"
    )
tf.train.CheckpointManager.save = save
"""


def test_a_full_disk_at_a_checkpoint_save_stops_training_in_one_line(tmp_path):
    workdir = tmp_path / "run"
    result = run_patched(
        _DISK_FULL_AT_THIRD_SAVE,
        "harlow.train",
        *TWO_STEP,
        f"--workdir={workdir}",
        "--config.train.checkpoint_every_seconds=1e-9",  # a save after every update
    )
    checkpoints = workdir / "checkpoints"
    assert _only_error_line(result) == (
        f"error: cannot save a checkpoint in {checkpoints}: No space left on device; "
        f"the last checkpoint {checkpoints / 'ckpt-2'} is kept"
    )
    assert tf.train.latest_checkpoint(str(checkpoints)) == str(checkpoints / "ckpt-2")
    reader = tf.train.load_checkpoint(str(checkpoints / "ckpt-2"))  # whole
    assert reader.get_tensor("updates/.ATTRIBUTES/VARIABLE_VALUE") == 2
    assert not list(checkpoints.glob("*_temp"))  # the partial save is removed


_DISK_FULL_AT_CONFIG_SAVE = """
import errno, os
import harlow.checkpointing
def full(path, text):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
harlow.checkpointing.atomic_write_text = full
"""


def test_a_full_disk_at_the_config_save_stops_training_in_one_line(tmp_path):
    workdir = tmp_path / "run"
    result = run_patched(
        _DISK_FULL_AT_CONFIG_SAVE, "harlow.train", *TWO_STEP, f"--workdir={workdir}"
    )
    assert _only_error_line(result) == (
        f"error: cannot save the config {workdir / 'config.json'}: No space left on device"
    )
    assert not (workdir / "config.json").exists()
    assert not list(workdir.glob("checkpoints/ckpt-*"))
