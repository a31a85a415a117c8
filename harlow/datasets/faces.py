"""The bundled default dataset: deterministic, mutually distinct synthetic faces.

``generate_faces`` draws faces (``face_drawing.draw_face``) from one
``np.random.default_rng(seed)`` stream and keeps a candidate only if its 24x24
grayscale thumbnail (about the size an image has in an 84x84 frame) differs from
every face kept before by a mean absolute difference of at least
``MIN_THUMBNAIL_DISTANCE`` grey levels, so faces stay distinguishable once the
agent's view has shrunk them. ``write_face_dataset`` writes them as a dataset
folder: ids 1..count-heldout train, the last ``heldout`` ids held out (the order
Psychlab's ``trainBatch``/``testBatch`` use; the faces are independent draws, so
this split is as random as any).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from harlow.datasets.errors import DatasetError
from harlow.datasets.face_drawing import draw_face
from harlow.datasets.manifest import IMAGE_SIZE, MIN_IMAGES_PER_SPLIT, Manifest
from harlow.datasets.storage import (
    DatasetWriter,
    check_dataset_destination,
    replace_folder,
    staging_folder,
)
from harlow.signals import raise_if_interrupted

DATASET_NAME = "faces"
MAX_FACES = 5_000  # about 1 GiB of images held in memory while writing
GENERATOR_NAME = "harlow.datasets.faces"
GENERATOR_VERSION = 1
THUMBNAIL_SIZE = 24
MIN_THUMBNAIL_DISTANCE = 16.0
MAX_DRAWS_PER_FACE = 200


def gray_thumbnails(images: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Grayscale ``[N, size, size]`` float32 (0..255) versions of ``[N, H, W, 3]`` RGB images.

    Area interpolation, as a frame crop shrunk by the preprocessing stage.
    """
    thumbs = [
        cv2.resize(
            cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA
        )
        for image in images
    ]
    return np.asarray(thumbs, dtype=np.float32).reshape(len(thumbs), size, size)


def generate_faces(
    count: int, seed: int = 0, min_distance: float = MIN_THUMBNAIL_DISTANCE
) -> np.ndarray:
    """``count`` distinct faces as ``[count, 256, 256, 3]`` uint8, the same for the same seed.

    A face is kept only if its thumbnail differs from each kept one by a mean
    absolute difference of at least ``min_distance``. The first ``k`` faces do not
    depend on ``count``.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    rng = np.random.default_rng(seed)
    faces = np.empty((count, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    thumbs = np.empty((count, THUMBNAIL_SIZE * THUMBNAIL_SIZE), np.float32)
    kept = 0
    for _ in range(count * MAX_DRAWS_PER_FACE):
        face = draw_face(rng)
        thumb = gray_thumbnails(face[None]).reshape(-1)
        if kept and np.abs(thumbs[:kept] - thumb).mean(axis=1).min() < min_distance:
            continue
        faces[kept], thumbs[kept] = face, thumb
        kept += 1
        if kept == count:
            return faces
    raise RuntimeError(
        f"only {kept} of {count} distinct faces in {count * MAX_DRAWS_PER_FACE} draws"
    )


def is_generated_faces(manifest: Manifest) -> bool:
    """Whether a dataset was written by ``write_face_dataset`` (so it can be regenerated)."""
    return manifest.source.get("generator") == GENERATOR_NAME


def write_face_dataset(
    out: str | os.PathLike,
    count: int = 240,
    heldout: int = 40,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Writes ``count`` faces as a dataset folder ``out``; the last ``heldout`` ids are held out.

    ``out`` may be new, empty, or a face dataset written before (it is regenerated);
    any other dataset folder is replaced only with ``overwrite``. Raises
    ``DatasetError`` for bad arguments or a refused destination.
    """
    out_dir = Path(out)
    if seed < 0:
        raise DatasetError(f"--seed must be >= 0, got {seed}")
    if count > MAX_FACES:
        raise DatasetError(
            f"--count {count:,} is over the {MAX_FACES:,} faces a dataset may hold "
            f"(each takes 192 KiB while it is written)"
        )
    if not MIN_IMAGES_PER_SPLIT <= heldout <= count - MIN_IMAGES_PER_SPLIT:
        raise DatasetError(
            f"--heldout {heldout} with --count {count}: each split needs at least "
            f"{MIN_IMAGES_PER_SPLIT} images"
        )
    check_dataset_destination(out_dir, overwrite, replaceable=is_generated_faces)
    faces = generate_faces(count, seed)
    source = {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "count": count,
        "heldout": heldout,
        "min_thumbnail_distance": MIN_THUMBNAIL_DISTANCE,
    }
    with staging_folder(out_dir) as staging:
        writer = DatasetWriter(staging)
        for face in faces:
            raise_if_interrupted()  # a Ctrl-C lost in a finalizer stops here
            writer.add(face)
        writer.write_manifest(DATASET_NAME, source, range(count - heldout + 1, count + 1))
        raise_if_interrupted()
        replace_folder(staging, out_dir)
    return out_dir
