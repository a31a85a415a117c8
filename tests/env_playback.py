"""Plays a batched environment under a fixed action sequence and compares two plays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def play(env, steps: int, actions: Callable[[int], np.ndarray]) -> dict[str, np.ndarray]:
    """Observations, rewards, dones and infos of ``steps`` steps with ``actions(step)``;
    closes ``env``."""
    record: dict[str, list[np.ndarray]] = {"observation": [env.reset()]}
    try:
        for step in range(steps):
            observation, reward, done, info = env.step(actions(step))
            for key, value in {"observation": observation, "reward": reward, "done": done}.items():
                record.setdefault(key, []).append(value)
            for key, value in info.items():
                record.setdefault(key, []).append(np.asarray(value))
    finally:
        env.close()
    return {key: np.stack(values) for key, values in record.items()}


def assert_same(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> None:
    """The two plays are identical, key by key."""
    assert expected.keys() == actual.keys()
    for key in expected:
        np.testing.assert_array_equal(expected[key], actual[key], err_msg=key)
