"""The adapter and harlow_custom.lua on the real DeepMind Lab (skipped when it is not installed).

The recordings in shared/fixtures/dmlab_harlow were made on the stock Harlow factory with
trainBatch = 24; DeepMind Lab is deterministic for a seed, config and action sequence, so
replaying a recorded episode through the project's level script must give the same
rewards, trial records, image pair and frames.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harlow.psychlab.dmlab import (
    IMAGE_PAIR_EVENT,
    LEVEL_SCRIPT,
    OBSERVATION,
    TRIAL_EVENT,
    DmlabHarlowEnv,
    HarlowLevelSettings,
    harlow_lab_config,
    measure_steps_per_second,
    parse_trial_record,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"


@pytest.fixture(scope="module")
def deepmind_lab():
    """The real deepmind_lab module."""
    try:
        module = importlib.import_module("deepmind_lab")
    except ImportError as error:
        pytest.skip(
            f"deepmind_lab is not importable ({error}); build it from source with Bazel "
            "(github.com/google-deepmind/lab) to run these tests"
        )
    if getattr(module, "IS_FAKE", False):
        pytest.skip("only the test fake of deepmind_lab is importable")
    return module


@pytest.fixture(scope="module")
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"the DeepMind Lab recordings are not at {FIXTURES}")
    return FIXTURES


@pytest.fixture
def private_tmp(monkeypatch, tmp_path) -> Path:
    """Every temporary folder (the adapter's and the engine's) goes under tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return tmp_path


def _dataset(fixtures: Path) -> np.ndarray:
    paths = sorted((fixtures / "dataset").glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def test_level_script_replays_a_recorded_episode(deepmind_lab, fixtures, private_tmp):
    recording = np.load(fixtures / "harlow_84.npz")
    episode = json.loads((fixtures / "trials.json").read_text())["harlow_84.npz"]["episodes"][0]
    assert episode["terminated"]
    rows = recording["episode"] == episode["episode"]
    config = harlow_lab_config(
        dataset_dir=fixtures / "dataset",
        num_images=24,
        width=84,
        height=84,
        fps=60,
        minimal_ui=episode["minimal_ui"],
        level=HarlowLevelSettings(),
    )
    lab = deepmind_lab.Lab(str(LEVEL_SCRIPT), [OBSERVATION], config=config)
    try:
        lab.reset(seed=episode["seed"])
        pairs = [values for name, values in lab.events() if name == IMAGE_PAIR_EVENT]
        assert pairs == [[str(episode["correct_id"]), str(episode["incorrect_id"])]]
        records, same_pixels = [], []
        for action, reward, frame in zip(
            recording["actions"][rows],
            recording["rewards"][rows],
            recording["frames"][rows],
            strict=True,
        ):
            assert lab.step(np.ascontiguousarray(action, dtype=np.intc)) == reward
            records += [v[0] for name, v in lab.events() if name == TRIAL_EVENT]
            same_pixels.append(np.mean(lab.observations()[OBSERVATION] == frame))
        final = episode["final_step"]
        assert lab.step(np.array(final["action"], dtype=np.intc)) == final["reward"]
        records += [v[0] for name, v in lab.events() if name == TRIAL_EVENT]
        assert not lab.is_running()
    finally:
        lab.close()
    assert np.mean(same_pixels) > 0.99
    recorded = [(t["trial"], t["correct"]) for t in episode["trials"]]
    parsed = [parse_trial_record(r) for r in records]
    assert [(int(p["trial"]), int(p["correct"])) for p in parsed] == recorded


def test_adapter_runs_the_real_level_in_workers(deepmind_lab, fixtures, private_tmp):
    images = _dataset(fixtures)
    env = DmlabHarlowEnv(2, images, list(range(1, 25)), num_workers=2, seed=1)
    try:
        frames = env.reset()
        assert frames.shape == (2, 84, 84, 3) and frames.dtype == np.uint8
        red = (frames[..., 0] > 200) & (frames[..., 1] < 60) & (frames[..., 2] < 60)
        assert red.sum(axis=(1, 2)).min() > 0  # the cross is in view in the first frame
        for _ in range(10):
            frames, rewards, dones, info = env.step(np.zeros((2, 7), np.int64))
        assert not dones.any() and info["correct_image"].min() >= 0
        assert np.all(info["correct_image"] != info["incorrect_image"])
    finally:
        env.close()
    assert os.listdir(private_tmp) == []


def test_report_real_throughput(deepmind_lab, fixtures, private_tmp):
    """Prints steps per second (run with -s); a measurement, not an assertion."""
    images = _dataset(fixtures)
    for num_workers in (0, 2):
        env = DmlabHarlowEnv(2, images, list(range(1, 25)), num_workers=num_workers)
        try:
            rate = measure_steps_per_second(env, num_steps=300)
        finally:
            env.close()
        print(f"DeepMind Lab 2 envs, 84x84, num_workers={num_workers}: {rate:.0f} steps/s")
