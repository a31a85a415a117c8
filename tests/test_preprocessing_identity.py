"""Image ids: stable through small changes of view, new for new images, scoped."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from preprocessing.identity import (
    DEFAULT_THRESHOLD,
    THUMBNAIL_SIZE,
    UNKNOWN,
    ImageIdentities,
    _describe_parts,
    cut_sides,
    describe,
    distance,
    thumbnail,
)
from preprocessing.patches import Box

FRAME = 84


BACKGROUNDS = [(200, 60, 60), (60, 160, 80), (50, 80, 200), (220, 200, 60), (150, 60, 170)]


def picture(seed: int) -> np.ndarray:
    """A 256x256 picture of a few random shapes on a background of its own colour."""
    rng = np.random.default_rng(seed)
    image = np.empty((256, 256, 3), np.uint8)
    image[:] = BACKGROUNDS[seed % len(BACKGROUNDS)]
    for _ in range(4):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = tuple(int(c) for c in rng.integers(40, 216, 2))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(25, 70)), colour, -1)
        else:
            corner = tuple(int(c) for c in rng.integers(0, 256, 2))
            cv2.rectangle(image, centre, corner, colour, -1)
    return image


def frame_with(*placed: tuple[np.ndarray, int, int, int]) -> tuple[np.ndarray, list[Box]]:
    """A black frame with each ``(image, x, y, size)`` pasted (clipped to the frame)."""
    frame = np.zeros((FRAME, FRAME, 3), np.uint8)
    boxes = []
    for image, x, y, size in placed:
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + size, FRAME), min(y + size, FRAME)
        frame[y0:y1, x0:x1] = resized[y0 - y : y1 - y, x0 - x : x1 - x]
        boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
    return frame, boxes


def one_id(identities: ImageIdentities, image: np.ndarray, x=30, y=30, size=24, blur=0.0, index=0):
    """The id of ``image`` placed at (x, y), passed as region ``index`` of the frame."""
    frame, boxes = frame_with((image, x, y, size))
    if blur:
        frame = cv2.GaussianBlur(frame, (0, 0), blur)
    return identities.assign(frame, [None] * index + boxes)[index]


def distorted(image: np.ndarray) -> np.ndarray:
    """A 24 wide, 36 high view of ``image`` as a moving gaze and a loose box make it: at a
    slant (its right edge half as tall), over a grey strip of the screen's surroundings.
    It is farther than the threshold from a straight view of the image."""
    size = image.shape[0]
    square = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    slanted = np.float32([[0, 0], [size, size / 4], [size, size * 3 / 4], [0, size]])
    warped = cv2.warpPerspective(image, cv2.getPerspectiveTransform(square, slanted), (size, size))
    view = np.full((36, 24, 3), 110, np.uint8)
    view[:24] = cv2.resize(warped, (24, 24), interpolation=cv2.INTER_AREA)
    return view


def frame_of_views(*placed: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, list[Box]]:
    """A black frame with each ``(view, x, y)`` pasted whole, and the views' boxes."""
    frame = np.zeros((FRAME, FRAME, 3), np.uint8)
    boxes = []
    for view, x, y in placed:
        height, width = view.shape[:2]
        frame[y : y + height, x : x + width] = view
        boxes.append(Box(x, y, width, height))
    return frame, boxes


IMAGES = [picture(seed) for seed in range(5)]


def test_views_of_one_image_keep_its_id():
    identities = ImageIdentities()
    first = one_id(identities, IMAGES[0])
    assert first == 0
    views = [
        (31, 30, 24, 0.0),  # shifted
        (28, 33, 24, 0.0),
        (30, 30, 21, 0.0),  # smaller
        (29, 29, 28, 0.0),  # larger
        (30, 30, 24, 0.8),  # blurred
    ]
    for index, (x, y, size, blur) in enumerate(views, start=1):
        # A new region index each time: matched against the table, not the last frame.
        assert one_id(identities, IMAGES[0], x, y, size, blur, index) == first, (x, y, size)
    assert len(identities) == 1


def test_a_region_that_looks_as_last_matched_keeps_its_id():
    identities = ImageIdentities()
    assert one_id(identities, IMAGES[1]) == 0
    assert one_id(identities, IMAGES[1], x=31) == 0  # same look: not matched again
    assert one_id(identities, IMAGES[2], x=31) == 1  # another image at the same place
    assert one_id(identities, IMAGES[1], x=31) == 0


def test_new_images_get_new_ids():
    identities = ImageIdentities(images_per_episode=None)  # no cap on the episode's ids
    assert [one_id(identities, image) for image in IMAGES] == list(range(len(IMAGES)))
    assert [one_id(identities, image, x=40, size=22) for image in IMAGES] == list(
        range(len(IMAGES))
    )


def test_regions_of_one_frame_get_different_ids():
    identities = ImageIdentities()
    frame, boxes = frame_with((IMAGES[1], 5, 30, 24), (IMAGES[2], 50, 30, 24))
    assert identities.assign(frame, boxes) == [0, 1]
    frame, boxes = frame_with((IMAGES[2], 6, 31, 24), (IMAGES[1], 51, 30, 24))
    assert identities.assign(frame, boxes) == [1, 0]
    assert identities.assign(frame, [None, boxes[1]]) == [UNKNOWN, 0]


def test_episode_scope_restarts_ids():
    identities = ImageIdentities(scope="episode")
    assert [one_id(identities, IMAGES[3]), one_id(identities, IMAGES[4])] == [0, 1]
    identities.reset()
    assert len(identities) == 0
    assert [one_id(identities, IMAGES[4]), one_id(identities, IMAGES[3])] == [0, 1]


def test_dataset_scope_keeps_ids_across_episodes():
    identities = ImageIdentities(scope="dataset")
    assert [one_id(identities, IMAGES[3]), one_id(identities, IMAGES[4])] == [0, 1]
    identities.reset()
    assert [one_id(identities, IMAGES[4], x=20), one_id(identities, IMAGES[0])] == [1, 2]
    identities.clear()
    assert one_id(identities, IMAGES[0]) == 0


def test_cut_view_gets_the_known_id_or_unknown_never_a_new_one():
    identities = ImageIdentities()
    frame, boxes = frame_with((IMAGES[0], 20, 30, 24), (IMAGES[1], 50, 30, 24))
    assert identities.assign(frame, boxes) == [0, 1]
    for x in (-8, -12):  # IMAGES[1] cut by the left border, two thirds / half in view
        cut, (box,) = frame_with((IMAGES[1], x, 30, 24))
        assert cut_sides(box, FRAME, FRAME) == ["left"]
        assert identities.assign(cut, [box]) == [1], x
    cut, (box,) = frame_with((IMAGES[0], FRAME - 14, 30, 24))  # cut by the right border
    assert identities.assign(cut, [box]) == [0]
    cut, (box,) = frame_with((IMAGES[2], -10, 30, 24))  # never seen whole
    assert identities.assign(cut, [box]) == [UNKNOWN]
    sliver, (box,) = frame_with((IMAGES[1], -22, 30, 24))  # 2 of 24 columns
    assert identities.assign(sliver, [box]) == [UNKNOWN]
    corner, (box,) = frame_with((IMAGES[1], -8, -8, 24))  # cut on two sides
    assert identities.assign(corner, [box]) == [UNKNOWN]
    assert len(identities) == 2


def test_a_sliver_beside_a_known_image_is_named_by_elimination():
    frame, boxes = frame_with((IMAGES[0], 20, 30, 24), (IMAGES[1], 50, 30, 24))
    # IMAGES[0] whole, IMAGES[1] reduced to a 2-column sliver at the right border.
    pair, pair_boxes = frame_with((IMAGES[0], 30, 30, 24), (IMAGES[1], FRAME - 2, 30, 24))
    sliver, sliver_boxes = frame_with((IMAGES[1], FRAME - 2, 30, 24))

    def after_both_seen(**kwargs):
        identities = ImageIdentities(**kwargs)
        assert identities.assign(frame, boxes) == [0, 1]
        return identities

    # No elimination without knowing how many images an episode holds.
    assert after_both_seen(images_per_episode=None).assign(pair, pair_boxes) == [0, UNKNOWN]
    assert after_both_seen().assign(pair, pair_boxes) == [0, 1]  # 2 by default, as in Harlow
    # Alone, the sliver could be either image: it stays unknown.
    assert after_both_seen(images_per_episode=2).assign(sliver, sliver_boxes) == [UNKNOWN]
    # A third image may still come: no elimination.
    assert after_both_seen(images_per_episode=3).assign(pair, pair_boxes) == [0, UNKNOWN]
    with pytest.raises(ValueError, match="images_per_episode"):
        ImageIdentities(images_per_episode=0)


def episode_with_both_seen(**kwargs) -> ImageIdentities:
    """An episode that has seen IMAGES[0] (id 0) and IMAGES[1] (id 1) side by side."""
    identities = ImageIdentities(**kwargs)
    frame, boxes = frame_with((IMAGES[0], 5, 30, 24), (IMAGES[1], 50, 30, 24))
    assert identities.assign(frame, boxes) == [0, 1]
    return identities


def test_a_distorted_whole_view_takes_the_clearly_closest_image():
    frame, boxes = frame_of_views((distorted(IMAGES[0]), 30, 20))
    # Beyond the threshold of its image: without a cap it opens a new id.
    assert episode_with_both_seen(images_per_episode=None).assign(frame, boxes) == [2]
    identities = episode_with_both_seen()  # capped at 2 images by default
    assert identities.assign(frame, boxes) == [0]
    frame, boxes = frame_of_views((distorted(IMAGES[1]), 50, 25))
    assert identities.assign(frame, [None, *boxes]) == [UNKNOWN, 1]
    assert len(identities) == 2


def test_a_third_image_never_opens_a_third_id_in_an_episode():
    identities = episode_with_both_seen()
    for seed in (2, 3, 4):  # whole, alone in the frame, unlike both images of the episode
        frame, boxes = frame_with((IMAGES[seed], 30, 30, 24))
        assert identities.assign(frame, boxes)[0] in (0, 1, UNKNOWN), seed
    # Beside a known image it is the other one: two regions of a frame are two images.
    frame, boxes = frame_with((IMAGES[0], 5, 30, 24), (IMAGES[2], 50, 30, 24))
    assert identities.assign(frame, boxes) == [0, 1]
    frame, boxes = frame_with((IMAGES[3], 5, 30, 24), (IMAGES[4], 50, 30, 24))
    named = [i for i in identities.assign(frame, boxes) if i != UNKNOWN]
    assert set(named) <= {0, 1} and len(set(named)) == len(named)
    assert len(identities) == 2


def test_both_whole_images_in_view_get_different_ids():
    identities = episode_with_both_seen()
    frame, boxes = frame_of_views((distorted(IMAGES[1]), 5, 20), (distorted(IMAGES[0]), 50, 20))
    assert identities.assign(frame, boxes) == [1, 0]
    frame, boxes = frame_of_views((distorted(IMAGES[0]), 6, 22), (distorted(IMAGES[1]), 51, 21))
    assert identities.assign(frame, boxes) == [0, 1]  # swapped sides: matched anew
    assert len(identities) == 2


def test_cut_view_wider_than_the_whole_views_is_compared_whole():
    identities = ImageIdentities()
    frame = np.zeros((FRAME, FRAME, 3), np.uint8)
    frame[20:44, 30:42] = cv2.resize(IMAGES[2], (12, 24), interpolation=cv2.INTER_AREA)
    assert identities.assign(frame, [Box(30, 20, 12, 24)]) == [0]  # stored: aspect 0.5
    wide = np.zeros_like(frame)
    wide[20:44, 0:30] = cv2.resize(IMAGES[2], (30, 24), interpolation=cv2.INTER_AREA)
    # Cut by the left border, yet 2.5 times wider than the stored view suggests: no
    # crash, the whole stored view is what it is compared with.
    assert identities.assign(wide, [Box(0, 20, 30, 24)]) in ([0], [UNKNOWN])


def test_descriptor_distance_basics():
    a, b = thumbnail(IMAGES[0]), thumbnail(IMAGES[1])
    assert distance(describe(a), describe(a)) == 0.0
    assert distance(describe(a), describe(b)) == pytest.approx(distance(describe(b), describe(a)))
    assert distance(describe(a), describe(b)) > DEFAULT_THRESHOLD
    # The screen's black around an image (a box too big under perspective) is left out
    # of the colours; only the layout changes.
    padded = np.zeros((24, 24, 3), np.uint8)
    padded[4:20, 4:20] = a
    colours = slice(0, 216)
    np.testing.assert_allclose(describe(padded)[colours], describe(a)[colours], atol=1e-6)
    assert distance(describe(padded), describe(a)) > 0.1


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="scope"):
        ImageIdentities(scope="lifetime")
    with pytest.raises(ValueError, match="threshold"):
        ImageIdentities(threshold=0.0)
    with pytest.raises(ValueError, match="empty"):
        thumbnail(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        thumbnail(np.zeros((5, 5), np.uint8))


def test_stored_parts_are_described_as_the_cut_view_itself():
    thumb = thumbnail(IMAGES[3])
    thumb[:3, :5] = 0  # some black, left out of the colours
    for side in ("left", "right", "top", "bottom"):
        parts = _describe_parts(thumb, side)
        for kept in range(1, THUMBNAIL_SIZE + 1):
            part = {
                "left": thumb[:, -kept:],
                "right": thumb[:, :kept],
                "top": thumb[-kept:],
                "bottom": thumb[:kept],
            }[side]
            np.testing.assert_allclose(parts[kept - 1], describe(part), atol=1e-6)
