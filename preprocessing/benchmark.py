"""Frames per second of the vision pipeline on a recording, on one core.

    python -m preprocessing.benchmark [--recording=PATH] [--repeats=5] [--patch_size=24]

By default it reads DeepMind Lab's 84x84 recording in ``../shared/fixtures``; it
prints the frames/s of the whole pipeline (locate + crop + grayscale + resize +
image ids) and of locating alone, the best of ``--repeats`` passes over all frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from absl import app, flags

from preprocessing.locate import locate
from preprocessing.pipeline import VisionPipeline

DEFAULT_RECORDING = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "fixtures"
    / "dmlab_harlow"
    / "harlow_84.npz"
)

_RECORDING = flags.DEFINE_string("recording", str(DEFAULT_RECORDING), "A harlow_*.npz file.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Passes over the recording; the best counts.")
_PATCH_SIZE = flags.DEFINE_integer("patch_size", 24, "Side of the grayscale patches.")


def load_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``frames`` [T, H, W, 3] and ``episode`` [T] arrays of a recording."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recording {path} not found")
    with np.load(path) as recording:
        missing = {"frames", "episode"} - set(recording.files)
        if missing:
            raise ValueError(f"recording {path} lacks the arrays {sorted(missing)}")
        frames, episodes = recording["frames"], recording["episode"]
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"recording {path}: frames must be [T, H, W, 3] uint8, got {frames.shape} "
            f"{frames.dtype}"
        )
    if episodes.shape != frames.shape[:1]:
        raise ValueError(
            f"recording {path}: episode has shape {episodes.shape}, expected ({len(frames)},)"
        )
    return frames, episodes


def measure_frames_per_second(
    frames: np.ndarray,
    episodes: np.ndarray | None = None,
    patch_size: int = 24,
    repeats: int = 3,
    locate_only: bool = False,
) -> float:
    """Best-of-``repeats`` frames/s of the pipeline (or of :func:`locate` alone).

    The pipeline is reset where ``episodes`` changes, as an environment would do.
    Runs on the calling thread; call ``cv2.setNumThreads(1)`` first for a one-core figure.
    """
    if len(frames) == 0:
        raise ValueError("no frames to measure")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    starts = np.zeros(len(frames), dtype=bool)
    starts[0] = True
    if episodes is not None:
        starts[1:] = episodes[1:] != episodes[:-1]
    run = _locate_pass if locate_only else _pipeline_pass(patch_size)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run(frames, starts)
        best = min(best, time.perf_counter() - start)
    return len(frames) / best


def _locate_pass(frames: np.ndarray, starts: np.ndarray) -> None:
    del starts  # locating keeps nothing from one frame to the next
    for frame in frames:
        locate(frame)


def _pipeline_pass(patch_size: int) -> Callable[[np.ndarray, np.ndarray], None]:
    def run(frames: np.ndarray, starts: np.ndarray) -> None:
        pipeline = VisionPipeline(patch_size=patch_size)
        for frame, episode_start in zip(frames, starts, strict=True):
            if episode_start:
                pipeline.reset()
            pipeline.process(frame)

    return run


def main(argv: list[str]) -> None:
    del argv
    cv2.setNumThreads(1)
    frames, episodes = load_recording(_RECORDING.value)
    height, width = frames.shape[1:3]
    print(f"recording: {_RECORDING.value} ({len(frames)} frames, {width}x{height})")
    whole = measure_frames_per_second(
        frames, episodes, patch_size=_PATCH_SIZE.value, repeats=_REPEATS.value
    )
    located = measure_frames_per_second(frames, episodes, repeats=_REPEATS.value, locate_only=True)
    print(f"pipeline (locate + crop + gray + resize + ids): {whole:,.0f} frames/s on one core")
    print(f"locate only: {located:,.0f} frames/s on one core")


if __name__ == "__main__":
    app.run(main)
