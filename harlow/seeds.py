"""Helpers for the command lines that run several seeds: ``--seeds``, workdirs, children."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from absl import flags

MAX_SEEDS = 10_000  # a sweep or evaluation of more is a typo


def parse_seeds(text: str) -> list[int]:
    """Seeds selected by ``text``: '8' -> 0..7, '2-4' -> 2,3,4, '1,5' -> 1,5.

    Raises ``ValueError`` naming ``text`` if it is none of these forms, selects no
    seed, has a negative seed or repeats one.
    """
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",")]
        elif "-" in text:
            low, high = (int(s) for s in text.split("-"))
            seeds = range(low, high + 1)
        else:
            seeds = range(int(text))
    except ValueError as e:
        raise ValueError(f"--seeds={text!r} is not N, A-B or a comma list") from e
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"--seeds={text!r} selects {len(seeds):,} seeds, over {MAX_SEEDS:,}")
    seeds = list(seeds)
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds={text!r} selects no valid (non-negative) seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds={text!r} lists a seed twice")
    return seeds


def seed_workdir(workdir: Path, seed: int) -> Path:
    """The training workdir of ``seed`` inside the sweep directory."""
    return workdir / f"seed_{seed}"


def config_override_args(argv: Sequence[str], flag_values: flags.FlagValues) -> list[str]:
    """The ``--config.*`` override arguments of ``argv``, as given, to pass on to children.

    Finds what ``ml_collections.config_flags`` takes for overrides: ``--config.a.b=v``,
    ``--config.a.b v`` and boolean ``--[no]config.a.b``. ``flag_values`` must have parsed
    ``argv``, so that it knows which overrides take the next argument as their value.
    """
    overrides = []
    args = iter(argv)
    for arg in args:
        if re.match(r"-{1,2}(no)?config\.", arg):
            overrides.append(arg)
            name = arg.lstrip("-").split("=", 1)[0]
            if "=" not in arg and name in flag_values and not flag_values[name].boolean:
                overrides.append(next(args, ""))
    return overrides


def thread_env(cores: int, parallel: int) -> dict[str, str]:
    """Environment giving each of ``parallel`` children its share of ``cores``.

    TensorFlow reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS at start-up,
    OpenMP and OpenBLAS (NumPy) read OMP_NUM_THREADS. Values already set by the user win.
    """
    env = dict(os.environ)
    if parallel > 1:
        share = str(max(1, cores // parallel))
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(name, share)
    return env


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file."""
    text = log_path.read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
