"""``--config.a.b=value`` overrides for configs loaded from a workdir's ``config.json``.

``harlow.train`` reads configs from files (ml_collections' config flags parse the
overrides there); ``harlow.evaluate`` loads the config a run was trained with, so it
takes the same ``--config.*`` arguments out of the command line itself and applies
them here, checked against the type of the value they replace.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any

import ml_collections

PREFIX = "--config."
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def split_overrides(argv: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Separates ``--config.KEY=VALUE`` (or ``--config.KEY VALUE``) from the other arguments."""
    overrides, rest = [], []
    args = iter(argv)
    for arg in args:
        if not arg.startswith(PREFIX):
            rest.append(arg)
            continue
        key, has_value, value = arg[len(PREFIX) :].partition("=")
        if not has_value:
            value = next(args, None)
            if value is None:
                raise ValueError(f"{arg} needs a value: {arg}=VALUE")
        overrides.append((key, value))
    return overrides, rest


def _parse(key: str, raw: str, current: Any) -> Any:
    if isinstance(current, bool):
        if raw.lower() not in _TRUE + _FALSE:
            raise ValueError(f"--config.{key} must be true or false, got {raw!r}")
        return raw.lower() in _TRUE
    if isinstance(current, str) or current is None:
        return raw
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as e:
        raise ValueError(f"--config.{key}={raw!r} is not a valid value") from e
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, (list, tuple)) and isinstance(value, (list, tuple)):
        return type(current)(value)
    if type(value) is not type(current):
        raise ValueError(
            f"--config.{key} must be of type {type(current).__name__} (like {current!r}), "
            f"got {raw!r}"
        )
    return value


def field_paths(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """The dotted paths of every value (not section) of ``config``: ``train.learning_rate``."""
    paths = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            paths += field_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def has_field(config: ml_collections.ConfigDict, key: str) -> bool:
    """Whether ``key`` (``a.b``) names a value (not a section) of ``config``."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, ml_collections.ConfigDict)


def unknown_field_message(config: ml_collections.ConfigDict, key: str) -> str:
    """``--config.KEY: the config has no field 'KEY'``, with the closest fields it has."""
    message = f"--config.{key}: the config has no field {key!r}"
    matches = difflib.get_close_matches(key, field_paths(config), n=3, cutoff=0.6)
    if matches:
        message += f"; did you mean {' or '.join(repr(m) for m in matches)}?"
    return message


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[tuple[str, str]]) -> None:
    """Sets each ``(key, raw value)``; raises ``ValueError`` on unknown keys or wrong types."""
    for key, raw in overrides:
        if not has_field(config, key):
            raise ValueError(unknown_field_message(config, key))
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[leaf] = _parse(key, raw, node[leaf])
