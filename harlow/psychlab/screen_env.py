"""The screen-level interface shared by the built-in simulator and the DeepMind Lab adapter."""

from __future__ import annotations

from typing import Protocol

import numpy as np

ACTION_SIZE = 7  # DeepMind Lab: look left/right, look down/up, strafe, move, fire, jump, crouch
# +yaw unit looks right, +pitch unit looks down (DeepMind Lab convention)
LOOK_YAW, LOOK_PITCH = 0, 1
# DeepMind Lab's bounds for each of the 7 action integers (read-only: shared by every user).
ACTION_MIN = np.array([-512, -512, -1, -1, 0, 0, 0], dtype=np.intc)
ACTION_MAX = np.array([512, 512, 1, 1, 1, 1, 1], dtype=np.intc)
ACTION_MIN.flags.writeable = ACTION_MAX.flags.writeable = False
# Degrees the view turns per look-action unit, yaw and pitch alike (+1 yaw unit: yaw -0.1056
# degree; +1 pitch unit: pitch +0.1056). DeepMind Lab turns the view by 0.11 * 60 / 1000
# degree per unit and millisecond over whole 16 ms frames at 60 fps. The fixtures' calibration
# recordings (shared/fixtures/dmlab_harlow/calib_84.npz: 15 steps of a constant look of 5 to
# 40 units) give it: each step turns by whole angle quanta (360/65536 degree), 768 or 769 of
# them for 40 units, and the totals of 75 to 600 units come to 0.10560..0.10562 degree per
# unit. The fixtures' README rounds this down to 0.1055, which misses the recorded turn of
# 600 units by 11 quanta; 0.1056 is within one.
DEGREES_PER_LOOK_UNIT = 0.1056


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
