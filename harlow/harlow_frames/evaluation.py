"""Runs a frozen agent on frame-level Harlow episodes and writes the learning-set report.

The report is the trial-level task's (accuracy by trial with Wilson intervals, trials
2..6, trial 2 after a wrong or a right trial 1, on ``config.eval.split``'s images) over
the trials that ended with a choice, plus what the agent has to learn first here:
fixation. Frames from a trial's start (the episode's start or the previous choice) to
the fixation reward, from there to the choice, the share of trials that time out (a
trial the episode's time limit cut short, or never reached, had no choice), and on the
simulator a plot of the gaze over a few episodes.

Evaluation plays the stock level's episodes: ``LEVEL_EPISODE_SECONDS`` (300 s) long,
spawn yaw over the whole ``config.env.spawn_yaw_range_deg`` (no training curriculum), so
that timed-out trials are the level's.

Rewards come summed over each agent step's frames: +1 for the cross and +-5 for an image
(``split_reward`` tells them apart). The level pays a reward one frame after it is
earned, so a reward can arrive in the step after its event; ``EpisodeRecorder`` credits
each to its trial. Frames are counted in whole agent steps (``info["frames"]`` each).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from harlow.agent import ActorCritic  # noqa: E402
from harlow.atomic_io import atomic_write_text  # noqa: E402
from harlow.harlow_frames import env as frames_env  # noqa: E402
from harlow.harlow_frames.env import LEVEL_EPISODE_SECONDS  # noqa: E402
from harlow.harlow_task import analysis, plots  # noqa: E402
from harlow.harlow_task import evaluation as trial_evaluation  # noqa: E402
from harlow.harlow_task.env import dataset_path  # noqa: E402
from harlow.progress import progress_bar  # noqa: E402
from harlow.psychlab.protocol import CENTRE, LEFT, NO_SIDE, RIGHT, SCREEN_IMAGES  # noqa: E402
from harlow.rollout import Actor  # noqa: E402
from harlow.signals import raise_if_terminated  # noqa: E402

TRIALS = analysis.TRIALS
GAZE_EPISODES = 4  # episodes in the gaze plot: the first of as many environments
SIDES = ("left", "right")
IMAGE_X = (LEFT[0], RIGHT[0])  # the images' centres, fractions of the screen width
_CSV_COLUMNS = (
    "episode",
    "trial",
    "chosen_side",
    "correct",
    "reward",
    "frames_to_fixation",
    "frames_to_choice",
    "timed_out",
)


def split_reward(reward: float) -> tuple[float, float]:
    """A step's reward as its (fixation, choice) parts: +1 for the cross, +-5 for an image.

    A step holds at most one of each (the view holds still after its first frame: the
    gaze cannot rest on the cross and on an image within one step).
    """
    choice = analysis.CHOICE_REWARD * round(reward / analysis.CHOICE_REWARD)
    return round(reward - choice, 6), float(choice)


@dataclass
class TrialRecord:
    """One trial of an episode. Frames count from the episode's start, to the end of an
    agent step; a field is ``None`` where the trial never got that far."""

    start_frame: int | None = None  # the episode's start or the previous choice
    fixation_frame: int | None = None  # the step whose reward held the fixation reward
    choice_frame: int | None = None  # the step that ended the trial with a choice
    correct: bool = False  # the choice took the rewarded image (False without a choice)
    side: int = NO_SIDE  # the side chosen (0 left, 1 right); NO_SIDE if unknown or none
    reward: float = 0.0  # fixation + choice reward

    @property
    def chosen(self) -> bool:
        """Whether the trial ended with a choice (else it timed out)."""
        return self.choice_frame is not None

    @property
    def frames_to_fixation(self) -> int | None:
        """Frames from the trial's start to its fixation reward."""
        if self.fixation_frame is None:
            return None
        return self.fixation_frame - self.start_frame

    @property
    def frames_to_choice(self) -> int | None:
        """Frames from the fixation reward to the choice."""
        if self.fixation_frame is None or self.choice_frame is None:
            return None
        return self.choice_frame - self.fixation_frame


@dataclass(frozen=True)
class GazeTrace:
    """Where the gaze was after each agent step of an episode (but its last: the step
    that ends an episode reports the next one's first frame)."""

    frames: np.ndarray  # frames since the episode's start
    gaze_x: np.ndarray  # fraction of the screen's width, -1 off the screen
    screen_state: np.ndarray  # protocol.SCREEN_FIXATION, SCREEN_IMAGES or SCREEN_BLANK


@dataclass(frozen=True)
class EpisodeRecord:
    """One whole episode: its ``TRIALS`` trials (those not reached included)."""

    trials: tuple[TrialRecord, ...]
    frames: int
    reward: float
    timed_out: bool
    gaze: GazeTrace | None = None


@dataclass
class _Episode:
    """An episode in progress (``EpisodeRecorder``)."""

    trace_gaze: bool
    frames: int = 0
    reward: float = 0.0
    trials: list[TrialRecord] = field(default_factory=lambda: [TrialRecord(start_frame=0)])
    awaiting_choice_reward: list[TrialRecord] = field(default_factory=list)
    gaze: list[tuple[int, float, int]] = field(default_factory=list)

    def add_step(self, reward: float, done: bool, info: Mapping[str, np.ndarray], e: int) -> None:
        """Books environment ``e``'s step (see ``EpisodeRecorder.step``)."""
        self.frames += int(info["frames"][e])
        self.reward += reward
        fixation, choice = split_reward(reward)
        touched = [self.trials[-1]]  # the trial in progress, and any this step starts
        if info["choices"][e] > 0:
            trial = self.trials[-1]
            trial.choice_frame = self.frames
            trial.correct = bool(info["choice_correct"][e])
            if "choice_side" in info:
                trial.side = int(info["choice_side"][e])
            self.awaiting_choice_reward.append(trial)
            if len(self.trials) < TRIALS:
                self.trials.append(TrialRecord(start_frame=self.frames))
                touched.append(self.trials[-1])
        if fixation > 0:
            target = next((t for t in touched if t.fixation_frame is None), None)
            if target is not None:
                target.fixation_frame = self.frames
            (target or self.trials[-1]).reward += fixation
        if choice:
            waiting = self.awaiting_choice_reward
            (waiting.pop(0) if waiting else self.trials[-1]).reward += choice
        if self.trace_gaze and not done:
            self.gaze.append((self.frames, float(info["gaze_x"][e]), int(info["screen_state"][e])))

    def finish(self, timed_out: bool) -> EpisodeRecord:
        """The record of the episode that just ended."""
        trials = self.trials + [TrialRecord() for _ in range(TRIALS - len(self.trials))]
        gaze = None
        if self.trace_gaze:
            steps = np.array(self.gaze, float).reshape(-1, 3)
            gaze = GazeTrace(steps[:, 0].astype(int), steps[:, 1], steps[:, 2].astype(int))
        return EpisodeRecord(tuple(trials), self.frames, self.reward, timed_out, gaze)


class EpisodeRecorder:
    """Turns batched frame-environment steps into ``EpisodeRecord``s.

    Traces the gaze (where ``info`` has ``gaze_x``, the simulator) in environments
    ``0 .. traced_envs - 1``.
    """

    def __init__(self, num_envs: int, traced_envs: int = 0) -> None:
        self.num_envs = num_envs
        self.traced_envs = traced_envs
        self._episodes: list[_Episode] | None = None

    def _new_episode(self, e: int, info: Mapping[str, np.ndarray]) -> _Episode:
        return _Episode(trace_gaze=e < self.traced_envs and "gaze_x" in info)

    def step(
        self, rewards: np.ndarray, dones: np.ndarray, info: Mapping[str, np.ndarray]
    ) -> list[tuple[int, EpisodeRecord]]:
        """Books one step of every environment (``FrameHarlowEnv.step``'s rewards, dones and
        info); returns ``(environment, record)`` of the episodes it ended."""
        if self._episodes is None:
            self._episodes = [self._new_episode(e, info) for e in range(self.num_envs)]
        ended = []
        for e, episode in enumerate(self._episodes):
            episode.add_step(float(rewards[e]), bool(dones[e]), info, e)
            if dones[e]:
                ended.append((e, episode.finish(bool(info["timed_out"][e]))))
                self._episodes[e] = self._new_episode(e, info)
        return ended


def _evaluation_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with the level's spawn range from the first episode (no curriculum)."""
    config = config.copy_and_resolve_references()
    config.env.spawn_curriculum_steps = 0
    return config


def collect_episodes(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    split: str,
    show_progress: bool | None = None,
    gaze_episodes: int = GAZE_EPISODES,
) -> list[EpisodeRecord]:
    """Plays ``episodes`` whole episodes of the level (``LEVEL_EPISODE_SECONDS``, no spawn
    curriculum) on ``split`` with frozen weights; records each.

    Each environment plays its share of the episodes (so that short episodes are not
    over-represented); the first episode of the first ``gaze_episodes`` environments
    keeps its gaze trace (simulator only).
    """
    num_envs = min(config.eval.num_envs, episodes)
    env = frames_env.make_env(
        _evaluation_config(config), num_envs, seed, split, LEVEL_EPISODE_SECONDS
    )
    quotas = [len(share) for share in np.array_split(np.arange(episodes), num_envs)]
    played: list[list[EpisodeRecord]] = [[] for _ in range(num_envs)]
    recorder = EpisodeRecorder(num_envs, traced_envs=gaze_episodes)
    try:
        actor = Actor(env, agent, np.random.default_rng(seed), greedy=greedy)
        with progress_bar(total=episodes, unit="episode", disable=show_progress is False) as bar:
            while any(len(p) < q for p, q in zip(played, quotas, strict=True)):
                raise_if_terminated()
                _, rewards, dones, info = actor.step()
                for e, record in recorder.step(rewards, dones, info):
                    if len(played[e]) < quotas[e]:
                        played[e].append(record if not played[e] else replace(record, gaze=None))
                        bar.update()
    finally:
        env.close()
    return [record for records in played for record in records]


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize_episodes(episodes: list[EpisodeRecord]) -> dict:
    """The report of one evaluation (JSON-safe; at least one episode): accuracies over the
    trials that ended with a choice (``None`` where there are none), rewards, and the
    fixation statistics."""
    chosen = np.array([[t.chosen for t in e.trials] for e in episodes], bool)
    correct = np.array([[t.correct for t in e.trials] for e in episodes], bool)
    rewards = np.array([e.reward for e in episodes], float)
    wrong_first = chosen[:, 0] & ~correct[:, 0] & chosen[:, 1]
    right_first = correct[:, 0] & chosen[:, 1]
    trials = [t for e in episodes for t in e.trials]
    fixations = [t.frames_to_fixation for t in trials if t.fixation_frame is not None]
    to_choice = [t.frames_to_choice for t in trials if t.frames_to_choice is not None]
    timed_out = int((~chosen).sum())
    sem = float(rewards.std(ddof=1) / np.sqrt(len(rewards))) if len(rewards) > 1 else None
    return {
        "episodes": len(episodes),
        "accuracy_by_trial": [
            {
                "trial": t + 1,
                **analysis.proportion(int(correct[:, t].sum()), int(chosen[:, t].sum())),
            }
            for t in range(TRIALS)
        ],
        "trial_1": analysis.proportion(int(correct[:, 0].sum()), int(chosen[:, 0].sum())),
        "trials_2_to_6": analysis.proportion(int(correct[:, 1:].sum()), int(chosen[:, 1:].sum())),
        "trial_2_after_wrong_trial_1": analysis.proportion(
            int(correct[wrong_first, 1].sum()), int(wrong_first.sum())
        ),
        "trial_2_after_right_trial_1": analysis.proportion(
            int(correct[right_first, 1].sum()), int(right_first.sum())
        ),
        "reward_per_episode": float(rewards.mean()),
        "reward_per_episode_sem": sem,
        "reward_per_trial": float(rewards.mean() / TRIALS),
        "optimal_reward_per_episode": analysis.OPTIMAL_EPISODE_REWARD,
        "fixation": {
            "frames_to_fixation_median": _median(fixations),
            "frames_to_fixation_mean": _mean(fixations),
            "frames_fixation_to_choice_median": _median(to_choice),
            "trials": len(trials),
            "fixated_trials": len(fixations),
            "timed_out_trials": timed_out,
            "timed_out_share": timed_out / len(trials),
            "timed_out_episodes": sum(e.timed_out for e in episodes),
            "frames_per_episode_mean": float(np.mean([e.frames for e in episodes])),
        },
    }


def _blank_if_none(value: int | None) -> str | int:
    return "" if value is None else value


def trials_csv(episodes: list[EpisodeRecord]) -> str:
    """One row per trial: episode, trial, chosen side, correct, reward, frames to the
    fixation and from there to the choice, timed out. Blank where the trial had no choice
    (or no fixation); ``chosen_side`` is blank also where the backend does not report it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for index, episode in enumerate(episodes):
        for number, trial in enumerate(episode.trials, start=1):
            writer.writerow(
                [
                    index,
                    number,
                    SIDES[trial.side] if trial.chosen and trial.side != NO_SIDE else "",
                    int(trial.correct) if trial.chosen else "",
                    f"{trial.reward:g}",
                    _blank_if_none(trial.frames_to_fixation),
                    _blank_if_none(trial.frames_to_choice),
                    int(not trial.chosen),
                ]
            )
    return out.getvalue()


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


def _settings(config: ml_collections.ConfigDict) -> dict:
    return {
        "split": config.eval.split,
        "dataset": str(dataset_path(config)),
        "backend": config.env.backend,
        "observation": "frames",
    }


def evaluate(
    agent: ActorCritic,
    config: ml_collections.ConfigDict,
    episodes: int,
    seed: int,
    greedy: bool,
    output_dir: str | os.PathLike,
) -> dict:
    """Evaluates on ``config.eval.split``; writes ``trials.csv``, ``accuracy_by_trial.png``
    and, where the backend reports the gaze, ``gaze.png`` (``gaze_plot`` says which).

    Returns the summary; ``harlow.evaluation.evaluate_checkpoint`` writes it, completed,
    as ``report.json``.
    """
    records = collect_episodes(agent, config, episodes, seed, greedy, config.eval.split)
    summary = _settings(config) | summarize_episodes(records)
    output_dir = Path(output_dir)
    atomic_write_text(output_dir / "trials.csv", trials_csv(records))
    title = f"Harlow from frames, {config.eval.split} images, {episodes} episodes"
    plots.plot_accuracy_by_trial(summary, output_dir / "accuracy_by_trial.png", title)
    traced = [record for record in records if record.gaze is not None]
    if traced:
        plot_gaze(traced, output_dir / "gaze.png", summary)
        summary["gaze_plot"] = f"gaze.png ({len(traced)} episodes)"
    else:
        summary["gaze_plot"] = f"none: the {config.env.backend} backend does not report the gaze"
    return summary


def stage_summary(
    agent: ActorCritic, config: ml_collections.ConfigDict, episodes: int, seed: int, greedy: bool
) -> dict:
    """Accuracy by trial and fixation of one training stage (a checkpoint), on
    ``config.eval.split``."""
    split = config.eval.split
    records = collect_episodes(
        agent, config, episodes, seed, greedy, split, show_progress=False, gaze_episodes=0
    )
    return _settings(config) | summarize_episodes(records)


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


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _frames(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def format_summary(summary: dict) -> str:
    """Human-readable lines: accuracy per trial, trials 2..6, reward per episode, fixation."""
    percent = trial_evaluation.percent_text
    lines = [
        f"{summary['episodes']} episodes on {summary['split']} images ({summary['backend']}, "
        "frames; accuracy over the trials that ended with a choice):"
    ]
    for entry in summary["accuracy_by_trial"]:
        lines.append(f"  trial {entry['trial']}: {percent(entry)}")
    lines.append(f"  trials 2..6: {percent(summary['trials_2_to_6'])}")
    lines.append(
        f"  trial 2 after a wrong trial 1: {percent(summary['trial_2_after_wrong_trial_1'])}"
    )
    lines.append(
        f"reward per episode {summary['reward_per_episode']:.2f} "
        f"(optimum {summary['optimal_reward_per_episode']:g})"
    )
    fixation = summary["fixation"]
    lines.append(
        f"fixation: the cross after {_frames(fixation['frames_to_fixation_median'])} frames "
        f"(median; mean {_frames(fixation['frames_to_fixation_mean'])}), the choice "
        f"{_frames(fixation['frames_fixation_to_choice_median'])} frames later; "
        f"{fixation['timed_out_trials']} of {fixation['trials']} trials timed out "
        f"({_percent(fixation['timed_out_share'])})"
    )
    if "gaze_plot" in summary:
        lines.append(f"gaze plot: {summary['gaze_plot']}")
    return "\n".join(lines)


def _defined(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def aggregate_seeds(summaries: list[dict]) -> dict:
    """Across seeds: mean accuracy per trial, trials 2..6, trial 1 and the share of trials
    timed out per seed (``None`` where a seed made no choice)."""
    trials_2_6 = [s["trials_2_to_6"]["accuracy"] for s in summaries]
    by_trial = [
        _mean(_defined([s["accuracy_by_trial"][t]["accuracy"] for s in summaries]))
        for t in range(TRIALS)
    ]
    defined = _defined(trials_2_6)
    timed_out = [s["fixation"]["timed_out_share"] for s in summaries]
    return {
        "mean_accuracy_by_trial": by_trial,
        "trials_2_to_6_per_seed": trials_2_6,
        "trial_1_per_seed": [s["trial_1"]["accuracy"] for s in summaries],
        "trials_2_to_6_min": min(defined) if defined else None,
        "trials_2_to_6_mean": _mean(defined),
        "timed_out_share_per_seed": timed_out,
        "timed_out_share_mean": _mean(_defined(timed_out)),
    }


def _percents(values: list[float | None]) -> str:
    return ", ".join("n/a" if v is None else f"{100 * v:.1f}" for v in values)


def format_aggregate(aggregate: dict) -> str:
    """One line: trials 2..6, trial 1 and trials timed out over seeds."""
    mean, worst = aggregate["trials_2_to_6_mean"], aggregate["trials_2_to_6_min"]
    return (
        f"trials 2..6 correct per seed (%): {_percents(aggregate['trials_2_to_6_per_seed'])}; "
        f"mean {_percents([mean])}, min {_percents([worst])}; "
        f"trial 1 per seed (%): {_percents(aggregate['trial_1_per_seed'])}; "
        f"trials timed out per seed (%): {_percents(aggregate['timed_out_share_per_seed'])}"
    )


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
        f"seed {s.get('seed', i)}: {_percent(s['trials_2_to_6']['accuracy'])}, "
        f"{_percent(s['fixation']['timed_out_share'])} timed out"
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
