"""load_dataset's checks, the ImageDataset API and write_numbered_folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harlow.datasets import (
    DatasetError,
    ImageDataset,
    default_dataset_path,
    load_dataset,
    write_numbered_folder,
)
from harlow.datasets.__main__ import main
from harlow.datasets.faces import generate_faces, write_face_dataset
from harlow.datasets.manifest import MANIFEST_FILE
from harlow.datasets.storage import sha256_hex

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """Six faces: ids 1-4 train, 5-6 held out."""
    return write_face_dataset(tmp_path / "six", count=6, heldout=2, seed=1)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_FILE).read_text())


def _save_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


def _replace_image(folder: Path, image_id: int, image: Image.Image) -> None:
    """Replaces an image file and records its new hash, so only the image is wrong."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    (folder / f"{image_id:04d}.png").write_bytes(buffer.getvalue())
    manifest = _manifest(folder)
    manifest["images"][image_id - 1]["sha256"] = sha256_hex(buffer.getvalue())
    _save_manifest(folder, manifest)


def _load_problems(folder: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(folder)
    return str(caught.value)


def test_loads_images_ids_and_splits(dataset_dir):
    dataset = load_dataset(dataset_dir)
    faces = generate_faces(6, seed=1)
    assert dataset.root == dataset_dir and dataset.name == "faces"
    np.testing.assert_array_equal(dataset.images, faces)
    np.testing.assert_array_equal(dataset.ids("train"), [1, 2, 3, 4])
    np.testing.assert_array_equal(dataset.ids("heldout"), [5, 6])
    np.testing.assert_array_equal(dataset.ids("all"), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(dataset.image(5), faces[4])
    np.testing.assert_array_equal(dataset.image(np.int64(1)), faces[0])


def test_dataset_api_rejects_bad_split_and_ids(dataset_dir):
    dataset = load_dataset(dataset_dir)
    with pytest.raises(ValueError, match="split must be"):
        dataset.ids("test")
    for bad in (0, 7, -1, 2.0, True):
        with pytest.raises(ValueError, match="image id"):
            dataset.image(bad)
    with pytest.raises(ValueError, match="read-only"):
        dataset.images[0, 0, 0] = 1
    with pytest.raises(ValueError, match="split 1..3"):
        ImageDataset(Path("x"), "x", dataset.images[:3], np.array([1, 2]), np.array([2]))


def test_default_dataset_path_is_the_bundled_faces():
    assert default_dataset_path() == REPO / "datasets" / "faces"
    assert (default_dataset_path() / MANIFEST_FILE).is_file()


def test_missing_folder_and_manifest(tmp_path, dataset_dir):
    assert "no such folder" in _load_problems(tmp_path / "nowhere")
    (dataset_dir / MANIFEST_FILE).unlink()
    assert f"{dataset_dir / MANIFEST_FILE}: missing" in _load_problems(dataset_dir)


def test_corrupt_manifest(dataset_dir):
    (dataset_dir / MANIFEST_FILE).write_text('{"format": "harlow-image-dataset", ')
    assert f"{dataset_dir / MANIFEST_FILE}: not readable JSON" in _load_problems(dataset_dir)


def test_malformed_manifest_fields_are_all_named(dataset_dir):
    manifest = _manifest(dataset_dir)
    manifest["image_size"] = [128, 128]
    manifest["images"][0]["file"] = "../0001.png"
    manifest["images"][1]["sha256"] = "abc"
    manifest["images"][2]["split"] = "test"
    _save_manifest(dataset_dir, manifest)
    assert "'image_size' is [128, 128]" in _load_problems(dataset_dir)
    manifest["image_size"] = [256, 256]
    _save_manifest(dataset_dir, manifest)
    report = _load_problems(dataset_dir)
    assert "images[0]: 'file' is '../0001.png', expected '0001.png'" in report
    assert "images[1]: 'sha256' is 'abc'" in report
    assert "images[2]: 'split' is 'test'" in report


def test_wrong_size_image(dataset_dir):
    _replace_image(dataset_dir, 3, Image.new("RGB", (128, 128), (10, 20, 30)))
    assert f"{dataset_dir / '0003.png'}: image is 128x128, expected 256x256" in _load_problems(
        dataset_dir
    )


@pytest.mark.parametrize(
    ("mode", "what"),
    [
        ("RGBA", "colour type 6"),
        ("L", "colour type 0"),
        ("P", "colour type 3"),
        ("I;16", "bit depth 16"),
    ],
)
def test_image_that_is_not_8bit_rgb(dataset_dir, mode, what):
    _replace_image(dataset_dir, 2, Image.new(mode, (256, 256)))
    report = _load_problems(dataset_dir)
    assert f"{dataset_dir / '0002.png'}: PNG has" in report and what in report


def test_image_that_is_not_a_png(dataset_dir):
    data = io.BytesIO()
    Image.new("RGB", (256, 256)).save(data, format="JPEG")
    (dataset_dir / "0002.png").write_bytes(data.getvalue())
    manifest = _manifest(dataset_dir)
    manifest["images"][1]["sha256"] = sha256_hex(data.getvalue())
    _save_manifest(dataset_dir, manifest)
    assert f"{dataset_dir / '0002.png'}: not a PNG file" in _load_problems(dataset_dir)


def test_sha_mismatch_and_missing_file_are_reported_together(dataset_dir):
    Image.fromarray(generate_faces(1, seed=9)[0]).save(dataset_dir / "0002.png")
    (dataset_dir / "0004.png").unlink()
    report = _load_problems(dataset_dir)
    assert "2 problems" in report
    assert f"{dataset_dir / '0002.png'}: SHA-256 is" in report
    assert f"{dataset_dir / '0004.png'}: listed in the manifest but missing" in report


def test_non_contiguous_and_duplicate_ids(dataset_dir):
    manifest = _manifest(dataset_dir)
    del manifest["images"][2]  # id 3
    _save_manifest(dataset_dir, manifest)
    assert "ids must run 1..N without gaps; missing: 3" in _load_problems(dataset_dir)
    manifest["images"].append(dict(manifest["images"][0]))
    _save_manifest(dataset_dir, manifest)
    assert "ids listed more than once: 1" in _load_problems(dataset_dir)


def test_duplicate_images_are_refused_naming_both_files(dataset_dir, capsys):
    """What the importer refuses, validation refuses too: the same file twice, and the
    same pixels in two differently encoded files."""
    first = (dataset_dir / "0001.png").read_bytes()
    (dataset_dir / "0003.png").write_bytes(first)
    manifest = _manifest(dataset_dir)
    manifest["images"][2]["sha256"] = sha256_hex(first)
    _save_manifest(dataset_dir, manifest)
    buffer = io.BytesIO()  # the pixels of 0002.png, encoded otherwise
    Image.open(dataset_dir / "0002.png").save(buffer, format="PNG", compress_level=0)
    (dataset_dir / "0006.png").write_bytes(buffer.getvalue())
    manifest["images"][5]["sha256"] = sha256_hex(buffer.getvalue())
    _save_manifest(dataset_dir, manifest)
    report = _load_problems(dataset_dir)
    assert "2 problems" in report
    assert (
        f"{dataset_dir / '0003.png'}: duplicate of {dataset_dir / '0001.png'} (identical file)"
    ) in report
    assert (
        f"{dataset_dir / '0006.png'}: duplicate of {dataset_dir / '0002.png'} (same decoded pixels)"
    ) in report
    assert main(["validate", str(dataset_dir)]) == 1
    assert "0003.png: duplicate of" in capsys.readouterr().err


def test_too_few_images_in_a_split(dataset_dir):
    manifest = _manifest(dataset_dir)
    manifest["images"][4]["split"] = "train"
    _save_manifest(dataset_dir, manifest)
    assert "split 'heldout' has 1 images, needs at least 2" in _load_problems(dataset_dir)


def test_validate_command(dataset_dir, capsys):
    assert main(["validate", str(dataset_dir)]) == 0
    assert "6 images (4 train, 2 held-out)" in capsys.readouterr().out
    (dataset_dir / "0001.png").write_bytes(b"")
    (dataset_dir / "0006.png").unlink()
    assert main(["validate", str(dataset_dir)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error:") and "2 problems" in err[0]
    assert any("0001.png: SHA-256" in line for line in err[1:])
    assert any("0006.png: listed in the manifest but missing" in line for line in err[1:])


def test_validate_command_exits_1_without_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "harlow.datasets", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 1
    assert f"{tmp_path / MANIFEST_FILE}: missing" in run.stderr
    assert "Traceback" not in run.stderr


def _read_numbered(folder: Path) -> list[np.ndarray]:
    images = []
    for path in sorted(folder.iterdir()):
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (256, 256))
            images.append(np.asarray(image))
    return images


def test_write_numbered_folder(dataset_dir, tmp_path):
    dataset = load_dataset(dataset_dir)
    out = tmp_path / "engine" / "heldout"
    assert write_numbered_folder(dataset, [6, 5], out) == [6, 5]
    assert sorted(p.name for p in out.iterdir()) == ["0001.png", "0002.png"]
    assert out.stat().st_mode & 0o777 == 0o755  # readable by the engine, whoever runs it
    written = _read_numbered(out)
    np.testing.assert_array_equal(written[0], dataset.image(6))
    np.testing.assert_array_equal(written[1], dataset.image(5))
    # An existing numbered folder is replaced whole: no file of the old one survives.
    assert write_numbered_folder(dataset, np.array([3]), out) == [3]
    assert [p.name for p in out.iterdir()] == ["0001.png"]
    np.testing.assert_array_equal(_read_numbered(out)[0], dataset.image(3))
    assert [p.name for p in out.parent.iterdir()] == ["heldout"]  # no staging left behind


def test_write_numbered_folder_refuses_bad_ids_and_foreign_folders(dataset_dir, tmp_path):
    dataset = load_dataset(dataset_dir)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="empty"):
        write_numbered_folder(dataset, [], out)
    with pytest.raises(ValueError, match="repeated ids \\[2\\]"):
        write_numbered_folder(dataset, [2, 1, 2], out)
    with pytest.raises(ValueError, match="image id 9"):
        write_numbered_folder(dataset, [1, 9], out)
    assert not out.exists()
    with pytest.raises(DatasetError, match="is not a folder of numbered PNGs only"):
        write_numbered_folder(dataset, [1, 2], dataset_dir)  # has a manifest
    assert load_dataset(dataset_dir).name == "faces"
