"""Rendering geometry against the real level's recordings, and what the frames look like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harlow.psychlab import render
from harlow.psychlab.observations import IdsObserver
from harlow.psychlab.protocol import (
    LEFT_IMAGE_BOX,
    SCREEN_BLANK,
    SCREEN_FIXATION,
    SCREEN_IMAGES,
)
from harlow.psychlab.saccade import SaccadeWrapper
from harlow.psychlab.simulator import BatchedHarlowSimulator, EpisodeSetup

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"
SETTLED = 3  # DeepMind Lab's camera settles during steps 0..2; its height there varies per run


def load(name: str) -> dict[str, np.ndarray]:
    """All arrays of a recording, read once (an NpzFile re-reads an array on every access)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (CI clones shared/ beside the repo)")
    with np.load(FIXTURES / name) as recording:
        return dict(recording)


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def bbox(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max(), rows.max()])


def simulated_labels(data, index: int) -> np.ndarray:
    pitch, dmlab_yaw = float(data["rot"][index, 0]), float(data["rot"][index, 1])
    width = data["frames"].shape[2]
    return render.label_map(90.0 - dmlab_yaw, pitch, 0.0, width, width, int(data["state"][index]))


@pytest.mark.parametrize("name", ["harlow_84.npz", "harlow_128.npz", "harlow_256.npz"])
def test_cross_and_images_land_where_the_real_level_draws_them(name):
    data = load(name)
    width = data["frames"].shape[2]
    cross_errors, box_errors = [], []
    for index in np.flatnonzero(data["step"] >= SETTLED):
        labels = simulated_labels(data, index)
        if data["cross_px"][index] > 0 and not data["cross_touches_border"][index]:
            ours = labels == render.LABEL_CROSS
            assert ours.any(), f"frame {index}: no cross rendered where the level shows one"
            real = data["labelmap"][index] == render.LABEL_CROSS
            cross_errors.append(np.abs(centroid(ours) - centroid(real)))
        for key, label in (("left", render.LABEL_LEFT_IMAGE), ("right", render.LABEL_RIGHT_IMAGE)):
            if data[f"{key}_px"][index] > 0 and not data[f"{key}_touches_border"][index]:
                ours = labels == label
                assert ours.any(), f"frame {index}: no {key} image where the level shows one"
                box_errors.append(np.abs(bbox(ours) - data[f"{key}_bbox"][index]))
    scale = width / 84  # tolerances in 84-pixel units
    cross_errors, box_errors = np.array(cross_errors), np.array(box_errors)
    assert len(cross_errors) > 20 and len(box_errors) > 20
    # Measured: mean cross-centroid error <= 0.011 px, image boxes exact in over 95% of frames.
    assert cross_errors.mean() / scale < 0.1
    assert np.percentile(cross_errors, 95) / scale < 0.5
    assert box_errors.mean() / scale < 0.1
    assert np.percentile(box_errors, 95) / scale < 0.5


def test_same_look_action_moves_the_cross_as_in_the_calibration_runs():
    """calib_84: 6 still steps, then 15 steps of one look action (yaw or pitch, 5..40 units)."""
    data = load("calib_84.npz")
    images = np.zeros((2, 256, 256, 3), dtype=np.uint8)
    errors, sequences = [], 0
    for episode in np.unique(data["episode"]):
        rows = np.flatnonzero(data["episode"] == episode)
        simulator = BatchedHarlowSimulator(1, images, [1, 2], width=84, height=84)
        spawn_yaw = 90.0 - float(data["rot"][rows[0], 1])  # the first 6 actions are zero
        simulator.reset([EpisodeSetup(1, 2, (0, 1, 0, 1, 0, 1), spawn_yaw)])
        positions = {}
        for row in rows:
            _, _, _, info = simulator.step(data["actions"][row][None])
            real = data["labelmap"][row] == render.LABEL_CROSS
            if data["step"][row] < 5 or not real.any() or data["cross_touches_border"][row]:
                continue
            pitch = float(info["pitch"][0]) - render.SCREEN_CENTRE_ELEVATION_DEG
            ours = (
                render.label_map(float(info["yaw"][0]), pitch, 0.0, 84, 84, SCREEN_FIXATION)
                == render.LABEL_CROSS
            )
            positions[int(data["step"][row])] = (centroid(ours), centroid(real))
        if 5 in positions and len(positions) > 5:
            sequences += 1
            last = max(positions)
            ours_move = positions[last][0] - positions[5][0]
            real_move = positions[last][1] - positions[5][1]
            errors.append(np.abs(ours_move - real_move))
    errors = np.array(errors)
    assert sequences >= 20
    assert errors.max() <= 0.5, errors


def test_gaze_meets_the_screen_centre_and_image_centres_at_the_recorded_angles():
    elevation = render.SCREEN_CENTRE_ELEVATION_DEG
    gaze = render.gaze_on_screen(np.array([0.0, 17.05, -17.3]), np.array([-elevation] * 3))
    np.testing.assert_allclose(gaze[0], [256.0, 256.0], atol=1e-6)
    np.testing.assert_allclose(gaze[1:, 0], [383.0, 127.0], atol=1.0)  # image centres, texels
    assert np.isnan(render.gaze_on_screen(np.array([60.0]), np.array([0.0]))).all()
    assert np.isnan(render.gaze_on_screen(np.array([180.0]), np.array([0.0]))).all()


def test_texture_level_follows_the_frame_size():
    assert [render.texture_texels(w) for w in (32, 84, 128, 256, 512)] == [64, 64, 128, 256, 512]


@pytest.mark.parametrize("width, height", [(31, 84), (84, 513), (84.0, 84)])
def test_frame_size_is_validated(width, height):
    with pytest.raises(ValueError, match="must be an integer in \\[32, 512\\]"):
        render.validate_frame_size(width, height)


def _render(state: int, yaw: float, pitch: float = 0.0, size: int = 84) -> np.ndarray:
    renderer = render.ScreenRenderer(1, size, size)
    side = LEFT_IMAGE_BOX[2]
    green = np.zeros((side, side, 3), dtype=np.uint8)
    green[:] = (0, 200, 0)
    blue = np.zeros((side, side, 3), dtype=np.uint8)
    blue[:] = (0, 0, 200)
    renderer.set_images(0, green, blue)
    frames = np.zeros((1, size, size, 3), dtype=np.uint8)
    renderer.render(
        frames, np.array([yaw]), np.array([pitch]), np.zeros(1), np.array([state], dtype=np.int8)
    )
    return frames[0]


def test_rendered_colours_follow_the_labels():
    frame = _render(SCREEN_IMAGES, yaw=5.0, pitch=2.0)
    labels = render.label_map(5.0, 2.0, 0.0, 84, 84, SCREEN_IMAGES)
    inner_left = labels == render.LABEL_LEFT_IMAGE
    inner_right = labels == render.LABEL_RIGHT_IMAGE
    assert np.median(frame[inner_left], axis=0)[1] > 150  # green image on the left
    assert np.median(frame[inner_right], axis=0)[2] > 150  # blue image on the right
    frame = _render(SCREEN_FIXATION, yaw=-3.0, size=128)
    cross = render.label_map(-3.0, 0.0, 0.0, 128, 128, SCREEN_FIXATION) == render.LABEL_CROSS
    red = frame[cross].astype(int)
    assert np.median(red[:, 0]) > 170 and np.median(red[:, 1:]) < 60


@pytest.mark.parametrize("yaw", [-120.0, -40.0, 0.0, 35.0, 90.0, 179.0])
@pytest.mark.parametrize("pitch", [-80.0, -20.0, 0.0, 25.0, 85.0])
def test_nothing_but_the_cross_is_red(yaw, pitch):
    """The room and blank screen hold no cross-like red, from any direction."""
    frame = _render(SCREEN_BLANK, yaw=yaw, pitch=pitch).astype(int)
    reddish = (frame[..., 0] > 120) & (frame[..., 0] > 2 * frame[..., 1] + 40)
    assert not reddish.any()
    assert frame.std() > 5  # the room is drawn, not a flat fill


def test_screen_face_is_black_around_the_cross():
    frame = _render(SCREEN_FIXATION, yaw=0.0, pitch=-render.SCREEN_CENTRE_ELEVATION_DEG)
    centre = frame[30:54, 30:54].astype(int)
    cross = render.label_map(0.0, -0.556, 0.0, 84, 84, SCREEN_FIXATION)[30:54, 30:54] > 0
    assert (centre[~cross].max(axis=-1) < 40).mean() > 0.9


def test_room_tone_table_keeps_black_black_and_everything_else_not_black():
    for gain, gamma in ((0.6, 1.5), (1.4, 0.67), (0.1, 3.0)):
        table = render.room_tone_table(gain, gamma).astype(int)
        np.testing.assert_array_equal(table[:3], [0, 1, 2])  # the vision pipeline's black
        assert table[3:].min() >= 3
        assert (np.diff(table) >= 0).all()  # monotonic: the room's shading keeps its order
    np.testing.assert_array_equal(render.room_tone_table(1.0, 1.0), np.arange(256))
    assert render.room_tone_table(0.6, 1.0)[200] == 120
    with pytest.raises(ValueError, match="gain and gamma must be > 0"):
        render.room_tone_table(0.0, 1.0)


def test_room_tone_changes_the_room_not_the_screen_contents():
    renderer = render.ScreenRenderer(2, 84, 84)
    texture = np.full((204, 204, 3), 180, np.uint8)
    for env in (0, 1):
        renderer.set_images(env, texture, texture)
    renderer.set_room_tone(1, 0.6, 1.3)
    frames = np.zeros((2, 84, 84, 3), np.uint8)
    zeros = np.zeros(2)
    renderer.render(frames, zeros, zeros, zeros, np.full(2, SCREEN_IMAGES))
    labels = render.label_map(0.0, 0.0, 0.0, 84, 84, SCREEN_IMAGES)
    images = np.isin(labels, (render.LABEL_LEFT_IMAGE, render.LABEL_RIGHT_IMAGE))
    plain, toned = frames.astype(int)
    np.testing.assert_array_equal(plain[images], toned[images])
    np.testing.assert_array_equal(plain.max(-1) <= 2, toned.max(-1) <= 2)  # same black
    assert (toned[~images] < plain[~images]).mean() > 0.5  # the room is darker
    renderer.set_room_tone(1, 1.0, 1.0)  # back to the measured grey levels
    renderer.render(frames, zeros, zeros, zeros, np.full(2, SCREEN_IMAGES))
    np.testing.assert_array_equal(frames[0], frames[1])


@pytest.mark.parametrize("texels", [64, 128, 256, 512])
def test_images_texture_is_its_two_halves_side_by_side(texels):
    rng = np.random.default_rng(texels)
    size = LEFT_IMAGE_BOX[2]
    left, right = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)  # noise: no blur hides
    halves = [
        render.images_half_texture(left, 0, texels),
        render.images_half_texture(right, 1, texels),
    ]
    np.testing.assert_array_equal(
        np.concatenate(halves, axis=1), render.images_texture(left, right, texels)
    )


class _Recorder:
    """A simulator that keeps every frame it returns."""

    def __init__(self, simulator: BatchedHarlowSimulator) -> None:
        self.simulator, self.frames = simulator, []
        self.num_envs, self.width, self.height = simulator.num_envs, 84, 84

    def reset(self) -> np.ndarray:
        self.frames.append(self.simulator.reset())
        return self.frames[-1]

    def step(self, actions: np.ndarray) -> tuple:
        result = self.simulator.step(actions)
        self.frames.append(result[0])
        return result

    def close(self) -> None:
        self.simulator.close()


def _saccade_frames(reuse: bool, room_jitter: float, trials: int) -> np.ndarray:
    """[frame, env, H, W, 3]: the frames of 8 simulated environments played by the saccade
    wrapper for ``trials`` trials, with or without the renderer's reuse of frames and rooms."""
    images = np.random.default_rng(0).integers(0, 256, (4, 256, 256, 3), dtype=np.uint8)
    simulator = BatchedHarlowSimulator(8, images, [1, 2, 3, 4], seed=5, room_jitter=room_jitter)
    simulator._renderer = render.ScreenRenderer(8, 84, 84, reuse=reuse)
    recorder = _Recorder(simulator)
    wrapper = SaccadeWrapper(recorder, IdsObserver(8))
    wrapper.reset()
    rng = np.random.default_rng(1)
    for _ in range(trials):
        wrapper.step(rng.integers(0, 2, 8))
    return np.stack(recorder.frames)


@pytest.mark.parametrize("room_jitter", [0.0, 0.4])
def test_reusing_views_and_rooms_gives_the_frames_drawing_gives(room_jitter):
    reused = _saccade_frames(True, room_jitter, trials=14)  # over two episodes
    drawn = _saccade_frames(False, room_jitter, trials=14)
    assert reused.shape == drawn.shape
    for step, (a, b) in enumerate(zip(reused, drawn, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {step}")
    # The runs do hold views still and come back to views seen a few frames before.
    still = back = 0
    for env in range(8):
        seen = [reused[0, env].tobytes()]
        for frame in reused[1:, env]:
            view = frame.tobytes()
            still += view == seen[-1]
            back += view != seen[-1] and view in seen[-16:]
            seen.append(view)
    assert still > 200 and back > 50


def test_new_images_in_an_unchanged_view_are_drawn():
    renderer = render.ScreenRenderer(1, 84, 84)
    frames = np.zeros((1, 84, 84, 3), np.uint8)
    zero, showing = np.zeros(1), np.full(1, SCREEN_IMAGES)
    grey = np.full((204, 204, 3), 90, np.uint8)
    renderer.set_images(0, grey, grey)
    renderer.render(frames, zero, zero, zero, showing)
    first = frames.copy()
    renderer.set_images(0, grey, grey + 100)
    renderer.render(frames, zero, zero, zero, showing)
    labels = render.label_map(0.0, 0.0, 0.0, 84, 84, SCREEN_IMAGES)
    right = labels == render.LABEL_RIGHT_IMAGE
    left = labels == render.LABEL_LEFT_IMAGE
    assert (frames[0][right] > first[0][right]).all()
    np.testing.assert_array_equal(frames[0][left], first[0][left])
