"""Benchmarks and profiling, in one place: ``python -m harlow.benchmark NAME [flags]``.

One module per benchmark; each has ``run(options) -> bool`` (whether its targets hold)
and writes ``<workdir>/<name>_benchmark.json``. The ones that train or time training
build it with the trainer's own set-up (``harlow.learner.trainer.training_setup``), so they
measure what ``harlow.train`` runs.

This package imports nothing heavy: ``BENCHMARKS`` describes each benchmark, and its
module is imported when it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_WORKDIR = "runs/benchmark"


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: its module (``harlow.benchmarks.<module>``), default config file
    (under ``configs/``, or None if it takes no config) and one line on what it measures."""

    module: str
    config: str | None
    summary: str

    def runner(self) -> Callable:
        """The module's ``run(options)``."""
        return importlib.import_module(f"harlow.benchmarks.{self.module}").run


BENCHMARKS: dict[str, Benchmark] = {
    "two_step": Benchmark(
        "two_step",
        "two_step.py",
        "trains and tests each of --seeds, checks the two-step targets, and measures "
        "training env steps/s next to the pure-TensorFlow LSTM cost (--throughput_updates)",
    ),
    "harlow": Benchmark(
        "harlow_learning",
        "harlow.py",
        "trains and tests each of --seeds on held-out images, checks the Harlow targets "
        "(trials 2..6 >= 97 %, trial 1 in 40-60 %, --time_limit seconds per seed)",
    ),
    "harlow_train": Benchmark(
        "harlow_train",
        "harlow.py",
        "Harlow training throughput (trials/s, frames/s) and where the time goes: backend, "
        "vision, wrapper, policy, learn (--throughput_updates; honours config.env.num_workers)",
    ),
    "harlow_env": Benchmark(
        "harlow_env",
        "harlow.py",
        "simulator frames/s, vision frames/s on the training path, saccade wrapper trials/s",
    ),
    "simulator": Benchmark(
        "simulator",
        None,
        "frames/s of the built-in simulator on one core (--sim_envs, --sizes, --sim_steps)",
    ),
    "vision": Benchmark(
        "vision",
        "harlow.py",
        "frames/s of the vision path training uses, on DeepMind Lab's recording "
        "(--recording, --repeats)",
    ),
    "dmlab": Benchmark(
        "dmlab",
        "harlow.py",
        "real DeepMind Lab: raw frames/s and trial-level trials/s per worker count "
        "(--dmlab_workers, --dmlab_envs, --dmlab_trials)",
    ),
    "ray": Benchmark(
        "ray_scaling",
        "harlow.py",
        "environment workers as Ray actors: trials/s and frames/s per --actors count, next to "
        "local processes and the learner's own cost, and a model of 1..64 actors",
    ),
}


def usage() -> str:
    """The list of benchmarks, their default config and workdir, for ``--help``."""
    width = max(map(len, BENCHMARKS))
    lines = [
        "python -m harlow.benchmark NAME [--config=FILE] [--config.KEY=VALUE ...] [flags]",
        "",
        f"Benchmarks (reports go to --workdir, default {DEFAULT_WORKDIR}, as NAME_benchmark.json):",
    ]
    for name, bench in BENCHMARKS.items():
        config = f"configs/{bench.config}" if bench.config else "no config"
        lines.append(f"  {name:<{width}}  [{config}] {bench.summary}")
    return "\n".join(lines)
