"""Loading experiment config files (``configs/*.py``) by path."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import ml_collections


def load_config_file(path: str | os.PathLike) -> ml_collections.ConfigDict:
    """Calls ``get_config()`` of the config file at ``path``.

    Raises ``ValueError`` naming the path when there is no such file or it
    defines no ``get_config``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} not found")
    spec = importlib.util.spec_from_file_location(f"_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"config file {path} defines no get_config()")
    return module.get_config()
