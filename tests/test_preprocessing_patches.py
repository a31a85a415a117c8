"""Cropping, grayscale and resizing of frame regions."""

import numpy as np
import pytest

from preprocessing.patches import Box, clip_box, gray_patch


def test_clip_box():
    assert clip_box(Box(-5, -5, 10, 10), 20, 20) == Box(0, 0, 5, 5)
    assert clip_box(Box(15, 15, 10, 10), 20, 20) == Box(15, 15, 5, 5)
    assert clip_box(Box(30, 0, 5, 5), 20, 20) is None


def test_gray_patch_of_uniform_colours():
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[:, :20] = (255, 0, 0)  # red left half
    frame[:, 20:] = (255, 255, 255)
    left = gray_patch(frame, Box(0, 0, 20, 40), 8)
    right = gray_patch(frame, Box(20, 0, 20, 40), 8)
    assert left.shape == (8, 8) and left.dtype == np.float32
    np.testing.assert_allclose(left, 0.299, atol=0.01)  # ITU-R 601 luma of pure red
    np.testing.assert_allclose(right, 1.0)


def test_small_shift_changes_patch_little_but_other_content_a_lot():
    rng = np.random.default_rng(0)
    image = (rng.random((8, 8)) * 255).astype(np.uint8)
    big = np.kron(image, np.ones((10, 10), np.uint8))
    frame = np.stack([big] * 3, -1)
    reference = gray_patch(frame, Box(0, 0, 80, 80), 8)
    shifted = gray_patch(frame, Box(2, 1, 80, 80), 8)
    other = gray_patch(255 - frame, Box(0, 0, 80, 80), 8)
    assert np.abs(reference - shifted).mean() < 0.05
    assert np.abs(reference - other).mean() > 0.2


def test_bad_inputs_are_rejected():
    frame = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="outside"):
        gray_patch(frame, Box(20, 20, 5, 5), 4)
    with pytest.raises(ValueError, match="RGB"):
        gray_patch(np.zeros((10, 10), np.uint8), Box(0, 0, 5, 5), 4)
    with pytest.raises(ValueError, match="size"):
        gray_patch(frame, Box(0, 0, 5, 5), 0)
