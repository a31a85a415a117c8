"""The square kept from an imported image: around its largest face, or its centre.

Faces are found with the frontal-face Haar cascade that OpenCV ships
(``cv2.data.haarcascades``). The detector's box covers brows to chin; the crop
is ``FACE_MARGIN`` times larger, centred a little above the box so hair stays in
and the neck mostly out, and shifted (or shrunk) to stay inside the image.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"
FACE_MARGIN = 1.8  # crop side / detected face side
FACE_RAISE = 0.1  # the crop centre sits this fraction of the face height above the box centre
MIN_FACE_FRACTION = 0.1  # faces smaller than this fraction of the shorter side are ignored
DETECTION_MAX_SIDE = 640  # larger images are shrunk to this for detection (speed)

FaceRect = tuple[int, int, int, int]  # x, y, width, height (OpenCV's convention)
FaceDetector = Callable[[np.ndarray], FaceRect | None]


@dataclass(frozen=True)
class Crop:
    """A square ``box`` (x0, y0, x1, y1; end exclusive) in the upright source image."""

    box: tuple[int, int, int, int]
    face_found: bool


@functools.cache
def _cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + CASCADE_FILE
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"cannot load OpenCV's face cascade from {path}")
    return cascade


def detect_largest_face(rgb: np.ndarray) -> FaceRect | None:
    """The largest frontal face in an RGB image as (x, y, width, height), or ``None``."""
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECTION_MAX_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    min_side = max(24, round(MIN_FACE_FRACTION * min(gray.shape)))
    faces = _cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: int(f[2]) * int(f[3]))
    return (round(x / scale), round(y / scale), round(w / scale), round(h / scale))


def center_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square of a ``width`` x ``height`` image."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return (x0, y0, x0 + side, y0 + side)


def face_box(width: int, height: int, face: FaceRect) -> tuple[int, int, int, int]:
    """A square around ``face`` with margin, kept inside a ``width`` x ``height`` image."""
    x, y, w, h = face
    side = min(round(FACE_MARGIN * max(w, h)), width, height)
    center_x = x + w / 2
    center_y = y + h / 2 - FACE_RAISE * h
    x0 = min(max(round(center_x - side / 2), 0), width - side)
    y0 = min(max(round(center_y - side / 2), 0), height - side)
    return (x0, y0, x0 + side, y0 + side)


def choose_crop(rgb: np.ndarray, mode: str, detector: FaceDetector = detect_largest_face) -> Crop:
    """The square to keep: ``mode`` "face" (centre if no face is found) or "center"."""
    height, width = rgb.shape[:2]
    if mode == "center":
        return Crop(center_box(width, height), face_found=False)
    if mode != "face":
        raise ValueError(f"crop mode must be 'face' or 'center', got {mode!r}")
    face = detector(rgb)
    if face is None:
        return Crop(center_box(width, height), face_found=False)
    return Crop(face_box(width, height, face), face_found=True)


def crop_and_resize(rgb: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """``box`` of ``rgb`` resized to ``size`` x ``size`` with area interpolation."""
    x0, y0, x1, y1 = box
    square = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
