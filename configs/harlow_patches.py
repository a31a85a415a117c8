"""Harlow task from pixels of the images: grayscale patches through a shared conv encoder.

The agent gets no image ids: each trial it sees the left and right images (and the
one it chose in the previous trial) as 24x24 grayscale crops, so it must compare
pixels to recognise the rewarded image.

Train: python -m harlow.train --config=configs/harlow_patches.py --workdir=runs/patches
"""

from pathlib import Path

import ml_collections

from harlow.config.files import load_config_file


def get_config() -> ml_collections.ConfigDict:
    """Returns the patches experiment: the default Harlow config with a conv encoder."""
    config = load_config_file(Path(__file__).with_name("harlow.py"))
    config.env.observation = "patches"
    config.agent.encoder = "conv"
    config.agent.lstm_units = 64
    config.train.total_env_steps = 200_000  # trials: about 33,000 episodes
    config.train.learning_rate = 3e-3
    return config
