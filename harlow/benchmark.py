"""Command line of the benchmarks: ``python -m harlow.benchmark NAME [flags]``.

    python -m harlow.benchmark two_step --seeds=8          # or: make benchmark
    python -m harlow.benchmark harlow --seeds=5
    python -m harlow.benchmark harlow_train --num_workers=2 --config.train.num_envs=64
    python -m harlow.benchmark harlow_env
    python -m harlow.benchmark simulator --sizes=84,256
    python -m harlow.benchmark vision [--recording=PATH]
    python -m harlow.benchmark dmlab --dmlab_workers=0,1,2
    python -m harlow.benchmark ray --actors=1,2,4 --throughput_updates=20

``--help`` lists every benchmark with its default config and workdir. The benchmarks
live in ``harlow.benchmarks`` (one module each); ``--config=FILE`` replaces a
benchmark's default config and ``--config.KEY=VALUE`` overrides its fields. The exit
status is 0 when the benchmark's targets hold, 1 otherwise or on an error (one line).
"""

from __future__ import annotations

import harlow.quiet_startup  # noqa: F401 - first: Ctrl-C while importing gives one line

# isort: split
import sys
from pathlib import Path

from absl import app, flags

from harlow.benchmarks import BENCHMARKS, DEFAULT_WORKDIR, usage
from harlow.benchmarks.common import Options
from harlow.cli_flags import fail
from harlow.config.overrides import split_overrides
from harlow.seeds import parse_seeds

__doc__ = f"{__doc__}\n{usage()}\n"  # --help prints it: every benchmark, its config and workdir

_CONFIG = flags.DEFINE_string(
    "config", None, "Config file; default: the benchmark's own (see the list above)."
)
_SEEDS = flags.DEFINE_string(
    "seeds",
    "8",
    "two_step, harlow: N (seeds 0..N-1), a range 'A-B', or a list '1,3'; "
    "harlow_train: the first is the seed.",
)
_WORKDIR = flags.DEFINE_string("workdir", DEFAULT_WORKDIR, "Where runs and reports go.")
_EPISODES = flags.DEFINE_integer(
    "episodes", None, "two_step, harlow: test episodes per seed (default 300, 500)."
)
_TIME_LIMIT = flags.DEFINE_float(
    "time_limit", None, "two_step, harlow: seconds per seed, start-up included (default 30, 180)."
)
_THROUGHPUT_UPDATES = flags.DEFINE_integer(
    "throughput_updates", 100, "two_step, harlow_train: updates timed."
)
_FRESH = flags.DEFINE_bool(
    "fresh", True, "two_step, harlow: delete earlier runs of the same seeds first."
)
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "harlow_train: config.env.num_workers (default: the config's)."
)
_SIM_ENVS = flags.DEFINE_integer("sim_envs", 64, "simulator, harlow_env: environments stepped.")
_SIZES = flags.DEFINE_list("sizes", ["84", "256"], "simulator, harlow_env: square frame sizes.")
_SIM_STEPS = flags.DEFINE_integer("sim_steps", 300, "simulator, harlow_env: timed steps per size.")
_RECORDING = flags.DEFINE_string(
    "recording", None, "vision, harlow_env: a harlow_*.npz recording (default: the fixtures')."
)
_REPEATS = flags.DEFINE_integer("repeats", 5, "vision, harlow_env: passes; the best counts.")
_DMLAB_WORKERS = flags.DEFINE_list(
    "dmlab_workers", ["0", "1", "2"], "dmlab: the config.env.num_workers values measured."
)
_DMLAB_ENVS = flags.DEFINE_integer(
    "dmlab_envs", 0, "dmlab: environments (0: the config's train.num_envs)."
)
_DMLAB_TRIALS = flags.DEFINE_integer("dmlab_trials", 12, "dmlab: trials timed per environment.")
_DMLAB_EPISODES_PER_RESET = flags.DEFINE_integer(
    "dmlab_episodes_per_reset", 0, "dmlab: episodes per Lab reset (0: the config's value)."
)
_ACTORS = flags.DEFINE_list(
    "actors", ["1", "2", "4"], "ray: the numbers of Ray actors (config.env.num_workers) measured."
)

_OVERRIDES: list[tuple[str, str]] = []


def _ints(name: str, values: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(
            f"--{name} must be integers like 0,1,2, got {','.join(values)!r}"
        ) from None


def options_from_flags(name: str) -> Options:
    """The parsed command line as the benchmarks' ``Options``."""
    return Options(
        name=name,
        workdir=Path(_WORKDIR.value),
        seeds=parse_seeds(_SEEDS.value),
        config_file=_CONFIG.value,
        overrides=list(_OVERRIDES),
        episodes=_EPISODES.value,
        time_limit=_TIME_LIMIT.value,
        throughput_updates=_THROUGHPUT_UPDATES.value,
        fresh=_FRESH.value,
        num_workers=_NUM_WORKERS.value,
        sim_envs=_SIM_ENVS.value,
        sizes=_ints("sizes", _SIZES.value),
        sim_steps=_SIM_STEPS.value,
        recording=_RECORDING.value,
        repeats=_REPEATS.value,
        dmlab_workers=_ints("dmlab_workers", _DMLAB_WORKERS.value),
        dmlab_envs=_DMLAB_ENVS.value,
        dmlab_trials=_DMLAB_TRIALS.value,
        dmlab_episodes_per_reset=_DMLAB_EPISODES_PER_RESET.value,
        actors=_ints("actors", _ACTORS.value),
    )


def _parse(argv: list[str]) -> list[str]:
    """absl's parsing, with the ``--config.KEY=VALUE`` overrides taken out first."""
    try:
        overrides, rest = split_overrides(argv)
    except ValueError as e:
        fail(e)
    _OVERRIDES[:] = overrides
    try:
        return flags.FLAGS(rest)
    except flags.Error as e:
        fail(f"{e} (see --help)")


def main(argv: list[str]) -> None:
    """Entry point: ``python -m harlow.benchmark NAME [flags]``."""
    if len(argv) != 2 or argv[1] not in BENCHMARKS:
        fail(f"usage: python -m harlow.benchmark {{{','.join(BENCHMARKS)}}} ... (see --help)")
    name = argv[1]
    try:
        options = options_from_flags(name)
        if options.overrides and BENCHMARKS[name].config is None:
            raise ValueError(f"the {name} benchmark takes no config: drop the --config.* flags")
        ok = BENCHMARKS[name].runner()(options)
    except (ValueError, OSError) as e:
        fail(e)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    app.run(main, flags_parser=_parse)
