"""Harlow environment speeds: simulator frames/s, vision frames/s, saccade trials/s.

The vision figure is the path training uses (``harlow.benchmarks.vision``) on DeepMind
Lab's recording; without the recording it is measured on simulator frames, said so,
and its target is not checked (the benchmark then fails). The saccade wrapper is the
trial-level environment training builds (``harlow.harlow_task.env.build_trial_env``)
on the built-in simulator, in this process.
"""

from __future__ import annotations

import time

import cv2
import ml_collections
import numpy as np

from harlow.benchmarks import simulator, vision
from harlow.benchmarks.common import Options, load_config, write_report

HARLOW_ENV_TARGETS = {"simulator_fps_84": simulator.SIMULATOR_TARGET[84], "vision_fps_84": 5_000}


def time_random_trials(env, num_envs: int, trials: int) -> tuple[float, int, int]:
    """Plays ``trials`` random choices in each of a trial-level env's ``num_envs``
    environments, then closes it: ``(seconds, frames played, timeouts)``."""
    rng = np.random.default_rng(0)
    frames = timeouts = 0
    try:
        env.reset()
        start = time.perf_counter()
        for _ in range(trials):
            _, _, _, info = env.step(rng.integers(0, 2, num_envs))
            frames += int(info["frames"].sum())
            timeouts += int(info["timeouts"].sum())
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    return elapsed, frames, timeouts


def measure_saccade_trials(
    config: ml_collections.ConfigDict, num_envs: int = 16, trials: int = 24
) -> dict[str, float]:
    """Trials/s and frames per trial of the trial-level environment training uses
    (the config's observation, built-in simulator, in this process)."""
    from harlow.harlow_task.env import build_trial_env, spec_from_config

    config = ml_collections.ConfigDict(config.to_dict())
    config.env.backend = "simulator"
    env = build_trial_env(spec_from_config(config, num_envs, 0, config.env.split))
    elapsed, frames, timeouts = time_random_trials(env, num_envs, trials)
    return {
        "trials_per_second": num_envs * trials / elapsed,
        "frames_per_trial": frames / (num_envs * trials),
        "timeouts": timeouts,
        "trials": num_envs * trials,
    }


def _simulator_frames(config: ml_collections.ConfigDict, count: int = 2000) -> np.ndarray:
    """Frames of one simulated environment under random look actions."""
    from harlow.datasets import load_dataset
    from harlow.harlow_task.env import dataset_path
    from harlow.psychlab.simulator import BatchedHarlowSimulator

    dataset = load_dataset(dataset_path(config))
    sim = BatchedHarlowSimulator(1, dataset.images, dataset.ids("train"), seed=0)
    frames = [sim.reset()[0]]
    rng = np.random.default_rng(0)
    for _ in range(count - 1):
        action = np.zeros((1, 7), np.intc)
        action[0, 0] = rng.integers(-20, 21)
        frames.append(sim.step(action)[0][0])
    sim.close()
    return np.stack(frames)


def run(options: Options) -> bool:
    """Simulator (batch ``--sim_envs``), vision and saccade wrapper speeds, one core each."""
    config = load_config(options, "harlow.py")
    cv2.setNumThreads(1)
    results: dict[str, float | str] = dict(
        simulator.measure_sizes(options.sim_envs, options.sizes, options.sim_steps)
    )
    unchecked = None
    try:
        results.update(vision.measure(options, config))
        results["vision_fps_84"] = results["vision_fps"]
    except vision.MissingRecordingError as e:
        unchecked = str(e)
        frames = _simulator_frames(config)
        results["vision_source"] = "simulator frames (no recording)"
        results["vision_fps_simulator_frames"] = vision.measure_frames_per_second(
            config, frames, repeats=options.repeats
        )
        print(
            f"vision on simulator frames (no recording): "
            f"{results['vision_fps_simulator_frames']:,.0f} frames/s, one core",
            flush=True,
        )
    saccade = measure_saccade_trials(config)
    results.update({f"saccade_{k}": v for k, v in saccade.items()})
    print(
        f"saccade wrapper on the simulator (16 envs, {config.env.observation}): "
        f"{saccade['trials_per_second']:,.1f} trials/s, {saccade['frames_per_trial']:.1f} "
        f"frames per trial, {saccade['timeouts']} timeouts in {saccade['trials']} trials"
    )
    path = write_report(options, {"targets": HARLOW_ENV_TARGETS, "results": results})
    checked = {k: v for k, v in HARLOW_ENV_TARGETS.items() if k in results}
    met = all(results[k] >= v for k, v in checked.items()) and saccade["timeouts"] == 0
    if unchecked:
        print(f"vision target NOT checked: {unchecked}")
    print(
        f"targets {'met' if met and not unchecked else 'NOT met' if not met else 'not all checked'}"
        f"; report {path}"
    )
    return met and not unchecked
