"""Shared fixtures: quiet TensorFlow, small configs, the recordings folder."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import ml_collections  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from configs.two_step import get_config as two_step_config  # noqa: E402


@pytest.fixture
def tiny_two_step_config() -> ml_collections.ConfigDict:
    """A two-step config that trains in about a second (not enough to learn)."""
    config = two_step_config()
    config.env.trials_per_episode = 5
    config.agent.lstm_units = 8
    config.train.num_envs = 4
    config.train.unroll_length = 5
    config.train.total_env_steps = 200
    config.train.log_every_updates = 2
    config.eval.episodes = 6
    config.eval.num_envs = 4
    return config
