"""Frames per second of the built-in Harlow simulator on one core.

Every step renders a frame for every environment. The look actions follow a noisy
saccade-like policy that keeps returning towards the screen, so frames mix the cross,
the images, the blank screen and views of the room, as an agent's do. OpenCV runs on
one thread.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from harlow.benchmarks.common import Options, write_report
from harlow.psychlab.screen_env import (
    ACTION_MAX,
    ACTION_MIN,
    ACTION_SIZE,
    DEGREES_PER_LOOK_UNIT,
    LOOK_PITCH,
    LOOK_YAW,
)
from harlow.psychlab.simulator import BatchedHarlowSimulator

SIMULATOR_TARGET = {84: 12_000}  # frames/s at 84x84, batch 64, one core


def _benchmark_images(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(count, 8, 8, 3), dtype=np.uint8)
    return np.stack([cv2.resize(c, (256, 256), interpolation=cv2.INTER_LINEAR) for c in coarse])


def _actions(info: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Steer back towards the screen centre with noise (look units, DeepMind Lab signs)."""
    actions = np.zeros((len(info["yaw"]), ACTION_SIZE), dtype=np.int32)
    for axis, angle in ((LOOK_YAW, info["yaw"]), (LOOK_PITCH, info["pitch"])):
        steer = -0.3 * angle / DEGREES_PER_LOOK_UNIT
        noisy = np.rint(steer + rng.normal(0, 25, len(angle)))
        actions[:, axis] = np.clip(noisy, ACTION_MIN[axis], ACTION_MAX[axis])
    return actions


def measure_simulator_fps(
    num_envs: int = 64,
    width: int = 84,
    height: int = 84,
    steps: int = 300,
    warmup_steps: int = 20,
    seed: int = 0,
) -> float:
    """Rendered frames per second (num_envs x steps / seconds), OpenCV on one thread."""
    if steps < 1 or warmup_steps < 0:
        raise ValueError(f"steps must be >= 1 and warmup_steps >= 0, got {steps}, {warmup_steps}")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        simulator = BatchedHarlowSimulator(
            num_envs,
            _benchmark_images(24, seed),
            range(1, 25),
            width=width,
            height=height,
            seed=seed,
        )
        rng = np.random.default_rng(seed)
        simulator.reset()
        info = {"yaw": np.zeros(num_envs), "pitch": np.zeros(num_envs)}
        for _ in range(warmup_steps):
            _, _, _, info = simulator.step(_actions(info, rng))
        start = time.perf_counter()
        for _ in range(steps):
            _, _, _, info = simulator.step(_actions(info, rng))
        elapsed = time.perf_counter() - start
        simulator.close()
    finally:
        cv2.setNumThreads(threads)
    return num_envs * steps / elapsed


def measure_sizes(num_envs: int, sizes: tuple[int, ...], steps: int) -> dict[str, float]:
    """``simulator_fps_<size>`` for each square frame size; prints each."""
    results = {}
    for size in sizes:
        fps = measure_simulator_fps(num_envs, size, size, steps)
        results[f"simulator_fps_{size}"] = fps
        print(f"simulator, batch {num_envs}, {size}x{size}: {fps:,.0f} frames/s (one core)")
    return results


def run(options: Options) -> bool:
    """Frames/s of the simulator at each of ``--sizes``."""
    results = measure_sizes(options.sim_envs, options.sizes, options.sim_steps)
    path = write_report(options, {"num_envs": options.sim_envs, "results": results})
    print(f"report {path}")
    return True
