"""How close the simulator's frames are to DeepMind Lab's: grey levels at the same views.

    python -m harlow.psychlab.render_check \
        --recording=../shared/fixtures/dmlab_harlow/harlow_84.npz [--dataset=DIR] [--frames=200]

Takes a recording of the real level (the fixtures', or one made with
``python -m preprocessing.record_dmlab``), keeps its frames at rest (after the spawn ring,
HUD off) showing the cross or both images, renders the simulator's frame at each one's
recorded view angles with the same images, and reports the mean absolute grey-level
difference (0..255) over the whole frame and by region. The room, the bezel and the stand
are where the two differ; what the vision pipeline and the agents use (the cross, the
images, the black face) lines up. This is how the simulator's room grey levels were fitted
(``render._FRONT_GREYS``); the tests hold it to the measured value.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from harlow.datasets.files import read_regular_file
from harlow.datasets.loader import MAX_DATASET_PNG_BYTES
from harlow.psychlab import render
from harlow.psychlab.protocol import SCREEN_BLANK, SCREEN_FIXATION, SCREEN_IMAGES

_REQUIRED = ("frames", "rot", "step", "minimal_ui", "left_id", "right_id")
_AT_REST_FROM_STEP = render.SPAWN_RING_STEPS[1] + 1


@dataclass(frozen=True)
class RenderDifference:
    """Mean |engine - simulator| grey level (0..255) per region, over ``frames`` frames."""

    frames: int
    whole: float
    centre: float  # the middle half of the frame in both directions: the screen's face
    top: float  # the top quarter
    bottom: float  # the bottom quarter
    sides: float  # the left and right quarters

    def __str__(self) -> str:
        return (
            f"{self.frames} frames: mean |engine - simulator| grey level {self.whole:.1f} "
            f"(centre half {self.centre:.1f}, top quarter {self.top:.1f}, "
            f"bottom quarter {self.bottom:.1f}, side quarters {self.sides:.1f})"
        )


def _load_recording(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as recording:
            missing = [key for key in _REQUIRED if key not in recording.files]
            if missing:
                raise ValueError(f"recording {path} lacks {', '.join(missing)}")
            loaded = {key: recording[key] for key in _REQUIRED}
            if "state" in recording.files:  # the fixtures'
                loaded["state"] = recording["state"]
            elif "cross_px" in recording.files:  # preprocessing.record_dmlab's: from its labels
                images = (loaded["left_id"] > 0) & (loaded["right_id"] > 0)
                cross = recording["cross_px"] > 0
                loaded["state"] = np.where(
                    images, SCREEN_IMAGES, np.where(cross, SCREEN_FIXATION, SCREEN_BLANK)
                )
            else:
                raise ValueError(f"recording {path} has neither state nor cross_px")
            return loaded
    except (OSError, EOFError) as e:
        raise ValueError(f"cannot read recording {path}: {e}") from e


def _dataset_image(dataset: Path, image_id: int, cache: dict[int, np.ndarray]) -> np.ndarray:
    if image_id not in cache:
        path = dataset / f"{image_id:04d}.png"
        try:
            data = np.frombuffer(read_regular_file(path, MAX_DATASET_PNG_BYTES), np.uint8)
        except (OSError, ValueError) as e:
            raise ValueError(f"image {image_id} of the recording: {e}") from e
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path} is not an image")
        cache[image_id] = render.scale_dataset_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return cache[image_id]


def frames_at_rest(recording: dict[str, np.ndarray], count: int) -> np.ndarray:
    """Up to ``count`` frame indices, evenly spread, at rest with the HUD off, showing the
    cross or two identified images."""
    state, left, right = recording["state"], recording["left_id"], recording["right_id"]
    usable = (
        (recording["step"] >= _AT_REST_FROM_STEP)
        & recording["minimal_ui"]
        & ((state == SCREEN_FIXATION) | ((state == SCREEN_IMAGES) & (left > 0) & (right > 0)))
    )
    indices = np.flatnonzero(usable)
    if len(indices) > count:
        indices = indices[np.linspace(0, len(indices) - 1, count).round().astype(int)]
    return indices


def render_difference(recording_path: Path, dataset: Path, count: int = 200) -> RenderDifference:
    """The simulator's frames against the recording's at the same views (see the module)."""
    recording = _load_recording(recording_path)
    indices = frames_at_rest(recording, count)
    if len(indices) == 0:
        raise ValueError(f"recording {recording_path} has no frame at rest with the HUD off")
    height, width = recording["frames"].shape[1:3]
    renderer = render.ScreenRenderer(1, width, height)
    images: dict[int, np.ndarray] = {}
    frame = np.zeros((1, height, width, 3), np.uint8)
    differences = np.empty((len(indices), height, width), np.float32)
    for k, index in enumerate(indices):
        pitch, yaw, _ = recording["rot"][index]
        state = int(recording["state"][index])
        if state == SCREEN_IMAGES:
            renderer.set_images(
                0,
                _dataset_image(dataset, int(recording["left_id"][index]), images),
                _dataset_image(dataset, int(recording["right_id"][index]), images),
            )
        renderer.render(  # DeepMind Lab's yaw 90 looks at the screen; ours is 0 there
            frame, np.array([90.0 - yaw]), np.array([pitch]), np.zeros(1), np.array([state])
        )
        engine = cv2.cvtColor(recording["frames"][index], cv2.COLOR_RGB2GRAY)
        simulator = cv2.cvtColor(frame[0], cv2.COLOR_RGB2GRAY)
        differences[k] = np.abs(engine.astype(np.float32) - simulator)
    h4, w4 = height // 4, width // 4
    return RenderDifference(
        frames=len(indices),
        whole=float(differences.mean()),
        centre=float(differences[:, h4 : height - h4, w4 : width - w4].mean()),
        top=float(differences[:, :h4].mean()),
        bottom=float(differences[:, height - h4 :].mean()),
        sides=float(
            np.concatenate([differences[:, :, :w4], differences[:, :, width - w4 :]]).mean()
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: prints the difference for each ``--recording``."""
    parser = argparse.ArgumentParser(prog="python -m harlow.psychlab.render_check")
    parser.add_argument("--recording", type=Path, action="append", required=True)
    parser.add_argument(
        "--dataset", type=Path, help="the recording's images (default: <its folder>/dataset)"
    )
    parser.add_argument("--frames", type=int, default=200, help="frames per recording, at most")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f"--frames must be >= 1, got {args.frames}")
    for path in args.recording:
        try:
            dataset = args.dataset or path.parent / "dataset"
            difference = render_difference(path, dataset, args.frames)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"{path}: {difference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
