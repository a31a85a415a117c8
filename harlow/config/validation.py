"""Checks config values before anything is built; errors name the field.

The checks every task shares are here; each task declares its own (``harlow.task.Task``).
"""

from __future__ import annotations

import math
from typing import Any

import ml_collections

from harlow.config.checks import (
    FieldCheck,
    at_least,
    boolean,
    in_range,
    one_of,
    positive,
    probability,
)
from harlow.tasks import TASKS

# Sizes past these bounds are typos that would allocate gigabytes before failing.
_COMMON_CHECKS = (
    in_range("agent.lstm_units", 1, 8192),
    in_range("train.num_envs", 1, 4096),
    in_range("train.unroll_length", 1, 100_000),
    at_least("train.total_env_steps", 1),
    probability("train.discount"),
    probability("train.gae_lambda"),
    at_least("train.value_coef", 0),
    at_least("train.entropy_coef", 0),
    at_least("train.entropy_coef_final", 0),
    one_of("train.optimizer", ("adam", "rmsprop")),
    positive("train.learning_rate"),
    positive("train.max_grad_norm"),
    at_least("train.log_every_updates", 1),
    positive("train.checkpoint_every_seconds"),
    at_least("train.keep_checkpoints", 1),
    at_least("eval.episodes", 1),
    in_range("eval.num_envs", 1, 4096),
)
# Fields older configs lack (their absence keeps the old behaviour).
_COMMON_OPTIONAL_CHECKS = (boolean("train.jit_compile"),)


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
    task_name = config.get("task")
    if task_name not in TASKS:
        raise ValueError(f"config.task must be one of {sorted(TASKS)}, got {task_name!r}")
    seed = _lookup(config, "seed")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"config.seed must be a non-negative integer, got {seed!r}")
    task = TASKS[task_name]
    for check in _COMMON_CHECKS + task.checks:
        _apply(check, _lookup(config, check.path))
    for check in _COMMON_OPTIONAL_CHECKS + task.optional_checks:
        if _has(config, check.path):
            _apply(check, _lookup(config, check.path))
    for check_combination in task.combination_checks:
        check_combination(config)


def _apply(check: FieldCheck, value: Any) -> None:
    """Raises ``ValueError`` "config.<path> must be <requirement>, got <value>"."""
    if not check.is_valid(value):
        raise ValueError(f"config.{check.path} must be {check.requirement}, got {value!r}")
