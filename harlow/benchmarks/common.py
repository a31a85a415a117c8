"""What the benchmarks share: their options, the config they run, reports."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import ml_collections

from harlow.atomic_io import atomic_write_text
from harlow.config.files import load_config_file
from harlow.config.overrides import apply_overrides

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@dataclass
class Options:
    """The command line of ``python -m harlow.benchmark`` (see its flags)."""

    name: str
    workdir: Path
    seeds: list[int] = field(default_factory=lambda: [0])
    config_file: str | None = None
    overrides: list[tuple[str, str]] = field(default_factory=list)
    episodes: int | None = None  # None: the benchmark's own default
    time_limit: float | None = None  # None: the benchmark's own default
    throughput_updates: int = 100
    fresh: bool = True
    num_workers: int | None = None
    sim_envs: int = 64
    sizes: tuple[int, ...] = (84, 256)
    sim_steps: int = 300
    recording: str | None = None
    repeats: int = 5
    dmlab_workers: tuple[int, ...] = (0, 1, 2)
    dmlab_envs: int = 0
    dmlab_trials: int = 12
    dmlab_episodes_per_reset: int = 0
    actors: tuple[int, ...] = (1, 2, 4)


def load_config(options: Options, default_file: str) -> ml_collections.ConfigDict:
    """``--config`` (default ``configs/<default_file>``) with the ``--config.*`` overrides
    and ``--num_workers`` applied."""
    config = load_config_file(options.config_file or CONFIGS / default_file)
    apply_overrides(config, options.overrides)
    if options.num_workers is not None:
        if "num_workers" not in config.env:
            raise ValueError(f"--num_workers: config.task={config.task!r} has no env.num_workers")
        config.env.num_workers = options.num_workers
    return config


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started (Linux; None elsewhere): Python's start-up
    and the imports, TensorFlow's included."""
    try:
        after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(after_name[19])  # field 22, starttime, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def git_commit() -> str:
    """The current commit of the project, or 'unknown'."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, object]:
    """Cores, Python and TensorFlow versions (TensorFlow only if already imported)."""
    import sys

    info: dict[str, object] = {"cores": os.cpu_count(), "python": platform.python_version()}
    if "tensorflow" in sys.modules:
        info["tensorflow"] = sys.modules["tensorflow"].__version__
    return info


def write_report(options: Options, report: dict) -> Path:
    """Writes ``<workdir>/<name>_benchmark.json`` (with date, commit and machine)."""
    path = options.workdir / f"{options.name}_benchmark.json"
    full = {
        "benchmark": options.name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        **report,
    }
    atomic_write_text(path, json.dumps(full, indent=2) + "\n")
    return path
