"""The DeepMind Lab recorder's pure parts (ground truth from coded/black/no-cross frames,
the gaze controller), a recording against the fake engine, and one on the real engine
(skipped unless the real deepmind_lab is importable)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harlow.psychlab import dmlab
from preprocessing import record_dmlab as rec


def test_coded_colours_are_distinct_saturated_and_not_red():
    colours = rec.coded_colours(24)
    assert colours.shape == (24, 3) and len({tuple(c) for c in colours}) == 24
    assert (colours.max(axis=1) == 255).all() and (colours.min(axis=1) == 0).all()
    # No cross red: red at full strength only with green well up (hue >= 45 degrees).
    assert not ((colours[:, 0] == 255) & (colours[:, 1] < 150) & (colours[:, 2] == 0)).any()


def scene(left_colour, right_colour, cross=True):
    """black, coded, real and nocross renders of a 20x40 frame with two images."""
    black = np.full((20, 40, 3), 30, np.uint8)  # the room, the same in every render
    black[2:18, 2:38] = 0  # the screen
    coded = black.copy()
    coded[5:15, 4:14] = left_colour
    coded[5:15, 26:36] = right_colour
    coded[5, 4] = (np.array(left_colour) * 0.4).astype(np.uint8)  # a blended edge pixel
    real = black.copy()
    real[5:15, 4:14] = (90, 60, 30)
    real[5:15, 26:36] = (10, 200, 10)
    nocross = real.copy()
    if cross:
        real[9:11, 18:22] = (255, 0, 0)
        real[8:12, 19:21] = (255, 0, 0)
    return black, coded, real, nocross


def test_ground_truth_from_difference_renders():
    colours = rec.coded_colours(24)
    black, coded, real, nocross = scene(colours[6], colours[16])
    ids = rec.image_id_map(coded, black, (17, 7), colours)
    assert (ids[5:15, 4:14] == 7).sum() == 99 and ids[5, 4] == 0  # < half covered: none
    assert (ids[5:15, 26:36] == 17).all() and (ids > 0).sum() == 199
    cross = rec.cross_map(real, nocross)
    assert cross.sum() == 12 and cross[9:11, 18:22].all()
    sides = rec.sides_from_view(ids, yaw=rec.CENTRE_YAW)
    assert sides == {7: "left", 17: "right"}
    labels = rec.frame_labels(ids, cross, sides)
    assert labels["left_id"] == 7 and labels["right_id"] == 17
    assert labels["left_bbox"] == [4, 5, 13, 14] and labels["right_bbox"] == [26, 5, 35, 14]
    assert labels["cross_px"] == 12 and labels["cross_bbox"] == [18, 8, 21, 11]
    assert not labels["left_touches_border"] and labels["left_px"] == 99
    assert set(np.unique(labels["labelmap"]).tolist()) == {0, 1, 2, 3}


def test_a_lone_image_takes_its_side_from_the_view():
    colours = rec.coded_colours(24)
    black, coded, _, _ = scene(colours[3], colours[3])
    coded[:, 20:] = black[:, 20:]  # only the image in the frame's left half is visible
    ids = rec.image_id_map(coded, black, (4, 9), colours)
    # Gaze at the screen's centre: the image left of the frame's centre is the left one.
    assert rec.sides_from_view(ids, yaw=rec.CENTRE_YAW) == {4: "left"}
    # Gaze far to the right (smaller yaw): the same view shows the screen's right image.
    assert rec.sides_from_view(ids, yaw=rec.CENTRE_YAW - 40) == {4: "right"}
    labels = rec.frame_labels(ids, np.zeros(ids.shape, bool), {4: "right"})
    assert labels["left_id"] == -1 and labels["right_id"] == 4 and labels["cross_px"] == 0
    assert labels["cross_bbox"] == [-1, -1, -1, -1]


def play(controller, steps, start_yaw, events):
    """Plays a controller on an ideal turning camera; ``events`` maps step -> reward."""
    pitch, yaw = rec.CENTRE_PITCH, start_yaw
    reward, path = 0.0, []
    for step in range(steps):
        action = controller.act((pitch, yaw, 0.0), reward)
        assert action.dtype == np.intc and action.shape == (7,) and not action[2:].any()
        yaw -= action[0] * rec.DEGREES_PER_LOOK_UNIT
        pitch += action[1] * rec.DEGREES_PER_LOOK_UNIT
        path.append((yaw - rec.CENTRE_YAW, pitch - rec.CENTRE_PITCH, controller.phase))
        reward = events.get(step, 0.0)
    return path


def test_the_controller_seeks_the_cross_then_moves_over_the_images_then_chooses():
    moved = 0
    for seed in range(5):
        controller = rec.GazeController(np.random.default_rng(seed))
        path = play(controller, 60, rec.CENTRE_YAW + 20, {})
        yaw, pitch, phase = path[-1]
        assert phase == "fixation" and abs(yaw) <= 1.5 and abs(pitch) <= 1.5
        path = play(controller, 120, rec.CENTRE_YAW + yaw, {0: 1.0})
        assert path[0][2] == "fixation" and path[1][2] == "images"
        yaws = np.array([p[0] for p in path])
        moved += np.ptp(yaws) > 5
        # It ends holding the gaze on one image's central half.
        assert abs(abs(yaws[-1]) - rec.IMAGE_YAW) <= 6.0 and abs(path[-1][1]) <= 6.0
    assert moved >= 3  # the gaze moves about while the images are shown
    path = play(controller, 8, rec.CENTRE_YAW, {0: 5.0})
    assert path[1][2] == "blank" and path[-1][2] == "fixation"


def test_generated_images_are_varied():
    images = rec.generated_images(12, np.random.default_rng(0))
    assert all(image.shape == (256, 256, 3) and image.dtype == np.uint8 for image in images)
    means = np.array([image.reshape(-1, 3).mean(axis=0) for image in images])
    assert len({tuple(np.round(m)) for m in means}) == 12
    assert means.max(axis=1).min() < 60  # a dark one
    assert any(m[0] > 150 and m[1] < 100 for m in means)  # a red one


@pytest.fixture
def fake_module(fake_deepmind_lab, monkeypatch):
    """The fake engine, in a test process standing for one without TensorFlow (the fake
    does not crash next to it; the real engine does, and the recorder refuses then)."""
    monkeypatch.setattr(dmlab, "tensorflow_loaded", lambda: False)
    return fake_deepmind_lab


def test_recording_on_the_fake_engine(fake_module, tmp_path):
    dataset = tmp_path / "images"
    rec.write_solid_dataset(dataset, rec.coded_colours(24)[::-1])
    out = tmp_path / "rec.npz"
    summary = rec.record(
        out,
        84,
        84,
        episodes=2,
        seed=3,
        dataset=dataset,
        max_steps=250,
        module=fake_module,
        centre=(90.0, 0.0),
    )
    assert [e["episode"] for e in summary["episodes"]] == [0, 1]
    assert all(e["bit_exact_replay"] for e in summary["episodes"])
    with np.load(out) as recording:
        data = {name: recording[name] for name in recording.files}
    frames = len(data["frames"])
    assert frames == summary["frames"] and data["labelmap"].shape == (frames, 84, 84)
    assert set(np.unique(data["episode"]).tolist()) == {0, 1}
    assert data["minimal_ui"][data["episode"] == 1].all()
    for episode in (0, 1):
        rows = data["episode"] == episode
        pair = {
            int(data["episode_correct_id"][episode]),
            int(data["episode_incorrect_id"][episode]),
        }
        shown = set(data["left_id"][rows].tolist()) | set(data["right_id"][rows].tolist())
        assert shown - {-1} == pair
    both = (data["left_id"] >= 0) & (data["right_id"] >= 0)
    assert both.sum() > 20
    # The labels agree with the fake's rendering: each labelled image shows its colour.
    colours = rec.coded_colours(24)[::-1]
    for t in np.flatnonzero(both)[:10]:
        for code, name in ((2, "left_id"), (3, "right_id")):
            pixels = data["frames"][t][data["labelmap"][t] == code]
            assert (pixels == colours[data[name][t] - 1]).all()
    result = rec.measure(out)
    assert result["both_in_view"] == both.sum() and result["max_ids_per_episode"] <= 2


def test_recording_on_the_real_engine(tmp_path):
    # Asked in a fresh process: other tests may have put the fake in sys.modules.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import deepmind_lab; print(getattr(deepmind_lab, 'IS_FAKE', False))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        pytest.skip("deepmind_lab is not importable")
    if probe.stdout.strip() != "False":
        pytest.skip("only the test fake of deepmind_lab is importable")
    # A fresh process: the suite may have imported TensorFlow, next to which the
    # engine's renderer crashes.
    out = tmp_path / "real.npz"
    command = [
        sys.executable,
        "-m",
        "preprocessing.record_dmlab",
        f"--out={out}",
        "--width=84",
        "--height=84",
        "--episodes=1",
        "--seed=5",
        f"--dataset={tmp_path / 'images'}",
        "--max_steps=400",
    ]
    root = Path(__file__).resolve().parents[1]
    subprocess.run(command, check=True, cwd=root, timeout=600)
    with np.load(out) as recording:
        assert (recording["cross_px"] > 0).any() and (recording["left_id"] >= 0).any()
    result = rec.measure(out)
    assert result["cross_found"] == result["cross_visible"] and result["cross_false"] == 0
