"""What the learning benchmarks share: train each seed from scratch, timed, then test it.

A seed's time counts the process start-up (Python and the import of TensorFlow and the
training stack, which every ``harlow.train`` process pays) plus its training; the test
runs the frozen weights on fresh episodes (seed ``10_000 + seed``) and is not timed.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import ml_collections

from harlow.benchmarks.common import Options, seconds_since_process_start


@dataclass(frozen=True)
class SeedRun:
    """One seed's training time (start-up included), training rate and test summary."""

    seed: int
    seconds: float
    steps_per_second: float
    summary: dict


def startup_seconds() -> float:
    """Seconds this process took to get here with the training stack imported, as a
    ``harlow.train`` process does before it trains."""
    start = time.perf_counter()
    import harlow.learner.trainer  # noqa: F401 - TensorFlow, Keras and the training stack

    since_start = seconds_since_process_start()
    return since_start if since_start is not None else time.perf_counter() - start


def train_and_test(
    base: ml_collections.ConfigDict, options: Options, startup: float, episodes: int
) -> Iterator[SeedRun]:
    """For each of ``options.seeds``: trains ``base`` with that seed in
    ``<workdir>/<name>__seed<N>`` (removed first with ``options.fresh``), then tests the
    last checkpoint on ``episodes`` episodes (report in its ``eval`` folder)."""
    from harlow.evaluation import evaluate_checkpoint
    from harlow.learner.trainer import train

    for seed in options.seeds:
        config = ml_collections.ConfigDict(base.to_dict())
        config.seed = seed
        seed_dir = options.workdir / f"{options.name}__seed{seed}"
        if options.fresh and seed_dir.exists():
            shutil.rmtree(seed_dir)
        start = time.perf_counter()
        result = train(config, seed_dir, show_progress=sys.stderr.isatty())
        seconds = time.perf_counter() - start + startup
        summary = evaluate_checkpoint(
            config, result.last_checkpoint, episodes, 10_000 + seed, False, seed_dir / "eval"
        )
        yield SeedRun(seed, seconds, result.steps_per_second, summary)
