"""What the agent sees of a trial: image ids, grayscale patches, or the whole frame.

Each observer turns the frame in which a trial's two images appeared (and its
``Detection``) into a flat float32 vector; the ``SaccadeWrapper`` calls it once
per trial and environment, and tells it which side the agent chose
(``note_choice``).

Every observer also shows, by default, the image the agent chose in the previous
trial (zeros on an episode's first trial; for pixels, the chosen half of that trial's
frame): the image it was fixating while that trial's reward came, which the
frame-level agent of Wang et al. (2018) sees on its reward frames. Without it a
trial-level agent must recover the chosen image from its previous action and the
previous arrangement of the images (an XOR); in our runs that kept LSTM A2C at about
80 % correct after 300,000 trials.
"""

from __future__ import annotations

import cv2
import numpy as np

from harlow.observation_spec import IMAGE, ONE_HOT, ObservationPart, ObservationSpec
from preprocessing.identity import UNKNOWN, ImageIdentities
from preprocessing.locate import Detection
from preprocessing.patches import gray_patch

OBSERVATION_MODES = ("ids", "patches", "pixels")


def _sides_spec(shape: tuple[int, ...], kind: str, show_chosen: bool) -> ObservationSpec:
    """``left``, ``right`` (and ``chosen``) parts of one ``shape`` and ``kind``."""
    names = ("left", "right", "chosen") if show_chosen else ("left", "right")
    return ObservationSpec(tuple(ObservationPart(name, shape, kind) for name in names))


class _ChoiceMemory:
    """Per environment: the two sides' parts of the last observation and the chosen one."""

    def __init__(self, num_envs: int, part_size: int, show_chosen: bool) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.show_chosen = show_chosen
        self.parts_per_observation = 3 if show_chosen else 2
        self._sides = np.zeros((num_envs, 2, part_size), np.float32)
        self._chosen = np.zeros((num_envs, part_size), np.float32)

    def start_episode(self, env: int) -> None:
        """Nothing was chosen yet in environment ``env``'s new episode."""
        self._chosen[env] = 0.0

    def note_choice(self, env: int, side: int) -> None:
        """Environment ``env`` chose ``side`` (0 left, 1 right) of its last observation."""
        self._chosen[env] = self._sides[env, side]

    def compose(self, env: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """``[left, right(, chosen)]`` flattened; remembers both sides for ``note_choice``."""
        self._sides[env, 0], self._sides[env, 1] = left.ravel(), right.ravel()
        if not self.show_chosen:
            return self._sides[env].ravel().copy()
        return np.concatenate([self._sides[env].ravel(), self._chosen[env]])


class IdsObserver:
    """One-hot image ids: ``[left, right(, chosen in the previous trial)]``.

    With ``scope="episode"`` the first image an environment sees in an episode is id 0
    and the second id 1, so the observation works on images never seen in training.
    An unknown region (or an id >= ``num_ids``) encodes as all zeros.
    """

    def __init__(
        self, num_envs: int, num_ids: int = 2, scope: str = "episode", show_chosen: bool = True
    ) -> None:
        if num_ids < 2:
            raise ValueError(f"num_ids must be >= 2, got {num_ids}")
        self.num_ids = num_ids
        self._memory = _ChoiceMemory(num_envs, num_ids, show_chosen)
        self.observation_spec = self.spec(num_ids, show_chosen)
        self.observation_size = self.observation_spec.size
        self._identities = [
            ImageIdentities(scope=scope, images_per_episode=2 if scope == "episode" else None)
            for _ in range(num_envs)
        ]
        self._eye = np.eye(num_ids, dtype=np.float32)

    @staticmethod
    def spec(num_ids: int, show_chosen: bool) -> ObservationSpec:
        """What the observer emits: one-hots of ``num_ids`` per side (and the chosen one)."""
        return _sides_spec((num_ids,), ONE_HOT, show_chosen)

    def start_episode(self, env: int) -> None:
        """Forgets the episode's images (per-episode scope) for environment ``env``."""
        self._identities[env].reset()
        self._memory.start_episode(env)

    def note_choice(self, env: int, side: int) -> None:
        """Environment ``env`` chose ``side`` of its last observation."""
        self._memory.note_choice(env, side)

    def ids(self, env: int, frame: np.ndarray, detection: Detection) -> list[int]:
        """The ids of the screen's left and right images in ``frame``."""
        return self._identities[env].assign(frame, [detection.left, detection.right])

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """``[left, right(, chosen)]`` one-hots for environment ``env``."""
        left, right = (
            self._eye[i] if UNKNOWN < i < self.num_ids else np.zeros(self.num_ids, np.float32)
            for i in self.ids(env, frame, detection)
        )
        return self._memory.compose(env, left, right)


class PatchesObserver:
    """Grayscale ``size x size`` patches in [0, 1]: ``[left, right(, chosen)]``, flattened.

    The agent must compare pixels: nothing tells it which image is which.
    """

    def __init__(self, num_envs: int, size: int = 24, show_chosen: bool = True) -> None:
        if size < 4:
            raise ValueError(f"patch size must be >= 4, got {size}")
        self.size = size
        self._memory = _ChoiceMemory(num_envs, size * size, show_chosen)
        self.num_patches = self._memory.parts_per_observation
        self.observation_spec = self.spec(size, show_chosen)
        self.observation_size = self.observation_spec.size

    @staticmethod
    def spec(size: int, show_chosen: bool) -> ObservationSpec:
        """What the observer emits: a ``size x size`` image per side (and the chosen one)."""
        return _sides_spec((size, size), IMAGE, show_chosen)

    def start_episode(self, env: int) -> None:
        """Nothing was chosen yet in environment ``env``'s new episode."""
        self._memory.start_episode(env)

    def note_choice(self, env: int, side: int) -> None:
        """Environment ``env`` chose ``side`` of its last observation."""
        self._memory.note_choice(env, side)

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The patches, zeros where an image was not found."""
        left, right = (
            gray_patch(frame, box, self.size)
            if box is not None
            else np.zeros((self.size, self.size), np.float32)
            for box in (detection.left, detection.right)
        )
        return self._memory.compose(env, left, right)


def chosen_half(view: np.ndarray, side: int) -> np.ndarray:
    """A copy of ``view`` ([height, width, ...]) with the half not chosen blanked (zeros):
    the right half for ``side`` 0 (left), else the left half; an odd middle column is
    blanked either way."""
    kept = view.copy()
    width = view.shape[1]
    if side == 0:
        kept[:, width - width // 2 :] = 0.0
    else:
        kept[:, : width // 2] = 0.0
    return kept


class PixelsObserver:
    """The whole frame, grayscale, area-resampled to ``size x size``, in [0, 1], flattened.

    With ``show_chosen`` the frame of the previous choice follows the current
    one, with the half of the screen the agent did not choose blanked (zeros on
    an episode's first trial): the image it looked at when that trial's reward
    came, where it was. Set beside the current frame it shows whether that image
    is still on the same side, as ``show_chosen`` does for the image observers.
    (The whole previous frame instead leaves the agent an XOR of its previous
    action and whether the images swapped: in our runs that stalled at "win-stay,
    lose-guess", 72-75 % on trials 2..6.)
    """

    def __init__(self, num_envs: int, size: int = 21, show_chosen: bool = True) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if size < 4:
            raise ValueError(f"pixels size must be >= 4, got {size}")
        self.size = size
        self.show_chosen = show_chosen
        self.num_frames = 2 if show_chosen else 1
        self.observation_spec = self.spec(size, show_chosen)
        self.observation_size = self.observation_spec.size
        self._current = np.zeros((num_envs, size * size), np.float32)
        self._previous = np.zeros((num_envs, size * size), np.float32)

    @staticmethod
    def spec(size: int, show_chosen: bool) -> ObservationSpec:
        """What the observer emits: the ``size x size`` frame (and the chosen half of the
        previous choice's frame)."""
        names = ("frame", "chosen_half") if show_chosen else ("frame",)
        return ObservationSpec(tuple(ObservationPart(n, (size, size), IMAGE) for n in names))

    def start_episode(self, env: int) -> None:
        """No choice was made yet in environment ``env``'s new episode."""
        self._previous[env] = 0.0

    def note_choice(self, env: int, side: int) -> None:
        """Keeps the chosen ``side`` (LEFT or RIGHT half) of environment ``env``'s frame."""
        frame = self._current[env].reshape(self.size, self.size)
        self._previous[env] = chosen_half(frame, side).ravel()

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """``[current(, chosen half of the previous)]`` downsampled grayscale frames."""
        gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        small = cv2.resize(gray, (self.size, self.size), interpolation=cv2.INTER_AREA)
        self._current[env] = small.ravel().astype(np.float32) / 255.0
        if not self.show_chosen:
            return self._current[env].copy()
        return np.concatenate([self._current[env], self._previous[env]])
