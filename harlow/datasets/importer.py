"""Turning a folder of arbitrary images into a checked dataset folder.

Every file under the source folder (recursively; names starting with "." and the
``manifest.json`` of a dataset folder are ignored, so another dataset folder can be
imported) is read as upright RGB, cropped to a square (around the largest face, or
the centre) and resized to 256x256. Ids 1..N follow the sorted source paths; a
seeded random draw holds out a fraction of them. Bad inputs (unreadable, empty,
corrupt or truncated files, non-images, images under 32 px, decompression bombs,
duplicates) are all collected into one report; unless ``skip_bad`` is set, any of
them stops the import and nothing is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harlow.datasets.cropping import FaceDetector, choose_crop, crop_and_resize, detect_largest_face
from harlow.datasets.decoding import BadImageError, read_rgb
from harlow.datasets.errors import DatasetError
from harlow.datasets.manifest import IMAGE_SIZE, MANIFEST_FILE, MIN_IMAGES_PER_SPLIT
from harlow.datasets.storage import (
    DatasetWriter,
    check_dataset_destination,
    replace_folder,
    sha256_hex,
    staging_folder,
)
from harlow.progress import progress_bar
from harlow.signals import raise_if_interrupted

CROP_MODES = ("face", "center")
PROGRESS_MIN_FILES = 50


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote and what it skipped."""

    out: Path
    train_ids: list[int]
    heldout_ids: list[int]
    faces_found: int
    skipped: list[str]  # one line per skipped file: "<path>: <reason>"


def import_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    heldout_fraction: float = 0.2,
    crop: str = "face",
    seed: int = 0,
    skip_bad: bool = False,
    overwrite: bool = False,
    name: str | None = None,
    detector: FaceDetector = detect_largest_face,
) -> ImportResult:
    """Imports the images under ``src`` as a dataset folder ``out``.

    ``heldout_fraction`` of the images (rounded, drawn with ``seed``) form the
    held-out split. ``out`` may be new, an empty folder, or (with ``overwrite``)
    an existing dataset folder. Raises ``DatasetError`` listing every bad input;
    with ``skip_bad`` bad files are left out and listed in the result instead.
    Either way at least 2 train and 2 held-out images must remain, or nothing is
    written.
    """
    src_dir, out_dir = Path(src), Path(out)
    _check_options(heldout_fraction, crop, seed)
    sources = _list_sources(src_dir)
    _check_no_overlap(src_dir, out_dir)
    check_dataset_destination(out_dir, overwrite)

    problems: list[str] = []
    first_by_file_hash: dict[str, str] = {}
    first_by_pixels: dict[str, str] = {}
    faces_found = 0
    with staging_folder(out_dir) as staging:
        writer = DatasetWriter(staging)
        for path in progress_bar(
            iterable=sources, desc="import", unit="image", disable=len(sources) < PROGRESS_MIN_FILES
        ):
            raise_if_interrupted()  # a Ctrl-C lost in a finalizer (a lazy import) stops here
            relative = path.relative_to(src_dir).as_posix()
            try:
                decoded = read_rgb(path)
            except BadImageError as e:
                problems.append(f"{relative}: {e}")
                continue
            pixels_hash = sha256_hex(str(decoded.rgb.shape).encode() + decoded.rgb.tobytes())
            if decoded.file_sha256 in first_by_file_hash:
                first = first_by_file_hash[decoded.file_sha256]
                problems.append(f"{relative}: duplicate of {first} (identical file)")
                continue
            if pixels_hash in first_by_pixels:
                first = first_by_pixels[pixels_hash]
                problems.append(f"{relative}: duplicate of {first} (same decoded pixels)")
                continue
            first_by_file_hash[decoded.file_sha256] = relative
            first_by_pixels[pixels_hash] = relative
            if problems and not skip_bad:
                continue  # the import fails anyway: keep checking, stop writing
            chosen = choose_crop(decoded.rgb, crop, detector)
            faces_found += chosen.face_found
            writer.add(
                crop_and_resize(decoded.rgb, chosen.box, IMAGE_SIZE),
                source=relative,
                crop_box=list(chosen.box),
                face_found=chosen.face_found,
            )
        if problems and not skip_bad:
            raise DatasetError(
                f"{src_dir}: {len(problems)} bad input files; nothing was written "
                "(--skip-bad imports the rest)",
                problems,
            )
        heldout_ids = _draw_heldout(writer.count, heldout_fraction, seed, problems)
        writer.write_manifest(
            name or out_dir.resolve().name,
            {
                "importer": "harlow.datasets.importer",
                "crop": crop,
                "heldout_fraction": heldout_fraction,
                "seed": seed,
                "skipped": problems,
            },
            heldout_ids,
        )
        raise_if_interrupted()
        replace_folder(staging, out_dir)
    return ImportResult(
        out=out_dir,
        train_ids=sorted(set(range(1, writer.count + 1)) - set(heldout_ids)),
        heldout_ids=heldout_ids,
        faces_found=faces_found,
        skipped=problems,
    )


def _check_options(heldout_fraction: float, crop: str, seed: int) -> None:
    if seed < 0:
        raise DatasetError(f"--seed must be >= 0, got {seed}")
    if not 0.0 < heldout_fraction < 1.0:
        raise DatasetError(f"--heldout-fraction must be between 0 and 1, got {heldout_fraction}")
    if crop not in CROP_MODES:
        raise DatasetError(f"--crop must be one of {list(CROP_MODES)}, got {crop!r}")


def _list_sources(src: Path) -> list[Path]:
    """Every non-hidden file under ``src`` but a dataset's manifest, sorted by path;
    errors if there is none."""
    if not src.exists():
        raise DatasetError(f"{src}: source folder does not exist")
    if not src.is_dir():
        raise DatasetError(f"{src}: source is not a folder")
    sources = []
    for folder, subfolders, files in os.walk(src):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        sources.extend(
            Path(folder) / f for f in files if not f.startswith(".") and f != MANIFEST_FILE
        )
    if not sources:
        raise DatasetError(f"{src}: source folder holds no files")
    return sorted(sources, key=lambda p: p.relative_to(src).as_posix())


def _check_no_overlap(src: Path, out: Path) -> None:
    src_resolved, out_resolved = src.resolve(), out.resolve()
    if src_resolved == out_resolved or src_resolved in out_resolved.parents:
        raise DatasetError(f"{out}: the output folder must not be inside the source folder {src}")
    if out_resolved in src_resolved.parents:
        raise DatasetError(f"{src}: the source folder must not be inside the output folder {out}")


def _draw_heldout(count: int, fraction: float, seed: int, skipped: list[str]) -> list[int]:
    """Sorted held-out ids: ``round(count * fraction)`` of 1..count drawn with ``seed``."""
    heldout = round(count * fraction)
    train = count - heldout
    if train < MIN_IMAGES_PER_SPLIT or heldout < MIN_IMAGES_PER_SPLIT:
        raise DatasetError(
            f"{count} usable images with --heldout-fraction {fraction} give {train} train and "
            f"{heldout} held-out images; each split needs at least {MIN_IMAGES_PER_SPLIT}; "
            "nothing was written",
            skipped,
        )
    rng = np.random.default_rng(seed)
    return sorted(int(i) + 1 for i in rng.choice(count, size=heldout, replace=False))
