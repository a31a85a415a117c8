"""Trial logic of the Psychlab Harlow level, vectorised over N independent environments.

Facts follow ``harlow_factory.lua``, ``factories/psychlab/helpers.lua`` and ``point_and_click.lua``
of DeepMind Lab, and the timings observed in the fixture recordings:

* The screen is a 512x512 texture. Widgets are placed in texel coordinates computed in floating
  point (``pos * 512``); their trigger test is inclusive on all four edges.
* Trigger zones: the fixation zone is the central 0.05 of the screen; each image's zone is the
  central half (0.2 of the screen, square) of the image, centred at x = 0.25 (left) / 0.75 (right).
* Each step first runs the inter-trial timer, then the hover test. The hover test uses the pointer
  of the previously rendered frame (one-frame lag): a gaze that lands in a zone on step ``s`` and
  stays fires the zone's callback on step ``s + hold_frames``; that frame already shows the
  change (images shown after fixation, blank screen after a choice).
* A reward earned on step ``t`` is returned by step ``t + 1`` (the game's score reaches Python one
  frame late), except on the step that ends the episode, which returns it itself.
* After a choice the screen stays blank for ``inter_trial_frames`` frames; the cross is shown again
  in the frame of ``choice_step + inter_trial_frames``, and a gaze already resting on it counts
  from that step on.
* The episode ends on the choice of the last trial, or when ``episode_length_seconds * fps``
  steps have been taken.

Gaze positions are given in screen texels ``[N, 2]`` (x right, y down, 0..512), where the centre
ray of the rendered view meets the screen; NaN means it misses the screen. The level's pointer is
not exactly there: replaying the fixtures' actions shows it sits closer to the screen's vertical
centre line (x gain 0.96 and 2.15 texels more inwards) and 1.6 texels lower, i.e. up to ~0.7 degree
from the rendered gaze. With that correction (``level_pointer``) all 18 recorded episodes replay
with identical rewards and event steps; with the pure geometry none does. Why the level's pointer
differs was not found in the level's Lua code; the correction is an empirical fit, not a mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCREEN_TEXELS = 512
FIXATION_SIZE = 0.1
TARGET_SIZE = 0.4
CENTRE = (0.5, 0.5)
LEFT = (0.25, 0.5)
RIGHT = (0.75, 0.5)
FIXATION_COLOR = (255, 0, 0)

SCREEN_FIXATION, SCREEN_IMAGES, SCREEN_BLANK = 0, 1, 2
SIDE_LEFT, SIDE_RIGHT, NO_SIDE = 0, 1, -1
NOT_DONE, DONE_TRIALS_COMPLETE, DONE_TIME_LIMIT = 0, 1, 2


def widget_zone(centre: tuple[float, float], size: float) -> tuple[float, float, float, float]:
    """Trigger rectangle (x_min, x_max, y_min, y_max) in texels, computed as the level does."""
    x_min = (centre[0] - size / 2) * SCREEN_TEXELS
    y_min = (centre[1] - size / 2) * SCREEN_TEXELS
    return x_min, x_min + size * SCREEN_TEXELS, y_min, y_min + size * SCREEN_TEXELS


def widget_box(centre: tuple[float, float], size: float) -> tuple[int, int, int]:
    """Drawn texel square (x0, y0, side) of an image widget: offsets truncate, size floors."""
    x_min, _, y_min, _ = widget_zone(centre, size)
    return int(x_min), int(y_min), int(size * SCREEN_TEXELS)


FIXATION_ZONE = widget_zone(CENTRE, FIXATION_SIZE / 2)
LEFT_ZONE = widget_zone(LEFT, TARGET_SIZE / 2)
RIGHT_ZONE = widget_zone(RIGHT, TARGET_SIZE / 2)
FIXATION_BOX = widget_box(CENTRE, FIXATION_SIZE)
LEFT_IMAGE_BOX = widget_box(LEFT, TARGET_SIZE)
RIGHT_IMAGE_BOX = widget_box(RIGHT, TARGET_SIZE)


def fixation_image() -> np.ndarray:
    """The level's fixation cross widget image: red bars 40%..60% of a black square, uint8."""
    side = FIXATION_BOX[2]
    first = int(np.floor(0.5 + 0.4 * side)) - 1  # 0-based first row/column of each bar
    last = side - first - 1  # 0-based last row/column (inclusive)
    image = np.zeros((side, side, 3), dtype=np.uint8)
    image[first : last + 1, :] = FIXATION_COLOR
    image[:, first : last + 1] = FIXATION_COLOR
    return image


@dataclass(frozen=True)
class ProtocolConfig:
    """Level parameters; defaults are those of the Psychlab Harlow level (60 fps).

    The one definition of them: the simulator plays these, and the DeepMind Lab adapter
    passes the same to the level (``dmlab.HarlowLevelSettings``: ``hold_frames`` is both
    ``timeToFixateCross`` and ``timeToFixateTarget``, ``inter_trial_frames`` is
    ``fastInterTrialInterval``, ``fps`` the engine's frame rate; the widget sizes are
    ``TARGET_SIZE`` and ``FIXATION_SIZE`` above). The ``pointer_*`` fields only correct the
    simulator's gaze (``level_pointer``); the level has none.
    """

    trials_per_episode: int = 6
    hold_frames: int = 4
    inter_trial_frames: int = 5
    fixation_reward: float = 1.0
    correct_reward: float = 5.0
    incorrect_reward: float = -5.0
    episode_length_seconds: float = 300.0
    fps: int = 60
    pointer_gain_x: float = 0.96
    pointer_inset_x: float = 2.15
    pointer_offset_y: float = 1.6

    def __post_init__(self) -> None:
        if self.trials_per_episode < 2 or self.trials_per_episode % 2:
            raise ValueError(
                "trials_per_episode must be even and >= 2 (half the trials reward the left "
                f"image), got {self.trials_per_episode}"
            )
        for name in ("hold_frames", "inter_trial_frames", "fps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.pointer_gain_x > 0:
            raise ValueError(f"pointer_gain_x must be > 0, got {self.pointer_gain_x}")
        if self.episode_length_seconds <= 0:
            raise ValueError(
                f"episode_length_seconds must be > 0, got {self.episode_length_seconds}"
            )

    @property
    def max_episode_steps(self) -> int:
        """Steps after which the episode ends on time (300 s at 60 fps = 18,000)."""
        return max(1, round(self.episode_length_seconds * self.fps))


def level_pointer(gaze: np.ndarray, config: ProtocolConfig) -> np.ndarray:
    """The level's pointer [N, 2] (texels) for rendered gazes [N, 2] (see the module docstring)."""
    gaze = np.asarray(gaze, dtype=np.float64)
    offset = gaze[:, 0] - SCREEN_TEXELS / 2
    inward = np.maximum(config.pointer_gain_x * np.abs(offset) - config.pointer_inset_x, 0.0)
    return np.stack(
        [SCREEN_TEXELS / 2 + np.sign(offset) * inward, gaze[:, 1] + config.pointer_offset_y],
        axis=-1,
    )


@dataclass(frozen=True)
class ProtocolStep:
    """What one step of the trial logic produced, per environment ([N] arrays)."""

    rewards: np.ndarray  # float32: reward returned by this step
    dones: np.ndarray  # bool: the episode ended on this step
    done_reasons: np.ndarray  # int8: NOT_DONE, DONE_TRIALS_COMPLETE or DONE_TIME_LIMIT
    trials_started: np.ndarray  # bool: the images appeared in this step's frame
    choices: np.ndarray  # int8: side chosen on this step (SIDE_LEFT/SIDE_RIGHT) or NO_SIDE
    choices_correct: np.ndarray  # bool: the choice made on this step was the rewarded image


def _in_zone(pointer: np.ndarray, zone: tuple[float, float, float, float]) -> np.ndarray:
    x, y = pointer[:, 0], pointer[:, 1]
    return (zone[0] <= x) & (x <= zone[1]) & (zone[2] <= y) & (y <= zone[3])


class HarlowProtocol:
    """Screen state, hover counters, timers and rewards of N Harlow episodes."""

    def __init__(self, num_envs: int, config: ProtocolConfig) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.config = config
        n = num_envs
        self.screen_state = np.full(n, SCREEN_FIXATION, dtype=np.int8)
        self.trial = np.zeros(n, dtype=np.int16)  # 1-based current/last trial, 0 before images
        self.trials_done = np.zeros(n, dtype=np.int16)
        self.steps = np.zeros(n, dtype=np.int64)
        self.correct_sides = np.zeros((n, config.trials_per_episode), dtype=np.int8)
        self._cross_hover = np.zeros(n, dtype=np.int32)
        self._left_hover = np.zeros(n, dtype=np.int32)
        self._right_hover = np.zeros(n, dtype=np.int32)
        self._blank_timer = np.zeros(n, dtype=np.int32)
        self._pending_reward = np.zeros(n, dtype=np.float32)
        self._previous_pointer = np.full((n, 2), np.nan)

    def start_episodes(
        self, env_ids: np.ndarray, correct_sides: np.ndarray, gaze: np.ndarray
    ) -> None:
        """Starts new episodes in ``env_ids`` with the cross shown.

        correct_sides: [len(env_ids), trials_per_episode] rewarded side per trial (0 left, 1 right);
        gaze: [len(env_ids), 2] the gaze of the episode's first (reset) frame, in texels.
        """
        env_ids = np.asarray(env_ids, dtype=np.int64)
        correct_sides = np.asarray(correct_sides)
        expected = (len(env_ids), self.config.trials_per_episode)
        if correct_sides.shape != expected:
            raise ValueError(f"correct_sides must have shape {expected}, got {correct_sides.shape}")
        if not np.isin(correct_sides, (SIDE_LEFT, SIDE_RIGHT)).all():
            raise ValueError("correct_sides must hold only 0 (left) and 1 (right)")
        self.screen_state[env_ids] = SCREEN_FIXATION
        self.trial[env_ids] = 0
        self.trials_done[env_ids] = 0
        self.steps[env_ids] = 0
        self.correct_sides[env_ids] = correct_sides
        for counter in (self._cross_hover, self._left_hover, self._right_hover, self._blank_timer):
            counter[env_ids] = 0
        self._pending_reward[env_ids] = 0.0
        self._previous_pointer[env_ids] = level_pointer(gaze, self.config)

    def current_correct_side(self) -> np.ndarray:
        """Side of the rewarded image while images are shown, else NO_SIDE; int8 [N]."""
        index = np.clip(self.trial - 1, 0, self.config.trials_per_episode - 1)
        side = self.correct_sides[np.arange(self.num_envs), index]
        return np.where(self.screen_state == SCREEN_IMAGES, side, NO_SIDE).astype(np.int8)

    def step(self, gaze: np.ndarray) -> ProtocolStep:
        """Advances every environment by one frame; ``gaze`` [N, 2]: this frame's gaze (texels)."""
        cfg = self.config
        hover_pointer = self._previous_pointer
        self._previous_pointer = level_pointer(gaze, cfg)

        self._blank_timer -= self.screen_state == SCREEN_BLANK
        cross_back = (self.screen_state == SCREEN_BLANK) & (self._blank_timer <= 0)
        self.screen_state[cross_back] = SCREEN_FIXATION
        self._cross_hover[cross_back] = 0

        fixating = self.screen_state == SCREEN_FIXATION
        showing_images = self.screen_state == SCREEN_IMAGES
        self._cross_hover = np.where(
            fixating & _in_zone(hover_pointer, FIXATION_ZONE), self._cross_hover + 1, 0
        )
        self._left_hover = np.where(
            showing_images & _in_zone(hover_pointer, LEFT_ZONE), self._left_hover + 1, 0
        )
        self._right_hover = np.where(
            showing_images & _in_zone(hover_pointer, RIGHT_ZONE), self._right_hover + 1, 0
        )
        fixated = self._cross_hover == cfg.hold_frames
        chose_left = self._left_hover == cfg.hold_frames
        chose_right = self._right_hover == cfg.hold_frames
        chose = chose_left | chose_right

        earned = np.zeros(self.num_envs, dtype=np.float32)
        earned[fixated] = cfg.fixation_reward
        self.screen_state[fixated] = SCREEN_IMAGES
        self.trial[fixated] += 1
        self._left_hover[fixated] = 0
        self._right_hover[fixated] = 0

        choices = np.where(chose_left, SIDE_LEFT, np.where(chose_right, SIDE_RIGHT, NO_SIDE))
        choices = choices.astype(np.int8)
        correct = chose & (choices == self.current_correct_side())
        earned[correct] = cfg.correct_reward
        earned[chose & ~correct] = cfg.incorrect_reward
        self.screen_state[chose] = SCREEN_BLANK
        self._blank_timer[chose] = cfg.inter_trial_frames
        self.trials_done[chose] += 1

        self.steps += 1
        trials_complete = self.trials_done >= cfg.trials_per_episode
        out_of_time = self.steps >= cfg.max_episode_steps
        done_reasons = np.where(
            trials_complete, DONE_TRIALS_COMPLETE, np.where(out_of_time, DONE_TIME_LIMIT, NOT_DONE)
        ).astype(np.int8)
        dones = done_reasons != NOT_DONE
        rewards = self._pending_reward + np.where(dones, earned, 0.0).astype(np.float32)
        self._pending_reward = np.where(dones, 0.0, earned).astype(np.float32)
        return ProtocolStep(
            rewards=rewards,
            dones=dones,
            done_reasons=done_reasons,
            trials_started=fixated,
            choices=choices,
            choices_correct=correct,
        )
