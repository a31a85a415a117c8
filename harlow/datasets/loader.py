"""The one way environments get images: a dataset folder, checked whole before use.

DeepMind Lab aborts the whole process on a missing or wrongly sized image, so
``load_dataset`` checks everything up front (manifest, ids, files, hashes, PNG
format, size) and ``write_numbered_folder`` hands the engine a folder built only
from checked images.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harlow.datasets.errors import DatasetError
from harlow.datasets.files import read_regular_file
from harlow.datasets.manifest import IMAGE_SIZE, image_file_name, read_manifest
from harlow.datasets.storage import encode_png, replace_folder, sha256_hex, staging_folder

# A 256x256 RGB PNG, even of noise, is about 200 KB: anything far larger is not one.
MAX_DATASET_PNG_BYTES = 16 * 2**20

NUMBERED_PNG_COMPRESSION = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_RGB_COLOR_TYPE = 2
_NUMBERED_PNG = re.compile(r"\d{4,}\.png")


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Checked images of one dataset; ``images[i]`` is image id ``i + 1``.

    The arrays are read-only views.
    """

    root: Path
    name: str
    images: np.ndarray  # [N, 256, 256, 3] uint8
    train_ids: np.ndarray  # 1-based ids, sorted
    heldout_ids: np.ndarray  # 1-based ids, sorted

    def __post_init__(self) -> None:
        count = len(self.images)
        if self.images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3) or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be [N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] uint8, "
                f"got {self.images.shape} {self.images.dtype}"
            )
        train = np.asarray(self.train_ids, dtype=np.int64)
        heldout = np.asarray(self.heldout_ids, dtype=np.int64)
        if not np.array_equal(np.sort(np.concatenate([train, heldout])), np.arange(1, count + 1)):
            raise ValueError(f"train and held-out ids must split 1..{count} without overlap")
        for field, value in (
            ("images", self.images),
            ("train_ids", train),
            ("heldout_ids", heldout),
        ):
            view = value.view()
            view.flags.writeable = False
            object.__setattr__(self, field, view)

    def ids(self, split: str) -> np.ndarray:
        """Sorted 1-based ids of ``split``: "train", "heldout" or "all"."""
        if split == "train":
            return self.train_ids
        if split == "heldout":
            return self.heldout_ids
        if split == "all":
            return np.arange(1, len(self.images) + 1)
        raise ValueError(f"split must be 'train', 'heldout' or 'all', got {split!r}")

    def image(self, image_id: int) -> np.ndarray:
        """The ``[256, 256, 3]`` uint8 RGB image with 1-based id ``image_id``."""
        count = len(self.images)
        if isinstance(image_id, bool) or not isinstance(image_id, int | np.integer):
            raise ValueError(f"image id must be an integer, got {image_id!r}")
        if not 1 <= image_id <= count:
            raise ValueError(f"image id {image_id} is not in 1..{count} (dataset {self.name!r})")
        return self.images[int(image_id) - 1]


def default_dataset_path() -> Path:
    """The bundled synthetic face dataset: ``<repository>/datasets/faces``."""
    return Path(__file__).resolve().parents[2] / "datasets" / "faces"


def load_dataset(path: str | os.PathLike) -> ImageDataset:
    """Loads a dataset folder, checking it whole.

    Checks: ``manifest.json`` present and well-formed, ids 1..N without gaps, every
    listed file present with the listed SHA-256, every image an 8-bit RGB PNG of
    exactly 256x256 and no two alike (as files or as pixels), splits "train" and
    "heldout" with at least 2 images each.
    Raises ``DatasetError`` naming each file at fault and what is wrong.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a valid dataset", [f"{root}: no such folder"])
    manifest = read_manifest(root)
    images = np.empty((len(manifest.images), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    problems = []
    first_by_file_hash: dict[str, Path] = {}
    first_by_pixels: dict[str, Path] = {}
    for index, entry in enumerate(manifest.images):
        file = root / entry.file
        try:
            data = read_regular_file(file, MAX_DATASET_PNG_BYTES)
        except FileNotFoundError:
            problems.append(f"{file}: listed in the manifest but missing")
            continue
        except OSError as e:
            problems.append(f"{file}: cannot be read ({e.strerror})")
            continue
        digest = sha256_hex(data)
        if digest != entry.sha256:
            problems.append(
                f"{file}: SHA-256 is {digest[:16]}..., the manifest says {entry.sha256[:16]}... "
                "(the file was changed or damaged)"
            )
            continue
        try:
            images[index] = _decode_dataset_png(data)
        except ValueError as e:
            problems.append(f"{file}: {e}")
            continue
        # As the importer refuses them: two ids of one image would make a trial unwinnable.
        pixels_hash = sha256_hex(images[index].tobytes())
        if digest in first_by_file_hash:
            problems.append(f"{file}: duplicate of {first_by_file_hash[digest]} (identical file)")
        elif pixels_hash in first_by_pixels:
            problems.append(
                f"{file}: duplicate of {first_by_pixels[pixels_hash]} (same decoded pixels)"
            )
        first_by_file_hash.setdefault(digest, file)
        first_by_pixels.setdefault(pixels_hash, file)
    if problems:
        raise DatasetError(f"{root}: not a valid dataset ({len(problems)} problems)", problems)
    splits = np.array([entry.split for entry in manifest.images])
    return ImageDataset(
        root=root,
        name=manifest.name,
        images=images,
        train_ids=np.flatnonzero(splits == "train") + 1,
        heldout_ids=np.flatnonzero(splits == "heldout") + 1,
    )


def _decode_dataset_png(data: bytes) -> np.ndarray:
    """Pixels of an 8-bit RGB 256x256 PNG; ``ValueError`` says what else it is."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    bit_depth, color_type = data[24], data[25]
    if bit_depth != 8 or color_type != _PNG_RGB_COLOR_TYPE:
        raise ValueError(
            f"PNG has bit depth {bit_depth} and colour type {color_type}; "
            "expected 8-bit RGB (colour type 2, no alpha, no palette)"
        )
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(
                    f"image is {image.size[0]}x{image.size[1]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}"
                )
            image.load()
            return np.asarray(image)
    except (OSError, SyntaxError, EOFError) as e:
        raise ValueError(f"PNG cannot be decoded ({e})") from e


def write_numbered_folder(
    dataset: ImageDataset, ids: Sequence[int], out_dir: str | os.PathLike
) -> list[int]:
    """Writes the images ``ids`` in order as ``0001.png``, ``0002.png``, ... in ``out_dir``.

    This is the layout DeepMind Lab's Psychlab reads through ``datasetPath``. The
    folder is built beside ``out_dir`` and renamed into place; an existing
    ``out_dir`` is replaced only if it is empty or holds nothing but numbered
    PNGs. Returns the original ids in file order (file ``k`` holds id ``result[k-1]``).
    """
    out = Path(out_dir)
    chosen = list(ids)
    if not chosen:
        raise ValueError("ids is empty: nothing to write")
    images = [dataset.image(image_id) for image_id in chosen]
    repeated = sorted(int(i) for i, n in Counter(int(i) for i in chosen).items() if n > 1)
    if repeated:
        raise ValueError(f"ids must be distinct, got repeated ids {repeated}")
    if out.exists() and not (
        out.is_dir() and all(_NUMBERED_PNG.fullmatch(p.name) for p in out.iterdir())
    ):
        raise DatasetError(
            f"{out}: exists and is not a folder of numbered PNGs only; refusing to replace it"
        )
    with staging_folder(out) as staging:
        for position, image in enumerate(images, start=1):
            data = encode_png(image, compress_level=NUMBERED_PNG_COMPRESSION)
            (staging / image_file_name(position)).write_bytes(data)
        replace_folder(staging, out)
    return [int(i) for i in chosen]
