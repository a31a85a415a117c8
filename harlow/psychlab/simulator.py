"""``BatchedHarlowSimulator``: the Psychlab Harlow level, N environments in lockstep on arrays.

Implements the ``ScreenEnv`` interface (see ``screen_env``). Per step: the look actions turn the
views (``degrees_per_look_unit`` per unit, view angles quantised like DeepMind Lab's 16-bit
angles, pitch clamped at +-87.89 degrees), the trial logic (``protocol``) reads where each view's
centre meets the screen, and the frames are rendered (``render``).

Episode starts, as DeepMind Lab's recordings show them (``shared/fixtures/dmlab_harlow``): the
view spawns at pitch 0 and a yaw drawn uniformly within +-``spawn_yaw_range_deg`` of the screen
(22.5 in the level: yaws 67.5..112.3 over 200 seeds). The camera then settles upward, purely
vertically, over the frames of steps 0, 1 and 2 (the reset frame shows step 0's view); the gaze
the level uses does not follow it. The 22 distinct episode starts recorded (the 18 episodes and
4 among the 36 calibration sequences) show one of two profiles of the eye below its rest height,
in units of the eye-to-screen distance (x 42 = pixels the cross sits higher at 84x84):

* high, 16 starts: 0.1145, 0.0685, 0.0200 (cross 4.8, 2.9, 0.8 px higher);
* low, 6 starts: 0.0775, 0.0462, 0.0135 (3.3, 1.9, 0.6 px): harlow_84 episodes 6, 7 and 14 and
  the calibration sequences after the first (seeds 11, 12 and 13).

From step 3 on the view is at rest in every start. With its own profile each recorded start
replays within 0.7 px (at 84x84) of the recorded cross centroid on steps 0..9 (rms 0.17 px on
step 0); one profile for all missed the low starts by 2, 1 and 0.5 px on steps 0, 1 and 2. The
profile followed neither the seed (seed 11 gave high on its first run, low on later ones) nor the
spawn yaw, so each random episode draws low with the recorded share, 6/22, from a stream of its
own (ids, sides and spawn yaws are those drawn without it; see "Random episodes" below);
``EpisodeSetup.camera_settle`` sets it for replays. Trial timings do not depend on it: under
``SaccadeWrapper`` either profile gives the first images 8 frames after reset, for every spawn
yaw.

Two more things every DeepMind Lab episode start shows (``render``): a ring around the eye,
about 22 degrees below eye level, in the frames of steps 4..26 (here: while
``episode_step`` is in ``render.SPAWN_RING_STEPS``), and, in every frame, the renderer's pure
black cracks along the bezel above the screen's face. Together they make trial 1 slower under
``SaccadeWrapper`` in about half the episodes, as on the engine: in trial 1's inter-trial
frames the ring cuts the screen's black face about 7 pixels (at 84x84) above its bottom, so the
screen the wrapper's vision finds is shorter and its centre higher; where a crack also joins
the face's black to the bezel's top (a matter of the view's sub-pixel position), that centre
sits just over the wrapper's 10-degree screen deadband above the gaze, the wrapper looks up
~10 degrees and back when the cross returns, and the trial takes 15 frames instead of 13.
Later trials come after step 26, without the ring: 13 frames.

With ``room_jitter`` > 0 (training for DeepMind Lab's frames from the whole frame, as the
``pixels`` mode does), each episode draws its room's grey levels (walls, bezel; not the screen's
black face or contents) with a gain uniform in 1 +- ``room_jitter`` and a gamma of
exp(uniform(+-``room_jitter``)), from a stream of its own: the surroundings vary, so an agent
cannot rely on the exact shades this renderer gives them (``render.ScreenRenderer.set_room_tone``).

Random episodes: each environment draws its episodes from its own three generators, keyed by the
run's ``seed`` and the environment's global index in the run (``first_env`` + its index here):
``SeedSequence(seed, spawn_key=(index, stream))`` for the streams ``EPISODE_STREAM`` (ids, spawn
yaw, sides), ``SETTLE_STREAM`` (camera settle profile) and ``ROOM_STREAM`` (room tone, drawn only
with ``room_jitter`` > 0). An environment's episodes therefore depend on neither the batch it runs
in nor when the other environments end theirs: a simulator with ``first_env=k`` replays
environments k, k + 1, ... of a bigger batch frame for frame, and splitting a run's environments
over worker processes (``harlow.harlow_task.env.make_env``) changes nothing. Per episode: ids
uniform over the split (two different ones), spawn yaw uniform within +-``spawn_yaw_range_deg``,
the rewarded image left in half of the trials in uniformly random order (the level's rule;
with ``balanced_sides=False``, left or right with probability 1/2 in each trial on its own, so
that counting the sides rewarded so far cannot predict the next: a training option).

``info`` (all arrays [N]) describes the returned frame, so where an episode ended it describes the
first frame of the next episode, except ``episode_done_reason``, ``choice_side`` and
``choice_correct``, which describe the step just taken, and ``final_frames``:

* ``trial`` int16: 1-based current/last trial, 0 before the first images.
* ``screen_state`` int8: 0 fixation cross shown, 1 images shown, 2 blank (inter-trial).
* ``left_id``, ``right_id`` int32: dataset ids shown at the screen's left/right, -1 when none.
* ``correct_side`` int8: 0 rewarded image on the left, 1 right, -1 when no images are shown.
* ``yaw``, ``pitch`` float32: degrees of the view from the screen centre's direction; + yaw looks
  right, + pitch looks down.
* ``gaze_x``, ``gaze_y`` float32: where the view's centre meets the screen, as fractions of its
  width from the left / of its height from the top; -1 when it misses the screen (as the level's
  own pointer).
* ``episode_step`` int32: steps taken in the current episode.
* ``episode_done_reason`` int8: 0 not done, 1 all trials done, 2 out of time.
* ``choice_side`` int8: side chosen on this step (0 left, 1 right), -1 if no choice ended a trial.
* ``choice_correct`` bool: that choice was the rewarded image.
* ``final_frames`` [N, H, W, 3] uint8, only when an episode ended: the last view of each ended
  episode (DeepMind Lab returns none; Gymnasium wants one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harlow.datasets.manifest import IMAGE_SIZE
from harlow.psychlab import render
from harlow.psychlab.protocol import (
    NO_SIDE,
    SCREEN_IMAGES,
    SCREEN_TEXELS,
    SIDE_LEFT,
    HarlowProtocol,
    ProtocolConfig,
)
from harlow.psychlab.screen_env import (
    DEGREES_PER_LOOK_UNIT,
    LOOK_PITCH,
    LOOK_YAW,
    validate_actions,
)

DATASET_IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)
SPAWN_YAW_RANGE_DEG = 22.5  # the level's spawn yaws: within +-22.5 degrees of the screen
ANGLE_QUANTUM_DEG = 360.0 / 65536
MAX_PITCH_DEG = 16000 * ANGLE_QUANTUM_DEG  # Quake 3 clamps the view pitch at 16000 units
SETTLE_HIGH, SETTLE_LOW = 0, 1  # camera settle profiles: rows of render.CAMERA_SETTLE_EYE_DROPS
LOW_SETTLE_SHARE = 6 / 22  # recorded episode starts with the low profile
MAX_ROOM_JITTER = 0.9
# Each environment's random streams (spawn_key (global index, stream) under the run's seed).
EPISODE_STREAM, SETTLE_STREAM, ROOM_STREAM = 0, 1, 2
_SETTLE_DROPS = np.array(render.CAMERA_SETTLE_EYE_DROPS)  # [profile, step]
_SETTLE_STEPS = _SETTLE_DROPS.shape[1]
_HALF_TEXTURE_BYTES = 64 << 20  # bound of the images' texture halves kept across episodes


@dataclass(frozen=True)
class EpisodeSetup:
    """A fully specified episode (for replays and tests): images, sides and spawn view."""

    correct_id: int
    incorrect_id: int
    correct_sides: tuple[int, ...]  # per trial: 0 rewarded image on the left, 1 on the right
    spawn_yaw_deg: float
    spawn_pitch_deg: float = 0.0
    camera_settle: int = SETTLE_HIGH  # SETTLE_HIGH or SETTLE_LOW (see the module docstring)


def _validate_images(images: np.ndarray, image_ids: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(
            f"images must be a [K, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] uint8 array, got "
            f"{type(images).__name__} with shape {getattr(images, 'shape', None)}"
        )
    if images.shape[1:] != DATASET_IMAGE_SHAPE or images.dtype != np.uint8:
        raise ValueError(
            f"images must be [K, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] uint8, got shape {images.shape} "
            f"dtype {images.dtype}"
        )
    if image_ids.ndim != 1 or not np.issubdtype(image_ids.dtype, np.integer):
        raise ValueError(f"image_ids must be a 1-D array of integers, got {image_ids!r}")
    if len(np.unique(image_ids)) < 2:
        raise ValueError(f"image_ids must hold at least 2 distinct ids, got {image_ids.tolist()}")
    out_of_range = image_ids[(image_ids < 1) | (image_ids > len(images))]
    if out_of_range.size:
        raise ValueError(
            f"image_ids must be dataset ids in 1..{len(images)} (row i of images is id i + 1), "
            f"got {out_of_range.tolist()}"
        )


def environment_generators(
    seed: int, first_env: int, num_envs: int, stream: int
) -> list[np.random.Generator]:
    """One generator per environment ``first_env .. first_env + num_envs - 1`` of a run: stream
    ``stream`` of the environment's global index under ``seed`` (independent of the batch)."""
    return [
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(env), stream)))
        for env in range(first_env, first_env + num_envs)
    ]


def quantize_angles(degrees: np.ndarray) -> np.ndarray:
    """View angles as DeepMind Lab reports and renders them: multiples of 360/65536 degrees."""
    return np.rint(degrees / ANGLE_QUANTUM_DEG) * ANGLE_QUANTUM_DEG


class BatchedHarlowSimulator:
    """N Psychlab Harlow environments advancing in lockstep (see the module docstring).

    images: [K, 256, 256, 3] uint8, row i holding dataset id i + 1; image_ids: the ids episodes
    draw from (a train or held-out split). Frames may be any size 32..512 on each side (DeepMind
    Lab itself needs multiples of 4). ``seed`` is the run's seed and ``first_env`` the global index
    of this batch's first environment in the run (see "Random episodes" in the module docstring).
    ``protocol_kwargs`` are ``ProtocolConfig`` fields.
    """

    def __init__(
        self,
        num_envs: int,
        images: np.ndarray,
        image_ids: Sequence[int] | np.ndarray,
        *,
        width: int = 84,
        height: int = 84,
        seed: int = 0,
        first_env: int = 0,
        spawn_yaw_range_deg: float = SPAWN_YAW_RANGE_DEG,
        degrees_per_look_unit: float = DEGREES_PER_LOOK_UNIT,
        room_jitter: float = 0.0,
        balanced_sides: bool = True,
        **protocol_kwargs: Any,
    ) -> None:
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        image_ids = np.asarray(image_ids)
        _validate_images(images, image_ids)
        render.validate_frame_size(width, height)
        if not 0.0 <= spawn_yaw_range_deg <= 180.0:
            raise ValueError(f"spawn_yaw_range_deg must be in [0, 180], got {spawn_yaw_range_deg}")
        if degrees_per_look_unit <= 0:
            raise ValueError(f"degrees_per_look_unit must be > 0, got {degrees_per_look_unit}")
        if not isinstance(first_env, (int, np.integer)) or first_env < 0:
            raise ValueError(f"first_env must be an integer >= 0, got {first_env!r}")
        if not 0.0 <= room_jitter <= MAX_ROOM_JITTER:
            raise ValueError(f"room_jitter must be in [0, {MAX_ROOM_JITTER}], got {room_jitter}")
        self.room_jitter = float(room_jitter)
        self.balanced_sides = bool(balanced_sides)
        self.num_envs, self.width, self.height = int(num_envs), width, height
        self.config = ProtocolConfig(**protocol_kwargs)
        self.spawn_yaw_range_deg = float(spawn_yaw_range_deg)
        self.degrees_per_look_unit = float(degrees_per_look_unit)
        self._images = images
        self._image_ids = np.unique(image_ids).astype(np.int64)
        self.seed, self.first_env = seed, int(first_env)
        self._episode_rngs = environment_generators(seed, first_env, num_envs, EPISODE_STREAM)
        self._settle_rngs = environment_generators(seed, first_env, num_envs, SETTLE_STREAM)
        self._room_rngs = environment_generators(seed, first_env, num_envs, ROOM_STREAM)
        self._protocol = HarlowProtocol(self.num_envs, self.config)
        self._renderer = render.ScreenRenderer(self.num_envs, width, height)
        self._yaw = np.zeros(self.num_envs)
        self._pitch = np.zeros(self.num_envs)
        self._correct_id = np.zeros(self.num_envs, dtype=np.int32)
        self._incorrect_id = np.zeros(self.num_envs, dtype=np.int32)
        self._settle = np.zeros(self.num_envs, dtype=np.int64)
        # Per environment: its episode's images texture for each side of the rewarded image.
        self._textures: list[dict[int, np.ndarray]] = [{} for _ in range(self.num_envs)]
        # Halves of images textures, per (dataset id, side), kept across episodes.
        self._half_textures: dict[tuple[int, int], np.ndarray] = {}
        self._started = False

    # ----------------------------------------------------------------- episodes
    def _random_setups(self, env_ids: np.ndarray) -> list[EpisodeSetup]:
        """New random episodes of ``env_ids``, each from its environment's own streams."""
        ids, trials = self._image_ids, self.config.trials_per_episode
        # One call per environment: ids (2), spawn yaw (1), sides (trials) as uniform [0, 1).
        draws = np.stack([self._episode_rngs[env].random(3 + trials) for env in env_ids])
        first = np.minimum((draws[:, 0] * len(ids)).astype(np.int64), len(ids) - 1)
        second = np.minimum((draws[:, 1] * (len(ids) - 1)).astype(np.int64), len(ids) - 2)
        second += second >= first  # a different id, uniformly (as the level draws it)
        yaws = self.spawn_yaw_range_deg * (2.0 * draws[:, 2] - 1.0)
        if self.balanced_sides:  # the level's: a uniform permutation of half lefts, half rights
            sides = np.argsort(draws[:, 3:], axis=1) >= trials // 2
        else:  # each trial's side on its own, so the sides so far say nothing of the next
            sides = draws[:, 3:] >= 0.5
        settle_draws = np.array([self._settle_rngs[env].random() for env in env_ids])
        settles = np.where(settle_draws < LOW_SETTLE_SHARE, SETTLE_LOW, SETTLE_HIGH)
        return [
            EpisodeSetup(
                int(ids[a]), int(ids[b]), tuple(int(s) for s in row), float(yaw), 0.0, int(settle)
            )
            for a, b, row, yaw, settle in zip(first, second, sides, yaws, settles, strict=True)
        ]

    def _check_setup(self, setup: EpisodeSetup) -> None:
        for name in ("correct_id", "incorrect_id"):
            value = getattr(setup, name)
            if not 1 <= value <= len(self._images):
                raise ValueError(f"EpisodeSetup.{name} must be in 1..{len(self._images)}: {value}")
        if setup.correct_id == setup.incorrect_id:
            raise ValueError(f"EpisodeSetup ids must differ, got {setup.correct_id} twice")
        if len(setup.correct_sides) != self.config.trials_per_episode:
            raise ValueError(
                f"EpisodeSetup.correct_sides must have {self.config.trials_per_episode} entries, "
                f"got {setup.correct_sides}"
            )
        if setup.camera_settle not in (SETTLE_HIGH, SETTLE_LOW):
            raise ValueError(
                f"EpisodeSetup.camera_settle must be SETTLE_HIGH ({SETTLE_HIGH}) or SETTLE_LOW "
                f"({SETTLE_LOW}), got {setup.camera_settle!r}"
            )

    def _start(self, env_ids: np.ndarray, setups: Sequence[EpisodeSetup]) -> None:
        for setup in setups:
            self._check_setup(setup)
        self._yaw[env_ids] = [s.spawn_yaw_deg for s in setups]
        self._pitch[env_ids] = np.clip(
            [s.spawn_pitch_deg for s in setups], -MAX_PITCH_DEG, MAX_PITCH_DEG
        )
        self._correct_id[env_ids] = [s.correct_id for s in setups]
        self._incorrect_id[env_ids] = [s.incorrect_id for s in setups]
        self._settle[env_ids] = [s.camera_settle for s in setups]
        for env in env_ids:
            self._textures[env] = {}
        if self.room_jitter > 0:
            self._tone_rooms(env_ids)
        yaw, pitch = self._view_angles()
        self._protocol.start_episodes(
            env_ids,
            np.array([s.correct_sides for s in setups]),
            render.gaze_on_screen(yaw[env_ids], pitch[env_ids]),
        )

    def _tone_rooms(self, env_ids: np.ndarray) -> None:
        """Draws each new episode's room with random grey levels (``room_jitter``)."""
        spread = self.room_jitter
        draws = np.stack([self._room_rngs[env].random(2) for env in env_ids])  # [count, 2]
        gains = 1.0 + spread * (2.0 * draws[:, 0] - 1.0)
        gammas = np.exp(spread * (2.0 * draws[:, 1] - 1.0))
        for env, gain, gamma in zip(env_ids, gains, gammas, strict=True):
            self._renderer.set_room_tone(int(env), float(gain), float(gamma))

    def reset(self, episodes: Sequence[EpisodeSetup] | None = None) -> np.ndarray:
        """Starts new episodes everywhere (random, or the given N setups); returns first frames."""
        if episodes is not None and len(episodes) != self.num_envs:
            raise ValueError(f"reset needs {self.num_envs} EpisodeSetups, got {len(episodes)}")
        everyone = np.arange(self.num_envs)
        setups = list(episodes) if episodes is not None else self._random_setups(everyone)
        self._start(everyone, setups)
        self._started = True
        frames = np.empty((self.num_envs, self.height, self.width, 3), dtype=np.uint8)
        self._render(frames, *self._view_angles())
        return frames

    # -------------------------------------------------------------------- steps
    def _view_angles(self) -> tuple[np.ndarray, np.ndarray]:
        return quantize_angles(self._yaw), quantize_angles(self._pitch)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Advances every environment by one frame; see the module docstring for ``info``."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = validate_actions(actions, self.num_envs)
        look = actions[:, [LOOK_YAW, LOOK_PITCH]].astype(np.float64)
        self._yaw = (self._yaw + look[:, 0] * self.degrees_per_look_unit + 180.0) % 360.0 - 180.0
        self._pitch = np.clip(
            self._pitch + look[:, 1] * self.degrees_per_look_unit, -MAX_PITCH_DEG, MAX_PITCH_DEG
        )
        yaw, pitch = self._view_angles()
        gaze = render.gaze_on_screen(yaw, pitch)
        result = self._protocol.step(gaze)
        started = np.flatnonzero(result.trials_started)
        if len(started):
            sides = self._protocol.current_correct_side()
            for env in started.tolist():
                self._show_images(env, int(sides[env]))
        frames = np.empty((self.num_envs, self.height, self.width, 3), dtype=np.uint8)
        self._render(frames, yaw, pitch)
        info: dict[str, np.ndarray] = {
            "episode_done_reason": result.done_reasons,
            "choice_side": result.choices,
            "choice_correct": result.choices_correct,
        }
        if result.dones.any():
            info["final_frames"] = frames.copy()
            ended = np.flatnonzero(result.dones)
            self._start(ended, self._random_setups(ended))
            yaw, pitch = self._view_angles()
            gaze[ended] = render.gaze_on_screen(yaw[ended], pitch[ended])
            self._render(frames, yaw, pitch, ended)
        info.update(self._describe(gaze))
        return frames, result.rewards, result.dones, info

    def _show_images(self, env: int, side: int) -> None:
        """Shows ``env``'s images, the rewarded one on ``side``."""
        texture = self._textures[env].get(side)
        if texture is None:  # the episode's first trial with the rewarded image on this side
            correct, incorrect = int(self._correct_id[env]), int(self._incorrect_id[env])
            left, right = (correct, incorrect) if side == SIDE_LEFT else (incorrect, correct)
            texture = np.concatenate([self._half_texture(left, 0), self._half_texture(right, 1)], 1)
            self._textures[env][side] = texture
        self._renderer.set_images_texture(env, texture)

    def _half_texture(self, image_id: int, side: int) -> np.ndarray:
        """``render.images_half_texture`` of a dataset image, built once (up to a bound)."""
        half = self._half_textures.get((image_id, side))
        if half is None:
            scaled = render.scale_dataset_image(self._images[image_id - 1])
            half = render.images_half_texture(scaled, side, self._renderer.texels)
            if len(self._half_textures) * half.nbytes >= _HALF_TEXTURE_BYTES:
                self._half_textures.clear()
            self._half_textures[(image_id, side)] = half
        return half

    def _eye_drop(self) -> np.ndarray:
        """How far each camera still sits below its rest height (the reset frame shows step 0's)."""
        index = np.maximum(self._protocol.steps - 1, 0)
        settling = index < _SETTLE_STEPS
        drops = _SETTLE_DROPS[self._settle, np.minimum(index, _SETTLE_STEPS - 1)]
        return np.where(settling, drops, 0.0)

    def _render(
        self,
        frames: np.ndarray,
        yaw: np.ndarray,
        pitch: np.ndarray,
        env_ids: np.ndarray | None = None,
    ) -> None:
        """Renders the views (``yaw``, ``pitch``: ``_view_angles()``) of all or ``env_ids``."""
        steps = self._protocol.steps
        first, last = render.SPAWN_RING_STEPS
        self._renderer.render(
            frames,
            yaw,
            pitch,
            self._eye_drop(),
            self._protocol.screen_state,
            env_ids,
            spawn_ring=(steps >= first) & (steps <= last),
        )

    def _describe(self, gaze: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``info`` about the current frames (``gaze``: the views' ``render.gaze_on_screen``,
        if already known)."""
        yaw, pitch = self._view_angles()
        if gaze is None:
            gaze = render.gaze_on_screen(yaw, pitch)
        state = self._protocol.screen_state
        side = self._protocol.current_correct_side()
        showing = state == SCREEN_IMAGES
        left = np.where(side == SIDE_LEFT, self._correct_id, self._incorrect_id)
        right = np.where(side == SIDE_LEFT, self._incorrect_id, self._correct_id)
        gaze = np.nan_to_num(gaze / SCREEN_TEXELS, nan=-1.0)
        return {
            "trial": self._protocol.trial.copy(),
            "screen_state": state.copy(),
            "left_id": np.where(showing, left, -1).astype(np.int32),
            "right_id": np.where(showing, right, -1).astype(np.int32),
            "correct_side": np.where(showing, side, NO_SIDE).astype(np.int8),
            "yaw": yaw.astype(np.float32),
            "pitch": (pitch + render.SCREEN_CENTRE_ELEVATION_DEG).astype(np.float32),
            "gaze_x": gaze[:, 0].astype(np.float32),
            "gaze_y": gaze[:, 1].astype(np.float32),
            "episode_step": self._protocol.steps.astype(np.int32),
        }

    def close(self) -> None:
        """Drops the images' textures; ``reset()`` is needed before stepping again."""
        self._textures = [{} for _ in range(self.num_envs)]
        self._half_textures = {}
        self._started = False
