"""The screen-level interface shared by the built-in simulator and the DeepMind Lab adapter."""

from __future__ import annotations

from typing import Protocol

import numpy as np

ACTION_SIZE = 7  # DeepMind Lab: look left/right, look down/up, strafe, move, fire, jump, crouch
LOOK_YAW, LOOK_PITCH = (
    0,
    1,
)  # +yaw unit looks right, +pitch unit looks down (DeepMind Lab convention)


class ScreenEnv(Protocol):
    """Batched first-person Harlow screen: N environments advance in lockstep on arrays.

    reset() -> frames [N, H, W, 3] uint8 showing the screen contents (the first cross);
    step(actions [N, 7] int) -> (frames, rewards float32 [N], dones bool [N],
    info dict of [N] arrays);
    auto-reset: where dones[i], frames[i] is already the first frame of the next episode and
    rewards[i] belongs to the step that ended the episode. close() releases resources.
    """

    num_envs: int
    height: int
    width: int

    def reset(self) -> np.ndarray: ...

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]: ...

    def close(self) -> None: ...
