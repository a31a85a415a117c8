"""Locating the fixation cross and the images on synthetic frames, and the pipeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from preprocessing import locate as locate_module
from preprocessing.identity import UNKNOWN
from preprocessing.locate import NOTHING_FOUND, Detection, LocatorConfig, StreamLocator, locate
from preprocessing.patches import Box
from preprocessing.pipeline import VisionPipeline

CROSS_RED = (255, 0, 0)


def face_image(background, face, seed: int = 0) -> np.ndarray:
    """A 256x256 picture: a disc with two eyes on a coloured background."""
    image = np.empty((256, 256, 3), np.uint8)
    image[:] = background
    cv2.circle(image, (128, 128), 90, face, -1)
    rng = np.random.default_rng(seed)
    for x in (95, 161):
        cv2.circle(image, (x, 105 + int(rng.integers(-8, 8))), 12, (20, 20, 60), -1)
    return image


def red_field_image() -> np.ndarray:
    """Pure fixation-cross red with a white disc, like the dataset's gen_red_field."""
    image = np.empty((256, 256, 3), np.uint8)
    image[:] = CROSS_RED
    cv2.circle(image, (128, 128), 50, (255, 255, 255), -1)
    return image


def red_blob_image() -> np.ndarray:
    """A light picture holding a small pure-red plus, the cross's own shape and colour."""
    image = np.full((256, 256, 3), (200, 220, 240), np.uint8)
    cv2.rectangle(image, (100, 120), (156, 136), CROSS_RED, -1)
    cv2.rectangle(image, (120, 100), (136, 156), CROSS_RED, -1)
    return image


def dark_image() -> np.ndarray:
    """Almost black (values 5..12), like the dataset's gen_dark_dots."""
    image = np.full((256, 256, 3), 5, np.uint8)
    for x in (60, 110, 160, 210):
        cv2.circle(image, (x, 128), 8, (12, 12, 12), -1)
    return image


def draw_scene(
    width: int = 84,
    height: int = 84,
    centre: tuple[float, float] = (0.5, 0.5),
    screen_size: float = 0.6,
    cross: bool = True,
    images: tuple[np.ndarray | None, np.ndarray | None] | None = None,
    hud: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """A frame of the simulator's scene and its truth.

    The screen (black, ``screen_size`` frame widths, grey bezel) hangs on a textured
    wall with its centre at ``centre`` (fractions of the frame, may lie outside it).
    Truth: ``cross_center`` (x, y) and the ``left``/``right`` image boxes clipped to
    the frame (``None`` when out of view).
    """
    rng = np.random.default_rng(seed)
    wall = rng.integers(40, 200, (height // 6 + 1, width // 6 + 1, 3)).astype(np.uint8)
    frame = cv2.resize(wall, (width, height), interpolation=cv2.INTER_NEAREST)
    frame[::7] = (60, 90, 160)  # blue-ish rails
    side = screen_size * width
    cx, cy = centre[0] * width, centre[1] * height
    x0, y0 = cx - side / 2, cy - side / 2

    def rect(ax, ay, bx, by, colour):
        cv2.rectangle(frame, (round(ax), round(ay)), (round(bx) - 1, round(by) - 1), colour, -1)

    bezel = 0.06 * side
    rect(x0 - bezel, y0 - bezel, x0 + side + bezel, y0 + side + bezel, (110, 110, 110))
    rect(x0, y0, x0 + side, y0 + side, (0, 0, 0))
    truth: dict = {"cross_center": None, "left": None, "right": None}
    if cross:
        arm, bar = 0.05 * side, 0.01 * side
        rect(cx - arm, cy - bar, cx + arm, cy + bar, CROSS_RED)
        rect(cx - bar, cy - arm, cx + bar, cy + arm, CROSS_RED)
        truth["cross_center"] = (cx, cy)
    pictures = images or (None, None)
    for name, image, position in zip(("left", "right"), pictures, (0.25, 0.75), strict=True):
        if image is None:
            continue
        size = round(0.4 * side)
        ix, iy = round(x0 + position * side - size / 2), round(cy - size / 2)
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        fx0, fy0 = max(ix, 0), max(iy, 0)
        fx1, fy1 = min(ix + size, width), min(iy + size, height)
        if fx1 > fx0 and fy1 > fy0:
            frame[fy0:fy1, fx0:fx1] = resized[fy0 - iy : fy1 - iy, fx0 - ix : fx1 - ix]
            truth[name] = Box(fx0, fy0, fx1 - fx0, fy1 - fy0)
    if hud:
        cv2.putText(frame, "100", (1, height - 3), cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 170, 0), 1)
        cv2.putText(
            frame,
            "125",
            (width // 2 - 8, height - 3),
            cv2.FONT_HERSHEY_PLAIN,
            0.7,
            (240, 240, 240),
            1,
        )
        rect(width - 8, height - 8, width - 3, height - 3, (30, 140, 255))
    return frame, truth


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    return inter / (a.width * a.height + b.width * b.height - inter)


PICTURES = (face_image((40, 90, 200), (250, 220, 40)), face_image((240, 170, 80), (90, 220, 230)))


@pytest.mark.parametrize("width,height", [(84, 84), (128, 128), (256, 256), (200, 152)])
def test_cross_is_found_where_the_screen_is(width, height):
    for cx in (0.3, 0.5, 0.7):
        for cy in (0.35, 0.5, 0.65):
            frame, truth = draw_scene(width, height, centre=(cx, cy))
            detection = locate(frame)
            assert detection.cross is not None, (width, height, cx, cy)
            found_x, found_y = detection.cross_center
            true_x, true_y = truth["cross_center"]
            assert abs(found_x - true_x) <= 1.0 and abs(found_y - true_y) <= 1.0
            assert detection.left is None and detection.right is None
            assert detection.screen is not None


def test_cross_cut_by_the_frame_border_is_found_at_its_centre():
    width = 128
    arm = 0.05 * 0.6 * width
    for centre_x in (2.0, 4.0):  # the left arm is mostly or wholly out of view
        frame, truth = draw_scene(width, width, centre=(centre_x / width, 0.5))
        detection = locate(frame)
        assert detection.cross is not None and detection.cross.x == 0
        assert abs(detection.cross_center[0] - truth["cross_center"][0]) <= 1.0
        assert abs(detection.cross_center[1] - truth["cross_center"][1]) <= 1.0
    frame, _ = draw_scene(width, width, centre=(-arm * 3 / width, 0.5))
    assert locate(frame).cross is None  # cross out of view, screen still in view


def test_an_empty_room_has_nothing():
    frame, _ = draw_scene(84, 84, centre=(3.0, 3.0))
    assert locate(frame) == NOTHING_FOUND


@pytest.mark.parametrize("pictures", [(red_field_image(), red_blob_image())], ids=["red"])
def test_red_image_content_is_not_the_cross(pictures):
    for size in (84, 128, 256):
        for shift in (-0.1, 0.0, 0.1):
            frame, truth = draw_scene(
                size, size, centre=(0.5 + shift, 0.5), cross=False, images=pictures
            )
            detection = locate(frame)
            assert detection.cross is None, (size, shift)
            assert iou(detection.left, truth["left"]) > 0.8
            assert iou(detection.right, truth["right"]) > 0.8


def test_both_images_are_boxed_as_the_screen_left_and_right():
    for size in (84, 128, 256):
        frame, truth = draw_scene(size, size, centre=(0.45, 0.55), cross=False, images=PICTURES)
        detection = locate(frame)
        assert iou(detection.left, truth["left"]) > 0.85
        assert iou(detection.right, truth["right"]) > 0.85
        assert not detection.left_touches_border and not detection.right_touches_border


def test_a_lone_image_is_given_its_side_of_the_screen():
    # Screen far to the right: only its left image is in view, at the frame's right.
    frame, truth = draw_scene(84, 84, centre=(1.0, 0.5), cross=False, images=PICTURES)
    assert truth["right"] is None
    detection = locate(frame)
    assert detection.right is None and iou(detection.left, truth["left"]) > 0.8
    # Screen far to the left: only its right image is in view, at the frame's left.
    frame, truth = draw_scene(84, 84, centre=(0.0, 0.5), cross=False, images=PICTURES)
    assert truth["left"] is None
    detection = locate(frame)
    assert detection.left is None and iou(detection.right, truth["right"]) > 0.8
    # Whole screen in view, right image all black (invisible): the empty screen beside
    # the left image tells it is the left one.
    black = np.zeros((256, 256, 3), np.uint8)
    frame, truth = draw_scene(84, 84, cross=False, images=(PICTURES[0], black))
    detection = locate(frame)
    assert detection.right is None and iou(detection.left, truth["left"]) > 0.8
    frame, truth = draw_scene(84, 84, cross=False, images=(black, PICTURES[1]))
    detection = locate(frame)
    assert detection.left is None and iou(detection.right, truth["right"]) > 0.8


def test_an_image_cut_by_the_border_is_flagged():
    frame, truth = draw_scene(84, 84, centre=(0.75, 0.5), cross=False, images=PICTURES)
    assert truth["right"].x + truth["right"].width == 84
    detection = locate(frame)
    assert detection.right_touches_border and not detection.left_touches_border
    assert iou(detection.right, truth["right"]) > 0.8


def test_image_touching_the_bezel_or_a_hud_element_is_found():
    frame, truth = draw_scene(84, 84, cross=False, images=PICTURES)
    right = truth["right"]
    # No black margin between the right image and the bezel (a slanted far side).
    frame[right.y : right.y + right.height, right.x + right.width : 80] = (110, 110, 110)
    # A HUD element over the left image's bottom edge, reaching out of the screen.
    left = truth["left"]
    frame[left.y + left.height - 2 : 84, left.x + 4 : left.x + 9] = (30, 140, 255)
    detection = locate(frame)
    assert iou(detection.right, right) > 0.8
    assert detection.left is not None and iou(detection.left, left) > 0.5


def test_images_joined_by_a_hud_element_across_the_gap_are_two():
    # DeepMind Lab's HUD (minimalUI false) draws its counter across the gap between the
    # images when the gaze is high: one component then holds both images.
    frame, truth = draw_scene(100, 100, cross=False, images=PICTURES)
    left, right = truth["left"], truth["right"]
    y = left.y + left.height - 6
    frame[y : y + 4, left.x + left.width - 3 : right.x + 3] = (200, 200, 200)
    detection = locate(frame)
    assert iou(detection.left, left) > 0.8 and iou(detection.right, right) > 0.8


def test_a_hud_element_on_one_image_reaching_under_the_other_keeps_them_apart():
    # A HUD element on the right image's bottom edge reaches into the left image's columns.
    frame, truth = draw_scene(100, 100, cross=False, images=PICTURES)
    left, right = truth["left"], truth["right"]
    bottom = right.y + right.height
    frame[bottom - 2 : bottom + 5, left.x + left.width - 3 : right.x + 4] = (200, 200, 200)
    detection = locate(frame)
    assert iou(detection.left, left) > 0.8 and iou(detection.right, right) > 0.7


def test_dark_image_is_found():
    frame, truth = draw_scene(84, 84, cross=False, images=(dark_image(), PICTURES[1]))
    detection = locate(frame)
    assert iou(detection.left, truth["left"]) > 0.8


def test_hud_is_neither_cross_nor_image():
    frame, truth = draw_scene(84, 84, centre=(0.5, 0.62), hud=True)
    detection = locate(frame)
    assert detection.cross is not None and detection.left is None and detection.right is None
    frame, truth = draw_scene(84, 84, centre=(0.5, 0.62), hud=True, cross=False, images=PICTURES)
    detection = locate(frame)
    assert iou(detection.left, truth["left"]) > 0.8 and iou(detection.right, truth["right"]) > 0.8


def test_bad_frames_are_rejected():
    with pytest.raises(ValueError, match="HxWx3"):
        locate(np.zeros((84, 84), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        locate(np.zeros((84, 84, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        locate(np.zeros((4, 84, 3), np.uint8))


def test_config_is_validated():
    with pytest.raises(ValueError, match="black_max"):
        LocatorConfig(black_max=300)
    with pytest.raises(ValueError, match="red_other_max"):
        LocatorConfig(red_min=10, red_other_max=20)
    with pytest.raises(ValueError, match="min_inside_screen"):
        LocatorConfig(min_inside_screen=0.0)
    assert isinstance(locate(draw_scene()[0], LocatorConfig(black_max=4)), Detection)


def test_pipeline_gives_patches_and_episode_ids():
    pipeline = VisionPipeline(patch_size=12)
    frame, _ = draw_scene(84, 84, cross=False, images=PICTURES)
    result = pipeline.process(frame)
    assert result.left_patch.shape == (12, 12) and result.left_patch.dtype == np.float32
    assert 0.0 <= result.right_patch.min() <= result.right_patch.max() <= 1.0
    assert (result.left_id, result.right_id) == (0, 1)
    swapped, _ = draw_scene(84, 84, centre=(0.48, 0.52), cross=False, images=PICTURES[::-1])
    assert [(r.left_id, r.right_id) for r in pipeline.process_batch(np.stack([swapped]))] == [
        (1, 0)
    ]
    pipeline.reset()
    assert (pipeline.process(swapped).left_id, pipeline.process(frame).left_id) == (0, 1)
    fixation = pipeline.process(draw_scene(84, 84)[0])
    assert fixation.left_patch is None and fixation.left_id == UNKNOWN


def test_pipeline_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patch_size"):
        VisionPipeline(patch_size=0)
    with pytest.raises(ValueError, match="scope"):
        VisionPipeline(id_scope="forever")
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        VisionPipeline().process_batch(np.zeros((84, 84, 3), np.uint8))


FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"


def _check_streams(frames: np.ndarray, streams: int, monkeypatch) -> int:
    """Feeds ``frames`` to a ``StreamLocator`` as ``streams`` streams of consecutive frames
    (a random few left out each step), checks each detection against ``locate``'s and
    returns how many frames it located itself."""
    located = []

    def counting_locate(frame, config=locate_module.DEFAULT_CONFIG):
        located.append(1)
        return locate(frame, config)

    monkeypatch.setattr(locate_module, "locate", counting_locate)
    steps = len(frames) // streams
    by_stream = frames[: steps * streams].reshape(streams, steps, *frames.shape[1:])
    locator = StreamLocator(streams)
    rng = np.random.default_rng(0)
    for step in range(steps):
        batch = np.ascontiguousarray(by_stream[:, step])
        needed = rng.random(streams) < 0.8
        for stream, detection in enumerate(locator.locate(batch, needed)):
            if needed[stream]:
                assert detection == locate(batch[stream]), f"step {step}, stream {stream}"
            else:
                assert detection is None
    return len(located)


def test_stream_locator_gives_the_detections_of_locate_and_reuses_repeated_frames(monkeypatch):
    scenes = [
        draw_scene(
            centre=(0.5 + 0.1 * k, 0.5), cross=k % 2 == 0, images=PICTURES if k % 3 else None
        )[0]
        for k in range(5)
    ]
    picks = np.random.default_rng(1).integers(0, 5, (4, 50)).repeat(2, axis=1)  # [stream, step]
    frames = np.stack([scenes[k] for k in picks.ravel()])  # each scene again and again...
    located = _check_streams(frames, 4, monkeypatch)
    assert located <= 4 * 5  # ...and a frame a stream has seen is not searched again


@pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"DeepMind Lab recordings not found at {FIXTURES}"
)
def test_stream_locator_on_deepmind_lab_frames(monkeypatch):
    with np.load(FIXTURES / "harlow_84.npz") as recording:
        frames = recording["frames"][:1200]
    located = _check_streams(frames, 3, monkeypatch)
    assert located < 0.8 * len(frames)  # the views held still in some frames


def test_stream_locator_forgets_the_frames_seen_longest_ago(monkeypatch):
    scenes = [draw_scene(centre=(0.3 + 0.1 * k, 0.5))[0] for k in range(4)]
    frames = np.stack([scenes[k] for k in (0, 1, 2, 0, 3, 1, 0)])[:, None]
    located = []
    monkeypatch.setattr(locate_module, "locate", lambda frame, config: located.append(1))
    locator = StreamLocator(1, memory=2)
    for frame in frames:
        locator.locate(frame)
    # 0, 1, 2 (forgets 0), 0 (forgets 1), 3 (forgets 2), 1 (forgets 0), 0 (forgets 3)
    assert len(located) == 7
    located.clear()
    locator = StreamLocator(1, memory=3)
    for frame in frames:
        locator.locate(frame)
    assert len(located) == 5  # 0, 1, 2, 3 (forgets 1), 1


def test_stream_locator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="frames must be \\[3, H, W, 3\\]"):
        StreamLocator(3).locate(np.zeros((2, 84, 84, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8, got shape \\(3, 84, 84, 3\\) float32"):
        StreamLocator(3).locate(np.zeros((3, 84, 84, 3), np.float32))
    with pytest.raises(ValueError, match="memory must be >= 1"):
        StreamLocator(3, memory=0)
