"""Only regular files are read, up to a size cap: FIFOs, devices and huge files can't hang
or exhaust an import, a validation or the loader that training uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harlow.datasets import default_dataset_path
from harlow.datasets.files import UnsafeFileError, read_regular_file

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m harlow.datasets args`` with a time limit: a hang fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "harlow.datasets", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_regular_files_are_read_and_the_rest_refused(tmp_path):
    (tmp_path / "small").write_bytes(b"abc")
    assert read_regular_file(tmp_path / "small", 3) == b"abc"
    with pytest.raises(UnsafeFileError, match="larger than the 2-byte limit"):
        read_regular_file(tmp_path / "small", 2)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeFileError, match="a FIFO"):
        read_regular_file(tmp_path / "fifo", 100)
    os.symlink("/dev/zero", tmp_path / "zeros")
    with pytest.raises(UnsafeFileError, match="a character device"):
        read_regular_file(tmp_path / "zeros", 100)
    with pytest.raises(UnsafeFileError, match="a folder"):
        read_regular_file(tmp_path, 100)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", 100)


def test_import_reports_a_fifo_and_a_device_instead_of_hanging(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(default_dataset_path(), source)
    os.mkfifo(source / "pipe.png")
    os.symlink("/dev/zero", source / "zeros.png")
    run = _cli("import", "--src", str(source), "--out", str(tmp_path / "out"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "pipe.png: cannot be read (not a regular file: a FIFO (named pipe))" in run.stderr
    assert "zeros.png: cannot be read (not a regular file: a character device)" in run.stderr
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _faces_with_a_fifo_as(tmp_path: Path, name: str) -> Path:
    """A copy of the bundled faces with the file ``name`` replaced by a FIFO."""
    dataset = tmp_path / "faces"
    shutil.copytree(default_dataset_path(), dataset)
    (dataset / name).unlink()
    os.mkfifo(dataset / name)
    return dataset


def test_validate_names_a_fifo_in_place_of_a_dataset_image(tmp_path):
    dataset = _faces_with_a_fifo_as(tmp_path, "0003.png")
    run = _cli("validate", str(dataset))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "0003.png: cannot be read (not a regular file: a FIFO (named pipe))" in run.stderr


def test_validate_names_a_fifo_in_place_of_the_manifest(tmp_path):
    dataset = _faces_with_a_fifo_as(tmp_path, "manifest.json")
    run = _cli("validate", str(dataset))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{dataset / 'manifest.json'}: not a regular file: a FIFO (named pipe)" in run.stderr
    assert "missing" not in run.stderr
