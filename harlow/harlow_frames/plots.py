"""Draws the frame-level Harlow figures: the gaze over a few episodes, the learning set
across training stages (with the share of trials timed out), and the curves of several
seeds.

Figures are drawn with matplotlib's Agg backend (no display) and titled and saved by
``harlow.harlow_task.plots``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from harlow.harlow_frames.records import (  # noqa: E402
    EpisodeRecord,
    aggregate_seeds,
    percent_or_na,
)
from harlow.harlow_task import plots  # noqa: E402
from harlow.psychlab.protocol import CENTRE, LEFT, NO_SIDE, RIGHT, SCREEN_IMAGES  # noqa: E402

IMAGE_X = (LEFT[0], RIGHT[0])  # the images' centres, fractions of the screen width


def plot_gaze(episodes: list[EpisodeRecord], path: str | os.PathLike, settings: Mapping) -> None:
    """The gaze's horizontal position over the frames of each episode (one panel each):
    the cross and the images' centres as reference lines, images shown shaded, the
    fixation and choice events marked (choices green if correct, red if wrong)."""
    figure, axes_list = plt.subplots(  # the last row holds the legend
        len(episodes) + 1,
        1,
        figsize=(7, 1.6 * len(episodes) + 1.8),
        height_ratios=[1.0] * len(episodes) + [0.3],
    )
    for index, (axes, episode) in enumerate(zip(axes_list[:-1], episodes, strict=True)):
        trace = episode.gaze
        axes.fill_between(
            trace.frames,
            0,
            1,
            where=trace.screen_state == SCREEN_IMAGES,
            step="pre",
            color="gold",
            alpha=0.25,
            linewidth=0,
            transform=axes.get_xaxis_transform(),
        )
        axes.axhline(CENTRE[0], color="tab:red", linestyle=":", linewidth=1)
        for x in IMAGE_X:
            axes.axhline(x, color="grey", linestyle="--", linewidth=1)
        on_screen = np.where(trace.gaze_x < 0, np.nan, trace.gaze_x)
        axes.plot(trace.frames, on_screen, color="tab:blue", linewidth=1, drawstyle="steps-pre")
        fixated = [t.fixation_frame for t in episode.trials if t.fixation_frame is not None]
        axes.plot(fixated, [CENTRE[0]] * len(fixated), "v", color="black", markersize=5)
        for trial in episode.trials:
            if trial.chosen and trial.side != NO_SIDE:
                colour = "tab:green" if trial.correct else "tab:red"
                axes.plot(trial.choice_frame, IMAGE_X[trial.side], "o", color=colour)
        axes.set_xlim(0, episode.frames)
        axes.set_ylim(-0.05, 1.05)
        axes.set_ylabel("gaze x")
        outcome = "timed out" if episode.timed_out else "all trials"
        axes.set_title(f"episode {index + 1}: {episode.frames:,} frames, {outcome}", fontsize=8)
    axes_list[-2].set_xlabel("frames since the episode's start")
    handles = [
        Line2D([], [], color="tab:blue", label="gaze (screen width; gaps: off it)"),
        Line2D([], [], color="tab:red", linestyle=":", label="cross"),
        Line2D([], [], color="grey", linestyle="--", label="image centres"),
        Patch(color="gold", alpha=0.25, label="images shown"),
        Line2D([], [], marker="v", color="black", linestyle="", label="fixation reward"),
        Line2D([], [], marker="o", color="tab:green", linestyle="", label="correct choice"),
        Line2D([], [], marker="o", color="tab:red", linestyle="", label="wrong choice"),
    ]
    axes_list[-1].axis("off")
    axes_list[-1].legend(handles=handles, loc="center", ncol=4, fontsize=7, frameon=False)
    figure.suptitle(plots.figure_title(f"Gaze, {len(episodes)} episodes", settings), fontsize=10)
    plots.save_figure(figure, path)


def _percent_or_nan(value: float | None) -> float:
    return np.nan if value is None else 100 * value


def plot_stages(stages: list[dict], path: str | os.PathLike, note: str | None = None) -> None:
    """The learning-set curves of successive checkpoints (left) and, against the agent
    steps trained, trials 2..6 correct and the share of trials timed out (right): when
    fixation and when the learning set appear. ``note``: why fewer stages than asked."""
    figure, (curves, course) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(stages)))
    for stage, colour in zip(stages, colours, strict=True):
        accuracy = [_percent_or_nan(e["accuracy"]) for e in stage["accuracy_by_trial"]]
        label = f"{stage['env_steps']:,} steps trained (n = {stage['episodes']:,} episodes)"
        curves.plot(plots.TRIAL_TICKS, accuracy, marker="o", color=colour, label=label)
    title = f"Learning set across training, {len(stages)} checkpoints"
    plots.style_axes(curves, plots.figure_title(title, stages, note))
    steps = [stage["env_steps"] for stage in stages]
    learning = [_percent_or_nan(s["trials_2_to_6"]["accuracy"]) for s in stages]
    timed_out = [_percent_or_nan(s["fixation"]["timed_out_share"]) for s in stages]
    course.plot(steps, learning, marker="o", color="tab:blue", label="trials 2..6 correct")
    course.plot(steps, timed_out, marker="s", color="tab:orange", label="trials timed out")
    course.axhline(50, color="grey", linestyle=":", linewidth=1, label="chance")
    if min(steps) > 0:
        course.set_xscale("log")
    course.set_ylim(0, 105)
    course.set_xlabel("agent steps trained")
    course.set_ylabel("% of choices (correct) or of trials (timed out)")
    course.set_title("Fixation, then the learning set", fontsize=10)
    course.legend(loc="center right", fontsize=8)
    plots.save_figure(figure, path)


def plot_seeds(summaries: list[dict], path: str | os.PathLike) -> None:
    """Accuracy by trial over seeds: one thin line per seed, their mean, and trials 2..6
    correct and trials timed out per seed."""
    figure, axes = plt.subplots(figsize=(5.5, 4.2))
    curves = np.array(
        [[_percent_or_nan(e["accuracy"]) for e in s["accuracy_by_trial"]] for s in summaries]
    )
    for index, curve in enumerate(curves):
        label = "one line per seed" if index == 0 else None
        axes.plot(plots.TRIAL_TICKS, curve, color="tab:blue", alpha=0.4, linewidth=1, label=label)
    mean = [_percent_or_nan(v) for v in aggregate_seeds(summaries)["mean_accuracy_by_trial"]]
    axes.plot(plots.TRIAL_TICKS, mean, color="black", marker="o", label="mean")
    lines = [
        f"seed {s.get('seed', i)}: {percent_or_na(s['trials_2_to_6']['accuracy'])}, "
        f"{percent_or_na(s['fixation']['timed_out_share'])} timed out"
        for i, s in enumerate(summaries)
    ]
    axes.text(  # bottom left, clear of the legend (bottom right) and of the curves
        0.2,
        0.03,
        "trials 2..6 correct, trials timed out\n" + "\n".join(lines),
        transform=axes.transAxes,
        ha="left",
        va="bottom",
        fontsize=7,
    )
    plots.style_axes(
        axes, plots.figure_title(f"Harlow from frames, {len(summaries)} seeds", summaries)
    )
    plots.save_figure(figure, path)
