"""Runs a command line as ``python -m`` does, after a patch: for what a test cannot cause for
real (a full disk mid-training, a slow start-up to interrupt)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cli_runner import REPO


def patched_command(patch: str, module: str, *args: str) -> list[str]:
    """``python -c`` running the Python source ``patch``, then ``module`` as ``__main__``
    with ``args`` as its command line."""
    code = (
        textwrap.dedent(patch)
        + f"\nimport runpy\nrunpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
    )
    return [sys.executable, "-c", code, *args]


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_patched(patch: str, module: str, *args: str) -> subprocess.CompletedProcess:
    """Runs ``patched_command``: exit code, stdout and stderr as text."""
    return subprocess.run(
        patched_command(patch, module, *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )


def start_patched(log: Path, patch: str, module: str, *args: str) -> subprocess.Popen:
    """Starts ``patched_command`` in the background, its output going to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            patched_command(patch, module, *args),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
