"""The Harlow task as the trainer sees it: environments from configs, analysis, evaluation."""

import csv
import io
import os
import signal
from pathlib import Path

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from configs.harlow import get_config
from harlow.agent.builder import build_agent
from harlow.agent.network import ActorCritic
from harlow.config.files import load_config_file
from harlow.config.validation import validate_config
from harlow.datasets import DatasetError
from harlow.harlow_task import analysis
from harlow.harlow_task.env import ParallelTrialEnv, make_env
from harlow.harlow_task.evaluation import collect_trials, evaluate, format_summary, plot_seeds
from harlow.psychlab.dmlab_workers import DmlabWorkerError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def tiny_config():
    config = get_config()
    config.env.num_workers = 0  # in this process (tests of workers set their own)
    config.agent.lstm_units = 8
    config.train.num_envs = 4
    config.eval.num_envs = 4
    return config


@pytest.mark.parametrize(
    ("observation", "show_chosen", "size"),
    [
        ("ids", True, 6),
        ("ids", False, 4),
        ("patches", True, 3 * 24 * 24),
        ("pixels", True, 882),
        ("pixels", False, 441),
    ],
)
def test_observation_sizes(observation, show_chosen, size):
    config = tiny_config()
    config.env.observation, config.env.show_chosen = observation, show_chosen
    env = make_env(config, 2, seed=0)
    try:
        assert env.observation_size == size
        assert env.reset().shape == (2, size)
    finally:
        env.close()


def test_worker_processes_match_the_in_process_contract():
    config = tiny_config()
    config.env.num_workers = 2
    env = make_env(config, 3, seed=1)
    try:
        assert isinstance(env, ParallelTrialEnv)
        assert env.reset().shape == (3, 6)
        for _ in range(6):
            obs, reward, done, info = env.step(np.array([0, 1, 0]))
        assert obs.shape == (3, 6) and reward.shape == (3,)
        assert done.all()  # the sixth trial ends every episode
        assert set(info) >= {"choice", "correct_side", "left_id", "right_id", "timeouts"}
        assert (info["left_id"] > 0).all() and (info["timeouts"] == 0).all()
        with pytest.raises(ValueError, match=r"actions must have shape \(3,\)"):
            env.step(np.array([0, 1]))
    finally:
        env.close()


def test_a_dead_worker_is_named_with_the_environments_it_held():
    config = tiny_config()
    config.env.num_workers = 2
    env = make_env(config, 5, seed=1)  # 2 and 3 environments
    try:
        env.reset()
        os.kill(env._pool.pids[1], signal.SIGKILL)
        with pytest.raises(DmlabWorkerError, match=r"worker 1 \(pid \d+, environments 2\.\.4\)"):
            env.step(np.zeros(5, int))
    finally:
        env.close()


def test_bad_dataset_is_named(tmp_path):
    config = tiny_config()
    config.dataset = str(tmp_path / "missing")
    with pytest.raises(DatasetError, match="missing"):
        make_env(config, 1, seed=0)
    config.env.num_workers = 1
    with pytest.raises(DatasetError, match="missing"):
        make_env(config, 1, seed=0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("env.backend", "unreal", "config.env.backend"),
        ("env.observation", "sound", "config.env.observation"),
        ("env.frame_size", 16, "config.env.frame_size"),
        ("eval.split", "test", "config.eval.split"),
        ("agent.encoder", "conv", "needs config.env.observation='patches'"),
    ],
)
def test_config_validation_names_the_field(field, value, message):
    config = get_config()
    section, key = field.split(".")
    config[section][key] = value
    with pytest.raises(ValueError, match=message):
        validate_config(config)


@pytest.mark.parametrize("field", ["conv_layer_norm", "conv_pairwise_differences"])
def test_loaded_config_with_a_non_bool_switch_is_named(field):
    values = get_config().to_dict()  # as read back from a hand-edited config.json
    values["agent"][field] = "yes"
    with pytest.raises(ValueError, match=f"config.agent.{field} must be true or false"):
        validate_config(ml_collections.ConfigDict(values))


def test_configs_saved_before_the_layer_norm_field_stay_valid():
    config = get_config()
    del config.agent["conv_layer_norm"]  # as in a config.json from an older version
    validate_config(config)
    config.env.observation, config.agent.encoder = "patches", "conv"
    assert not build_agent(config).encoder.layer_norm


def test_patches_config_builds_a_conv_agent():
    config = tiny_config()
    config.env.observation, config.agent.encoder = "patches", "conv"
    validate_config(config)
    agent = build_agent(config)
    assert agent.encoder is not None and agent.encoder.num_patches == 3
    assert agent.encoder.layer_norm


def test_pixels_config_encodes_whole_frames():
    config = load_config_file(CONFIGS / "harlow_pixels.py")
    config.agent.lstm_units, config.train.num_envs = 8, 2
    validate_config(config)
    agent = build_agent(config)
    env = make_env(config, 2, seed=0)
    try:
        observation = env.reset()
    finally:
        env.close()
    # The current frame and the one of the previous choice, and their difference.
    assert (agent.encoder.num_patches, agent.encoder.patch_size) == (2, 84)
    assert agent.encoder.pairs == [(0, 1)]
    assert observation.shape == (2, 2 * 84 * 84)
    features = agent.observation_features(tf.constant(observation))
    assert features.shape == (2, 3 * agent.encoder.embedding_size)


def _table(correct_rows):
    correct = np.array(correct_rows, bool)
    correct_side = np.zeros_like(correct, int)
    choice = np.where(correct, 0, 1)
    reward = 1.0 + np.where(correct, 5.0, -5.0)
    ids = np.ones_like(choice)
    return analysis.TrialTable(choice, correct_side, reward, ids, 2 * ids, 0 * ids)


def test_summary_counts_and_intervals():
    table = _table([[1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    summary = analysis.summarize(table)
    by_trial = summary["accuracy_by_trial"]
    assert [e["accuracy"] for e in by_trial] == [0.5, 0.75, 1.0, 1.0, 1.0, 0.75]
    assert all(e["ci_low"] <= e["accuracy"] <= e["ci_high"] for e in by_trial)
    assert by_trial[2]["ci_low"] < 1.0  # 4 episodes cannot prove 100 %
    assert summary["trials_2_to_6"]["accuracy"] == pytest.approx(18 / 20)
    assert summary["trial_2_after_wrong_trial_1"]["accuracy"] == 0.5
    assert summary["trial_2_after_right_trial_1"]["accuracy"] == 1.0
    assert summary["reward_per_episode"] == pytest.approx(np.mean([36, 16, 16, 36]))
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert len(rows) == 24
    assert rows[6] == {
        "episode": "1",
        "trial": "1",
        "left_image": "1",
        "right_image": "2",
        "chosen_side": "right",
        "correct_side": "left",
        "reward": "-4",
        "correct": "0",
    }


def test_untrained_agent_is_at_chance_and_the_report_is_written(tmp_path):
    config = tiny_config()
    agent = ActorCritic(observation_size=6, num_actions=2, lstm_units=8, seed=0)
    table = collect_trials(agent, config, 24, seed=3, greedy=False, split="heldout")
    assert table.choice.shape == (24, 6)
    assert (table.left_id > 200).all() and (table.right_id > 200).all()  # held-out ids
    assert 0.3 < table.correct.mean() < 0.7
    summary = evaluate(agent, config, 8, seed=3, greedy=False, output_dir=tmp_path)
    assert summary["split"] == "heldout" and summary["episodes"] == 8
    for name in ("trials.csv", "accuracy_by_trial.png"):  # report.json: evaluate_checkpoint
        assert (tmp_path / name).stat().st_size > 0
    text = format_summary(summary)
    assert "trial 1:" in text and "trials 2..6:" in text
    plot_seeds([summary, summary], tmp_path / "seeds.png")
    assert (tmp_path / "seeds.png").stat().st_size > 0


def _rewarded_lefts_per_episode(env, episodes: int) -> list[int]:
    """Plays random choices; how many trials of each finished episode rewarded the left."""
    rng = np.random.default_rng(0)
    env.reset()
    lefts, current = [], np.zeros(env.num_envs, int)
    trials = np.zeros(env.num_envs, int)
    while len(lefts) < episodes:
        _, _, dones, info = env.step(rng.integers(0, 2, env.num_envs))
        current += info["correct_side"] == 0
        trials += 1
        for e in np.flatnonzero(dones):
            assert trials[e] == 6
            lefts.append(int(current[e]))
            current[e] = trials[e] = 0
    return lefts


def test_unbalanced_sides_draw_each_trial_and_evaluation_plays_the_levels():
    config = tiny_config()
    env = make_env(config, 4, seed=0)
    try:
        assert set(_rewarded_lefts_per_episode(env, 40)) == {3}  # the level's rule
    finally:
        env.close()
    config.env.balanced_sides = False
    env = make_env(config, 4, seed=0)
    try:
        assert len(set(_rewarded_lefts_per_episode(env, 40))) > 2  # each trial on its own
    finally:
        env.close()
    agent = ActorCritic(observation_size=6, num_actions=2, lstm_units=8, seed=0)
    table = collect_trials(agent, config, 12, seed=3, greedy=False, split="heldout")
    assert ((table.correct_side == 0).sum(axis=1) == 3).all()
    config.env.backend = "dmlab"
    with pytest.raises(ValueError, match="config.env.balanced_sides=False needs"):
        make_env(config, 2, seed=0)


def test_training_profile_accounts_for_the_time():
    from harlow.benchmarks.harlow_train import profile_training

    config = tiny_config()
    results = profile_training(config, updates=2)
    shares = [v for k, v in results.items() if k.startswith("share_")]
    assert len(shares) == 5 and min(shares) >= 0.0
    assert 0.8 < sum(shares) <= 1.01
    assert results["share_vision"] > 0 and results["share_backend"] > 0
    assert 10 <= results["frames_per_trial"] <= 20  # about 13 frames per trial
    assert results["trials_per_second"] > 0


def test_seeds_aggregate():
    from harlow.harlow_task.evaluation import aggregate_seeds, format_aggregate

    good = analysis.summarize(_table([[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]))
    poor = analysis.summarize(_table([[1, 1, 0, 1, 0, 1], [0, 0, 1, 1, 1, 1]]))
    aggregate = aggregate_seeds([good, poor])
    assert aggregate["trials_2_to_6_per_seed"] == [1.0, 0.7]
    assert aggregate["trials_2_to_6_min"] == 0.7
    assert aggregate["trial_1_per_seed"] == [0.5, 0.5]
    assert aggregate["mean_accuracy_by_trial"][1] == pytest.approx(0.75)
    assert "100.0, 70.0" in format_aggregate(aggregate)


def test_patches_config_trains_and_evaluates(tmp_path):
    from harlow.evaluation import evaluate_checkpoint
    from harlow.learner.trainer import train

    config = tiny_config()
    config.env.observation, config.agent.encoder = "patches", "conv"
    config.train.total_env_steps = 48
    result = train(config, tmp_path, show_progress=False)
    assert result.env_steps == 48
    summary = evaluate_checkpoint(config, result.last_checkpoint, 4, 0, False, tmp_path / "eval")
    assert summary["episodes"] == 4 and summary["timeouts"] == 0
