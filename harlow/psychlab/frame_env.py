"""The frame-level Harlow task: the agent sees every frame and moves its own gaze.

``FrameHarlowEnv`` wraps a ``ScreenEnv`` (the built-in simulator or the DeepMind Lab
adapter) with no vision pipeline and no saccade controller in the loop. Each step the
agent picks one of a small set of look moves (``LookMoves``: yaw and pitch in DeepMind
Lab's look units); the move turns the view in the step's first frame, the view holds
still for the other ``action_repeat - 1`` frames (a saccade, then a dwell: a move means
the same turn whatever the repeat), and the agent gets the last frame, downsampled to
``size x size`` (grayscale or RGB, in [0, 1], flattened), and the level's own rewards
summed over those frames: +1 for holding the fixation cross, +5 or -5 for holding the
rewarded or the other image. Fixating and saccading are the agent's to
learn, as in Wang et al. (2018).

With ``fovea_size`` the observation also holds a fovea: the centre ``fovea_size`` pixels
square of the rendered frame, where the gaze rests, resampled to ``size``. With
``show_chosen`` it then holds the chosen half of the previous choice's onset frame
(``ChosenHalfMemory``), as the per-trial ``pixels`` mode's ``show_chosen`` does: the
images' first frame of that trial, with the half of the screen the agent did not choose
blanked; with ``chosen_view="rewarded"`` the rewarded image's half instead (the chosen
half after a rewarded choice, the other after a punished one).

Where an episode ends within an action's repeats, the repeats left are no-ops in the next
episode (its camera is still settling then), so every environment advances by the same
number of frames per step.

``info`` (all arrays [N]) per step: ``frames`` (frames played), ``choices`` (trials
completed in the step: 0 or 1; two cannot end within one action's repeats, as the
inter-trial interval is longer), ``choice_correct`` (that choice took the rewarded image),
``trial`` (the 1-based trial the choice ended, or the trial in progress) and ``timed_out``
(the episode ended, on the level's time limit, before its last trial). With the simulator
also ``choice_side`` (the side chosen, 0 left or 1 right, ``NO_SIDE`` without a choice),
``gaze_x``/``gaze_y`` (where the view's centre meets the screen, fractions of its width
and height, -1 off the screen), ``screen_state`` and ``correct_side`` of the returned frame
(for analysis; the agent sees only the frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from harlow.psychlab.chosen_half import ChosenHalfMemory
from harlow.psychlab.protocol import NO_SIDE, ProtocolConfig
from harlow.psychlab.screen_env import ACTION_MAX, ACTION_SIZE, LOOK_PITCH, LOOK_YAW, ScreenEnv

# Look moves (yaw units, pitch units); 1 unit turns the view by 0.1056 degree. The images'
# centres sit 17.2 degrees (163 units) beside the cross; its trigger zone is +-1.8 degrees
# (+-17 units) wide, each image's +-6.6 degrees (+-62 units). The level spawns the view at
# pitch 0, level with the cross, so yaw alone reaches the cross and both images: pitch
# moves would only let a random policy's gaze wander off the screen.
FIXATION_REWARD = ProtocolConfig().fixation_reward  # the level's +1 for holding the cross

DEFAULT_LOOK_MOVES: tuple[tuple[int, int], ...] = (
    (0, 0),
    (-16, 0),
    (16, 0),
    (-48, 0),
    (48, 0),
    (-160, 0),
    (160, 0),
)


@dataclass(frozen=True)
class LookMoves:
    """The discrete action set: each action is one (yaw, pitch) look move, in look units."""

    moves: tuple[tuple[int, int], ...] = DEFAULT_LOOK_MOVES

    def __post_init__(self) -> None:
        if len(self.moves) < 2:
            raise ValueError(f"a look-move set needs at least 2 moves, got {self.moves!r}")
        limit = int(ACTION_MAX[LOOK_YAW])
        for move in self.moves:
            if len(move) != 2 or not all(isinstance(v, (int, np.integer)) for v in move):
                raise ValueError(f"each look move is (yaw units, pitch units), got {move!r}")
            if any(abs(v) > limit for v in move):
                raise ValueError(f"look move {move!r} is outside DeepMind Lab's +-{limit} units")
        if len(set(self.moves)) != len(self.moves):
            raise ValueError(f"look moves repeat: {self.moves!r}")

    def __len__(self) -> int:
        return len(self.moves)

    def lab_actions(self, actions: np.ndarray) -> np.ndarray:
        """DeepMind Lab actions [N, 7] intc for action indices [N]; raises on a bad index."""
        actions = np.asarray(actions)
        if actions.ndim != 1 or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be a 1-D integer array, got {actions.dtype} {actions.shape}"
            )
        bad = (actions < 0) | (actions >= len(self.moves))
        if bad.any():
            raise ValueError(
                f"action {actions[bad][0]} is not one of the {len(self.moves)} look moves"
            )
        table = np.zeros((len(self.moves), ACTION_SIZE), dtype=np.intc)
        table[:, LOOK_YAW] = [m[0] for m in self.moves]
        table[:, LOOK_PITCH] = [m[1] for m in self.moves]
        return table[actions]


def downsample_frames(frames: np.ndarray, size: int, grayscale: bool) -> np.ndarray:
    """Frames [N, H, W, 3] uint8 as flat float32 rows in [0, 1]: area-resampled to ``size``.

    Grayscale uses OpenCV's RGB weights; RGB rows are ``size x size x 3``, channels last.
    """
    rows = []
    for frame in frames:
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if grayscale else frame
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        rows.append(small.reshape(-1))
    return np.stack(rows).astype(np.float32) / 255.0


class FrameHarlowEnv:
    """Batched frame-level Harlow environments (see the module docstring).

    ``screen`` is reset here and closed by ``close()``. ``size`` is the observation's side
    in pixels; ``grayscale`` drops colour (the fixation cross is red).
    """

    def __init__(
        self,
        screen: ScreenEnv,
        *,
        size: int = 42,
        grayscale: bool = False,
        look_moves: LookMoves | None = None,
        action_repeat: int = 1,
        trials_per_episode: int = 6,
        fovea_size: int = 0,
        show_chosen: bool = False,
        chosen_view: str = "chosen",
    ) -> None:
        if not 8 <= size <= 256:
            raise ValueError(f"size must be in [8, 256], got {size}")
        if fovea_size and not 8 <= fovea_size <= min(screen.height, screen.width):
            raise ValueError(
                f"fovea_size must be 0 or in [8, {min(screen.height, screen.width)}] (the "
                f"rendered frame's smaller side), got {fovea_size}"
            )
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        self.screen = screen
        self.size = size
        self.grayscale = grayscale
        self.look_moves = look_moves or LookMoves()
        self.action_repeat = action_repeat
        self.num_envs = screen.num_envs
        self.channels = 1 if grayscale else 3
        self.fovea_size = fovea_size
        self.show_chosen = show_chosen
        self.view_size = size * size * self.channels  # values of each image in an observation
        self.num_views = 1 + bool(fovea_size) + bool(show_chosen)
        self.observation_size = self.view_size * self.num_views
        self.num_actions = len(self.look_moves)
        self.trials_per_episode = trials_per_episode
        self._noop = np.zeros((self.num_envs, ACTION_SIZE), dtype=np.intc)
        self._trials_done = np.zeros(self.num_envs, np.int32)  # choices in each episode so far
        self._last_frames: np.ndarray | None = None  # the frames the last step returned
        self._chosen = ChosenHalfMemory(self.num_envs, size, self.channels, chosen_view)

    def reset(self) -> np.ndarray:
        """Starts new episodes everywhere; returns observations [N, observation_size]."""
        self._trials_done[:] = 0
        self._last_frames = self.screen.reset()
        self._chosen.forget(np.ones(self.num_envs, bool))
        return self._observe(self._last_frames)

    def _fovea(self, frames: np.ndarray) -> np.ndarray:
        """The centre ``fovea_size`` square of each frame, resampled to ``size``."""
        height, width = frames.shape[1:3]
        top, left = (height - self.fovea_size) // 2, (width - self.fovea_size) // 2
        crops = frames[:, top : top + self.fovea_size, left : left + self.fovea_size]
        return downsample_frames(np.ascontiguousarray(crops), self.size, self.grayscale)

    def _observe(self, frames: np.ndarray) -> np.ndarray:
        views = [downsample_frames(frames, self.size, self.grayscale)]
        if self.fovea_size:
            views.append(self._fovea(frames))
        if self.show_chosen:
            views.append(self._chosen.views)
        return np.concatenate(views, axis=1) if len(views) > 1 else views[0]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Turns each environment's view by its look move, then holds it still: ``action_repeat``
        frames in all."""
        lab_actions = self.look_moves.lab_actions(actions)
        n = self.num_envs
        rewards = np.zeros(n, np.float32)
        dones = np.zeros(n, bool)
        choices = np.zeros(n, np.int32)
        correct = np.zeros(n, bool)
        info = None
        chosen_side = np.full(n, NO_SIDE, np.int32)
        if self._last_frames is None:
            raise RuntimeError("FrameHarlowEnv.step called before reset")
        frames = self._last_frames
        for repeat in range(self.action_repeat):
            moving = lab_actions if repeat == 0 else self._noop
            played = np.where(dones[:, None], self._noop, moving)
            previous_frames = frames
            if self.show_chosen:
                self._chosen.start_frame(played[:, LOOK_YAW])
            frames, step_rewards, step_dones, info = self.screen.step(played)
            live = ~dones  # environments still in the episode the action was chosen in
            rewards += np.where(live, step_rewards, 0.0).astype(np.float32)
            made, made_correct = choice_outcomes(info)
            if self.show_chosen:
                self._note_chosen(previous_frames, live & (step_rewards == FIXATION_REWARD))
                self._chosen.note_choices(live & made, made_correct)
            choices += live & made
            correct |= live & made & made_correct
            if "choice_side" in info:
                chosen_side = np.where(live & made, info["choice_side"], chosen_side)
            dones |= step_dones
        trial = self._trials_done + np.maximum(choices, 1)
        self._trials_done += choices
        timed_out = dones & (self._trials_done < self.trials_per_episode)
        self._trials_done[dones] = 0
        self._chosen.forget(dones)  # the next observation starts a new episode
        self._last_frames = frames
        out = {
            "frames": np.full(n, self.action_repeat, np.int32),
            "choices": choices,
            "choice_correct": correct,
            "trial": trial.astype(np.int32),
            "timed_out": timed_out,
        }
        if "choice_side" in info:
            out["choice_side"] = chosen_side
        for key in ("gaze_x", "gaze_y", "screen_state", "correct_side"):
            if key in info:
                out[key] = info[key]
        return self._observe(frames), rewards, dones, out

    def _note_chosen(self, previous_frames: np.ndarray, fixated: np.ndarray) -> None:
        """Where this frame brought the fixation reward, the frame before showed the images
        first: ``ChosenHalfMemory`` keeps its view."""
        if fixated.any():
            views = downsample_frames(previous_frames[fixated], self.size, self.grayscale)
            self._chosen.note_onsets(fixated, views)

    def close(self) -> None:
        """Closes the screen environments."""
        self.screen.close()


def choice_outcomes(info: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per environment: whether this frame's step ended a trial, and with the rewarded image.

    Reads the simulator's ``choice_side``/``choice_correct``, or the DeepMind Lab adapter's
    trial events (``trial`` > 0 with ``correct`` 0 or 1 on the step that ended a trial).
    """
    if "choice_side" in info:
        made = np.asarray(info["choice_side"]) != NO_SIDE
        return made, made & np.asarray(info["choice_correct"], bool)
    if "correct" in info:
        outcome = np.asarray(info["correct"])
        made = (np.asarray(info["trial"]) > 0) & (outcome >= 0)
        return made, made & (outcome == 1)
    raise ValueError(
        f"the screen environment's info has no trial outcomes (keys {sorted(info)}); "
        "expected the simulator's choice_side/choice_correct or DeepMind Lab's trial/correct"
    )


def look_moves_from(moves: Sequence[Sequence[int]]) -> LookMoves:
    """A ``LookMoves`` from a config's list of ``(yaw, pitch)`` pairs."""
    return LookMoves(tuple((int(m[0]), int(m[1])) for m in moves))
