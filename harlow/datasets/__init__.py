"""Image datasets of the Harlow task: the bundled faces, importing, and the one loader.

A dataset is a folder of ``0001.png``, ``0002.png``, ... (256x256 8-bit RGB, the
layout DeepMind Lab's Psychlab reads through ``datasetPath``) plus a
``manifest.json`` (see ``harlow.datasets.manifest``). Environments get images only
through ``load_dataset``, which checks the whole folder first. The command line
tool is ``python -m harlow.datasets {generate-faces,import,validate}``.
"""

import harlow.quiet_startup  # noqa: F401 - first: Ctrl-C while the tool starts gives one line

# isort: split
from harlow.datasets.errors import DatasetError
from harlow.datasets.loader import (
    ImageDataset,
    default_dataset_path,
    load_dataset,
    write_numbered_folder,
)

__all__ = [
    "DatasetError",
    "ImageDataset",
    "default_dataset_path",
    "load_dataset",
    "write_numbered_folder",
]
