"""Harlow figures: the learning-set curve (accuracy by trial index 1..6)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harlow.atomic_io import atomic_output  # noqa: E402
from harlow.harlow_task.analysis import TRIALS  # noqa: E402

TRIAL_TICKS = list(range(1, TRIALS + 1))


def _style(axes: plt.Axes, title: str) -> None:
    axes.axhline(50, color="grey", linestyle=":", linewidth=1, label="chance")
    axes.set_xticks(TRIAL_TICKS)
    axes.set_ylim(0, 105)
    axes.set_xlabel("trial within episode")
    axes.set_ylabel("correct choices (%)")
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=8)


def _save(figure: plt.Figure, path: str | os.PathLike) -> None:
    figure.tight_layout()
    with atomic_output(path, "wb") as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)


def _percent(entries: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if e[key] is None else 100 * e[key] for e in entries])


def plot_accuracy_by_trial(summary: dict, path: str | os.PathLike, title: str) -> None:
    """Accuracy per trial index with 95 % intervals (one evaluation)."""
    entries = summary["accuracy_by_trial"]
    accuracy = _percent(entries, "accuracy")
    errors = [accuracy - _percent(entries, "ci_low"), _percent(entries, "ci_high") - accuracy]
    figure, axes = plt.subplots(figsize=(5, 4))
    axes.errorbar(TRIAL_TICKS, accuracy, yerr=errors, marker="o", capsize=3, label="agent")
    _style(axes, title)
    _save(figure, path)


def plot_stages(stages: list[dict], path: str | os.PathLike) -> None:
    """The learning-set curve at successive stages of training (Harlow 1949, Fig. 2)."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(stages)))
    for stage, colour in zip(stages, colours, strict=True):
        label = f"{stage['episodes_trained']:,} episodes trained"
        accuracy = _percent(stage["accuracy_by_trial"], "accuracy")
        axes.plot(TRIAL_TICKS, accuracy, marker="o", color=colour, label=label)
    _style(axes, "Learning set across training")
    _save(figure, path)


def plot_seeds(summaries: list[dict], labels: list[str], path: str | os.PathLike) -> None:
    """Accuracy by trial: one thin line per seed, their mean, and trials 2..6 per seed."""
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
    axes.text(
        0.97,
        0.19,
        "trials 2..6 correct\n" + "\n".join(lines),
        transform=axes.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
    )
    _style(axes, f"Harlow task, {len(summaries)} seeds")
    _save(figure, path)
