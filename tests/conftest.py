"""Shared fixtures: quiet TensorFlow, small configs, the fake deepmind_lab module."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests send Ctrl-C (SIGINT) to the commands they start. A shell without job control
# starts a background pytest with SIGINT ignored, which every command it starts would
# inherit (and so never see the Ctrl-C): give them the default disposition back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import importlib  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

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


FAKE_DEEPMIND_LAB = REPO / "tests" / "fake_deepmind_lab"


@pytest.fixture
def fake_deepmind_lab(monkeypatch) -> ModuleType:
    """The test fake of ``deepmind_lab``, importable here and in worker processes (they
    get the parent's ``sys.path``). Whatever ``deepmind_lab`` was imported before (the
    real one, where installed) is back in ``sys.modules`` afterwards."""
    monkeypatch.syspath_prepend(str(FAKE_DEEPMIND_LAB))
    before = sys.modules.pop("deepmind_lab", None)
    try:
        module = importlib.import_module("deepmind_lab")
        module.INSTANCES.clear()
        yield module
    finally:
        sys.modules.pop("deepmind_lab", None)
        if before is not None:
            sys.modules["deepmind_lab"] = before
