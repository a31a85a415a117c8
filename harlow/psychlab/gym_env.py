"""A single Psychlab Harlow environment with the Gymnasium API, id ``harlow/PsychlabHarlow-v0``.

    import gymnasium, harlow.psychlab.gym_env
    env = gymnasium.make("harlow/PsychlabHarlow-v0")  # the bundled faces, training split
    env = gymnasium.make("harlow/PsychlabHarlow-v0", dataset="path/to/dataset", split="heldout")
    env = gymnasium.make("harlow/PsychlabHarlow-v0", images=images, image_ids=range(1, 25))

Images come from ``images`` (``[N, 256, 256, 3]`` uint8; ``image_ids``, 1-based, default all
of them) or else from the dataset folder ``dataset`` (default: the bundled faces,
``datasets/faces``), loaded and checked whole by ``harlow.datasets.load_dataset``; ``split``
("train", "heldout" or "all") picks its ids. A folder that is not a valid dataset raises
``harlow.datasets.DatasetError`` naming the folder and each problem.

Observation: the RGB frame, ``Box(0, 255, (H, W, 3), uint8)``. Action: DeepMind Lab's own action
vector, ``Box`` of 7 int32 with DeepMind Lab's bounds (``screen_env.ACTION_MIN`` and ``ACTION_MAX``:
look left/right and down/up in [-512, 512], strafe and move in [-1, 1], fire, jump and crouch in
[0, 1]; only the two look components act).
A Box keeps the numbers and signs an agent would send to DeepMind Lab itself; a MultiDiscrete
would need offset values (0..1024) for the same thing.

``terminated`` is true when the last trial's choice ends the episode, ``truncated`` when the
level's time limit (300 s of game time) does. ``info`` holds the simulator's per-step ground truth
as Python scalars (see ``harlow.psychlab.simulator``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from harlow.datasets import default_dataset_path, load_dataset
from harlow.psychlab.protocol import DONE_TIME_LIMIT, DONE_TRIALS_COMPLETE, ProtocolConfig
from harlow.psychlab.screen_env import ACTION_MAX, ACTION_MIN, ACTION_SIZE
from harlow.psychlab.simulator import SPAWN_YAW_RANGE_DEG, BatchedHarlowSimulator

ENV_ID = "harlow/PsychlabHarlow-v0"


def _images_and_ids(
    images: np.ndarray | None,
    image_ids: Sequence[int] | np.ndarray | None,
    dataset: str | os.PathLike | None,
    split: str,
) -> tuple[np.ndarray, Sequence[int] | np.ndarray]:
    """The images and ids to play: those given, else the ``split`` of the dataset folder."""
    if images is not None:
        if dataset is not None:
            raise ValueError("give images or dataset, not both")
        return images, np.arange(1, len(images) + 1) if image_ids is None else image_ids
    if image_ids is not None:
        raise ValueError("image_ids needs images (with a dataset folder, choose ids by split)")
    loaded = load_dataset(default_dataset_path() if dataset is None else dataset)
    return loaded.images, loaded.ids(split)


class HarlowGymEnv(gymnasium.Env):
    """One Harlow environment of the built-in simulator (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": ProtocolConfig().fps}

    def __init__(
        self,
        images: np.ndarray | None = None,
        image_ids: Sequence[int] | np.ndarray | None = None,
        width: int = 84,
        height: int = 84,
        spawn_yaw_range_deg: float = SPAWN_YAW_RANGE_DEG,
        render_mode: str | None = None,
        *,
        dataset: str | os.PathLike | None = None,
        split: str = "train",
        **protocol_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        images, image_ids = _images_and_ids(images, image_ids, dataset, split)
        self._make_simulator = lambda seed: BatchedHarlowSimulator(
            1,
            images,
            image_ids,
            width=width,
            height=height,
            seed=seed,
            spawn_yaw_range_deg=spawn_yaw_range_deg,
            **protocol_kwargs,
        )
        self._simulator = self._make_simulator(0)  # validates the arguments now
        self.observation_space = spaces.Box(0, 255, (height, width, 3), dtype=np.uint8)
        self.action_space = spaces.Box(
            ACTION_MIN.astype(np.int32), ACTION_MAX.astype(np.int32), (ACTION_SIZE,), np.int32
        )
        self._frame: np.ndarray | None = None
        self._needs_reset = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts a new episode; a seed restarts the episode sequence deterministically."""
        super().reset(seed=seed)
        if seed is not None:
            self._simulator = self._make_simulator(seed)
        frames = self._simulator.reset()
        self._frame = frames[0]
        self._needs_reset = False
        return self._frame, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Applies one DeepMind Lab action vector for one frame."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        frames, rewards, dones, info = self._simulator.step(
            np.asarray(action, dtype=np.int32).reshape(1, ACTION_SIZE)
        )
        reason = int(info["episode_done_reason"][0])
        self._frame = info["final_frames"][0] if dones[0] else frames[0]
        self._needs_reset = bool(dones[0])
        details = {k: v[0].item() for k, v in info.items() if k != "final_frames"}
        return (
            self._frame,
            float(rewards[0]),
            reason == DONE_TRIALS_COMPLETE,
            reason == DONE_TIME_LIMIT,
            details,
        )

    def render(self) -> np.ndarray | None:
        """The current frame (render_mode 'rgb_array'), else None."""
        if self.render_mode != "rgb_array" or self._frame is None:
            return None
        return self._frame.copy()

    def close(self) -> None:
        """Releases the simulator."""
        self._simulator.close()


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="harlow.psychlab.gym_env:HarlowGymEnv")
