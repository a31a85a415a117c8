"""Figures for the two-step task (Wang et al. 2018, Fig. 5)."""

from __future__ import annotations

import math
import os
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from harlow.atomic_io import atomic_output  # noqa: E402

GROUPS = (("Rewarded", "rewarded"), ("Unrewarded", "unrewarded"))
TRANSITIONS = (("Common", "common", "#3b75af"), ("Rare", "rare", "#c8413b"))
BAR_WIDTH = 0.35
JITTER = 0.06


def _finite_values(per_seed: list[dict[str, Any]], name: str) -> list[float]:
    """The finite p_stay values of class ``name`` across seeds.

    Empty classes (p_stay NaN, or None in a JSON report) are skipped.
    """
    values = (stay[name]["p_stay"] for stay in per_seed)
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _stay_figure(per_seed: list[dict[str, Any]], title: str) -> Figure:
    """Draw the grouped stay-probability bar chart with one dot per seed."""
    if not per_seed:
        raise ValueError("per_seed must contain at least one stay_probabilities result")
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    for offset, (label, transition, color) in zip((-0.5, 0.5), TRANSITIONS, strict=True):
        for x_group, (_, reward) in enumerate(GROUPS):
            x = x_group + offset * BAR_WIDTH
            values = _finite_values(per_seed, f"{reward}_{transition}")
            height = float(np.mean(values)) if values else math.nan
            ax.bar(x, height, BAR_WIDTH, color=color, label=label if x_group == 0 else None)
            jitter = rng.uniform(-JITTER, JITTER, size=len(values))
            ax.scatter(x + jitter, values, color="black", s=12, zorder=3)
    ax.set_xticks(range(len(GROUPS)), [group for group, _ in GROUPS])
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("P(stay)")
    ax.legend(frameon=False)
    n_seeds = len(per_seed)
    ax.set_title(f"{title} ({n_seeds} seeds)" if n_seeds > 1 else title)
    fig.tight_layout()
    return fig


def plot_stay_probabilities(
    per_seed: list[dict[str, Any]],
    path: str | os.PathLike[str],
    title: str = "Two-step task: stay probability",
) -> None:
    """Plot stay probability by previous reward and transition (Wang et al. 2018, Fig. 5).

    Two groups on the x-axis (Rewarded, Unrewarded), each with a Common (blue) and a Rare
    (red) bar whose height is the mean p_stay over seeds; black dots show individual seeds.
    Classes with no trials (NaN p_stay) are left out of the mean and the dots.

    Args:
        per_seed: One ``stay_probabilities`` result per seed (or workdir); not empty.
        path: Destination PNG. Parent directories are created; the file is written to a
            temporary file in the same directory and moved into place atomically.
        title: Figure title; the number of seeds is appended when there is more than one.

    Raises:
        ValueError: If ``per_seed`` is empty.
    """
    fig = _stay_figure(per_seed, title)
    try:
        with atomic_output(path, "wb") as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
