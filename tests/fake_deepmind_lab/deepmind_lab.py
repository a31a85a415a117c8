"""A small stand-in for DeepMind Lab's ``deepmind_lab`` module (tests only).

Follows the documented Python API and the error types of python/dmlab_module.c:
non-str config values raise TypeError, an unknown observation ValueError, a bad action
ValueError, calls in the wrong state RuntimeError. It knows the Psychlab Harlow level
(the stock name and absolute paths to ``.lua`` scripts), rejects config keys the level
would reject (for a script: those outside its FACTORY_SETTINGS table), and fails like
the engine: a dataset image that is missing or not 256x256 RGB aborts the process when
the images are first shown. It renders a simple view (room grey, screen black, red
cross, nearest-neighbour images) of a screen 68.8 degrees wide and runs a simplified
trial protocol driven by the two look actions. Test hooks: ``INSTANCES`` (every Lab
created in this process), ``Lab.seeds`` and ``Lab.tmpdir``.

Like the real engine built with its software renderer (Mesa llvmpipe), which crashes
with SIGSEGV at the first ``reset()`` in a process that has imported TensorFlow (the
renderer binds to the LLVM symbols TensorFlow's library exports), the fake kills its
process with SIGSEGV there when ``FAKE_DMLAB_CRASH_NEXT_TO_TENSORFLOW=1``. With
``FAKE_DMLAB_LOG_DIR`` set, every Lab created writes a file there naming its process
and whether ``tensorflow`` was imported in it.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

IS_FAKE = True
INSTANCES: list[Lab] = []

STOCK_LEVEL = "contributed/psychlab/harlow"
ENGINE_KEYS = {"width", "height", "fps", "minimalUI", "levelDirectory", "mixerSeed"}
LEVEL_KEYS = {"datasetPath", "episodeLengthSeconds", "logLevel"}  # Psychlab's own settings
LOG_LEVELS = {"NEVER", "ERROR", "WARN", "INFO"}  # common/log.lua, or a positive integer
OBSERVATIONS = {"RGB_INTERLEAVED", "DEBUG.POS.ROT"}
ACTION_NAMES = (
    "LOOK_LEFT_RIGHT_PIXELS_PER_FRAME",
    "LOOK_DOWN_UP_PIXELS_PER_FRAME",
    "STRAFE_LEFT_RIGHT",
    "MOVE_BACK_FORWARD",
    "FIRE",
    "JUMP",
    "CROUCH",
)
ACTION_BOUNDS = ((-512, 512), (-512, 512), (-1, 1), (-1, 1), (0, 1), (0, 1), (0, 1))
DEGREES_PER_LOOK_UNIT = 0.1055
SCREEN_DEGREES = 68.8  # the screen's width seen from the spawn point
FOV_SCREENS = 90.0 / SCREEN_DEGREES  # horizontal field of view in screen widths
ROOM, RED = (90, 90, 90), (255, 0, 0)
FACTORY_DEFAULTS = {
    "trainBatch": 1000,
    "testBatch": 1000,
    "trialsPerEpisodeCap": 6,
    "timeToFixateCross": 4,
    "timeToFixateTarget": 4,
    "fastInterTrialInterval": 5,
    "fixationReward": 1,
    "correctReward": 5,
    "incorrectReward": -5,
    "targetSize": 0.4,
    "fixationSize": 0.1,
    "episodeLengthSeconds": 300,
    "episodesPerReset": 1,  # harlow_custom.lua's own setting
}


def look_units_per_pixel(width: int) -> float:
    """Look-action units that turn the view by one pixel at the frame centre."""
    return FOV_SCREENS * SCREEN_DEGREES / DEGREES_PER_LOOK_UNIT / width


def _script_settings(path: Path) -> set[str]:
    """The keys of the script's FACTORY_SETTINGS and SCRIPT_SETTINGS tables."""
    keys = set()
    for name in ("FACTORY_SETTINGS", "SCRIPT_SETTINGS"):
        table = re.search(rf"local {name} = \{{(.*?)\}}", path.read_text(), re.S)
        keys |= set(re.findall(r"'(\w+)'", table.group(1))) if table else set()
    return keys


def _fatal(message: str) -> None:
    print(f"FATAL (fake DeepMind Lab): {message}", file=sys.stderr, flush=True)
    os.abort()


def _log_creation() -> None:
    folder = os.environ.get("FAKE_DMLAB_LOG_DIR")
    if folder:
        record = Path(tempfile.mkstemp(prefix=f"lab_{os.getpid()}_", dir=folder)[1])
        record.write_text(f"pid={os.getpid()} tensorflow={'tensorflow' in sys.modules}\n")


class Lab:
    """The environment: ``Lab(level, observations, config={}, renderer='software')``."""

    def __init__(self, level, observations, config={}, renderer="software", level_cache=None):  # noqa: B006 - the documented signature
        for position, (value, kind) in enumerate(
            ((level, str), (observations, list), (config, dict), (renderer, str)), start=1
        ):
            if not isinstance(value, kind):
                raise TypeError(
                    f"argument {position} must be {kind.__name__}, not {type(value).__name__}"
                )
        if renderer not in ("software", "hardware", ""):
            raise RuntimeError(
                f'Failed to set renderer must be "hardware" or "software" actual "{renderer}"!'
            )
        for key, value in config.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("bad argument type for built-in operation")
        self.level, self.config, self.renderer = level, dict(config), renderer
        self.seeds: list[int] = []
        self._status = "closed"
        self._width = self._int_setting("width", 320)
        self._height = self._int_setting("height", 240)
        self._fps = int(float(config.get("fps", "60")))
        self._settings = self._init_level(level, config)
        for name in observations:
            if name not in OBSERVATIONS:
                raise ValueError(f"Unknown observation '{name}'.")
        self._observations = list(observations)
        # The engine makes a temporary folder under $TMPDIR and may leave it behind.
        self.tmpdir = tempfile.mkdtemp(prefix="dmlab_temp_folder_", dir=os.environ.get("TMPDIR"))
        self._status, self._steps, self._events = "uninitialized", 0, []
        INSTANCES.append(self)
        _log_creation()

    def _int_setting(self, key: str, default: int) -> int:
        value = self.config.get(key, str(default))
        try:
            return int(value, 0)
        except ValueError:
            raise RuntimeError(
                f"Failed to apply setting '{key} = {value}' - \"Invalid int setting {value}\n\""
            ) from None

    def _init_level(self, level: str, config: dict[str, str]) -> dict[str, float | str]:
        def failure(reason: str) -> RuntimeError:
            return RuntimeError(f'Failed to init environment - "{reason}"')

        if level.endswith(".lua"):
            if not (os.path.isabs(level) and os.path.isfile(level)):
                raise failure(f"Could not find level script '{level}'")
            script_keys = _script_settings(Path(level))
        elif level == STOCK_LEVEL:
            script_keys = set()
        else:
            raise failure(f"Level not found: '{level}'")
        if self._width % 4 or self._height % 4:
            raise failure(
                f"width and height must be multiples of 4, got {self._width}x{self._height}"
            )
        settings: dict[str, float | str] = dict(FACTORY_DEFAULTS, datasetPath="")
        for key, value in config.items():
            if key in ENGINE_KEYS:
                continue
            if key not in LEVEL_KEYS | script_keys:
                raise failure(f'Invalid setting: "{key}" = "{value}"')
            if key == "logLevel":
                if value.upper() not in LOG_LEVELS and not value.isdigit():
                    raise failure(f"Invalid logLevel: {value}")
                continue
            if key == "datasetPath":
                settings[key] = value
                continue
            try:
                settings[key] = float(value)
            except ValueError:
                raise failure(f'setting "{key}" must be a number, got "{value}"') from None
        return settings

    # ---- documented API ----

    def reset(self, episode=-1, seed=None):
        if self._status == "closed":
            raise RuntimeError("Environment is closed.")
        if os.environ.get("FAKE_DMLAB_CRASH_NEXT_TO_TENSORFLOW") == "1" and (
            "tensorflow" in sys.modules
        ):
            print("fake DeepMind Lab: llvmpipe next to TensorFlow", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"'seed' must be int or None, was '{type(seed).__name__}'.")
        seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else seed
        if int(self._settings["trainBatch"]) < 2:
            raise RuntimeError('Failed to start environment - "trainBatch must be >= 2"')
        self._rng = rng = np.random.default_rng(seed)
        self._draw_episode()
        self._episodes_left = int(self._settings["episodesPerReset"])
        self._next_episode_due = False
        self._gaze = np.array([0.5 + rng.uniform(-22.5, 22.5) / SCREEN_DEGREES, 0.5])
        self._screen_state, self._trial, self._hold, self._held = "fixation", 0, 0, None
        self._timer, self._frame_count, self._images = 0, 0, None
        self._screen_shown = False  # the reset frame does not show the screen yet
        self.seeds.append(seed)
        self._steps, self._status = 0, "running"
        self._events = []
        if self.level.endswith(".lua"):
            self._events.append(("harlow:image_pair", [str(self._correct), str(self._incorrect)]))
        return True

    def _draw_episode(self) -> None:
        """The episode's image pair and rewarded sides, from the episode's generator."""
        batch, trials = (
            int(self._settings["trainBatch"]),
            int(self._settings["trialsPerEpisodeCap"]),
        )
        self._correct = int(self._rng.integers(1, batch + 1))
        self._incorrect = int(self._rng.integers(1, batch))
        self._incorrect += self._incorrect >= self._correct
        self._sides = self._rng.permutation([1] * (trials // 2) + [2] * (trials // 2))

    def step(self, action, num_steps=1):
        if not isinstance(action, np.ndarray):
            raise TypeError(f"argument 1 must be numpy.ndarray, not {type(action).__name__}")
        if not isinstance(num_steps, int):
            raise TypeError("'num_steps' must be an integer")
        if self._status != "running":
            raise RuntimeError("Environment in wrong status to advance.")
        if action.ndim != 1 or action.shape[0] != len(ACTION_NAMES):
            raise ValueError(f"action must have shape ({len(ACTION_NAMES)})")
        if action.dtype != np.intc:
            raise ValueError("action must have dtype np.intc")
        self._events, reward = [], 0.0
        for _ in range(num_steps):
            reward += self._advance(action)
            if self._status != "running":
                break
        self._steps += num_steps  # as the real module: all asked for, even past the end
        return reward

    def _advance(self, action: np.ndarray) -> float:
        s, reward = self._settings, 0.0
        if self._next_episode_due:  # harlow_custom.lua's episodesPerReset, one frame late
            self._next_episode_due, self._trial = False, 0
            self._draw_episode()
            self._events.append(("harlow:episode_end", []))
            self._events.append(("harlow:image_pair", [str(self._correct), str(self._incorrect)]))
        previous = self._gaze.copy()  # hover uses the previous frame's gaze
        self._gaze += action[:2] * DEGREES_PER_LOOK_UNIT / SCREEN_DEGREES
        self._screen_shown = True
        zone = self._zone(previous)
        if self._screen_state == "fixation":
            self._hold = self._hold + 1 if zone == "cross" else 0
            if self._hold >= s["timeToFixateCross"]:
                reward += s["fixationReward"]
                self._trial += 1
                self._screen_state, self._hold, self._held = "images", 0, None
                self._images = [self._load_image(self._correct), self._load_image(self._incorrect)]
        elif self._screen_state == "images":
            if zone is None:
                self._hold = 0
            else:
                self._hold = self._hold + 1 if zone == self._held else 1
            self._held = zone
            if self._hold >= s["timeToFixateTarget"]:
                correct = int(zone == ("left", "right")[self._sides[self._trial - 1] - 1])
                reward += s["correctReward"] if correct else s["incorrectReward"]
                record = f"{{\n  ['trial'] = {self._trial}\n  ['correct'] = {correct}\n}}\n"
                self._events.append(("xdata:psychlab", [record, "harlow"]))
                self._screen_state, self._timer = "blank", int(s["fastInterTrialInterval"])
                if self._trial >= s["trialsPerEpisodeCap"]:
                    self._episodes_left -= 1
                    if self._episodes_left > 0:
                        self._next_episode_due = True
                    else:
                        self._status = "terminated"
        else:
            self._timer -= 1
            if self._timer <= 0:
                self._screen_state, self._hold = "fixation", 0
        self._frame_count += 1
        if self._frame_count >= s["episodeLengthSeconds"] * self._fps:
            self._status = "terminated"
        return reward

    def _zone(self, gaze: np.ndarray) -> str | None:
        s, (x, y) = self._settings, gaze
        if self._screen_state == "fixation":
            half = s["fixationSize"] / 4
            return "cross" if abs(x - 0.5) <= half and abs(y - 0.5) <= half else None
        if self._screen_state == "images" and abs(y - 0.5) <= s["targetSize"] / 4:
            for name, centre in (("left", 0.25), ("right", 0.75)):
                if abs(x - centre) <= s["targetSize"] / 4:
                    return name
        return None

    def _load_image(self, number: int) -> np.ndarray:
        folder = self._settings["datasetPath"]
        if folder == "dummy":
            return np.full((256, 256, 3), (37 * number % 200, 50, 97 * number % 256), np.uint8)
        path = os.path.join(folder, f"{number:04d}.png")
        if not os.path.isfile(path):
            _fatal(f"cannot open image '{path}'")
        image = Image.open(path)
        if image.mode != "RGB" or image.size != (256, 256):
            _fatal(f"image '{path}' is {image.mode} {image.size}, expected RGB (256, 256)")
        return np.asarray(image)

    def observations(self):
        if self._status != "running":
            raise RuntimeError("Environment in wrong status for call to observations()")
        result = {}
        if "RGB_INTERLEAVED" in self._observations:
            result["RGB_INTERLEAVED"] = self._render()
        if "DEBUG.POS.ROT" in self._observations:
            yaw = 90.0 - (self._gaze[0] - 0.5) * SCREEN_DEGREES
            result["DEBUG.POS.ROT"] = np.array([(self._gaze[1] - 0.5) * SCREEN_DEGREES, yaw, 0.0])
        return result

    def _render(self) -> np.ndarray:
        w, h, s = self._width, self._height, self._settings
        xs = self._gaze[0] + (np.arange(w) + 0.5 - w / 2) / w * FOV_SCREENS
        ys = self._gaze[1] + (np.arange(h) + 0.5 - h / 2) / w * FOV_SCREENS
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = ROOM
        on_x, on_y = (xs >= 0) & (xs < 1), (ys >= 0) & (ys < 1)
        if not self._screen_shown:
            return frame
        frame[np.ix_(on_y, on_x)] = 0
        if self._screen_state == "fixation":
            half, bar = s["fixationSize"] / 2, s["fixationSize"] / 10
            dx, dy = np.abs(xs - 0.5), np.abs(ys - 0.5)
            in_box = (dy[:, None] <= half) & (dx[None, :] <= half)
            on_bar = (dy[:, None] <= bar) | (dx[None, :] <= bar)
            frame[in_box & on_bar] = RED
        elif self._screen_state == "images":
            size = s["targetSize"]
            sides = ("left", "right") if self._sides[self._trial - 1] == 1 else ("right", "left")
            for image, side in zip(self._images, sides, strict=True):
                centre = 0.25 if side == "left" else 0.75
                u = np.floor((xs - centre + size / 2) / size * 256).astype(int)
                v = np.floor((ys - 0.5 + size / 2) / size * 256).astype(int)
                cols, rows = (u >= 0) & (u < 256), (v >= 0) & (v < 256)
                frame[np.ix_(rows, cols)] = image[np.ix_(v[rows], u[cols])]
        return frame

    def is_running(self):
        return self._status == "running"

    def num_steps(self):
        return self._steps

    def fps(self):
        return self._fps

    def events(self):
        if self._status not in ("running", "terminated"):
            raise RuntimeError("Environment in wrong status for call to events()")
        return list(self._events)

    def action_spec(self):
        return [
            {"min": lo, "max": hi, "name": name}
            for name, (lo, hi) in zip(ACTION_NAMES, ACTION_BOUNDS, strict=True)
        ]

    def observation_spec(self):
        return [
            {"name": "RGB_INTERLEAVED", "shape": (self._height, self._width, 3), "dtype": np.uint8},
            {"name": "DEBUG.POS.ROT", "shape": (3,), "dtype": np.float64},
        ]

    def close(self):
        if self._status == "closed":
            return False
        self._status = "closed"
        return True
