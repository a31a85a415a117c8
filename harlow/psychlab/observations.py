"""What the agent sees of a trial: image ids, grayscale patches, or the whole frame.

Each observer turns the frame in which a trial's two images appeared (and its
``Detection``) into a flat float32 vector; the ``SaccadeWrapper`` calls it once
per trial and environment.
"""

from __future__ import annotations

import cv2
import numpy as np

from preprocessing.identity import UNKNOWN, ImageIdentities
from preprocessing.locate import Detection
from preprocessing.patches import gray_patch

OBSERVATION_MODES = ("ids", "patches", "pixels")


class IdsObserver:
    """One-hot image ids per side: ``[left one-hot, right one-hot]``, ``2 * num_ids`` values.

    With ``scope="episode"`` the first image an environment sees in an episode is id 0
    and the second id 1, so the observation works on images never seen in training.
    An unknown region (or an id >= ``num_ids``) encodes as all zeros.
    """

    def __init__(self, num_envs: int, num_ids: int = 2, scope: str = "episode") -> None:
        if num_ids < 2:
            raise ValueError(f"num_ids must be >= 2, got {num_ids}")
        self.num_ids = num_ids
        self.observation_size = 2 * num_ids
        self._identities = [
            ImageIdentities(scope=scope, images_per_episode=2 if scope == "episode" else None)
            for _ in range(num_envs)
        ]
        self._eye = np.eye(num_ids, dtype=np.float32)

    def start_episode(self, env: int) -> None:
        """Forgets the episode's images (per-episode scope) for environment ``env``."""
        self._identities[env].reset()

    def ids(self, env: int, frame: np.ndarray, detection: Detection) -> list[int]:
        """The ids of the screen's left and right images in ``frame``."""
        return self._identities[env].assign(frame, [detection.left, detection.right])

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """``[left one-hot, right one-hot]`` for environment ``env``."""
        parts = [
            self._eye[i] if UNKNOWN < i < self.num_ids else np.zeros(self.num_ids, np.float32)
            for i in self.ids(env, frame, detection)
        ]
        return np.concatenate(parts)


class PatchesObserver:
    """Both images as ``size x size`` grayscale patches in [0, 1], left then right, flattened.

    The agent must compare pixels: nothing tells it which image is which.
    """

    def __init__(self, size: int = 24) -> None:
        if size < 4:
            raise ValueError(f"patch size must be >= 4, got {size}")
        self.size = size
        self.observation_size = 2 * size * size

    def start_episode(self, env: int) -> None:
        """Patches carry no memory between episodes."""

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The left and right patches, zeros where an image was not found."""
        patches = [
            gray_patch(frame, box, self.size)
            if box is not None
            else np.zeros((self.size, self.size), np.float32)
            for box in (detection.left, detection.right)
        ]
        return np.stack(patches).ravel()


class PixelsObserver:
    """The whole frame, grayscale, area-resampled to ``size x size``, in [0, 1], flattened."""

    def __init__(self, size: int = 21) -> None:
        if size < 4:
            raise ValueError(f"pixels size must be >= 4, got {size}")
        self.size = size
        self.observation_size = size * size

    def start_episode(self, env: int) -> None:
        """Pixels carry no memory between episodes."""

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The downsampled grayscale frame."""
        gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        small = cv2.resize(gray, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return (small.astype(np.float32) / 255.0).ravel()
