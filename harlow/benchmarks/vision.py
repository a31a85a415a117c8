"""Frames per second of the vision path training uses, on a recording, on one core.

The saccade wrapper locates the screen's parts in every frame of the environments
still looking for a trial's images (``preprocessing.locate.StreamLocator``: a frame
equal to the stream's last one keeps its detection), and, on the frame where both
images are in view and the cross is gone, builds the trial's observation with the
observer of ``config.env.observation``. This benchmark runs that path over DeepMind
Lab's 84x84 recording (``../shared/fixtures/dmlab_harlow/harlow_84.npz`` by default),
one stream, the observer's episode restarting where the recording's does; it reports
the frames/s of the whole path and of locating alone, the best of ``--repeats`` passes.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import ml_collections
import numpy as np

from harlow.benchmarks.common import Options, load_config, write_report

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
DEFAULT_RECORDING = FIXTURES / "dmlab_harlow" / "harlow_84.npz"
VISION_TARGET = 5_000  # frames/s of the whole path at 84x84, one core


class MissingRecordingError(ValueError):
    """The recording (or the fixtures folder holding it) is not there."""


def load_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``frames`` [T, H, W, 3] and ``episode`` [T] arrays of a recording."""
    path = Path(path)
    if not path.is_file():
        missing = path  # the outermost folder (or the file) that is not there
        for parent in path.parents:
            if parent.exists():
                break
            missing = parent
        raise MissingRecordingError(
            f"recording {path} not found: {missing} does not exist (DeepMind Lab's "
            "recordings are in ../shared/fixtures; --recording=PATH names another)"
        )
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
    config: ml_collections.ConfigDict,
    frames: np.ndarray,
    episodes: np.ndarray | None = None,
    repeats: int = 3,
    locate_only: bool = False,
) -> float:
    """Best-of-``repeats`` frames/s of the training path (or of locating alone).

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
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _vision_pass(config, frames, starts, locate_only)
        best = min(best, time.perf_counter() - start)
    return len(frames) / best


def _vision_pass(
    config: ml_collections.ConfigDict, frames: np.ndarray, starts: np.ndarray, locate_only: bool
) -> None:
    from harlow.harlow_task.env import _observer, spec_from_config
    from preprocessing.locate import StreamLocator

    locator = StreamLocator(1)
    observer = _observer(spec_from_config(config, 1, 0, config.env.split))
    for frame, episode_start in zip(frames, starts, strict=True):
        if episode_start and not locate_only:
            observer.start_episode(0)
        (detection,) = locator.locate(frame[None])
        if locate_only:
            continue
        ready = detection.left is not None and detection.right is not None
        if ready and detection.cross is None:
            observer.observe(0, frame, detection)


def measure(options: Options, config: ml_collections.ConfigDict) -> dict[str, float | str]:
    """Frames/s of the whole path and of locating alone on ``--recording``; prints them."""
    path = Path(options.recording) if options.recording else DEFAULT_RECORDING
    frames, episodes = load_recording(path)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        whole = measure_frames_per_second(config, frames, episodes, options.repeats)
        located = measure_frames_per_second(
            config, frames, episodes, options.repeats, locate_only=True
        )
    finally:
        cv2.setNumThreads(threads)
    height, width = frames.shape[1:3]
    print(
        f"vision ({config.env.observation} observations) on {path.name} ({len(frames)} frames, "
        f"{width}x{height}): {whole:,.0f} frames/s (locating alone {located:,.0f}), one core",
        flush=True,
    )
    return {"recording": str(path), "vision_fps": whole, "locate_fps": located}


def run(options: Options) -> bool:
    """The vision path's frames/s on the recording; fails without it (no fallback)."""
    config = load_config(options, "harlow.py")
    results = measure(options, config)
    path = write_report(options, {"target": VISION_TARGET, "results": results})
    met = results["vision_fps"] >= VISION_TARGET
    print(f"target {VISION_TARGET:,} frames/s {'met' if met else 'NOT met'}; report {path}")
    return met
