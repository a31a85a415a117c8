"""Config validation: every bad value fails at once, naming the field."""

import re
from pathlib import Path

import pytest

from configs.two_step import get_config
from harlow.config.files import load_config_file
from harlow.config.validation import validate_config


def test_default_config_is_valid():
    validate_config(get_config())


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("train.learning_rate", -1e-3, "config.train.learning_rate must be > 0"),
        ("train.num_envs", 0, r"config.train.num_envs must be in \[1, 4096\]"),
        ("train.num_envs", 10**7, r"config.train.num_envs must be in \[1, 4096\]"),
        ("train.unroll_length", 10**9, r"config.train.unroll_length must be in \[1, 100000\]"),
        ("eval.num_envs", 10**6, r"config.eval.num_envs must be in \[1, 4096\]"),
        ("env.common_prob", 1.5, "config.env.common_prob must be a probability"),
        ("env.switch_prob", -0.1, "config.env.switch_prob must be a probability"),
        ("train.discount", 1.01, "config.train.discount must be a probability"),
        ("train.optimizer", "sgd", "config.train.optimizer must be 'adam' or 'rmsprop'"),
        ("agent.lstm_units", 0, r"config.agent.lstm_units must be in \[1, 8192\]"),
        ("agent.lstm_units", 10**9, r"config.agent.lstm_units must be in \[1, 8192\]"),
        ("env.trials_per_episode", 1, "config.env.trials_per_episode must be >= 2"),
        ("seed", -3, "config.seed must be a non-negative integer"),
    ],
)
def test_invalid_values_name_the_field(path, value, message):
    config = get_config()
    node = config
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value
    with pytest.raises(ValueError, match=message):
        validate_config(config)


@pytest.mark.parametrize(
    "path, value",
    [
        ("train.learning_rate", float("inf")),
        ("train.learning_rate", float("nan")),
        ("env.common_prob", float("nan")),
        ("train.value_coef", float("inf")),
        ("eval.extra", (1.0, float("-inf"))),
    ],
)
def test_non_finite_floats_are_refused_anywhere(path, value):
    config = get_config()
    section, leaf = path.split(".")
    config[section][leaf] = value
    index = "[1]" if isinstance(value, tuple) else ""
    with pytest.raises(ValueError, match=rf"config\.{path}{re.escape(index)} must be a finite"):
        validate_config(config)


def test_unknown_task_and_missing_field():
    config = get_config()
    config.task = "chess"
    with pytest.raises(ValueError, match="config.task must be one of"):
        validate_config(config)
    config = get_config()
    del config.train["max_grad_norm"]
    with pytest.raises(ValueError, match="config.train.max_grad_norm is missing"):
        validate_config(config)


SHIPPED_CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.py"))


def test_the_shipped_configs_are_all_listed():
    assert {path.stem for path in SHIPPED_CONFIGS} >= {
        "two_step",
        "harlow",
        "harlow_patches",
        "harlow_pixels",
        "harlow_frames",
    }


@pytest.mark.parametrize("config_file", SHIPPED_CONFIGS, ids=lambda path: path.stem)
def test_every_shipped_config_is_valid(config_file):
    validate_config(load_config_file(config_file))


def test_room_jitter_is_checked_and_optional():
    configs = Path(__file__).resolve().parent.parent / "configs"
    config = load_config_file(configs / "harlow_pixels.py")
    assert config.env.room_jitter > 0  # whole frames: the room must not matter
    assert load_config_file(configs / "harlow.py").env.room_jitter == 0.0
    config.env.room_jitter = 1.2
    with pytest.raises(ValueError, match=r"config.env.room_jitter must be in \[0, 0.9\]"):
        validate_config(config)
    del config.env["room_jitter"]  # runs saved before the field existed
    validate_config(config)


def test_jit_compile_is_checked_and_optional():
    config = get_config()
    assert config.train.jit_compile is True  # the two-step default compiles its update
    del config.train["jit_compile"]
    validate_config(config)  # configs from before the field keep the graph update
    config.train.jit_compile = "yes"
    with pytest.raises(ValueError, match="config.train.jit_compile must be true or false"):
        validate_config(config)
