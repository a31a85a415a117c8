"""Frames per second of the built-in Harlow simulator on one core.

    python -m harlow.psychlab.sim_benchmark [--num_envs=64] [--sizes=84,256] [--steps=300]

Every step renders a frame for every environment. The look actions follow a noisy saccade-like
policy that keeps returning towards the screen, so frames mix the cross, the images, the blank
screen and views of the room, as an agent's do. OpenCV runs on one thread.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from absl import app, flags

from harlow.psychlab.screen_env import (
    ACTION_MAX,
    ACTION_MIN,
    ACTION_SIZE,
    DEGREES_PER_LOOK_UNIT,
    LOOK_PITCH,
    LOOK_YAW,
)
from harlow.psychlab.simulator import BatchedHarlowSimulator

_NUM_ENVS = flags.DEFINE_integer("num_envs", 64, "Environments stepped in lockstep.")
_SIZES = flags.DEFINE_list("sizes", ["84", "256"], "Square frame sizes to measure.")
_STEPS = flags.DEFINE_integer("steps", 300, "Timed steps per size.")


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


def main(argv: list[str]) -> None:
    del argv
    for size in (int(s) for s in _SIZES.value):
        fps = measure_simulator_fps(_NUM_ENVS.value, size, size, _STEPS.value)
        print(f"{size}x{size}, {_NUM_ENVS.value} envs: {fps:,.0f} frames/s (one core)")


if __name__ == "__main__":
    app.run(main)
