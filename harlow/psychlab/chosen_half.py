"""The chosen half of the previous choice's onset frame, for the frame-level Harlow task.

The per-trial ``pixels`` mode shows the agent, beside the frame, the frame of its previous
choice with the half of the screen it did not choose blanked: set beside the next frame,
that tells whether the image it chose last is still on the same side.
``ChosenHalfMemory`` gives the frame-level task the same view: the images' first frame
of the trial (the onset), with the half not chosen blanked (zeros), held from the choice
until the next one, zeros before an episode's first choice.

It needs nothing from the screen but its rewards and trial events, so it works on either
backend. The level reports each event one frame after the frame that caused it: the
fixation reward comes with the frame after the images' first one, whose hold ended on the
frame before that; a trial ends on the frame after the hold that chose. So the side
chosen is read from the agent's own yaw, summed from the last frame of the fixation hold
(the gaze on the cross) to the last frame of the choice's hold: negative turned the view
left, to the left image.

With ``keep="rewarded"`` the half held is the rewarded image's instead: the chosen half
after a rewarded choice, the other half after a punished one. It holds what the chosen
half and the choice's reward tell together, so that the agent need not carry the reward
(a step's reward is its next input only) through the trial's steps until the next images.
"""

from __future__ import annotations

import numpy as np

from harlow.psychlab.observations import chosen_half

KEPT_HALVES = ("chosen", "rewarded")


class ChosenHalfMemory:
    """Per environment: the look moves played, the latest onset view and the chosen half."""

    def __init__(self, num_envs: int, size: int, channels: int, keep: str = "chosen") -> None:
        if keep not in KEPT_HALVES:
            raise ValueError(f"keep must be one of {KEPT_HALVES}, got {keep!r}")
        self.keep = keep
        self.size = size
        self.channels = channels
        self._yaw = np.zeros((3, num_envs), np.int64)  # summed yaw: this frame, -1, -2
        self._yaw_on_cross = np.zeros(num_envs, np.int64)  # summed yaw at the fixation hold
        self._onset = np.zeros((num_envs, size * size * channels), np.float32)
        self.views = np.zeros((num_envs, size * size * channels), np.float32)

    def forget(self, where: np.ndarray) -> None:
        """Nothing was shown or chosen yet where ``where`` (new episodes)."""
        self._yaw[:, where] = 0
        self._yaw_on_cross[where] = 0
        self._onset[where] = 0.0
        self.views[where] = 0.0

    def start_frame(self, yaw_played: np.ndarray) -> None:
        """Notes the yaw (look units, [N]) played in the frame about to be rendered."""
        self._yaw = np.roll(self._yaw, 1, axis=0)
        self._yaw[0] = self._yaw[1] + yaw_played

    def note_onsets(self, where: np.ndarray, previous_views: np.ndarray) -> None:
        """Where this frame brought the fixation reward: keeps ``previous_views`` ([count,
        view size], the views of the images' first frame there) as the onset."""
        self._onset[where] = previous_views
        self._yaw_on_cross[where] = self._yaw[2, where]

    def note_choices(self, where: np.ndarray, rewarded: np.ndarray | None = None) -> None:
        """Where this frame ended a trial: holds the onset view with the half not kept
        blanked until the next choice. ``rewarded`` ([N] bool: the choice took the rewarded
        image) is needed to keep the rewarded half."""
        if self.keep == "rewarded" and rewarded is None:
            raise ValueError("keeping the rewarded half needs the choices' outcomes (rewarded)")
        for env in np.flatnonzero(where):
            view = self._onset[env].reshape(self.size, self.size, self.channels)
            side = 0 if self._yaw[1, env] < self._yaw_on_cross[env] else 1  # 0: left image
            if self.keep == "rewarded" and not rewarded[env]:
                side = 1 - side
            self.views[env] = chosen_half(view, side).ravel()
