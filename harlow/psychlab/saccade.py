"""Trial-level ("saccade") wrapper: one agent action per Harlow trial.

The agent chooses LEFT (0) or RIGHT (1) once per trial. Driven only by what the
vision pipeline sees in the frames (so it works unchanged on the built-in
simulator and on DeepMind Lab), the wrapper

1. finds the red fixation cross from any view angle and centres the gaze on it,
2. holds until the two images appear: that frame gives the trial's observation,
3. on the agent's choice, saccades to the chosen image and holds until the screen
   goes blank (the trial is over), then goes back to 1.

Contract (batched, lockstep over N environments, like every ``BatchedEnv``):
  * ``reset()`` returns the first trial's observations, ``[N, observation_size]``.
  * ``step(choices)`` plays one trial in every environment and returns
    ``(observation, reward, done, info)``. ``reward`` sums every frame's reward
    since the previous observation: the fixation reward (+1, which the level pays
    one frame after the images appear) and the choice reward (+5 or -5).
  * Auto-reset: where ``done`` (the episode's last trial was played),
    ``observation`` is already the first trial of the next episode.
  * Rewards are attributed per environment: a reward that arrives while an
    environment already waits at its next trial's images (the others, whose trials
    take more frames, still play) counts towards that next trial, so each trial's
    reward is the same whatever the other environments do (6 or -4 in the stock
    level: its own fixation +1 and its choice +-5).
  * ``info`` holds per-environment arrays about the trial just played:
    ``choice`` (the side chosen), ``choice_reward`` (the +-5), ``correct`` (the
    choice was rewarded), ``correct_side`` (the rewarded image's side, known from
    the reward), ``left_id`` and ``right_id`` (the dataset ids shown, else -1;
    never shown to the agent: from the frame-level environment's ``left_id`` and
    ``right_id`` when it reports them per frame, as the simulator does, or else from
    its episode's ``correct_id`` and ``incorrect_id`` and the side the choice's
    reward shows to be correct, as on DeepMind Lab; -1 on a timed-out trial there),
    ``frames`` (frames this trial took) and ``timeouts`` (trials cut short by
    ``max_frames_per_trial``; 0 in normal play).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harlow.psychlab.protocol import SIDE_LEFT, SIDE_RIGHT
from harlow.psychlab.screen_env import (
    ACTION_MAX,
    ACTION_SIZE,
    DEGREES_PER_LOOK_UNIT,
    LOOK_PITCH,
    LOOK_YAW,
    ScreenEnv,
)
from preprocessing.locate import Detection, StreamLocator

LEFT, RIGHT = SIDE_LEFT, SIDE_RIGHT  # choices, and sides in ``info``: 0 and 1
IMAGE_OFFSET_DEG = 17.2  # image centres, in yaw from the screen centre
MAX_LOOK_UNITS = int(ACTION_MAX[LOOK_YAW])  # the same for pitch
SEARCH_STEP_DEG = 12.0  # turn per frame while the screen's centre is out of view
# Hold still when the target is closer than this to the gaze: the cross's trigger zone
# spans +-1.8 degrees, and detections move by half a pixel from frame to frame.
DEADBAND_DEG = 0.9
SCREEN_DEADBAND_DEG = 10.0


class TrialObserver(Protocol):
    """Turns the frame in which a trial's images appeared into the agent's observation."""

    observation_size: int

    def start_episode(self, env: int) -> None:
        """Forgets what environment ``env`` saw in its previous episode."""

    def observe(self, env: int, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The observation vector of environment ``env`` for this trial."""

    def note_choice(self, env: int, side: int) -> None:
        """Environment ``env`` chose ``side`` (LEFT or RIGHT) of its last observation."""


@dataclass
class _Controller:
    """Per-environment state of the gaze controller."""

    phase: str = "seek"  # "seek": find and fixate the cross; "ready"; "choose"
    side: int = LEFT
    saccade_sent: bool = False
    saw_cross: bool = False  # the cross was seen since the last choice
    search_direction: int = 1


def look_units(offset_px: float, focal_px: float) -> int:
    """Look-action units that turn the gaze by the angle of ``offset_px`` from the centre."""
    degrees = math.degrees(math.atan2(offset_px, focal_px))
    units = round(degrees / DEGREES_PER_LOOK_UNIT)
    return max(-MAX_LOOK_UNITS, min(MAX_LOOK_UNITS, units))


class SaccadeWrapper:
    """One agent step per trial on top of a frame-level ``ScreenEnv`` (see module docstring)."""

    num_actions = 2

    def __init__(
        self,
        env: ScreenEnv,
        observer: TrialObserver,
        max_frames_per_trial: int = 400,
    ) -> None:
        if max_frames_per_trial < 20:
            raise ValueError(f"max_frames_per_trial must be >= 20, got {max_frames_per_trial}")
        self.env = env
        self.observer = observer
        self.num_envs = env.num_envs
        self.observation_size = observer.observation_size
        self.max_frames_per_trial = max_frames_per_trial
        self._focal = env.width / 2.0  # 90-degree horizontal field of view
        self._centre = (env.width / 2.0, env.height / 2.0)
        self._controllers = [_Controller() for _ in range(self.num_envs)]
        self._locator = StreamLocator(self.num_envs)
        self._frames: np.ndarray | None = None
        self._observation = np.zeros((self.num_envs, self.observation_size), np.float32)
        self._image_ids = np.full((self.num_envs, 2), -1, np.int32)  # of each trial's frame
        # Rewards that arrived after an environment's trial was over: its next trial's.
        self._next_trial_rewards = np.zeros(self.num_envs)
        self._frame_info: dict[str, np.ndarray] = {}
        # Cumulative seconds in the frame-level environment and in the vision pipeline.
        self.seconds = {"backend": 0.0, "vision": 0.0}

    # ------------------------------------------------------------------ public
    def reset(self) -> np.ndarray:
        """Starts new episodes; returns the first trial's observations."""
        self._frames = self.env.reset()
        self._frame_info = {}
        self._controllers = [_Controller() for _ in range(self.num_envs)]
        for env in range(self.num_envs):
            self.observer.start_episode(env)
        self._next_trial_rewards[:] = 0
        rewards_before_first_images = np.zeros(self.num_envs)  # none in the level
        self._run_until_ready(
            np.zeros(self.num_envs, bool), rewards_before_first_images, np.zeros(self.num_envs, int)
        )
        return self._observation.copy()

    def step(self, choices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Plays one trial per environment with the given LEFT/RIGHT choices."""
        if self._frames is None:
            raise RuntimeError("call reset() before step()")
        choices = np.asarray(choices)
        if choices.shape != (self.num_envs,) or not np.isin(choices, (LEFT, RIGHT)).all():
            raise ValueError(f"choices must be {self.num_envs} values in {{0, 1}}, got {choices}")
        for env, (controller, side) in enumerate(zip(self._controllers, choices, strict=True)):
            controller.phase, controller.side = "choose", int(side)
            controller.saccade_sent = controller.saw_cross = False
            self.observer.note_choice(env, int(side))
        image_ids = self._image_ids.copy()
        rewards = self._next_trial_rewards.copy()
        self._next_trial_rewards[:] = 0
        choice_rewards = np.zeros(self.num_envs)
        dones = np.zeros(self.num_envs, bool)
        frames_used = np.zeros(self.num_envs, int)
        chosen_pairs = np.full((self.num_envs, 2), -1, np.int32)
        timeouts = self._run_until_ready(dones, rewards, frames_used, choice_rewards, chosen_pairs)
        correct = choice_rewards > 0
        correct_side = np.where(correct, choices, 1 - choices)
        _fill_sides_from_choice(image_ids, chosen_pairs, correct_side)
        info = {
            "choice": choices.astype(np.int8),
            "choice_reward": choice_rewards.astype(np.float32),
            "correct": correct,
            "correct_side": correct_side.astype(np.int8),
            "left_id": image_ids[:, 0],
            "right_id": image_ids[:, 1],
            "frames": frames_used,
            "timeouts": timeouts,
        }
        return self._observation.copy(), rewards.astype(np.float32), dones, info

    def close(self) -> None:
        """Closes the frame-level environment."""
        self.env.close()

    # ----------------------------------------------------------------- control
    def _run_until_ready(
        self,
        dones: np.ndarray,
        rewards: np.ndarray,
        frames_used: np.ndarray,
        choice_rewards: np.ndarray | None = None,
        chosen_pairs: np.ndarray | None = None,
    ) -> np.ndarray:
        """Steps frames until every environment shows its next trial's images.

        Rewards of an environment are summed into ``rewards`` until its next trial's
        images show (or its episode ends); from then on they go to that next trial
        (``_next_trial_rewards``). Rewards between an episode's end and its
        successor's first images are dropped (the level pays nothing there).
        On the frame of a choice's reward, ``chosen_pairs`` gets the episode's
        (rewarded, unrewarded) dataset ids where the frame-level environment reports them.
        """
        timeouts = np.zeros(self.num_envs, int)
        detections = self._see()
        for _ in range(self.max_frames_per_trial):
            if all(c.phase == "ready" for c in self._controllers):
                return timeouts
            actions = np.zeros((self.num_envs, ACTION_SIZE), np.intc)
            for env, (controller, detection) in enumerate(
                zip(self._controllers, detections, strict=True)
            ):
                if controller.phase != "ready":
                    actions[env] = self._action(controller, detection)
                    frames_used[env] += 1
            start = time.perf_counter()
            self._frames, frame_rewards, frame_dones, self._frame_info = self.env.step(actions)
            self.seconds["backend"] += time.perf_counter() - start
            ended_before = dones.copy()
            ended = frame_dones & ~dones
            for env in np.flatnonzero(ended):
                dones[env] = True
                self._controllers[env] = _Controller()
                self.observer.start_episode(env)
                self._next_trial_rewards[env] = 0  # an episode's rewards stay in it
            detections = self._see()
            self._attribute(
                frame_rewards, ended_before, ended, rewards, choice_rewards, chosen_pairs
            )
        stuck = [c.phase != "ready" for c in self._controllers]
        timeouts[stuck] = 1
        for env in np.flatnonzero(stuck):
            self._observation[env] = self.observer.observe(env, self._frames[env], detections[env])
            self._image_ids[env] = self._reported_image_ids(env)
            self._controllers[env].phase = "ready"
        return timeouts

    def _attribute(
        self,
        frame_rewards: np.ndarray,
        ended_before: np.ndarray,
        ended: np.ndarray,
        rewards: np.ndarray,
        choice_rewards: np.ndarray | None,
        chosen_pairs: np.ndarray | None,
    ) -> None:
        """Adds one frame's rewards to the trial each belongs to.

        From the frame that shows an environment's next images on, its rewards are
        that next trial's (the level pays the fixation +1 then or one frame later);
        before, they are the trial being played, up to the end of its episode.
        """
        shows_next = np.array([c.phase == "ready" for c in self._controllers]) & ~ended
        self._next_trial_rewards[shows_next] += frame_rewards[shows_next]
        current = ~ended_before & ~shows_next
        rewards[current] += frame_rewards[current]
        if choice_rewards is None:
            return
        is_choice = current & (np.abs(frame_rewards) >= 2)
        choice_rewards[is_choice] += frame_rewards[is_choice]
        if chosen_pairs is not None and "correct_id" in self._frame_info:
            chosen_pairs[is_choice, 0] = self._frame_info["correct_id"][is_choice]
            chosen_pairs[is_choice, 1] = self._frame_info["incorrect_id"][is_choice]

    def _see(self) -> list[Detection | None]:
        """Locates the screen's parts in the frames of the environments not ready (``None``
        for the others: nothing is done with their frames); observes those now ready."""
        start = time.perf_counter()
        waiting = np.array([c.phase != "ready" for c in self._controllers])
        detections = self._locator.locate(self._frames, waiting)
        self._mark_ready(detections)
        self.seconds["vision"] += time.perf_counter() - start
        return detections

    def _mark_ready(self, detections: list[Detection | None]) -> None:
        for env, (controller, detection) in enumerate(
            zip(self._controllers, detections, strict=True)
        ):
            if controller.phase != "seek":
                continue
            if detection.cross is not None:
                controller.saw_cross = True
            both = detection.left is not None and detection.right is not None
            if controller.saw_cross and both and detection.cross is None:
                self._observation[env] = self.observer.observe(env, self._frames[env], detection)
                self._image_ids[env] = self._reported_image_ids(env)
                controller.phase = "ready"

    def _reported_image_ids(self, env: int) -> tuple[int, int]:
        """Dataset ids of the shown images, if the frame-level environment reports them."""
        info = self._frame_info
        if "left_id" in info and "right_id" in info:
            return int(info["left_id"][env]), int(info["right_id"][env])
        return -1, -1

    def _action(self, controller: _Controller, detection: Detection) -> np.ndarray:
        action = np.zeros(ACTION_SIZE, np.intc)
        if controller.phase == "choose":
            if detection.left is None and detection.right is None:
                controller.phase = "seek"  # the screen went blank: the trial is over
                return self._look_back(controller)
            return self._saccade(controller, detection)
        target = self._seek_target(controller, detection)
        if target is not None:
            action[LOOK_YAW], action[LOOK_PITCH] = self._look_at(target, DEADBAND_DEG)
        return action

    def _look_at(self, target: tuple[float, float], deadband_deg: float) -> tuple[int, int]:
        """Look units that bring ``target`` (pixels) to the gaze, or zeros within the deadband."""
        yaw = look_units(target[0] - self._centre[0], self._focal)
        pitch = look_units(target[1] - self._centre[1], self._focal)
        if math.hypot(yaw, pitch) * DEGREES_PER_LOOK_UNIT < deadband_deg:
            return 0, 0
        return yaw, pitch

    def _saccade(self, controller: _Controller, detection: Detection) -> np.ndarray:
        action = np.zeros(ACTION_SIZE, np.intc)
        box = detection.left if controller.side == LEFT else detection.right
        touches = (
            detection.left_touches_border
            if controller.side == LEFT
            else detection.right_touches_border
        )
        if box is not None and not touches:
            centre = (box.x + box.width / 2.0, box.y + box.height / 2.0)
            action[LOOK_YAW], action[LOOK_PITCH] = self._look_at(centre, DEADBAND_DEG)
        elif not controller.saccade_sent:
            sign = -1 if controller.side == LEFT else 1
            action[LOOK_YAW] = sign * round(IMAGE_OFFSET_DEG / DEGREES_PER_LOOK_UNIT)
        controller.saccade_sent = True
        return action

    def _look_back(self, controller: _Controller) -> np.ndarray:
        """After a choice, turn back towards the screen centre (where the cross returns)."""
        action = np.zeros(ACTION_SIZE, np.intc)
        sign = 1 if controller.side == LEFT else -1
        action[LOOK_YAW] = sign * round(IMAGE_OFFSET_DEG / DEGREES_PER_LOOK_UNIT)
        return action

    def _seek_target(
        self, controller: _Controller, detection: Detection
    ) -> tuple[float, float] | None:
        """Where to look next while seeking the cross (``None``: hold still)."""
        if detection.cross_center is not None:
            return detection.cross_center
        if detection.screen is None:
            return (
                self._centre[0] + controller.search_direction * self._search_px(),
                self._centre[1],
            )
        screen = detection.screen
        cut_left = screen.x <= 0
        cut_right = screen.x + screen.width >= self.env.width
        if cut_left != cut_right:  # the screen runs out of view on one side: turn that way
            controller.search_direction = -1 if cut_left else 1
            return (
                self._centre[0] + controller.search_direction * self._search_px(),
                self._centre[1],
            )
        centre = (screen.x + screen.width / 2.0, screen.y + screen.height / 2.0)
        if self._look_at(centre, SCREEN_DEADBAND_DEG) == (0, 0):
            return None
        return centre

    def _search_px(self) -> float:
        return self._focal * math.tan(math.radians(SEARCH_STEP_DEG))


def _fill_sides_from_choice(
    image_ids: np.ndarray, chosen_pairs: np.ndarray, correct_side: np.ndarray
) -> None:
    """Where ``image_ids`` [N, 2] (left, right) is unknown, places the episode's
    (rewarded, unrewarded) ``chosen_pairs`` [N, 2] on the sides the choice's reward showed."""
    known = (chosen_pairs >= 0).all(axis=1) & (image_ids < 0).all(axis=1)
    rewarded_left = correct_side == LEFT
    left = np.where(rewarded_left, chosen_pairs[:, 0], chosen_pairs[:, 1])
    right = np.where(rewarded_left, chosen_pairs[:, 1], chosen_pairs[:, 0])
    image_ids[known, 0] = left[known]
    image_ids[known, 1] = right[known]
