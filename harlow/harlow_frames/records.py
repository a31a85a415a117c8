"""Books frame-level Harlow episodes trial by trial and computes their report's numbers.

``EpisodeRecorder`` turns batched agent steps into ``EpisodeRecord``s (each trial's
start, fixation and choice frames, its side, outcome and reward, and optionally the gaze);
``summarize_episodes`` gives the learning-set accuracies over the trials that ended with
a choice and the fixation statistics; ``trials_csv`` the table of trials.

Rewards come summed over each agent step's frames: +1 for the cross and +-5 for an image
(``split_reward`` tells them apart). The level pays a reward one frame after it is
earned, so a reward can arrive in the step after its event; ``EpisodeRecorder`` credits
each to its trial. Frames are counted in whole agent steps (``info["frames"]`` each).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from harlow.harlow_task import analysis
from harlow.psychlab.protocol import NO_SIDE

TRIALS = analysis.TRIALS
SIDES = ("left", "right")
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


def percent_or_na(value: float | None) -> str:
    """A share as "12.5 %", or "n/a" where it is undefined."""
    return "n/a" if value is None else f"{100 * value:.1f} %"


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
