"""Harlow performance measures: accuracy per trial index with confidence intervals.

Harlow (1949) and Wang et al. (2018) plot the fraction of correct choices at each
trial index 1..6 of an episode: a learning set shows as chance on trial 1 and near
100 % on trials 2..6. Intervals are Wilson score intervals (statsmodels).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from harlow.psychlab.protocol import ProtocolConfig

# The measures are those of the stock level (``ProtocolConfig``'s defaults).
_STOCK_LEVEL = ProtocolConfig()
FIXATION_REWARD = _STOCK_LEVEL.fixation_reward
CHOICE_REWARD = _STOCK_LEVEL.correct_reward  # a wrong choice: incorrect_reward, -5
TRIALS = _STOCK_LEVEL.trials_per_episode
OPTIMAL_EPISODE_REWARD = TRIALS * FIXATION_REWARD + (TRIALS - 1) * CHOICE_REWARD  # 31
RANDOM_EPISODE_REWARD = TRIALS * FIXATION_REWARD  # 6: choices average to 0
CONFIDENCE = 0.95


@dataclass
class TrialTable:
    """Every trial of the evaluated episodes; each array is ``[episodes, 6]``."""

    choice: np.ndarray  # side chosen: 0 left, 1 right
    correct_side: np.ndarray  # side of the rewarded image
    reward: np.ndarray  # fixation + choice reward of the trial
    left_id: np.ndarray  # dataset ids shown (-1 where the backend does not report them)
    right_id: np.ndarray
    timeouts: np.ndarray  # 1 where the saccade wrapper cut the trial short

    @property
    def correct(self) -> np.ndarray:
        """Whether each choice was the rewarded image."""
        return self.choice == self.correct_side

    @property
    def episodes(self) -> int:
        """Number of episodes."""
        return len(self.choice)

    def to_csv(self) -> str:
        """One row per trial: episode, trial, image ids, sides, reward, correct."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "episode",
                "trial",
                "left_image",
                "right_image",
                "chosen_side",
                "correct_side",
                "reward",
                "correct",
            ]
        )
        sides = ("left", "right")
        for e in range(self.episodes):
            for t in range(TRIALS):
                writer.writerow(
                    [
                        e,
                        t + 1,
                        int(self.left_id[e, t]),
                        int(self.right_id[e, t]),
                        sides[int(self.choice[e, t])],
                        sides[int(self.correct_side[e, t])],
                        f"{float(self.reward[e, t]):g}",
                        int(self.correct[e, t]),
                    ]
                )
        return out.getvalue()


def proportion(successes: int, total: int) -> dict:
    """``{"accuracy", "ci_low", "ci_high", "n"}`` of ``successes`` out of ``total``."""
    if total == 0:
        return {"accuracy": None, "ci_low": None, "ci_high": None, "n": 0}
    low, high = proportion_confint(successes, total, alpha=1 - CONFIDENCE, method="wilson")
    accuracy = successes / total
    # Rounding puts Wilson's bound for 0 of n at 5.6e-17, not 0: the interval must hold
    # the estimate (a negative error bar is refused by matplotlib).
    return {
        "accuracy": accuracy,
        "ci_low": min(float(low), accuracy),
        "ci_high": max(float(high), accuracy),
        "n": int(total),
    }


def accuracy_by_trial(correct: np.ndarray) -> list[dict]:
    """Accuracy and 95 % interval at each trial index 1..6 of ``correct`` [episodes, 6]."""
    return [
        {"trial": t + 1, **proportion(int(correct[:, t].sum()), len(correct))}
        for t in range(correct.shape[1])
    ]


def summarize(table: TrialTable) -> dict:
    """The report of one evaluation (JSON-safe)."""
    correct = table.correct
    episode_rewards = table.reward.sum(axis=1)
    wrong_first = ~correct[:, 0]
    sem = float(episode_rewards.std(ddof=1) / np.sqrt(len(episode_rewards)))
    return {
        "episodes": table.episodes,
        "accuracy_by_trial": accuracy_by_trial(correct),
        "trial_1": proportion(int(correct[:, 0].sum()), table.episodes),
        "trials_2_to_6": proportion(int(correct[:, 1:].sum()), correct[:, 1:].size),
        "trial_2_after_wrong_trial_1": proportion(
            int(correct[wrong_first, 1].sum()), int(wrong_first.sum())
        ),
        "trial_2_after_right_trial_1": proportion(
            int(correct[~wrong_first, 1].sum()), int((~wrong_first).sum())
        ),
        "reward_per_episode": float(episode_rewards.mean()),
        "reward_per_episode_sem": sem if np.isfinite(sem) else None,
        "reward_per_trial": float(episode_rewards.mean() / TRIALS),
        "optimal_reward_per_episode": OPTIMAL_EPISODE_REWARD,
        "random_reward_per_episode": RANDOM_EPISODE_REWARD,
        "timeouts": int(table.timeouts.sum()),
    }
