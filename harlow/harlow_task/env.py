"""The trial-level Harlow environment the agent trains on, built from a config.

``make_env(config, num_envs, seed, split)`` loads (and validates) the dataset, builds
the frame-level backend (the built-in simulator or DeepMind Lab), the observer of
``config.env.observation`` and the ``SaccadeWrapper`` on top: one agent step per
trial, LEFT (0) or RIGHT (1). With ``config.env.num_workers > 0`` the environments
are split over that many worker processes (each builds its own backend, wrapper and
vision pipeline), behind the same batched interface.

Results do not depend on ``num_workers``: every worker gets the run's seed unchanged
and the global index of its first environment (``TrialEnvSpec.first_env``), and each
environment draws its episodes from streams keyed by the seed and its global index
(the simulator's per-environment generators, DeepMind Lab's per-Lab reset seeds). The
same seed gives the same trials with 0, 1 or 2 workers.

``config.env.balanced_sides`` (optional, default True) is the level's rule: the rewarded
image is on the left in exactly half of an episode's trials, so the sides rewarded so far
foretell the next ones. With False (simulator only), each training trial draws its side on
its own, so that only the images tell; evaluation always plays the level's rule.

This module imports no TensorFlow, so worker processes start quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ml_collections
import numpy as np

from harlow.datasets import default_dataset_path, load_dataset
from harlow.datasets.manifest import SPLITS
from harlow.observation_spec import ObservationSpec
from harlow.psychlab.dmlab import (
    DmlabHarlowEnv,
    HarlowLevelSettings,
    import_deepmind_lab,
    remove_stale_temporary_folders,
)
from harlow.psychlab.observations import (
    OBSERVATION_MODES,
    IdsObserver,
    PatchesObserver,
    PixelsObserver,
)
from harlow.psychlab.parallel_env import (
    LOCAL_PROCESSES,
    Executor,
    ParallelEnv,
    executor_from_config,
)
from harlow.psychlab.saccade import SaccadeWrapper
from harlow.psychlab.simulator import BatchedHarlowSimulator

BACKENDS = ("simulator", "dmlab")
_WORKER_DEATH_HINT = "Its traceback, if any, is on the worker's stderr."


@dataclass(frozen=True)
class TrialEnvSpec:
    """Everything needed to build one group of trial-level environments (picklable)."""

    num_envs: int
    seed: int
    split: str
    dataset: str
    backend: str
    observation: str
    show_chosen: bool
    num_ids: int
    id_scope: str
    patch_size: int
    pixels_size: int
    frame_size: int
    spawn_yaw_range_deg: float
    max_frames_per_trial: int
    dmlab_episodes_per_reset: int = 1
    room_jitter: float = 0.0
    balanced_sides: bool = True  # the level's rule; False: each trial's side on its own
    # Global index in the run of this group's first environment: with ``seed`` it keys
    # each environment's random streams (0: specs made before the field existed).
    first_env: int = 0


def dataset_path(config: ml_collections.ConfigDict) -> Path:
    """The dataset folder of ``config.dataset`` (the bundled faces when empty)."""
    return Path(config.dataset) if config.dataset else default_dataset_path()


def balanced_sides(config: ml_collections.ConfigDict) -> bool:
    """``config.env.balanced_sides`` (optional, default True: the level's rule, the rewarded
    image on the left in exactly half of an episode's trials); False, each trial's side
    drawn on its own, is for the simulator only: raises ``ValueError`` on DeepMind Lab."""
    balanced = config.env.get("balanced_sides", True)
    if not balanced and config.env.backend != "simulator":
        raise ValueError(
            "config.env.balanced_sides=False needs config.env.backend='simulator': DeepMind "
            "Lab's level rewards the left image in exactly half of the trials"
        )
    return balanced


def with_level_sides(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with the level's sides (``balanced_sides`` True): what evaluation plays."""
    config = config.copy_and_resolve_references()
    config.env.balanced_sides = True
    return config


def spec_from_config(
    config: ml_collections.ConfigDict, num_envs: int, seed: int, split: str, first_env: int = 0
) -> TrialEnvSpec:
    """The ``TrialEnvSpec`` of ``num_envs`` environments described by ``config.env``: those
    numbered ``first_env`` .. ``first_env + num_envs - 1`` in a run seeded ``seed``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    env = config.env
    return TrialEnvSpec(
        num_envs=num_envs,
        seed=seed,
        split=split,
        dataset=str(dataset_path(config)),
        backend=env.backend,
        observation=env.observation,
        show_chosen=env.show_chosen,
        num_ids=env.num_ids,
        id_scope=env.id_scope,
        patch_size=env.patch_size,
        pixels_size=env.pixels_size,
        frame_size=env.frame_size,
        spawn_yaw_range_deg=env.spawn_yaw_range_deg,
        max_frames_per_trial=env.max_frames_per_trial,
        # Runs saved before the field existed played the stock level: one per reset.
        dmlab_episodes_per_reset=env.get("dmlab_episodes_per_reset", 1),
        room_jitter=env.get("room_jitter", 0.0),
        balanced_sides=balanced_sides(config),
        first_env=first_env,
    )


class ObservationFields(Protocol):
    """The fields that choose the observer: ``config.env`` or a ``TrialEnvSpec``."""

    observation: str
    show_chosen: bool
    num_ids: int
    patch_size: int
    pixels_size: int


def observation_spec(fields: ObservationFields) -> ObservationSpec:
    """What the observer of ``fields.observation`` emits (no environment is built)."""
    if fields.observation == "ids":
        return IdsObserver.spec(fields.num_ids, fields.show_chosen)
    if fields.observation == "patches":
        return PatchesObserver.spec(fields.patch_size, fields.show_chosen)
    if fields.observation == "pixels":
        return PixelsObserver.spec(fields.pixels_size, fields.show_chosen)
    raise ValueError(
        f"config.env.observation must be one of {OBSERVATION_MODES}, got {fields.observation!r}"
    )


def _observer(spec: TrialEnvSpec) -> IdsObserver | PatchesObserver | PixelsObserver:
    """The observer of ``spec.observation``; it publishes ``observation_spec(spec)``."""
    if spec.observation == "ids":
        return IdsObserver(spec.num_envs, spec.num_ids, spec.id_scope, spec.show_chosen)
    if spec.observation == "patches":
        return PatchesObserver(spec.num_envs, spec.patch_size, spec.show_chosen)
    if spec.observation == "pixels":
        return PixelsObserver(spec.num_envs, spec.pixels_size, spec.show_chosen)
    raise ValueError(f"unknown observation mode {spec.observation!r}")


def build_screen(
    spec: TrialEnvSpec | Any, simulator_options: dict[str, Any], level: HarlowLevelSettings
) -> BatchedHarlowSimulator | DmlabHarlowEnv:
    """The screen backend of ``spec`` (any spec with ``num_envs``, ``dataset``, ``split``,
    ``backend``, ``frame_size``, ``seed`` and ``first_env``), in this process: the
    simulator with ``simulator_options``, or DeepMind Lab's level with ``level``."""
    dataset = load_dataset(spec.dataset)
    image_ids = dataset.ids(spec.split)
    size = spec.frame_size
    if spec.backend == "simulator":
        return BatchedHarlowSimulator(
            spec.num_envs,
            dataset.images,
            image_ids,
            width=size,
            height=size,
            seed=spec.seed,
            first_env=spec.first_env,
            **simulator_options,
        )
    if spec.backend == "dmlab":
        return DmlabHarlowEnv(
            spec.num_envs,
            dataset.images[image_ids - 1],
            image_ids,
            split=spec.split,
            width=size,
            height=size,
            seed=spec.seed,
            first_env=spec.first_env,
            level=level,
        )
    raise ValueError(f"config.env.backend must be one of {BACKENDS}, got {spec.backend!r}")


def build_trial_env(spec: TrialEnvSpec) -> SaccadeWrapper:
    """The backend, observer and ``SaccadeWrapper`` of ``spec``, in this process."""
    backend = build_screen(
        spec,
        {
            "spawn_yaw_range_deg": spec.spawn_yaw_range_deg,
            "room_jitter": spec.room_jitter,
            "balanced_sides": spec.balanced_sides,
        },
        HarlowLevelSettings(episodes_per_reset=spec.dmlab_episodes_per_reset),
    )
    return SaccadeWrapper(backend, _observer(spec), spec.max_frames_per_trial)


class ParallelTrialEnv(ParallelEnv):
    """Trial-level environments spread over worker processes, in lockstep.

    Same contract as ``SaccadeWrapper`` (``reset``, ``step(choices)``, ``close``); the
    environments of ``specs[i]`` run in worker ``i`` and come back in order.
    """

    def __init__(self, specs: list[TrialEnvSpec], executor: Executor = LOCAL_PROCESSES) -> None:
        dmlab = specs[0].backend == "dmlab"
        super().__init__(
            build_trial_env,
            specs,
            observation_size=observation_spec(specs[0]).size,
            num_actions=SaccadeWrapper.num_actions,
            label="Harlow environment",
            death_hint=_WORKER_DEATH_HINT,
            # Removes the DeepMind Lab folders of workers that could not (killed or crashed).
            after_close=remove_stale_temporary_folders if dmlab else None,
            executor=executor,
        )


def make_env(
    config: ml_collections.ConfigDict, num_envs: int, seed: int, split: str | None = None
) -> SaccadeWrapper | ParallelTrialEnv:
    """``num_envs`` trial-level Harlow environments on ``split`` (default ``config.env.split``)."""
    split = split or config.env.split
    workers = min(config.env.num_workers, num_envs)
    if workers == 0:
        return build_trial_env(spec_from_config(config, num_envs, seed, split))
    specs = [
        spec_from_config(config, count, seed, split, first_env=first)
        for first, count in worker_groups(config, num_envs, workers)
    ]
    return ParallelTrialEnv(specs, executor_from_config(config))


def worker_groups(
    config: ml_collections.ConfigDict, num_envs: int, workers: int
) -> list[tuple[int, int]]:
    """``(first_env, num_envs)`` of each of ``workers`` groups of the run's environments.

    Checks the dataset and, for DeepMind Lab on local processes, the engine first, so
    that either fails here with one clear error rather than in each worker (Ray actors
    check the engine where they run). Every worker gets the run's
    seed and its first environment's global index: every environment draws the same
    episodes whatever the number of workers.
    """
    load_dataset(dataset_path(config))
    if config.env.backend == "dmlab" and executor_from_config(config).kind == "processes":
        import_deepmind_lab()  # Ray actors may run where this machine has no engine
    bounds = np.linspace(0, num_envs, workers + 1).round().astype(int)
    return [
        (int(start), int(stop - start)) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]
