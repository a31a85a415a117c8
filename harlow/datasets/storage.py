"""Writing dataset folders safely: build beside the target, then rename into place.

Nothing is ever half-written: a dataset is assembled in a hidden staging folder
next to its destination and moved there in one rename once it is complete. An
existing destination is replaced only when the caller's policy allows it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from harlow.datasets.errors import DatasetError
from harlow.datasets.manifest import (
    IMAGE_SIZE,
    MANIFEST_FILE,
    Manifest,
    image_file_name,
    manifest_text,
    read_manifest,
)

DATASET_PNG_COMPRESSION = 6  # zlib level: 9 is up to 8x slower for 5% smaller files


def sha256_hex(data: bytes) -> str:
    """The SHA-256 digest of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def encode_png(image: np.ndarray, compress_level: int = DATASET_PNG_COMPRESSION) -> bytes:
    """PNG bytes of a ``[256, 256, 3]`` uint8 RGB image."""
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE, 3) or image.dtype != np.uint8:
        raise ValueError(
            f"expected a {IMAGE_SIZE}x{IMAGE_SIZE}x3 uint8 image, got {image.shape} {image.dtype}"
        )
    buffer = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def check_dataset_destination(
    out: Path, overwrite: bool, replaceable: Callable[[Manifest], bool] = lambda _: False
) -> None:
    """Refuses a destination that would lose data.

    Allowed: a path that does not exist, an empty folder, or a dataset folder (one
    with a valid manifest) when ``overwrite`` is set or ``replaceable(manifest)``
    says so. Anything else raises ``DatasetError``.
    """
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder; refusing to replace it")
    if not any(out.iterdir()):
        return
    try:
        manifest = read_manifest(out)
    except DatasetError as e:
        raise DatasetError(
            f"{out}: exists and is not a dataset folder (no valid {MANIFEST_FILE}); "
            "refusing to write there: choose another output folder"
        ) from e
    if not (overwrite or replaceable(manifest)):
        raise DatasetError(
            f"{out}: already holds the dataset {manifest.name!r}; "
            "pass --overwrite (overwrite=True) to replace it"
        )


@contextlib.contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A fresh hidden folder beside ``out``, removed again if the block fails.

    Missing parent folders of ``out`` are created, and removed again on failure.
    """
    created = [p for p in reversed(out.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the dataset is for everyone to read
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def replace_folder(new: Path, out: Path) -> None:
    """Moves the complete folder ``new`` to ``out``, replacing what was there."""
    if not out.exists() and not out.is_symlink():
        os.rename(new, out)
        return
    trash = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    old = trash / "old"
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


class DatasetWriter:
    """Writes ``0001.png``, ``0002.png``, ... and then ``manifest.json`` into a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._records: list[tuple[dict[str, Any], dict[str, Any]]] = []

    @property
    def count(self) -> int:
        """How many images were added."""
        return len(self._records)

    def add(self, image: np.ndarray, **details: Any) -> int:
        """Writes ``image`` under the next id and returns that id.

        ``details`` (JSON-serialisable) go into the image's manifest record.
        """
        image_id = self.count + 1
        data = encode_png(image)
        (self.folder / image_file_name(image_id)).write_bytes(data)
        identity = {"id": image_id, "file": image_file_name(image_id), "sha256": sha256_hex(data)}
        self._records.append((identity, details))
        return image_id

    def write_manifest(self, name: str, source: dict[str, Any], heldout_ids: Sequence[int]) -> None:
        """Writes the manifest: ids in ``heldout_ids`` are held out, the others train."""
        heldout = set(heldout_ids)
        records = [
            identity | {"split": "heldout" if identity["id"] in heldout else "train"} | details
            for identity, details in self._records
        ]
        text = manifest_text(name, source, records)
        (self.folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
