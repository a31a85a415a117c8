"""The ``manifest.json`` of a dataset folder: its schema, reading and checking it.

A dataset folder holds ``0001.png``, ``0002.png``, ... (256x256 8-bit RGB, the
layout DeepMind Lab's Psychlab reads through ``datasetPath``) and a
``manifest.json``::

    {
      "format": "harlow-image-dataset",
      "format_version": 1,
      "name": "faces",
      "image_size": [256, 256],
      "source": {...},                 # how the images were made (free-form)
      "images": [
        {"id": 1, "file": "0001.png", "sha256": "<hex digest of the file>",
         "split": "train", ...},      # importers add source path, crop box, ...
        ...
      ]
    }

Ids run 1..N without gaps, ``file`` is always the id's ``%04d.png`` name, and each
split ("train", "heldout") holds at least two images.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harlow.datasets.errors import DatasetError
from harlow.datasets.files import UnsafeFileError, read_regular_file

MANIFEST_FILE = "manifest.json"
# A record is about 200 bytes (an importer's about 400): 64 MB is far beyond any dataset.
MAX_MANIFEST_BYTES = 64 * 2**20
FORMAT = "harlow-image-dataset"
FORMAT_VERSION = 1
IMAGE_SIZE = 256  # side of every dataset image (DeepMind Lab aborts on another size)
SPLITS = ("train", "heldout")  # the one list of split names: environments and checks import it
MIN_IMAGES_PER_SPLIT = 2

_SHA256 = re.compile(r"[0-9a-f]{64}")


def image_file_name(image_id: int) -> str:
    """The file name of an image id in a dataset folder: ``%04d.png``."""
    return f"{image_id:04d}.png"


@dataclass(frozen=True)
class ManifestImage:
    """One image listed in a manifest."""

    id: int
    file: str
    sha256: str
    split: str


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: images sorted by id, ids 1..N, both splits large enough."""

    name: str
    source: dict[str, Any]
    images: tuple[ManifestImage, ...]


def manifest_text(name: str, source: dict[str, Any], images: list[dict[str, Any]]) -> str:
    """The JSON text of a manifest; ``images`` are the per-image records, in id order."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "image_size": [IMAGE_SIZE, IMAGE_SIZE],
        "source": source,
        "images": images,
    }
    return json.dumps(manifest, indent=2) + "\n"


def read_manifest(folder: Path) -> Manifest:
    """Reads and checks ``folder/manifest.json`` (not the image files).

    Raises ``DatasetError`` listing every problem found, each naming the manifest.
    """
    path = folder / MANIFEST_FILE
    summary = f"{folder}: not a valid dataset"
    try:
        data = read_regular_file(path, MAX_MANIFEST_BYTES)
    except FileNotFoundError as e:
        missing = f"{path}: missing (a dataset folder has a {MANIFEST_FILE})"
        raise DatasetError(summary, [missing]) from e
    except UnsafeFileError as e:  # a FIFO, a device, a folder, a huge file
        raise DatasetError(summary, [f"{path}: {e.strerror}"]) from e
    except OSError as e:
        raise DatasetError(summary, [f"{path}: cannot be read ({e.strerror})"]) from e
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(summary, [f"{path}: not readable JSON ({e})"]) from e
    problems = _header_problems(raw)
    if problems:
        raise DatasetError(summary, [f"{path}: {p}" for p in problems])
    images, problems = _parse_images(raw["images"])
    problems += _id_and_split_problems(images)
    if problems:
        raise DatasetError(summary, [f"{path}: {p}" for p in problems])
    source = raw.get("source", {})
    return Manifest(
        name=raw["name"],
        source=source if isinstance(source, dict) else {},
        images=tuple(sorted(images, key=lambda image: image.id)),
    )


def _header_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"top level is a {type(raw).__name__}, expected an object"]
    problems = []
    if raw.get("format") != FORMAT:
        problems.append(f"'format' is {raw.get('format')!r}, expected {FORMAT!r}")
    if raw.get("format_version") != FORMAT_VERSION:
        problems.append(
            f"'format_version' is {raw.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        problems.append(f"'name' is {raw.get('name')!r}, expected a non-empty string")
    if raw.get("image_size") != [IMAGE_SIZE, IMAGE_SIZE]:
        problems.append(
            f"'image_size' is {raw.get('image_size')!r}, expected [{IMAGE_SIZE}, {IMAGE_SIZE}]"
        )
    if not isinstance(raw.get("images"), list) or not raw["images"]:
        problems.append("'images' is missing or empty, expected a list of image records")
    return problems


def _parse_images(records: list[Any]) -> tuple[list[ManifestImage], list[str]]:
    images, problems = [], []
    for index, record in enumerate(records):
        where = f"images[{index}]"
        if not isinstance(record, dict):
            problems.append(f"{where} is not an object")
            continue
        image_id, file = record.get("id"), record.get("file")
        sha256, split = record.get("sha256"), record.get("split")
        bad = []
        if not isinstance(image_id, int) or isinstance(image_id, bool) or image_id < 1:
            bad.append(f"'id' is {image_id!r}, expected an integer >= 1")
        elif file != image_file_name(image_id):
            bad.append(f"'file' is {file!r}, expected {image_file_name(image_id)!r}")
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            bad.append(f"'sha256' is {sha256!r}, expected 64 lowercase hex digits")
        if split not in SPLITS:
            bad.append(f"'split' is {split!r}, expected one of {list(SPLITS)}")
        if bad:
            problems.extend(f"{where}: {b}" for b in bad)
        else:
            images.append(ManifestImage(id=image_id, file=file, sha256=sha256, split=split))
    return images, problems


def _id_and_split_problems(images: list[ManifestImage]) -> list[str]:
    if not images:
        return []
    problems = []
    ids = [image.id for image in images]
    duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicated:
        problems.append(f"ids listed more than once: {_short_list(duplicated)}")
    missing = sorted(set(range(1, max(ids) + 1)) - set(ids))
    if missing:
        problems.append(f"ids must run 1..N without gaps; missing: {_short_list(missing)}")
    for split in SPLITS:
        count = sum(image.split == split for image in images)
        if count < MIN_IMAGES_PER_SPLIT:
            problems.append(
                f"split {split!r} has {count} images, needs at least {MIN_IMAGES_PER_SPLIT}"
            )
    return problems


def _short_list(values: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
