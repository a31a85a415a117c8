"""Config grids for ``harlow.sweep``: ``--grid=KEY=V1,V2`` (repeatable) trains every
seed at every combination of the values.

Each combination is a ``GridPoint``: its ``--config.KEY=VALUE`` overrides, a name
("train.learning_rate=0.001 train.entropy_coef=0.01") and a folder of the sweep's
workdir named after them, which holds that point's ``seed_<s>/`` runs and ``eval/``
report as a sweep without a grid holds them in the workdir itself. Every point's config
is built and checked before anything starts.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import ml_collections

from harlow.atomic_io import atomic_write_text
from harlow.config.overrides import apply_overrides
from harlow.config.validation import validate_config

GRID_FILE = "grid.json"


@dataclass(frozen=True)
class GridPoint:
    """One combination of grid values (no overrides: the sweep has no grid)."""

    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """``key=value`` pairs, space-separated ('' without a grid)."""
        return " ".join(f"{key}={value}" for key, value in self.overrides)

    def folder(self, workdir: Path) -> Path:
        """Where this point's runs go: ``workdir`` itself without a grid."""
        if not self.overrides:
            return workdir
        parts = [f"{key}={value}" for key, value in self.overrides]
        return workdir / re.sub(r"[^\w.=+-]", "_", "__".join(parts))

    def args(self) -> list[str]:
        """The ``--config.KEY=VALUE`` flags of this point."""
        return [f"--config.{key}={value}" for key, value in self.overrides]


def parse_grid(entries: list[str]) -> list[tuple[str, list[str]]]:
    """``["train.learning_rate=1e-3,3e-3", ...]`` as ``[(key, values), ...]``; raises
    ``ValueError`` naming the entry that is not ``KEY=V1[,V2...]``, repeats a key or value,
    or sets the seed (``--seeds`` chooses them)."""
    axes: list[tuple[str, list[str]]] = []
    for entry in entries:
        key, sep, text = entry.partition("=")
        key = key.strip().removeprefix("config.")
        values = [value.strip() for value in text.split(",")]
        if not sep or not key or not all(values):
            raise ValueError(
                f"--grid={entry!r} must be KEY=V1,V2,... (e.g. train.learning_rate=1e-3,3e-3)"
            )
        if key == "seed":
            raise ValueError("--grid cannot vary the seed: choose the seeds with --seeds")
        if key in dict(axes):
            raise ValueError(f"--grid names {key} twice: give all its values in one --grid")
        if len(set(values)) != len(values):
            raise ValueError(f"--grid={entry!r} repeats a value")
        axes.append((key, values))
    return axes


def grid_points(
    config: ml_collections.ConfigDict,
    entries: list[str],
    fixed_keys: set[str],
) -> list[GridPoint]:
    """Every combination of ``entries`` (see ``parse_grid``), each point's config built
    and validated; ``fixed_keys`` are the keys ``--config.*`` flags set for all seeds,
    which a grid cannot vary as well. One point with no overrides without a grid."""
    axes = parse_grid(entries)
    for key, _ in axes:
        if key in fixed_keys:
            raise ValueError(f"--grid varies {key}, which --config.{key} also sets: keep one")
    points = [
        GridPoint(tuple(zip([key for key, _ in axes], combination, strict=True)))
        for combination in itertools.product(*(values for _, values in axes))
    ]
    for point in points:
        point_config = config.copy_and_resolve_references()
        try:
            apply_overrides(point_config, list(point.overrides))
            validate_config(point_config)
        except ValueError as error:
            raise ValueError(f"--grid point {point.name}: {error}") from None
    return points


def write_grid_report(workdir: Path, points: list[GridPoint], seeds: list[int]) -> Path:
    """``<workdir>/grid.json``: each point's overrides, folder and report file."""
    rows = []
    for point in points:
        folder = point.folder(workdir)
        report = folder / "eval" / ("seeds.json" if len(seeds) > 1 else "report.json")
        rows.append(
            {
                "overrides": dict(point.overrides),
                "folder": str(folder),
                "report": str(report) if report.is_file() else None,
            }
        )
    path = workdir / GRID_FILE
    atomic_write_text(path, json.dumps({"seeds": seeds, "points": rows}, indent=2) + "\n")
    return path
