"""Runs the project's command lines in a subprocess, from the repository root, as a user would."""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Two-step training that would run for hours (add --config and --workdir), without
# periodic checkpoints: to stop or to run something beside it.
LONG_TWO_STEP_RUN = [
    "--noprogress",
    "--config.env.trials_per_episode=10",
    "--config.agent.lstm_units=8",
    "--config.train.num_envs=8",
    "--config.train.unroll_length=4",
    "--config.train.total_env_steps=100000000",
    "--config.train.log_every_updates=20",
    "--config.train.checkpoint_every_seconds=100000",
    "--config.eval.num_envs=4",
]


def run_module(
    module: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python -m module args...`` (with ``extra_env`` added to the environment):
    exit code, stdout and stderr as text."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def start_module(
    log: Path, module: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Starts ``python -m module args...`` in the background (with ``extra_env`` added to
    the environment), its output going to ``log``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {})}
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Waits until the file ``path`` contains ``text``, while ``process`` runs."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text(errors="replace")):
        assert process.poll() is None, f"ended early:\n{path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in {path} within {timeout} s"
        time.sleep(0.1)
