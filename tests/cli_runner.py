"""Runs the project's command lines in a subprocess, from the repository root, as a user would."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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
