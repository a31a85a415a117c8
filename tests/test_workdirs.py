"""One training process per workdir; a killed run's lock never blocks; evaluation reads on."""

import os
import signal
import subprocess
import sys
import time

import pytest
from cli_runner import LONG_TWO_STEP_RUN, REPO, run_module, start_module, wait_for_text

from harlow.workdirs import WorkdirError, checked_workdir, workdir_lock


@pytest.mark.parametrize("workdir", ["", "  "])
def test_an_empty_workdir_is_refused(workdir):
    with pytest.raises(ValueError, match="--workdir is empty"):
        checked_workdir(workdir)


def test_a_second_lock_is_refused_naming_the_workdir_and_pid(tmp_path):
    workdir = tmp_path / "run"
    locked = f"{workdir} is in use.*pid {os.getpid()}"
    with workdir_lock(workdir), pytest.raises(WorkdirError, match=locked), workdir_lock(workdir):
        pass
    with workdir_lock(workdir):  # released
        pass


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from harlow.workdirs import workdir_lock\n"
            "with workdir_lock(sys.argv[1]):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(600)\n",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(WorkdirError, match=f"pid {holder.pid}"), workdir_lock(tmp_path):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / "train.lock").read_text().strip() == str(holder.pid)
    with workdir_lock(tmp_path):
        pass


def test_a_second_train_is_refused_while_evaluate_may_read(tmp_path):
    workdir = tmp_path / "run"
    log = tmp_path / "first.log"
    args = ["--config=configs/two_step.py", f"--workdir={workdir}", *LONG_TWO_STEP_RUN]
    first = start_module(log, "harlow.train", *args, "--config.train.checkpoint_every_seconds=0.5")
    try:
        wait_for_text(log, "env steps", first)
        while not (workdir / "checkpoints" / "checkpoint").exists():
            time.sleep(0.1)
        # (A short run: without the lock it would end at once, not after 600 s.)
        second = run_module("harlow.train", *args, "--config.train.total_env_steps=200")
        assert second.returncode == 1
        errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: {workdir} is in use: another process (pid {first.pid}) is training "
            "there; wait for it to end or stop it, or choose another --workdir"
        ]
        assert "Traceback" not in second.stderr
        evaluated = run_module(
            "harlow.evaluate", f"--workdir={workdir}", "--episodes=4", "--nostages"
        )
        assert evaluated.returncode == 0, evaluated.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    assert "Traceback" not in log.read_text()


def test_train_refuses_an_empty_workdir(tmp_path):
    """``--workdir=`` would train into the current folder."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harlow.train",
            f"--config={REPO / 'configs' / 'two_step.py'}",
            "--workdir=",
            "--config.train.num_envs=4",
            "--config.train.total_env_steps=80",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    assert "error: --workdir is empty" in result.stderr
    assert list(tmp_path.iterdir()) == []
