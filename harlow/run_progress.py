"""A training run's progress as a file other processes follow: ``<workdir>/progress.json``.

``harlow.learner.trainer`` rewrites it atomically (``harlow.atomic_io``) at the end of each
logging window; ``harlow.sweep`` reads it to show how far each training child is. It
holds one JSON object::

    {"pid": 4242, "env_steps": 40000, "total_env_steps": 1000000, "episodes": 520,
     "reward_per_trial": 2.31, "steps_per_second": 1830.5}

``reward_per_trial`` is that of the window's episodes, ``null`` when none ended in it;
``steps_per_second`` the window's env steps per second. ``pid`` is the training
process's: a reader that started the run tells its record from one an earlier run of the
workdir left behind. This module imports neither TensorFlow nor absl flags.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from harlow.atomic_io import atomic_write_text

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class RunProgress:
    """Where a training run was at the end of its last logging window."""

    pid: int
    env_steps: int
    total_env_steps: int
    episodes: int
    reward_per_trial: float | None
    steps_per_second: float

    @property
    def fraction(self) -> float:
        """Share of the run's env steps done (1.0 for a run with nothing to do)."""
        return self.env_steps / self.total_env_steps if self.total_env_steps > 0 else 1.0


def progress_path(workdir: str | os.PathLike) -> Path:
    """The progress file of ``workdir``."""
    return Path(workdir) / PROGRESS_FILE


def write_progress(workdir: str | os.PathLike, progress: RunProgress) -> None:
    """Replaces ``workdir``'s progress file atomically: readers see the old or the new one.

    A non-finite reward per trial or steps per second is written as ``null`` (strict JSON).
    Raises ``OSError`` where the file cannot be written.
    """
    record = asdict(progress)
    for key in ("reward_per_trial", "steps_per_second"):
        value = record[key]
        record[key] = float(value) if value is not None and math.isfinite(value) else None
    atomic_write_text(progress_path(workdir), json.dumps(record, allow_nan=False) + "\n")


def read_progress(workdir: str | os.PathLike) -> RunProgress | None:
    """The progress ``workdir``'s file records; ``None`` if it is missing, unreadable,
    partial or not such a record (never raises: a reader shows what it can)."""
    try:
        record = json.loads(progress_path(workdir).read_text())
        reward, speed = record["reward_per_trial"], record["steps_per_second"]
        return RunProgress(
            pid=int(record["pid"]),
            env_steps=int(record["env_steps"]),
            total_env_steps=int(record["total_env_steps"]),
            episodes=int(record["episodes"]),
            reward_per_trial=None if reward is None else float(reward),
            steps_per_second=math.nan if speed is None else float(speed),
        )
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, OverflowError):
        return None
