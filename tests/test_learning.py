"""Short learning run: a shrunk two-step config must clearly beat chance.

Chance is 0.5 reward per trial (sd of the mean over 100 x 100 trials: 0.005);
the model-based signature appears as soon as the agent learns, so it is checked
too, with a margin well below what full runs reach (about 0.2-0.4).
"""

import pytest

from configs.two_step import get_config
from harlow.evaluation import evaluate_checkpoint
from harlow.trainer import train


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
