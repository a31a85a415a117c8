"""The vision pipeline: frame -> cross, image regions, grayscale patches and image ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preprocessing.identity import DEFAULT_THRESHOLD, ImageIdentities, Scope
from preprocessing.locate import DEFAULT_CONFIG, Detection, LocatorConfig, locate
from preprocessing.patches import Box, gray_patch


@dataclass(frozen=True)
class VisionResult:
    """What the pipeline saw in one frame.

    ``left_patch``/``right_patch`` are ``[patch_size, patch_size]`` float32 grayscale
    patches in [0, 1] of the screen's left/right image (``None`` when not in view);
    ``left_id``/``right_id`` their image ids (``UNKNOWN`` = -1 when not in view or
    not recognised).
    """

    detection: Detection
    left_patch: np.ndarray | None
    right_patch: np.ndarray | None
    left_id: int
    right_id: int


class VisionPipeline:
    """Locates the cross and the images, crops them to patches and assigns image ids.

    One pipeline follows one stream of frames (one environment): call :meth:`reset`
    when its episode ends. With ``id_scope="episode"`` ids restart at 0 every episode;
    with ``id_scope="dataset"`` they persist across episodes. ``images_per_episode``
    (2, as in the Harlow task; ``None`` for no such knowledge) caps an episode's ids:
    a region that matches neither image takes the closer one when that is clear, or
    the episode's other id by elimination, and never opens a third id.
    """

    def __init__(
        self,
        patch_size: int = 24,
        id_scope: Scope = "episode",
        id_threshold: float = DEFAULT_THRESHOLD,
        locator_config: LocatorConfig = DEFAULT_CONFIG,
        images_per_episode: int | None = 2,
    ) -> None:
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        self.patch_size = patch_size
        self.locator_config = locator_config
        self.identities = ImageIdentities(
            scope=id_scope, threshold=id_threshold, images_per_episode=images_per_episode
        )

    def reset(self) -> None:
        """Starts a new episode (forgets the episode's image ids)."""
        self.identities.reset()

    def process(self, frame: np.ndarray) -> VisionResult:
        """Runs the whole pipeline on one HxWx3 uint8 RGB frame."""
        detection = locate(frame, self.locator_config)
        left_id, right_id = self.identities.assign(frame, (detection.left, detection.right))
        return VisionResult(
            detection=detection,
            left_patch=self._patch(frame, detection.left),
            right_patch=self._patch(frame, detection.right),
            left_id=left_id,
            right_id=right_id,
        )

    def process_batch(self, frames: np.ndarray) -> list[VisionResult]:
        """Runs :meth:`process` on consecutive frames ``[N, H, W, 3]`` of this stream."""
        if frames.ndim != 4:
            raise ValueError(f"frames must be [N, H, W, 3], got shape {frames.shape}")
        return [self.process(frame) for frame in frames]

    def _patch(self, frame: np.ndarray, box: Box | None) -> np.ndarray | None:
        return None if box is None else gray_patch(frame, box, self.patch_size)
