"""Choices counted by trial while training: the actor collects them from the
environment's ``info`` and the trainer logs accuracy and timeouts to TensorBoard."""

import glob

import numpy as np
import tensorflow as tf

from harlow.agent.network import ActorCritic
from harlow.config.files import load_config_file
from harlow.learner import trainer
from harlow.learner.rollout import Actor, ChoiceStats
from tests.test_harlow_frames_env import CONFIG_FILE


def _info(choices, correct, trial, timed_out=(False, False)):
    return {
        "choices": np.array(choices),
        "choice_correct": np.array(correct),
        "trial": np.array(trial),
        "timed_out": np.array(timed_out),
    }


def test_choices_are_counted_by_the_trial_they_ended():
    stats = ChoiceStats()
    stats.add(_info([1, 0], [True, True], [1, 1]))  # the second env made no choice
    stats.add(_info([1, 1], [False, True], [2, 1], timed_out=[False, True]))
    stats.add({"correct": np.array([True])})  # an environment that reports no choices
    assert stats.made == {1: 2, 2: 1} and stats.correct == {1: 2, 2: 0}
    assert stats.timed_out == 1
    assert stats.accuracy(1, 1) == 1.0 and stats.accuracy(2) == 0.0
    assert stats.accuracy(3) is None


def test_drain_hands_over_the_counts_and_merge_adds_them():
    stats, total = ChoiceStats(), ChoiceStats()
    stats.add(_info([1, 1], [True, False], [3, 4], timed_out=[True, False]))
    total.merge(stats.drain())
    assert stats == ChoiceStats()
    stats.add(_info([1, 0], [True, False], [3, 1]))
    total.merge(stats.drain())
    assert total.made == {3: 2, 4: 1} and total.correct == {3: 2, 4: 0}
    assert total.timed_out == 1
    assert total.accuracy(2) == 2 / 3


class _ScriptedChoices:
    """Two environments: a choice every other step, correct on even trials."""

    num_envs = 2

    def __init__(self):
        self.steps = 0

    def reset(self):
        return np.zeros((2, 3), np.float32)

    def step(self, actions):
        self.steps += 1
        made = self.steps % 2 == 0
        trial = (self.steps // 2 - 1) % 6 + 1
        info = _info([made, made], [trial % 2 == 0] * 2, [trial, trial])
        return np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, bool), info


def test_the_actor_collects_the_environments_choices():
    actor = Actor(_ScriptedChoices(), ActorCritic(3, 2, 4, seed=0), np.random.default_rng(0))
    actor.collect(12)  # trials 1..6 in both environments
    stats = actor.choices.drain()
    assert stats.made == {t: 2 for t in range(1, 7)}
    assert stats.correct == {t: 2 * (t % 2 == 0) for t in range(1, 7)}
    assert actor.choices.made == {}


def test_a_frame_level_run_logs_accuracy_by_trial_and_timeouts(tmp_path):
    config = load_config_file(CONFIG_FILE)
    config.env.num_workers = 0
    config.env.spawn_curriculum_steps = 10**9  # the view starts on the cross
    config.env.episode_length_seconds = 6.0
    config.agent.lstm_units = 8
    config.agent.conv_embedding_size = 8
    config.train.num_envs = 4
    config.train.unroll_length = 10
    config.train.total_env_steps = 1600
    config.train.log_every_updates = 40
    trainer.train(config, tmp_path, show_progress=False)
    values = {}
    for path in glob.glob(str(tmp_path / "train" / "events*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                values.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    assert values["choices/accuracy_trial_1"] and values["episode/timed_out_fraction"]
    assert all(0.0 <= v <= 1.0 for v in values["choices/accuracy_trial_1"])
    assert all(0.0 <= v <= 1.0 for v in values["episode/timed_out_fraction"])
