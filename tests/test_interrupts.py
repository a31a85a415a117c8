"""Ctrl-C (and SIGTERM) at any moment of a command line: one line, status 130 (143).

While TensorFlow is imported, while training builds its environments, and while a sweep
evaluates its seeds: never a traceback, never a false "checkpoint saved". Each test sends
the signal at a known point: after a line the process prints (Python's import-time
profile names every module as its import ends), or after a patched step says it started.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import LONG_TWO_STEP_RUN, REPO, start_module, wait_for_text
from patched_cli import start_patched
from test_sweep import TINY_CONFIG

TWO_STEP = ["--config=configs/two_step.py", *LONG_TWO_STEP_RUN]


def _status(signum: int) -> int:
    return 128 + signum


def _what(signum: int) -> str:
    return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"


def _output_lines(log: Path) -> list[str]:
    """The log's non-empty lines, without the import-time profile's."""
    lines = log.read_text(errors="replace").replace("\r", "\n").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("import time:")]


def _assert_ends_with_one_line(log: Path, expected: str) -> None:
    """No traceback, and the last line (the only one of its kind) is ``expected``."""
    lines = _output_lines(log)
    assert not any("Traceback" in line for line in lines), "\n".join(lines[-30:])
    assert lines[-1] == expected, "\n".join(lines[-30:])
    said = [line for line in lines if line.startswith(("interrupted", "terminated"))]
    assert said == [expected], said


@pytest.mark.parametrize(
    ("module", "signum"),
    [
        ("harlow.train", signal.SIGINT),
        ("harlow.train", signal.SIGTERM),
        ("harlow.evaluate", signal.SIGINT),
    ],
)
def test_a_signal_while_tensorflow_is_imported(tmp_path, module, signum):
    workdir = tmp_path / "run"
    args = (
        [*TWO_STEP, f"--workdir={workdir}"]
        if module == "harlow.train"
        else [f"--workdir={workdir}"]
    )
    log = tmp_path / "out.log"
    process = start_module(log, module, *args, extra_env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        wait_for_text(log, " tensorflow.", process)  # a part of TensorFlow is imported
        process.send_signal(signum)
        assert process.wait(timeout=120) == _status(signum)
    finally:
        process.kill()
        process.wait()
    expected = f"{_what(signum)}: {module} stopped while starting; nothing was written"
    _assert_ends_with_one_line(log, expected)
    assert not workdir.exists()


# Building the environments waits for a minute, after saying so.
_SLOW_ENVIRONMENTS = """
import sys, time
import harlow.learner.trainer
real_get_task = harlow.learner.trainer.get_task
class SlowTask:
    def __init__(self, task):
        self.task = task
    def __getattr__(self, name):
        return getattr(self.task, name)
    def make_env(self, *args, **kwargs):
        print("building the environments", file=sys.stderr, flush=True)
        time.sleep(60)
        return self.task.make_env(*args, **kwargs)
harlow.learner.trainer.get_task = lambda name: SlowTask(real_get_task(name))
"""


def test_ctrl_c_while_training_builds_its_environments(tmp_path):
    workdir = tmp_path / "run"
    log = tmp_path / "train.log"
    process = start_patched(
        log, _SLOW_ENVIRONMENTS, "harlow.train", *TWO_STEP, f"--workdir={workdir}"
    )
    try:
        wait_for_text(log, "building the environments", process)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == _status(signal.SIGINT)
    finally:
        process.kill()
        process.wait()
    _assert_ends_with_one_line(
        log, "interrupted: stopped while starting, before training; no checkpoint was saved"
    )
    assert not list(workdir.glob("checkpoints/ckpt-*"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("wait_for", "expected"),
    [
        (
            " tensorflow.",  # harlow.evaluate imports TensorFlow (the sweep does not)
            "interrupted: harlow.evaluate stopped while starting; nothing was written",
        ),
        (
            "== ",  # its episodes run
            "interrupted: evaluation stopped; reports already written are complete",
        ),
    ],
)
def test_ctrl_c_while_a_sweep_evaluates(tmp_path, wait_for, expected):
    """As from a terminal: the signal goes to the sweep's whole process group."""
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    log = tmp_path / "sweep.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harlow.sweep",
                f"--config={config}",
                f"--workdir={tmp_path / 'sweep'}",
                "--seeds=1",
                "--episodes=1000000",
                "--noprogress",
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPROFILEIMPORTTIME": "1"},
            start_new_session=True,  # a process group of its own, as a terminal's job
        )
    try:
        wait_for_text(log, "evaluating 1 seed(s)", process, timeout=300)
        wait_for_text(log, wait_for, process)
        if wait_for == "== ":
            time.sleep(1.0)  # into the episodes
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=120) == _status(signal.SIGINT)
    finally:
        with contextlib.suppress(ProcessLookupError):  # what a failing sweep left
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _assert_ends_with_one_line(log, expected)
    assert not (tmp_path / "sweep" / "eval" / "seeds.json").exists()
