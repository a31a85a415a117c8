"""Checks config values before anything is built; errors name the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ml_collections

from harlow.datasets.manifest import SPLITS
from harlow.harlow_task.env import BACKENDS
from harlow.psychlab.observations import OBSERVATION_MODES
from harlow.psychlab.render import MAX_FRAME_SIZE, MIN_FRAME_SIZE
from harlow.psychlab.simulator import MAX_ROOM_JITTER

_Check = tuple[str, Callable[[Any], bool], str]


def _one_of(values: tuple[str, ...]) -> tuple[Callable[[Any], bool], str]:
    """The check and requirement of a field taking one of ``values``: "'a', 'b' or 'c'"."""
    quoted = [repr(value) for value in values]
    listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return (lambda v: v in values), listed


_PROBABILITY = (lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")
_POSITIVE = (lambda v: v > 0, "> 0")
_NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
_AT_LEAST_ONE = (lambda v: v >= 1, ">= 1")
# Sizes past these are typos that would allocate gigabytes before failing.
_UNITS = (lambda v: 1 <= v <= 8192, "in [1, 8192]")
_ENVIRONMENTS = (lambda v: 1 <= v <= 4096, "in [1, 4096]")

_COMMON_CHECKS: list[_Check] = [
    ("agent.lstm_units", *_UNITS),
    ("train.num_envs", *_ENVIRONMENTS),
    ("train.unroll_length", lambda v: 1 <= v <= 100_000, "in [1, 100000]"),
    ("train.total_env_steps", *_AT_LEAST_ONE),
    ("train.discount", *_PROBABILITY),
    ("train.gae_lambda", *_PROBABILITY),
    ("train.value_coef", *_NON_NEGATIVE),
    ("train.entropy_coef", *_NON_NEGATIVE),
    ("train.entropy_coef_final", *_NON_NEGATIVE),
    ("train.optimizer", lambda v: v in ("adam", "rmsprop"), "'adam' or 'rmsprop'"),
    ("train.learning_rate", *_POSITIVE),
    ("train.max_grad_norm", *_POSITIVE),
    ("train.log_every_updates", *_AT_LEAST_ONE),
    ("train.checkpoint_every_seconds", *_POSITIVE),
    ("train.keep_checkpoints", *_AT_LEAST_ONE),
    ("eval.episodes", *_AT_LEAST_ONE),
    ("eval.num_envs", *_ENVIRONMENTS),
]

_TASK_CHECKS: dict[str, list[_Check]] = {
    "two_step": [
        ("env.common_prob", *_PROBABILITY),
        ("env.reward_prob_good", *_PROBABILITY),
        ("env.reward_prob_bad", *_PROBABILITY),
        ("env.switch_prob", *_PROBABILITY),
        ("env.trials_per_episode", lambda v: v >= 2, ">= 2"),
    ],
    "harlow": [
        (
            "dataset",
            lambda v: isinstance(v, str),
            "a dataset folder path ('' for the bundled faces)",
        ),
        ("env.backend", *_one_of(BACKENDS)),
        ("env.observation", *_one_of(OBSERVATION_MODES)),
        ("env.show_chosen", lambda v: isinstance(v, bool), "true or false"),
        ("env.num_ids", lambda v: v >= 2, ">= 2"),
        ("env.id_scope", lambda v: v in ("episode", "dataset"), "'episode' or 'dataset'"),
        ("env.patch_size", lambda v: 4 <= v <= 256, "in [4, 256]"),
        ("env.pixels_size", lambda v: 4 <= v <= 256, "in [4, 256]"),
        (
            "env.frame_size",
            lambda v: MIN_FRAME_SIZE <= v <= MAX_FRAME_SIZE,
            f"in [{MIN_FRAME_SIZE}, {MAX_FRAME_SIZE}]",
        ),
        ("env.spawn_yaw_range_deg", lambda v: 0 <= v <= 180, "in [0, 180]"),
        ("env.max_frames_per_trial", lambda v: v >= 20, ">= 20"),
        ("env.num_workers", lambda v: 0 <= v <= 64, "in [0, 64]"),
        ("env.split", *_one_of(SPLITS)),
        ("agent.encoder", lambda v: v in ("none", "conv"), "'none' or 'conv'"),
        ("agent.torso_units", lambda v: 0 <= v <= 8192, "in [0, 8192]"),
        ("eval.split", *_one_of(SPLITS)),
        ("eval.stages", *_NON_NEGATIVE),
        ("eval.stage_episodes", *_AT_LEAST_ONE),
    ],
}

# Fields checked only when present: runs saved before they existed lack them.
_OPTIONAL_TASK_CHECKS: dict[str, list[_Check]] = {
    "two_step": [],
    "harlow": [
        ("agent.conv_pairwise_differences", lambda v: isinstance(v, bool), "true or false"),
        ("agent.conv_layer_norm", lambda v: isinstance(v, bool), "true or false"),
        ("env.dmlab_episodes_per_reset", lambda v: v >= 1, ">= 1"),
        (
            "env.room_jitter",
            lambda v: 0 <= v <= MAX_ROOM_JITTER,
            f"in [0, {MAX_ROOM_JITTER}]",
        ),
    ],
}


def _has(config: ml_collections.ConfigDict, path: str) -> bool:
    node: Any = config
    for key in path.split("."):
        if key not in node:
            return False
        node = node[key]
    return True


def _lookup(config: ml_collections.ConfigDict, path: str) -> Any:
    node: Any = config
    for key in path.split("."):
        if key not in node:
            raise ValueError(f"config.{path} is missing")
        node = node[key]
    return node


def _non_finite_floats(node: Any, path: str) -> list[tuple[str, float]]:
    """``(path, value)`` of each NaN or infinite float in ``node`` (``config.a.b[1]``)."""
    if isinstance(node, float):
        return [] if math.isfinite(node) else [(path, node)]
    if isinstance(node, (list, tuple)):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(node))
    elif isinstance(node, (ml_collections.ConfigDict, dict)):
        items = ((f"{path}.{key}", value) for key, value in node.items())
    else:
        return []
    return [found for item_path, item in items for found in _non_finite_floats(item, item_path)]


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Raises ``ValueError`` naming the first invalid field, e.g. ``config.train.num_envs``."""
    non_finite = _non_finite_floats(config, "config")
    if non_finite:
        path, value = non_finite[0]
        raise ValueError(f"{path} must be a finite number, got {value!r}")
    task = config.get("task")
    if task not in _TASK_CHECKS:
        raise ValueError(f"config.task must be one of {sorted(_TASK_CHECKS)}, got {task!r}")
    seed = _lookup(config, "seed")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"config.seed must be a non-negative integer, got {seed!r}")
    for path, is_valid, requirement in _COMMON_CHECKS + _TASK_CHECKS[task]:
        value = _lookup(config, path)
        if not is_valid(value):
            raise ValueError(f"config.{path} must be {requirement}, got {value!r}")
    for path, is_valid, requirement in _OPTIONAL_TASK_CHECKS[task]:
        if _has(config, path) and not is_valid(value := _lookup(config, path)):
            raise ValueError(f"config.{path} must be {requirement}, got {value!r}")
    if task == "harlow":
        _check_harlow_combinations(config)


def _check_harlow_combinations(config: ml_collections.ConfigDict) -> None:
    """Settings that are valid alone but not together."""
    if config.agent.encoder == "conv" and config.env.observation not in ("patches", "pixels"):
        raise ValueError(
            "config.agent.encoder='conv' needs config.env.observation='patches' or 'pixels', got "
            f"{config.env.observation!r}"
        )
