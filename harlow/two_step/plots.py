"""Figures for the two-step task (Wang et al. 2018, Fig. 5).

Each title gives the task's settings (``config.env``: transition, reward and switch
probabilities, trials per episode), the ``settings`` keyword.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from harlow.atomic_io import atomic_output  # noqa: E402
from harlow.title_lines import join_lines  # noqa: E402

GROUPS = (("Rewarded", "rewarded"), ("Unrewarded", "unrewarded"))
TRANSITIONS = (("Common", "common", "#3b75af"), ("Rare", "rare", "#c8413b"))
BAR_WIDTH = 0.35
JITTER = 0.06
TITLE_WIDTH = 46  # characters per title line (the figure is 4.5 inches wide)
SETTINGS = (
    ("common transition", ("common_prob",)),
    ("reward", ("reward_prob_good", "reward_prob_bad")),
    ("switch", ("switch_prob",)),
    ("trials per episode", ("trials_per_episode",)),
)


def settings_parts(settings: Mapping | Sequence[Mapping]) -> list[str]:
    """The task settings in words: ["common transition 0.8", "reward 0.9/0.1", "switch
    0.025", "trials per episode 100"]; settings that differ between several mappings show
    each value ("0.8 | 0.7"), missing ones are left out."""
    entries = [settings] if isinstance(settings, Mapping) else list(settings)
    parts = []
    for words, keys in SETTINGS:
        values = [
            "/".join(f"{e[key]:g}" for key in keys)
            for e in entries
            if all(e.get(key) is not None for key in keys)
        ]
        if values:
            parts.append(f"{words} {' | '.join(dict.fromkeys(values))}")
    return parts


def _finite_values(per_seed: list[dict[str, Any]], name: str) -> list[float]:
    """The finite p_stay values of class ``name`` across seeds.

    Empty classes (p_stay NaN, or None in a JSON report) are skipped.
    """
    values = (stay[name]["p_stay"] for stay in per_seed)
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _stay_figure(
    per_seed: list[dict[str, Any]],
    title: str,
    settings: Mapping | Sequence[Mapping] | None = None,
) -> Figure:
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
    lines = [f"{title} ({n_seeds} seeds)" if n_seeds > 1 else title]
    if settings:
        lines += join_lines(settings_parts(settings), TITLE_WIDTH)
    ax.set_title("\n".join(lines), fontsize=10 if len(lines) > 1 else None)
    fig.tight_layout()
    return fig


def plot_stay_probabilities(
    per_seed: list[dict[str, Any]],
    path: str | os.PathLike[str],
    title: str = "Two-step task: stay probability",
    settings: Mapping | Sequence[Mapping] | None = None,
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
        settings: The task's settings (``config.env``, or one per seed), shown under the
            title (``settings_parts``); None: no such line.

    Raises:
        ValueError: If ``per_seed`` is empty.
    """
    fig = _stay_figure(per_seed, title, settings)
    try:
        with atomic_output(path, "wb") as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
