"""The synthetic face generator and the bundled dataset it made (datasets/faces)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from harlow.datasets import DatasetError, default_dataset_path, load_dataset
from harlow.datasets.__main__ import main
from harlow.datasets.faces import (
    GENERATOR_NAME,
    GENERATOR_VERSION,
    MIN_THUMBNAIL_DISTANCE,
    generate_faces,
    gray_thumbnails,
    write_face_dataset,
)
from harlow.datasets.manifest import MANIFEST_FILE


@pytest.fixture(scope="module")
def bundled():
    return load_dataset(default_dataset_path())


def _pairwise_thumbnail_distances(images: np.ndarray) -> np.ndarray:
    thumbs = gray_thumbnails(images).reshape(len(images), -1)
    distances = np.abs(thumbs[:, None, :] - thumbs[None, :, :]).mean(axis=2)
    np.fill_diagonal(distances, np.inf)
    return distances


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, (256, 256), borderMode=cv2.BORDER_REPLICATE)


def test_generator_is_deterministic_and_seeded():
    first = generate_faces(4, seed=7)
    assert first.shape == (4, 256, 256, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, generate_faces(4, seed=7))
    np.testing.assert_array_equal(first[:2], generate_faces(2, seed=7))  # prefix-stable
    assert not np.array_equal(first, generate_faces(4, seed=8))


def test_bundled_dataset_has_240_faces_split_200_40(bundled):
    assert bundled.name == "faces"
    assert bundled.images.shape == (240, 256, 256, 3)
    np.testing.assert_array_equal(bundled.train_ids, np.arange(1, 201))
    np.testing.assert_array_equal(bundled.heldout_ids, np.arange(201, 241))


def test_bundled_folder_is_reproduced_exactly_by_the_generator(bundled):
    source = json.loads((default_dataset_path() / MANIFEST_FILE).read_text())["source"]
    assert source["generator"] == GENERATOR_NAME
    assert source["generator_version"] == GENERATOR_VERSION, "regenerate datasets/faces"
    regenerated = generate_faces(source["count"], seed=source["seed"])
    mismatched = [
        i + 1
        for i in range(len(regenerated))
        if not np.array_equal(regenerated[i], bundled.images[i])
    ]
    assert not mismatched, f"faces differ from the generator at ids {mismatched[:10]}"


def test_bundled_folder_is_commit_friendly():
    total = sum(p.stat().st_size for p in default_dataset_path().iterdir())
    assert total < 5_000_000, f"datasets/faces holds {total:,} bytes"


def test_faces_are_distinct_in_grayscale_at_24px_beyond_shift_and_blur(bundled):
    nearest = _pairwise_thumbnail_distances(bundled.images).min()
    perturbation = 0.0
    thumbs = gray_thumbnails(bundled.images)
    for index, image in enumerate(bundled.images):
        variants = np.stack(
            [
                _shifted(image, 3, 0),
                _shifted(image, 0, 3),
                _shifted(image, -2, -2),
                cv2.GaussianBlur(image, (0, 0), 2.0),
            ]
        )
        changes = np.abs(gray_thumbnails(variants) - thumbs[index]).mean(axis=(1, 2))
        perturbation = max(perturbation, float(changes.max()))
    assert nearest >= MIN_THUMBNAIL_DISTANCE
    assert nearest > 2 * perturbation, (nearest, perturbation)


def test_generator_rejects_near_duplicates():
    unfiltered = _pairwise_thumbnail_distances(generate_faces(120, seed=0, min_distance=0.0)).min()
    filtered = _pairwise_thumbnail_distances(generate_faces(120, seed=0)).min()
    assert unfiltered < MIN_THUMBNAIL_DISTANCE <= filtered


def test_faces_hold_no_saturated_red_like_the_fixation_cross(bundled):
    hsv = cv2.cvtColor(bundled.images.reshape(-1, 256, 3), cv2.COLOR_RGB2HSV_FULL)
    hue, saturation, value = (hsv[..., k].astype(int) for k in range(3))
    red_hue = (hue <= 11) | (hue >= 245)  # within about 15 degrees of pure red
    cross_like = red_hue & (saturation > 190) & (value > 150)
    assert cross_like.sum() == 0


def test_faces_vary_in_brightness_and_colour(bundled):
    means = bundled.images.reshape(240, -1, 3).mean(axis=1)
    luminance = means @ np.array([0.299, 0.587, 0.114])
    assert luminance.max() - luminance.min() > 80
    assert len({tuple(map(int, image[5, 5])) for image in bundled.images}) > 150  # backgrounds


def test_cli_generates_and_regenerates_a_small_set(tmp_path, capsys):
    out = tmp_path / "faces"
    args = ["generate-faces", "--out", str(out), "--count", "6", "--heldout", "2", "--seed", "3"]
    assert main(args) == 0
    dataset = load_dataset(out)
    np.testing.assert_array_equal(dataset.images, generate_faces(6, seed=3))
    np.testing.assert_array_equal(dataset.heldout_ids, [5, 6])
    assert "6 faces" in capsys.readouterr().out
    assert main(args[:-1] + ["4"]) == 0  # a face dataset is regenerated without --overwrite
    np.testing.assert_array_equal(load_dataset(out).images, generate_faces(6, seed=4))


def test_generate_refuses_other_datasets_and_bad_split(tmp_path, capsys):
    other = tmp_path / "mine"
    write_face_dataset(other, count=4, heldout=2)
    manifest = json.loads((other / MANIFEST_FILE).read_text())
    manifest["source"] = {"importer": "harlow.datasets.importer"}
    (other / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert main(["generate-faces", "--out", str(other), "--count", "4", "--heldout", "2"]) == 1
    assert "already holds the dataset" in capsys.readouterr().err
    assert (
        main(["generate-faces", "--out", str(tmp_path / "x"), "--count", "5", "--heldout", "1"])
        == 1
    )
    assert "--heldout 1" in capsys.readouterr().err
    assert main(["generate-faces", "--out", str(tmp_path / "x"), "--seed", "-2"]) == 1
    assert "--seed must be >= 0, got -2" in capsys.readouterr().err
    assert main(["generate-faces", "--out", str(tmp_path / "x"), "--count", "100000000"]) == 1
    assert "--count 100,000,000 is over the 5,000 faces" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(DatasetError, match="exists and is not a dataset folder"):
        (tmp_path / "notes").mkdir()
        (tmp_path / "notes" / "todo.txt").write_text("keep me")
        write_face_dataset(tmp_path / "notes", count=4, heldout=2)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["mine", "notes"]
