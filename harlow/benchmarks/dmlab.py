"""Real DeepMind Lab: raw frames/s and the trial-level environment's trials/s on it.

For each ``--dmlab_workers`` value (``config.env.num_workers``), the engine's raw rate
under random look actions and the trials/s of the trial-level environment training
builds (``harlow.harlow_task.env.make_env``), with the share of the raw rate the trials
reach at the frames per trial they take.
"""

from __future__ import annotations

import time

import ml_collections

from harlow.benchmarks.common import Options, load_config, write_report
from harlow.benchmarks.harlow_env import time_random_trials


def measure_dmlab(
    config: ml_collections.ConfigDict, num_envs: int, num_workers: int, trials: int
) -> dict[str, float]:
    """DeepMind Lab's raw frames/s and the trial-level environment's trials/s on it.

    Both use the same process layout (``num_workers``; 0 runs the Labs in one worker
    next to a process that imported TensorFlow, as training does). The raw rate
    steps random look actions; ``share_of_raw`` is trials/s over what the raw rate
    allows at the measured frames per trial.
    """
    from harlow.datasets import load_dataset
    from harlow.harlow_task.env import dataset_path, make_env
    from harlow.psychlab.dmlab import (
        DmlabHarlowEnv,
        HarlowLevelSettings,
        measure_steps_per_second,
    )

    config = ml_collections.ConfigDict(config.to_dict())
    config.env.backend, config.env.num_workers = "dmlab", num_workers
    dataset = load_dataset(dataset_path(config))
    ids = dataset.ids(config.env.split)
    size = config.env.frame_size
    raw = DmlabHarlowEnv(
        num_envs,
        dataset.images[ids - 1],
        ids,
        width=size,
        height=size,
        num_workers=num_workers,
        level=HarlowLevelSettings(episodes_per_reset=config.env.dmlab_episodes_per_reset),
    )
    try:
        start = time.perf_counter()
        raw.reset()
        reset_seconds = time.perf_counter() - start
        raw_fps = measure_steps_per_second(raw, num_steps=max(20, 14 * trials))
    finally:
        raw.close()
    env = make_env(config, num_envs, seed=0)
    elapsed, frames, timeouts = time_random_trials(env, num_envs, trials)
    frames_per_trial = frames / (num_envs * trials)
    trials_per_second = num_envs * trials / elapsed
    return {
        "num_envs": num_envs,
        "num_workers": num_workers,
        "raw_frames_per_second": raw_fps,
        "batched_reset_seconds": reset_seconds,
        "trials_per_second": trials_per_second,
        "frames_per_second": frames / elapsed,
        "frames_per_trial": frames_per_trial,
        "timeouts": timeouts,
        "share_of_raw": trials_per_second * frames_per_trial / raw_fps,
    }


def run(options: Options) -> bool:
    """Real DeepMind Lab throughput per worker count (see ``measure_dmlab``)."""
    config = load_config(options, "harlow.py")
    if options.dmlab_episodes_per_reset:
        config.env.dmlab_episodes_per_reset = options.dmlab_episodes_per_reset
    num_envs = options.dmlab_envs or config.train.num_envs
    rows = []
    for num_workers in options.dmlab_workers:
        row = measure_dmlab(config, num_envs, num_workers, options.dmlab_trials)
        rows.append(row)
        print(
            f"DeepMind Lab, {num_envs} envs, {config.env.frame_size}px, "
            f"{config.env.dmlab_episodes_per_reset} episodes per reset, num_workers="
            f"{num_workers}: raw {row['raw_frames_per_second']:,.0f} frames/s, reset of all "
            f"envs {row['batched_reset_seconds']:.2f} s | trials {row['trials_per_second']:,.1f}"
            f"/s at {row['frames_per_trial']:.1f} frames per trial ({row['frames_per_second']:,.0f}"
            f" frames/s, {row['share_of_raw']:.0%} of raw), {row['timeouts']} timeouts",
            flush=True,
        )
    path = write_report(
        options,
        {"episodes_per_reset": config.env.dmlab_episodes_per_reset, "results": rows},
    )
    print(f"report {path}")
    return all(row["timeouts"] == 0 for row in rows)
