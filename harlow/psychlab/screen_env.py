"""The screen-level interface shared by the built-in simulator and the DeepMind Lab adapter."""

from __future__ import annotations

from typing import Protocol

import numpy as np

ACTION_SIZE = 7  # DeepMind Lab: look left/right, look down/up, strafe, move, fire, jump, crouch
# +yaw unit looks right, +pitch unit looks down (DeepMind Lab convention)
LOOK_YAW, LOOK_PITCH = 0, 1
# DeepMind Lab's bounds for each of the 7 action integers.
ACTION_MIN = np.array([-512, -512, -1, -1, 0, 0, 0])
ACTION_MAX = np.array([512, 512, 1, 1, 1, 1, 1])


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


def validate_actions(actions: np.ndarray, num_envs: int) -> np.ndarray:
    """Checks a batch of DeepMind Lab actions; returns it as a contiguous ``intc`` array.

    Raises ``ValueError`` naming the first problem: the shape (``[num_envs, 7]``),
    a non-integer dtype, or a value outside DeepMind Lab's range for its index.
    """
    actions = np.asarray(actions)
    if actions.shape != (num_envs, ACTION_SIZE):
        raise ValueError(
            f"actions must have shape ({num_envs}, {ACTION_SIZE}), got {actions.shape}"
        )
    if not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"actions must be integers (DeepMind Lab intc), got {actions.dtype}")
    bad = np.argwhere((actions < ACTION_MIN) | (actions > ACTION_MAX))
    if len(bad):
        env, column = bad[0]
        raise ValueError(
            f"action {actions[env, column]} of environment {env} at index {column} is "
            f"outside DeepMind Lab's range [{ACTION_MIN[column]}, {ACTION_MAX[column]}]"
        )
    return np.ascontiguousarray(actions, dtype=np.intc)
