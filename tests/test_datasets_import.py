"""Importing folders of arbitrary images: formats, crops, bad input, --skip-bad."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from harlow.datasets import DatasetError, load_dataset
from harlow.datasets.__main__ import main
from harlow.datasets.cropping import detect_largest_face, face_box
from harlow.datasets.faces import generate_faces, write_face_dataset
from harlow.datasets.importer import import_dataset
from harlow.datasets.manifest import MANIFEST_FILE

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dmlab_harlow"
# Face 4 of generate_faces(seed=0) is one the Haar cascade finds when drawn large;
# many synthetic faces are not found (it was trained on photographs).
DETECTED_FACE_INDEX = 3


def _photo(seed: int, width: int = 120, height: int = 90) -> np.ndarray:
    """A smooth random RGB picture, different for each seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _save(path: Path, image: Image.Image | np.ndarray, **options) -> Path:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def _good_folder(folder: Path, count: int, first_seed: int = 0) -> Path:
    for k in range(count):
        _save(folder / f"good{k:02d}.png", _photo(first_seed + k))
    return folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_FILE).read_text())


def _by_source(folder: Path) -> dict[str, tuple[dict, np.ndarray]]:
    dataset = load_dataset(folder)
    return {
        record["source"]: (record, dataset.image(record["id"]))
        for record in _manifest(folder)["images"]
    }


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_every_accepted_format_and_mode_becomes_8bit_rgb(tmp_path):
    src = tmp_path / "src"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    sideways = np.zeros((80, 120, 3), np.uint8)
    sideways[:, 60:] = 255  # stored left half black, right half white
    _save(src / "a_exif.jpg", sideways, exif=exif, quality=95)
    _save(src / "b_photo.jpg", _photo(1), quality=95)
    _save(src / "c_gray.png", Image.fromarray(_photo(2)).convert("L"))
    rgba = np.zeros((90, 120, 4), np.uint8)
    rgba[:, :60] = (0, 0, 200, 255)  # left opaque blue, right fully transparent
    _save(src / "d_rgba.png", Image.fromarray(rgba, "RGBA"))
    _save(src / "e_palette.png", Image.fromarray(_photo(3)).quantize(colors=8))
    deep = np.zeros((90, 120), np.uint16)
    deep[:45] = 65535
    deep[45:, :60] = 32896
    _save(src / "f_deep.png", Image.fromarray(deep))
    _save(src / "g_pic.webp", _photo(4), lossless=True)
    _save(src / "h_pic.bmp", _photo(5))
    _save(src / "sub" / "i_pic.tiff", _photo(6))

    result = import_dataset(src, tmp_path / "out", crop="center", heldout_fraction=0.25)

    assert (len(result.train_ids), len(result.heldout_ids)) == (7, 2)
    images = _by_source(tmp_path / "out")
    assert sorted(images) == [
        "a_exif.jpg",
        "b_photo.jpg",
        "c_gray.png",
        "d_rgba.png",
        "e_palette.png",
        "f_deep.png",
        "g_pic.webp",
        "h_pic.bmp",
        "sub/i_pic.tiff",
    ]
    assert [images[s][0]["id"] for s in sorted(images)] == list(range(1, 10))  # sorted paths
    upright = images["a_exif.jpg"][1].astype(int)
    assert images["a_exif.jpg"][0]["crop_box"] == [0, 20, 80, 100]  # 80x120 once rotated
    assert upright[:100].mean() < 30 and upright[-100:].mean() > 225  # black on top
    gray = images["c_gray.png"][1].astype(int)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    composited = images["d_rgba.png"][1].astype(int)
    assert np.abs(composited[:, 20:70] - (0, 0, 200)).max() <= 2  # opaque part kept
    assert composited[:, 190:].min() >= 253  # transparent part on white
    deep_rgb = images["f_deep.png"][1].astype(int)
    assert deep_rgb[10, 128].tolist() == [255, 255, 255]
    assert deep_rgb[240, 30].tolist() == [128, 128, 128]
    for source, seed in [("g_pic.webp", 4), ("h_pic.bmp", 5), ("sub/i_pic.tiff", 6)]:
        expected = cv2.resize(_photo(seed)[:, 15:105], (256, 256), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(images[source][1], expected)


def _face_on_canvas() -> np.ndarray:
    """A synthetic face drawn 400 px large on the right of a 900x600 canvas."""
    canvas = np.full((600, 900, 3), (70, 90, 110), np.uint8)
    face = generate_faces(DETECTED_FACE_INDEX + 1, seed=0)[DETECTED_FACE_INDEX]
    canvas[100:500, 450:850] = cv2.resize(face, (400, 400), interpolation=cv2.INTER_LINEAR)
    return canvas


def test_haar_cascade_finds_a_large_synthetic_face():
    x, y, w, h = detect_largest_face(_face_on_canvas())
    assert x >= 450 and x + w <= 850 and y >= 100 and y + h <= 500  # inside the drawn face
    assert 150 <= w <= 400


def test_face_crop_versus_center_crop(tmp_path):
    src = _good_folder(tmp_path / "src", 4, first_seed=10)
    _save(src / "face.png", _face_on_canvas())
    import_dataset(src, tmp_path / "face", heldout_fraction=0.4)
    import_dataset(src, tmp_path / "center", heldout_fraction=0.4, crop="center")

    face_record, face_image = _by_source(tmp_path / "face")["face.png"]
    center_record, center_image = _by_source(tmp_path / "center")["face.png"]
    assert face_record["face_found"] is True
    x0, y0, x1, y1 = face_record["crop_box"]
    assert x1 - x0 == y1 - y0 and 450 <= (x0 + x1) / 2 <= 850 and 100 <= (y0 + y1) / 2 <= 500
    assert x0 > 150  # not the centre square
    assert center_record == center_record | {"face_found": False, "crop_box": [150, 0, 750, 600]}
    assert not np.array_equal(face_image, center_image)
    others = [r for r in _manifest(tmp_path / "face")["images"] if r["source"] != "face.png"]
    assert not any(r["face_found"] for r in others)


def test_face_crop_uses_the_detector_and_falls_back_to_the_centre(tmp_path):
    src = _good_folder(tmp_path / "src", 4, first_seed=20)
    _save(src / "photo.png", _photo(99, width=400, height=300))

    def fake_detector(rgb: np.ndarray):
        return (330, 0, 60, 60) if rgb.shape[:2] == (300, 400) else None

    import_dataset(src, tmp_path / "out", heldout_fraction=0.4, detector=fake_detector)
    records = {r["source"]: r for r in _manifest(tmp_path / "out")["images"]}
    box = face_box(400, 300, (330, 0, 60, 60))
    assert box == (292, 0, 400, 108)  # enlarged 1.8x, shifted inside the image
    assert records["photo.png"]["crop_box"] == list(box)
    assert records["photo.png"]["face_found"] is True
    assert records["good00.png"] == records["good00.png"] | {
        "face_found": False,
        "crop_box": [15, 0, 105, 90],
    }


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"fixtures not found at {FIXTURES}")
def test_imports_the_recorded_dmlab_dataset_and_finds_the_astronauts_face(tmp_path):
    # The folder holds 24 images and its manifest.json, which is not taken for an image.
    result = import_dataset(FIXTURES / "dataset", tmp_path / "dmlab")
    assert result.skipped == []
    records = {r["source"]: r for r in _manifest(tmp_path / "dmlab")["images"]}
    assert len(records) == 24 and records["0001.png"]["face_found"] is True  # astronaut photo
    assert len(load_dataset(tmp_path / "dmlab").heldout_ids) == 5


def test_another_dataset_folder_imports_without_its_manifest(tmp_path):
    source = tmp_path / "faces"
    write_face_dataset(source, count=12, heldout=4, seed=3)
    assert (source / MANIFEST_FILE).is_file()
    result = import_dataset(source, tmp_path / "copy")
    assert result.skipped == []
    assert len(result.train_ids) + len(result.heldout_ids) == 12


def _make_bad_folder(src: Path) -> dict[str, str]:
    """Good images plus one file of each bad kind; returns name -> expected reason."""
    _good_folder(src, 6)
    photo = io.BytesIO()
    Image.fromarray(_photo(50, 300, 200)).save(photo, format="JPEG")
    (src / "truncated.jpg").write_bytes(photo.getvalue()[: len(photo.getvalue()) // 2])
    png = (src / "good00.png").read_bytes()
    (src / "corrupt.png").write_bytes(png[:60] + bytes(200) + png[260:])
    (src / "notes.txt").write_text("not a picture")
    (src / "empty.png").write_bytes(b"")
    _save(src / "tiny.png", _photo(51, width=200, height=31))
    _save(src / "bomb.png", Image.new("1", (8000, 7000)))  # 56 MP: Pillow's warning
    _save(src / "huge_bomb.png", Image.new("1", (12000, 9000)))  # 108 MP: Pillow's error
    _save(src / "anim.gif", _photo(52))
    (src / "z_copy.png").write_bytes(png)
    _save(src / "z_same_pixels.bmp", _photo(0))
    os.symlink(src / "gone.jpg", src / "unreadable.jpg")
    (src / ".hidden").write_text("ignored")
    return {
        "truncated.jpg": "truncated or corrupt image",
        "corrupt.png": "truncated or corrupt image",
        "notes.txt": "not a readable image",
        "empty.png": "empty file",
        "tiny.png": "too small: 200x31",
        "bomb.png": "decompression bomb",
        "huge_bomb.png": "decompression bomb",
        "anim.gif": "GIF images are not accepted",
        "z_copy.png": "duplicate of good00.png (identical file)",
        "z_same_pixels.bmp": "duplicate of good00.png (same decoded pixels)",
        "unreadable.jpg": "cannot be read",
    }


def test_bad_inputs_are_reported_together_and_nothing_is_written(tmp_path):
    expected = _make_bad_folder(tmp_path / "src")
    out = tmp_path / "new" / "out"
    with pytest.raises(DatasetError) as caught:
        import_dataset(tmp_path / "src", out)
    error = caught.value
    assert "11 bad input files; nothing was written" in error.summary
    assert sorted(line.split(":")[0] for line in error.problems) == sorted(expected)
    for name, reason in expected.items():
        assert any(line.startswith(f"{name}: {reason}") for line in error.problems), name
    assert not (tmp_path / "new").exists()
    assert _leftovers(tmp_path) == []


def test_skip_bad_imports_the_rest_and_lists_what_it_skipped(tmp_path, capsys):
    expected = _make_bad_folder(tmp_path / "src")
    out = tmp_path / "out"
    args = ["import", "--src", str(tmp_path / "src"), "--out", str(out), "--skip-bad"]
    assert main(args + ["--heldout-fraction", "0.34"]) == 0
    printed = capsys.readouterr().out
    assert "imported 6 images" in printed and "skipped 11 bad files" in printed
    for name in expected:
        assert f"  {name}: " in printed
    dataset = load_dataset(out)
    assert (len(dataset.train_ids), len(dataset.heldout_ids)) == (4, 2)
    skipped = _manifest(out)["source"]["skipped"]
    assert sorted(line.split(":")[0] for line in skipped) == sorted(expected)


def test_cli_reports_bad_input_on_stderr_with_exit_1_and_no_traceback(tmp_path):
    src = _good_folder(tmp_path / "src", 4)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    run = subprocess.run(
        [sys.executable, "-m", "harlow.datasets", "import", "--src", str(src)]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert run.stderr.splitlines()[1] == (
        "  broken.png: not a readable image (Pillow recognises no image format in it)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_import_says_so_in_one_line_and_leaves_nothing(tmp_path, signum):
    src = _good_folder(tmp_path / "src", 120)  # a couple of seconds to import
    out = tmp_path / "datasets" / "mine"
    process = subprocess.Popen(
        [sys.executable, "-m", "harlow.datasets", "import", "--src", str(src), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(".mine.*.partial")):  # the import is writing
            assert process.poll() is None, "the import ended before the signal"
            assert time.monotonic() < deadline, "no staging folder within 60 s"
            time.sleep(0.01)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 128 + signum, stderr
    what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
    assert "Traceback" not in stderr and stdout == ""
    assert stderr.replace("\r", "\n").splitlines()[-1] == (
        f"{what}: import stopped; nothing was written"
    )
    assert not out.parent.exists()  # nor the staging folder, nor the parent it made


@pytest.mark.parametrize(
    ("good", "fraction", "message"),
    [
        (4, 0.2, "4 usable images with --heldout-fraction 0.2 give 3 train and 1 held-out"),
        (3, 0.5, "3 usable images with --heldout-fraction 0.5 give 1 train and 2 held-out"),
    ],
)
def test_too_few_images_for_both_splits(tmp_path, good, fraction, message):
    src = _good_folder(tmp_path / "src", good)
    with pytest.raises(DatasetError, match=message):
        import_dataset(src, tmp_path / "out", heldout_fraction=fraction)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_skip_bad_still_needs_two_images_per_split(tmp_path):
    src = _good_folder(tmp_path / "src", 3)
    (src / "bad.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="3 usable images") as caught:
        import_dataset(src, tmp_path / "out", heldout_fraction=0.5, skip_bad=True)
    assert caught.value.problems == [
        "bad.png: not a readable image (Pillow recognises no image format in it)"
    ]
    assert not (tmp_path / "out").exists()


def test_missing_or_empty_source(tmp_path):
    with pytest.raises(DatasetError, match="source folder does not exist"):
        import_dataset(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(DatasetError, match="source folder holds no files"):
        import_dataset(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="source is not a folder"):
        import_dataset(tmp_path / "file.png", tmp_path / "out")


def test_bad_options(tmp_path):
    src = _good_folder(tmp_path / "src", 4)
    with pytest.raises(DatasetError, match="--heldout-fraction must be between 0 and 1, got 1.0"):
        import_dataset(src, tmp_path / "out", heldout_fraction=1.0)
    with pytest.raises(DatasetError, match="--seed must be >= 0, got -1"):
        import_dataset(src, tmp_path / "out", seed=-1)
    with pytest.raises(DatasetError, match="--crop must be one of"):
        import_dataset(src, tmp_path / "out", crop="eyes")
    with pytest.raises(DatasetError, match="must not be inside the source folder"):
        import_dataset(src, src / "out")
    with pytest.raises(DatasetError, match="must not be inside the output folder"):
        import_dataset(src, tmp_path, overwrite=True)


def test_output_folder_rules(tmp_path):
    src = _good_folder(tmp_path / "src", 5)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="exists and is not a dataset folder"):
        import_dataset(src, notes)
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]

    empty = tmp_path / "empty"
    empty.mkdir()
    import_dataset(src, empty, heldout_fraction=0.4)  # an empty folder: nothing to lose
    assert load_dataset(empty).name == "empty"

    faces = write_face_dataset(tmp_path / "faces", count=4, heldout=2)
    with pytest.raises(DatasetError, match="already holds the dataset 'faces'; pass --overwrite"):
        import_dataset(src, faces)
    assert len(load_dataset(faces).images) == 4
    import_dataset(src, faces, heldout_fraction=0.4, overwrite=True, name="mine")
    assert load_dataset(faces).name == "mine" and len(load_dataset(faces).images) == 5
    assert _leftovers(tmp_path) == []


def test_import_is_deterministic_and_seeded(tmp_path):
    src = _good_folder(tmp_path / "src", 10)
    first = import_dataset(src, tmp_path / "a", seed=3)
    again = import_dataset(src, tmp_path / "b", seed=3)
    other = import_dataset(src, tmp_path / "c", seed=4)
    assert first.heldout_ids == again.heldout_ids and len(first.heldout_ids) == 2
    assert other.heldout_ids != first.heldout_ids
    np.testing.assert_array_equal(
        load_dataset(tmp_path / "a").images, load_dataset(tmp_path / "b").images
    )
    assert _manifest(tmp_path / "a")["images"] == _manifest(tmp_path / "b")["images"]
