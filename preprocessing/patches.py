"""Turning a region of an RGB frame into a small grayscale patch."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np


class Box(NamedTuple):
    """A pixel rectangle: top-left corner ``(x, y)``, ``width`` and ``height``."""

    x: int
    y: int
    width: int
    height: int


def clip_box(box: Box, frame_height: int, frame_width: int) -> Box | None:
    """The part of ``box`` inside the frame, or ``None`` if nothing is left."""
    x0, y0 = max(box.x, 0), max(box.y, 0)
    x1 = min(box.x + box.width, frame_width)
    y1 = min(box.y + box.height, frame_height)
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0)


def gray_patch(frame: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crops ``box`` from an RGB ``frame``, converts to grayscale, resizes to ``size``.

    Returns a ``[size, size]`` float32 array in [0, 1]. Area interpolation is used
    when shrinking (it averages, so small shifts change the patch little) and
    linear when enlarging.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be an HxWx3 uint8 RGB array, got {frame.shape} {frame.dtype}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    clipped = clip_box(box, frame.shape[0], frame.shape[1])
    if clipped is None:
        raise ValueError(
            f"box {tuple(box)} lies outside the {frame.shape[1]}x{frame.shape[0]} frame"
        )
    crop = frame[clipped.y : clipped.y + clipped.height, clipped.x : clipped.x + clipped.width]
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)  # OpenCV reads the crop in place
    shrinking = clipped.width >= size and clipped.height >= size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(gray, (size, size), interpolation=interpolation)
    return resized.astype(np.float32) / 255.0
