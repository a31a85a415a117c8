"""DeepMind Lab adapter: the Psychlab Harlow level behind the batched ScreenEnv interface.

Contract (as for every ScreenEnv):
  * ``reset()`` starts a new episode in each of the ``num_envs`` environments and
    returns frames ``[N, H, W, 3]`` uint8 that show the screen (the first cross).
    DeepMind Lab's own reset frame does not show the screen yet, so every reset is
    followed by one no-op step (one game frame) whose frame is returned.
  * ``step(actions)`` takes ``[N, 7]`` integer DeepMind Lab actions (look
    left/right, look down/up, strafe, move, fire, jump, crouch), repeats each for
    ``action_repeat`` game frames (``num_steps``) and returns ``(frames, rewards
    float32 [N], dones bool [N], info)``.
  * Auto-reset: where ``dones[i]``, ``rewards[i]`` and ``info`` belong to the step that
    ended the episode and ``frames[i]`` is already the first frame of the next one.
  * ``info`` (arrays of length N), from the level's events:
    ``trial`` int32, the 1-based number of the trial whose choice was recorded on this
    step (0 if none); ``correct`` int8, 1 if that choice was the rewarded image, 0 if
    not, -1 if no trial ended; ``correct_image`` and ``incorrect_image`` int32, the
    episode's rewarded and unrewarded image as row indices into ``images`` (-1 if the
    level did not publish them); where ``image_ids`` are integers, also
    ``correct_id`` and ``incorrect_id`` int32, the same images as dataset ids (-1 if
    not published). Which of them is left and which right is not reported: the
    level swaps the sides between trials, and the side of the rewarded image only
    shows in the reward of a choice (``SaccadeWrapper`` fills in the sides from it).

Each environment's reset seeds come from its own ``np.random.Generator``, seeded with
``SeedSequence(seed, spawn_key=(first_env + index,))``: the run's seed and the Lab's
global index in the run (``first_env`` is that of this adapter's first Lab; 0 gives
``SeedSequence(seed).spawn(num_envs)``), so results do not depend on how environments
are spread over workers, here or by ``harlow.harlow_task.env.make_env``. The
images of one split are written as ``0001.png``, ``0002.png``, ... into a private
folder (``datasetPath``), validated first, since a bad image aborts the process.
Each Lab gets a private ``TMPDIR``; ``close()`` removes all of these folders, and so
does the next adapter started on the machine if this process was killed outright.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from harlow.datasets.manifest import IMAGE_SIZE, SPLITS
from harlow.psychlab.dmlab_workers import WorkerPool
from harlow.psychlab.protocol import FIXATION_SIZE, TARGET_SIZE, ProtocolConfig
from harlow.psychlab.screen_env import ACTION_SIZE, validate_actions

LEVEL_SCRIPT = Path(__file__).resolve().parent / "levels" / "harlow_custom.lua"
RENDERERS = ("software", "hardware")
OBSERVATION = "RGB_INTERLEAVED"
TRIAL_EVENT = "xdata:psychlab"
IMAGE_PAIR_EVENT = "harlow:image_pair"
EPISODE_END_EVENT = "harlow:episode_end"
MAX_SEED = 2**31 - 1  # the Python module passes seeds to the engine as a C int

INSTALL_HINT = (
    "DeepMind Lab is not on PyPI: build it from source with Bazel "
    "(https://github.com/google-deepmind/lab): "
    "`bazel build -c opt //python/pip_package:build_pip_package`, then "
    "`./bazel-bin/python/pip_package/build_pip_package /tmp/dmlab_pkg` and "
    "`pip install '/tmp/dmlab_pkg/deepmind_lab-<version>.whl[dmenv_module]'` into this "
    "environment (the extra brings dm-env, which the wheel imports). "
    "Without it, use the built-in simulator, the default: --config.env.backend=simulator."
)
TEMP_PREFIX = "harlow_dmlab_"
TENSORFLOW_CRASH = (
    "DeepMind Lab's software renderer (Mesa llvmpipe) crashes in a process that has "
    "imported TensorFlow"
)


class DmlabUnavailableError(ImportError):
    """The ``deepmind_lab`` Python module cannot be imported."""


def import_deepmind_lab() -> ModuleType:
    """Returns the ``deepmind_lab`` module, or raises DmlabUnavailableError saying how to get it."""
    try:
        return importlib.import_module("deepmind_lab")
    except ImportError as error:
        missing = getattr(error, "name", None)
        if missing and missing.split(".")[0] != "deepmind_lab":
            raise DmlabUnavailableError(
                f"deepmind_lab is installed but cannot import {missing!r} ({error}): "
                f"install what it needs, e.g. `pip install dm-env` (or reinstall the wheel "
                f"as 'deepmind_lab-<version>.whl[dmenv_module]')"
            ) from error
        raise DmlabUnavailableError(
            f"cannot import deepmind_lab ({error}). {INSTALL_HINT}"
        ) from error


def tensorflow_loaded() -> bool:
    """Whether this process has imported TensorFlow (no Lab may render here then)."""
    return "tensorflow" in sys.modules


def remove_stale_temporary_folders(parent: Path | None = None) -> list[Path]:
    """Removes adapter folders (``harlow_dmlab_<pid>_*``) whose process is gone.

    A process killed outright (SIGKILL, a crash) cannot remove its own dataset copy;
    the next adapter started on this machine does. Returns the folders removed.
    """
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(f"{TEMP_PREFIX}*_*"):
        pid = folder.name[len(TEMP_PREFIX) :].split("_", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)) and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


@dataclass(frozen=True)
class HarlowLevelSettings:
    """What the level is given besides the images and the frame size.

    ``protocol`` is the trial protocol, defined once for the simulator and this adapter
    (``harlow.psychlab.protocol.ProtocolConfig``; its defaults are the stock level's):
    trials per episode, hold and inter-trial frames, rewards, episode length and the
    engine's frame rate. The image and fixation widget sizes are the protocol's
    ``TARGET_SIZE`` and ``FIXATION_SIZE``. Its ``pointer_*`` fields correct only the
    simulator's gaze and do not reach the level.
    """

    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    # Episodes played before the Lab really resets (harlow_custom.lua: each reset
    # reloads the map; the others start in place, the view where it was).
    episodes_per_reset: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, ProtocolConfig):
            raise ValueError(
                f"protocol must be a ProtocolConfig, got {type(self.protocol).__name__}"
            )
        if self.episodes_per_reset < 1:
            raise ValueError(f"episodes_per_reset must be >= 1, got {self.episodes_per_reset}")
        # Psychlab floors fractional rewards: only integers are exact.
        for name in ("fixation_reward", "correct_reward", "incorrect_reward"):
            value = getattr(self.protocol, name)
            if not float(value).is_integer():
                raise ValueError(
                    f"{name} must be an integer on DeepMind Lab (Psychlab floors rewards), "
                    f"got {value!r}"
                )

    def to_config(self) -> dict[str, str]:
        """The settings as Lab config strings, keyed as harlow_custom.lua reads them (the
        frame rate is the engine's ``fps``, which ``harlow_lab_config`` sets)."""
        protocol = self.protocol
        values = {
            "episodeLengthSeconds": protocol.episode_length_seconds,
            "trialsPerEpisodeCap": protocol.trials_per_episode,
            "timeToFixateCross": protocol.hold_frames,
            "timeToFixateTarget": protocol.hold_frames,
            "fastInterTrialInterval": protocol.inter_trial_frames,
            "fixationReward": int(protocol.fixation_reward),
            "correctReward": int(protocol.correct_reward),
            "incorrectReward": int(protocol.incorrect_reward),
            "targetSize": TARGET_SIZE,
            "fixationSize": FIXATION_SIZE,
            "episodesPerReset": self.episodes_per_reset,
        }
        return {key: str(value) for key, value in values.items()}


def harlow_lab_config(
    *,
    dataset_dir: Path,
    num_images: int,
    width: int,
    height: int,
    minimal_ui: bool,
    level: HarlowLevelSettings,
) -> dict[str, str]:
    """The Lab config (all values strings) for harlow_custom.lua on a numbered image folder.

    The factory draws ids from 1..trainBatch whatever isTrain says, so trainBatch is
    the number of images in the folder and testBatch is 0. The engine runs at the
    protocol's ``fps`` (``level.protocol``).
    """
    for name, value in (("width", width), ("height", height)):
        if value < 4 or value % 4:
            raise ValueError(f"{name} must be a positive multiple of 4 (DeepMind Lab), got {value}")
    if num_images < 2:
        raise ValueError(f"the level needs at least 2 images, got {num_images}")
    return {
        "width": str(width),
        "height": str(height),
        "fps": str(level.protocol.fps),
        "minimalUI": "true" if minimal_ui else "false",
        "datasetPath": str(dataset_dir),
        "trainBatch": str(num_images),
        "testBatch": "0",
        "logLevel": "WARN",  # the level's INFO lines (each episode's set-up) flood logs
        **level.to_config(),
    }


def _validate_images(images: np.ndarray, image_ids: Sequence[Any]) -> None:
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(
            f"images must have shape [K, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] (RGB; DeepMind Lab "
            f"aborts on any other size), got {list(images.shape)}"
        )
    if len(images) < 2:
        raise ValueError(f"the level needs at least 2 images, got {len(images)}")
    if len(image_ids) != len(images):
        raise ValueError(f"got {len(image_ids)} image ids for {len(images)} images")
    if len(set(image_ids)) != len(image_ids):
        raise ValueError("image ids must be unique")


def _write_numbered_dataset(images: np.ndarray, target: Path) -> None:
    """Writes images as target/0001.png, 0002.png, ... via a temporary folder and a rename."""
    if target.exists():
        raise FileExistsError(f"dataset folder {target} already exists")
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for number, image in enumerate(images, start=1):
            Image.fromarray(image, mode="RGB").save(partial / f"{number:04d}.png", compress_level=1)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


@contextmanager
def temporary_directory_env(path: Path) -> Iterator[None]:
    """Sets TMPDIR for the duration (the engine makes its temporary folders there)."""
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = previous


def parse_trial_record(record: str) -> dict[str, str]:
    """Fields of a Psychlab trial record (``['name'] = value`` lines)."""
    return dict(re.findall(r"\['(\w+)'\] = ([^\n]*)", record))


class LabStep(NamedTuple):
    """What one Lab returns for one adapter step."""

    frame: np.ndarray
    reward: float
    done: bool
    trial: int
    correct: int
    image_pair: tuple[int, int]


@dataclass(frozen=True)
class LabSpec:
    """Everything needed to create one Lab (picklable: sent to worker processes)."""

    config: dict[str, str]
    renderer: str
    seed: np.random.SeedSequence
    temporary_dir: Path
    action_repeat: int


class HarlowLab:
    """One ``deepmind_lab.Lab`` on harlow_custom.lua: private TMPDIR, seeds, auto-reset."""

    def __init__(self, spec: LabSpec) -> None:
        if tensorflow_loaded():
            raise RuntimeError(
                f"{TENSORFLOW_CRASH}: create Labs in worker processes instead "
                "(DmlabHarlowEnv does so by itself where TensorFlow is loaded)"
            )
        deepmind_lab = import_deepmind_lab()
        self._temporary_dir = spec.temporary_dir
        self._temporary_dir.mkdir(parents=True, exist_ok=False)
        self._rng = np.random.default_rng(spec.seed)
        self._action_repeat = spec.action_repeat
        self._noop = np.zeros(ACTION_SIZE, dtype=np.intc)
        self._image_pair = (-1, -1)
        with temporary_directory_env(self._temporary_dir):
            self._lab = deepmind_lab.Lab(
                str(LEVEL_SCRIPT), [OBSERVATION], config=dict(spec.config), renderer=spec.renderer
            )

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Starts an episode (seed drawn from this Lab's generator unless given).

        Returns the frame after one no-op step, the first that shows the screen.
        """
        if seed is None:
            seed = int(self._rng.integers(0, MAX_SEED, endpoint=True))
        with temporary_directory_env(self._temporary_dir):
            self._lab.reset(seed=seed)
        self._image_pair = self._read_image_pair(self._lab.events())
        self._lab.step(self._noop)
        if not self._lab.is_running():
            raise RuntimeError(f"the DeepMind Lab episode (seed {seed}) ended on its first frame")
        return self._lab.observations()[OBSERVATION]

    def step(self, action: np.ndarray) -> LabStep:
        """Applies ``action`` for ``action_repeat`` frames; starts a new episode when one
        ends (in place, or by a reset when the Lab's episode is over)."""
        reward = float(self._lab.step(action, num_steps=self._action_repeat))
        events = self._lab.events()
        trial, correct = self._read_trial_outcome(events)
        image_pair = self._image_pair
        ended_in_place = any(name == EPISODE_END_EVENT for name, _ in events)
        if ended_in_place:
            self._image_pair = self._read_image_pair(events)
        running = self._lab.is_running()
        frame = self._lab.observations()[OBSERVATION] if running else self.reset()
        return LabStep(frame, reward, ended_in_place or not running, trial, correct, image_pair)

    @staticmethod
    def _read_image_pair(events: list[tuple[str, list[Any]]]) -> tuple[int, int]:
        for name, values in events:
            if name == IMAGE_PAIR_EVENT:
                return int(values[0]) - 1, int(values[1]) - 1
        return -1, -1

    @staticmethod
    def _read_trial_outcome(events: list[tuple[str, list[Any]]]) -> tuple[int, int]:
        trial, correct = 0, -1
        for name, values in events:
            if name == TRIAL_EVENT and values:
                record = parse_trial_record(str(values[0]))
                if "trial" in record and "correct" in record:
                    trial, correct = int(float(record["trial"])), int(float(record["correct"]))
        return trial, correct

    def close(self) -> None:
        """Closes the Lab and removes its temporary folder."""
        self._lab.close()
        shutil.rmtree(self._temporary_dir, ignore_errors=True)


class _InProcessLabs:
    """The WorkerPool interface, with every Lab in this process."""

    def __init__(self, specs: Sequence[LabSpec]) -> None:
        self._labs: list[HarlowLab] = []
        try:
            self._labs.extend(HarlowLab(spec) for spec in specs)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        if args is None:
            args = [()] * len(self._labs)
        return [getattr(lab, method)(*a) for lab, a in zip(self._labs, args, strict=True)]

    def close(self) -> None:
        labs, self._labs = self._labs, []
        for lab in labs:
            lab.close()


def _release(backend: list[WorkerPool | _InProcessLabs], root: Path) -> None:
    """Closes the Labs (or their workers) and removes every folder the adapter made."""
    for item in backend:
        item.close()
    shutil.rmtree(root, ignore_errors=True)


class DmlabHarlowEnv:
    """``num_envs`` DeepMind Lab Harlow environments in lockstep (see the module docstring).

    ``images`` [K, 256, 256, 3] uint8 are the images of one split (``split`` names it:
    one of ``harlow.datasets.manifest.SPLITS``), ``image_ids`` their ids in the dataset.
    ``seed`` is the run's seed and ``first_env`` the global index of the first Lab in the
    run (see the module docstring). ``level`` holds the trial protocol (the simulator's,
    frame rate included) and episodes per reset; the stock level by default.
    ``num_workers=0`` runs every Lab in this process, unless this process has imported
    TensorFlow (next to which DeepMind Lab's renderer crashes): then they run in one
    worker process. Otherwise the Labs are spread over ``num_workers`` worker processes.
    """

    def __init__(
        self,
        num_envs: int,
        images: np.ndarray,
        image_ids: Sequence[Any],
        *,
        split: str = "train",
        width: int = 84,
        height: int = 84,
        seed: int = 0,
        first_env: int = 0,
        action_repeat: int = 1,
        minimal_ui: bool = True,
        level: HarlowLevelSettings | None = None,
        num_workers: int = 0,
        renderer: str = "software",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        if first_env < 0:
            raise ValueError(f"first_env must be >= 0, got {first_env}")
        if not 0 <= num_workers <= num_envs:
            raise ValueError(f"num_workers must be in [0, num_envs={num_envs}], got {num_workers}")
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, got {renderer!r}")
        _validate_images(images, image_ids)
        import_deepmind_lab()  # fail early, before writing anything
        self.num_envs, self.width, self.height = num_envs, width, height
        self.split = split
        self.image_ids = list(image_ids)
        ids = np.asarray(self.image_ids)
        # Row -> dataset id, with row -1 (not published) -> -1 as the last entry.
        self._dataset_ids = (
            np.append(ids, -1).astype(np.int32) if np.issubdtype(ids.dtype, np.integer) else None
        )
        remove_stale_temporary_folders()
        self._root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}_"))
        self._backend: list[WorkerPool | _InProcessLabs] = []
        self._finalizer = weakref.finalize(self, _release, self._backend, self._root)
        try:
            self.dataset_dir = self._root / f"dataset_{split}"
            config = harlow_lab_config(
                dataset_dir=self.dataset_dir,
                num_images=len(images),
                width=width,
                height=height,
                minimal_ui=minimal_ui,
                level=level or HarlowLevelSettings(),
            )
            _write_numbered_dataset(images, self.dataset_dir)
            specs = [
                LabSpec(
                    config,
                    renderer,
                    np.random.SeedSequence(seed, spawn_key=(first_env + index,)),
                    self._root / f"lab_tmp_{index}",
                    action_repeat,
                )
                for index in range(num_envs)
            ]
            if num_workers == 0 and tensorflow_loaded():
                num_workers = 1
            if num_workers == 0:
                self._backend.append(_InProcessLabs(specs))
            else:
                self._backend.append(WorkerPool(HarlowLab, specs, num_workers))
        except BaseException:
            self.close()
            raise
        self._started = False

    def reset(self) -> np.ndarray:
        """Starts new episodes everywhere; returns frames [N, H, W, 3] showing the screen."""
        frames = self._labs().call("reset")
        self._started = True
        return np.stack(frames)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Advances every environment by one step (``action_repeat`` frames); auto-resets."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = validate_actions(actions, self.num_envs)
        results: list[LabStep] = self._labs().call("step", [(row,) for row in actions])
        pairs = np.array([r.image_pair for r in results], dtype=np.int32)
        info = {
            "trial": np.array([r.trial for r in results], dtype=np.int32),
            "correct": np.array([r.correct for r in results], dtype=np.int8),
            "correct_image": pairs[:, 0],
            "incorrect_image": pairs[:, 1],
        }
        if self._dataset_ids is not None:
            info["correct_id"] = self._dataset_ids[pairs[:, 0]]
            info["incorrect_id"] = self._dataset_ids[pairs[:, 1]]
        return (
            np.stack([r.frame for r in results]),
            np.array([r.reward for r in results], dtype=np.float32),
            np.array([r.done for r in results], dtype=bool),
            info,
        )

    def _labs(self) -> WorkerPool | _InProcessLabs:
        if not self._backend:
            raise RuntimeError("the environment is closed")
        return self._backend[0]

    def close(self) -> None:
        """Closes every Lab and worker and removes the dataset and temporary folders."""
        self._finalizer()
        self._backend.clear()


def measure_steps_per_second(env: DmlabHarlowEnv, num_steps: int, seed: int = 0) -> float:
    """Environment steps per second (all environments counted) under random look actions."""
    rng = np.random.default_rng(seed)
    actions = np.zeros((num_steps, env.num_envs, ACTION_SIZE), dtype=np.intc)
    actions[:, :, :2] = rng.integers(-20, 21, size=(num_steps, env.num_envs, 2))
    env.reset()
    start = time.perf_counter()
    for step_actions in actions:
        env.step(step_actions)
    return num_steps * env.num_envs / (time.perf_counter() - start)
