"""Short learning runs: shrunk two-step and Harlow configs must clearly beat chance.

Chance is 0.5 reward per trial (sd of the mean over 100 x 100 trials: 0.005);
the model-based signature appears as soon as the agent learns, so it is checked
too, with a margin well below what full runs reach (about 0.2-0.4).
"""

import pytest

from configs.harlow import get_config as get_harlow_config
from configs.two_step import get_config
from harlow.evaluation import evaluate_checkpoint
from harlow.learner.trainer import train


@pytest.mark.slow
def test_shrunk_two_step_config_learns(tmp_path):
    config = get_config()
    config.agent.lstm_units = 32
    config.train.num_envs = 64
    config.train.learning_rate = 5e-3
    config.train.total_env_steps = 2_000_000
    result = train(config, tmp_path, show_progress=False)
    summary = evaluate_checkpoint(
        config, result.last_checkpoint, episodes=100, seed=7, greedy=False, output_dir=tmp_path
    )
    assert summary["reward_per_trial"] >= 0.6, summary
    indices = summary["model_based_indices"]
    assert indices["rewarded_common_minus_rare"] >= 0.1, indices
    assert indices["unrewarded_rare_minus_common"] >= 0.1, indices


@pytest.mark.slow
def test_shrunk_harlow_ids_config_learns(tmp_path):
    """Trials 2..6 clearly above chance on held-out faces, including after a wrong trial 1.

    Chance is 50 % (sd over 500 choices: 2.2 points). The second check is the failure
    mode seen in other implementations: keeping a rewarded first choice but guessing
    again after an unrewarded one (50 % on trial 2 after a wrong trial 1).
    """
    config = get_harlow_config()
    config.train.total_env_steps = 30_000  # a fifth of the default, learned faster:
    config.train.learning_rate = 1e-2
    config.train.entropy_coef = 0.05
    result = train(config, tmp_path, show_progress=False)
    summary = evaluate_checkpoint(
        config, result.last_checkpoint, episodes=100, seed=7, greedy=False, output_dir=tmp_path
    )
    assert summary["split"] == "heldout"
    assert summary["trials_2_to_6"]["accuracy"] >= 0.7, summary["accuracy_by_trial"]
    assert summary["trial_2_after_wrong_trial_1"]["accuracy"] >= 0.7, summary
