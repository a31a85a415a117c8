"""The frame-level Harlow environments the agent trains on, built from a config.

``make_env(config, num_envs, seed, split, episode_length_seconds)`` loads (and
validates) the dataset, builds the screen backend (the built-in simulator or DeepMind
Lab) and the ``FrameHarlowEnv`` on top: one agent step per look move, ``action_repeat``
frames each. With ``config.env.num_workers > 0`` the environments are spread over that
many worker processes, behind the same batched interface; as for the trial-level task,
each environment draws its episodes from streams keyed by the run's seed and its global
index, so results do not depend on the number of workers.

On the simulator, ``config.env.spawn_curriculum_steps`` widens the spawn yaw range
linearly from 0 (the view starts on the cross) to ``config.env.spawn_yaw_range_deg``
over that many env steps of the run, counted as ``train.total_env_steps`` counts them
(``SpawnYawCurriculum``): a random policy almost never finds the cross from +-22.5
degrees, one that starts on it is rewarded by holding still. The trainer tells the
environments where a resumed run stands (``start_at``).

``config.env.balanced_sides`` (optional, default True) is the level's rule: the rewarded
image is on the left in exactly half of an episode's trials. With False (simulator
only), each training trial draws its side on its own, so that counting the sides
rewarded so far predicts nothing and only the images can; evaluation always plays the
level's rule.

This module imports no TensorFlow, so worker processes start quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_collections
import numpy as np

from harlow.datasets.manifest import SPLITS
from harlow.harlow_task.env import balanced_sides, build_screen, dataset_path, worker_groups
from harlow.observation_spec import IMAGE, ObservationPart, ObservationSpec
from harlow.psychlab.dmlab import (
    HarlowLevelSettings,
    remove_stale_temporary_folders,
)
from harlow.psychlab.frame_env import DEFAULT_LOOK_MOVES, FrameHarlowEnv
from harlow.psychlab.parallel_env import ParallelEnv, executor_from_config
from harlow.psychlab.protocol import ProtocolConfig

BACKENDS = ("simulator", "dmlab")
NUM_ACTIONS = len(DEFAULT_LOOK_MOVES)
LEVEL_EPISODE_SECONDS = ProtocolConfig().episode_length_seconds  # the stock level's 300 s
_WORKER_DEATH_HINT = "Its traceback, if any, is on the worker's stderr."


@dataclass(frozen=True)
class FrameEnvSpec:
    """Everything needed to build one group of frame-level environments (picklable)."""

    num_envs: int
    seed: int
    split: str
    dataset: str
    backend: str
    frame_size: int
    observation_size: int
    action_repeat: int
    spawn_yaw_range_deg: float
    spawn_curriculum_steps: int
    episode_length_seconds: float
    run_num_envs: int  # environments of the whole run: each step is that many env steps
    first_env: int = 0
    balanced_sides: bool = True  # the level's rule; False: each trial's side on its own
    fovea_size: int = 0  # also the frame's centre this many pixels square (0: none)
    show_chosen: bool = False  # also the view before the episode's latest choice ended
    chosen_view: str = "chosen"  # that view's half: the chosen image's, or the rewarded one's
    room_jitter: float = 0.0  # each episode's room greys vary this much (simulator only)


def observation_spec(config: ml_collections.ConfigDict) -> ObservationSpec:
    """The grayscale frame the agent sees, ``observation_size`` pixels square; with
    ``config.env.fovea_size`` then its centre (the fovea); with ``config.env.show_chosen``
    then the view (fovea, or frame) before the episode's latest choice ended. Each image
    is ``observation_size`` square."""
    size = config.env.observation_size
    names = ["frame"]
    if config.env.get("fovea_size", 0):
        names.append("fovea")
    if config.env.get("show_chosen", False):
        names.append("chosen")
    return ObservationSpec(tuple(ObservationPart(name, (size, size), IMAGE) for name in names))


def spec_from_config(
    config: ml_collections.ConfigDict,
    num_envs: int,
    seed: int,
    split: str,
    episode_length_seconds: float,
    run_num_envs: int,
    first_env: int = 0,
) -> FrameEnvSpec:
    """The ``FrameEnvSpec`` of environments ``first_env`` .. ``first_env + num_envs - 1`` of
    a run of ``run_num_envs``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    env = config.env
    return FrameEnvSpec(
        num_envs=num_envs,
        seed=seed,
        split=split,
        dataset=str(dataset_path(config)),
        backend=env.backend,
        frame_size=env.frame_size,
        observation_size=env.observation_size,
        action_repeat=env.action_repeat,
        spawn_yaw_range_deg=env.spawn_yaw_range_deg,
        spawn_curriculum_steps=env.spawn_curriculum_steps,
        episode_length_seconds=episode_length_seconds,
        run_num_envs=run_num_envs,
        first_env=first_env,
        balanced_sides=balanced_sides(config),
        fovea_size=env.get("fovea_size", 0),
        show_chosen=env.get("show_chosen", False),
        chosen_view=env.get("chosen_view", "chosen"),
        room_jitter=env.get("room_jitter", 0.0),
    )


class SpawnYawCurriculum:
    """A ``FrameHarlowEnv`` on the simulator whose spawn yaw range widens linearly from 0
    to ``final_deg`` over the run's first ``steps`` env steps (episodes started after a
    step use the range of that step). Each agent step is ``run_num_envs`` env steps of
    the run, as every worker's environments step together, so the range does not depend
    on how environments are spread over workers."""

    def __init__(
        self, env: FrameHarlowEnv, final_deg: float, steps: int, run_num_envs: int
    ) -> None:
        if steps < 0:
            raise ValueError(f"the curriculum needs steps >= 0, got {steps}")
        self.env = env
        self.final_deg = final_deg
        self.steps = steps
        self.run_num_envs = run_num_envs
        self.num_envs = env.num_envs
        self.observation_size = env.observation_size
        self.num_actions = env.num_actions
        self._run_steps = 0
        self._set_range()

    @property
    def spawn_yaw_range_deg(self) -> float:
        """The spawn yaw range new episodes start with now (``final_deg`` once the
        curriculum is over, or from the start when it has 0 steps)."""
        if self._run_steps >= self.steps:
            return self.final_deg
        return self.final_deg * self._run_steps / self.steps

    def start_at(self, run_steps: int) -> None:
        """The run has taken ``run_steps`` env steps already (a resumed run)."""
        self._run_steps = int(run_steps)
        self._set_range()

    def _set_range(self) -> None:
        self.env.screen.spawn_yaw_range_deg = self.spawn_yaw_range_deg

    def reset(self) -> np.ndarray:
        """Starts new episodes everywhere (at the current range)."""
        self._set_range()
        return self.env.reset()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """One agent step; the episodes it starts take the range of the steps taken."""
        self._run_steps += self.run_num_envs
        self._set_range()
        return self.env.step(actions)

    def close(self) -> None:
        """Closes the environments."""
        self.env.close()


def build_frame_env(spec: FrameEnvSpec) -> FrameHarlowEnv | SpawnYawCurriculum:
    """The screen backend and ``FrameHarlowEnv`` of ``spec``, in this process."""
    screen = build_screen(
        spec,
        {
            "spawn_yaw_range_deg": 0.0,  # SpawnYawCurriculum sets it
            "balanced_sides": spec.balanced_sides,
            "episode_length_seconds": spec.episode_length_seconds,
            "room_jitter": spec.room_jitter,
        },
        HarlowLevelSettings(
            protocol=ProtocolConfig(episode_length_seconds=spec.episode_length_seconds)
        ),
    )
    env = FrameHarlowEnv(
        screen,
        size=spec.observation_size,
        grayscale=True,
        action_repeat=spec.action_repeat,
        fovea_size=spec.fovea_size,
        show_chosen=spec.show_chosen,
        chosen_view=spec.chosen_view,
    )
    if spec.backend == "simulator":
        return SpawnYawCurriculum(
            env, spec.spawn_yaw_range_deg, spec.spawn_curriculum_steps, spec.run_num_envs
        )
    return env


class ParallelFrameEnv(ParallelEnv):
    """Frame-level environments over workers; ``start_at`` reaches every worker's
    curriculum (a no-op on DeepMind Lab, which has none), and a worker that replaces a
    dead one starts its curriculum where the others stand."""

    curriculum = False
    _run_steps = 0

    def start_at(self, run_steps: int) -> None:
        """The run has taken ``run_steps`` env steps already (a resumed run)."""
        self._run_steps = int(run_steps)
        if self.curriculum:
            self.call_each("start_at", run_steps)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """One agent step of every environment (``num_envs`` env steps of the run)."""
        result = super().step(actions)
        self._run_steps += self.num_envs
        return result

    def restore_calls(self) -> list[tuple[str, tuple]]:
        """A replacement's curriculum starts at the run's steps so far."""
        return [("start_at", (self._run_steps,))] if self.curriculum else []


def make_env(
    config: ml_collections.ConfigDict,
    num_envs: int,
    seed: int,
    split: str | None = None,
    episode_length_seconds: float | None = None,
) -> FrameHarlowEnv | SpawnYawCurriculum | ParallelEnv:
    """``num_envs`` frame-level Harlow environments on ``split`` (default
    ``config.env.split``), episodes cut at ``episode_length_seconds`` (default
    ``config.env.episode_length_seconds``)."""
    split = split or config.env.split
    seconds = episode_length_seconds or config.env.episode_length_seconds
    workers = min(config.env.num_workers, num_envs)
    if workers == 0:
        return build_frame_env(spec_from_config(config, num_envs, seed, split, seconds, num_envs))
    specs = [
        spec_from_config(config, count, seed, split, seconds, num_envs, first_env=first)
        for first, count in worker_groups(config, num_envs, workers)
    ]
    dmlab = config.env.backend == "dmlab"
    env = ParallelFrameEnv(
        build_frame_env,
        specs,
        observation_size=observation_spec(config).size,
        num_actions=NUM_ACTIONS,
        label="Harlow frame environment",
        death_hint=_WORKER_DEATH_HINT,
        after_close=remove_stale_temporary_folders if dmlab else None,
        executor=executor_from_config(config),
    )
    env.curriculum = not dmlab
    return env
