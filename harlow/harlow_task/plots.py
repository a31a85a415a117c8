"""Harlow figures: the learning-set curve (accuracy by trial index 1..6).

Each title says what was measured: dataset, split, backend and observation mode (the
``settings`` keyword, by default read from the summaries, which carry them).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harlow.atomic_io import atomic_output  # noqa: E402
from harlow.harlow_task.analysis import TRIALS  # noqa: E402
from harlow.title_lines import join_lines  # noqa: E402

TRIAL_TICKS = list(range(1, TRIALS + 1))
SETTINGS = ("dataset", "split", "backend", "observation")
TITLE_WIDTH = 56  # characters per title line: the narrowest figure is 5 inches wide


def _one_value(values: list) -> str:
    distinct = list(dict.fromkeys(str(v) for v in values if v is not None))
    return "/".join(distinct) if distinct else "?"


def settings_parts(settings: Mapping | Sequence[Mapping]) -> list[str]:
    """What a figure measured: ["faces dataset", "heldout split", "simulator backend",
    "ids observation"]; several summaries that differ show each value ("a/b")."""
    entries = [settings] if isinstance(settings, Mapping) else list(settings)
    values = {key: _one_value([e.get(key) for e in entries]) for key in SETTINGS}
    datasets = [e.get("dataset") for e in entries if e.get("dataset")]
    if datasets:  # the folder's name: the path can be long
        values["dataset"] = _one_value([Path(d).name for d in datasets])
    return [f"{values[key]} {key}" for key in SETTINGS]


def figure_title(
    first_line: str, settings: Mapping | Sequence[Mapping], note: str | None = None
) -> str:
    """A figure's title: ``first_line``, then the settings it ran with (dataset, split,
    backend, observation), then ``note`` if any, wrapped."""
    lines = [first_line, *join_lines(settings_parts(settings), TITLE_WIDTH)]
    if note:
        lines += textwrap.wrap(note, TITLE_WIDTH)
    return "\n".join(lines)


def style_axes(axes: plt.Axes, title: str) -> None:
    """Accuracy-by-trial axes: the chance line, trials 1..6, 0-105 %, labels, title, legend."""
    axes.axhline(50, color="grey", linestyle=":", linewidth=1, label="chance")
    axes.set_xticks(TRIAL_TICKS)
    axes.set_ylim(0, 105)
    axes.set_xlabel("trial within episode")
    axes.set_ylabel("correct choices (%)")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="lower right", fontsize=8)


def save_figure(figure: plt.Figure, path: str | os.PathLike) -> None:
    """Writes ``figure`` to ``path`` as a PNG (whole or not at all) and closes it."""
    figure.tight_layout()
    with atomic_output(path, "wb") as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)


def _percent(entries: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if e[key] is None else 100 * e[key] for e in entries])


def plot_accuracy_by_trial(
    summary: dict, path: str | os.PathLike, title: str, settings: Mapping | None = None
) -> None:
    """Accuracy per trial index with 95 % intervals (one evaluation).

    ``title``, then the ``settings`` line (default: the summary's dataset, split, backend
    and observation mode).
    """
    entries = summary["accuracy_by_trial"]
    accuracy = _percent(entries, "accuracy")
    errors = [accuracy - _percent(entries, "ci_low"), _percent(entries, "ci_high") - accuracy]
    figure, axes = plt.subplots(figsize=(5, 4))
    axes.errorbar(TRIAL_TICKS, accuracy, yerr=errors, marker="o", capsize=3, label="agent")
    style_axes(axes, figure_title(title, summary if settings is None else settings))
    save_figure(figure, path)


def stage_label(stage: Mapping) -> str:
    """A curve's legend entry: its checkpoint's training trials and the episodes it was
    evaluated on."""
    return f"{stage['env_steps']:,} trials trained (n = {stage['episodes']:,} episodes)"


def plot_stages(
    stages: list[dict],
    path: str | os.PathLike,
    settings: Mapping | None = None,
    note: str | None = None,
) -> None:
    """The learning-set curve at successive stages of training (Harlow 1949, Fig. 2).

    One curve per stage, labelled with ``stage_label``; the title gives the ``settings``
    (default: those the stages carry) and ``note`` (why fewer stages than asked for).
    """
    figure, axes = plt.subplots(figsize=(6, 4.5))
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(stages)))
    for stage, colour in zip(stages, colours, strict=True):
        accuracy = _percent(stage["accuracy_by_trial"], "accuracy")
        axes.plot(TRIAL_TICKS, accuracy, marker="o", color=colour, label=stage_label(stage))
    title = f"Learning set across training, {len(stages)} checkpoints"
    style_axes(axes, figure_title(title, stages if settings is None else settings, note))
    save_figure(figure, path)


def plot_seeds(
    summaries: list[dict],
    labels: list[str],
    path: str | os.PathLike,
    settings: Mapping | None = None,
) -> None:
    """Accuracy by trial: one thin line per seed, their mean, and trials 2..6 per seed.

    The title gives the ``settings`` (default: those of the summaries).
    """
    figure, axes = plt.subplots(figsize=(5.5, 4.2))
    curves = np.array([_percent(s["accuracy_by_trial"], "accuracy") for s in summaries])
    for index, curve in enumerate(curves):
        label = "one line per seed" if index == 0 else None
        axes.plot(TRIAL_TICKS, curve, color="tab:blue", alpha=0.4, linewidth=1, label=label)
    axes.plot(TRIAL_TICKS, np.nanmean(curves, axis=0), color="black", marker="o", label="mean")
    lines = [
        f"{label}: {100 * s['trials_2_to_6']['accuracy']:.1f} %"
        for label, s in zip(labels, summaries, strict=True)
    ]
    axes.text(  # bottom left, clear of the legend (bottom right) and of the curves
        0.2,
        0.03,
        "trials 2..6 correct\n" + "\n".join(lines),
        transform=axes.transAxes,
        ha="left",
        va="bottom",
        fontsize=7,
    )
    title = f"Harlow task, {len(summaries)} seeds"
    style_axes(axes, figure_title(title, summaries if settings is None else settings))
    save_figure(figure, path)
