"""Benchmark helpers: seed parsing, config loading, throughput measurement."""

import os
import tempfile

import pytest

from harlow.benchmark import (
    DEFAULT_CONFIGS,
    measure_dmlab,
    measure_saccade_trials,
    measure_throughput,
    parse_seeds,
)
from harlow.config_files import load_config_file


@pytest.mark.parametrize(
    "text, seeds", [("8", list(range(8))), ("2-4", [2, 3, 4]), ("1,5", [1, 5]), (" 3 ", [0, 1, 2])]
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


def test_parse_seeds_refuses_absurd_ranges_before_building_them():
    with pytest.raises(ValueError, match="selects 100,000,000,000 seeds, over 10,000"):
        parse_seeds("0-99999999999")


@pytest.mark.parametrize("text", ["", "a", "0", "3-1", "-2", "1,x"])
def test_parse_seeds_rejects_nonsense(text):
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(text)


def test_load_config_file(tmp_path):
    assert load_config_file(DEFAULT_CONFIGS / "two_step.py").task == "two_step"
    with pytest.raises(ValueError, match="not found"):
        load_config_file(tmp_path / "nope.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="empty.py defines no get_config"):
        load_config_file(tmp_path / "empty.py")


def test_measure_throughput_reports_consistent_fractions(tiny_two_step_config):
    result = measure_throughput(tiny_two_step_config, updates=3)
    assert result["train_env_steps_per_second"] > 0
    assert result["acting_fraction"] + result["learning_fraction"] == pytest.approx(1.0)
    assert result["train_over_pure_ratio"] == pytest.approx(
        result["train_env_steps_per_second"] / result["pure_lstm_forward_backward_steps_per_second"]
    )


def test_saccade_measurement_reports_trials_and_frames():
    result = measure_saccade_trials(num_envs=2, trials=2)
    assert result["trials"] == 4 and result["timeouts"] == 0
    assert result["trials_per_second"] > 0 and 8 <= result["frames_per_trial"] <= 60


def test_dmlab_measurement_on_the_fake_deepmind_lab(fake_deepmind_lab, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config_file(DEFAULT_CONFIGS / "harlow.py")
    result = measure_dmlab(config, num_envs=2, num_workers=1, trials=2)
    assert result["timeouts"] == 0 and result["raw_frames_per_second"] > 0
    assert result["trials_per_second"] > 0 and 8 <= result["frames_per_trial"] <= 60
    assert result["share_of_raw"] == pytest.approx(
        result["trials_per_second"] * result["frames_per_trial"] / result["raw_frames_per_second"]
    )
    assert os.listdir(tmp_path) == []
