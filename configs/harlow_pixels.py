"""Harlow task from the whole screen: the downsampled grayscale frame through a conv encoder.

The agent gets neither image ids nor crops: each trial it sees the frame the
saccade wrapper decides on (both images on the Psychlab screen, grayscale,
area-resampled to 42x42, where each image is about 11 pixels wide) and, with
``config.env.show_chosen``, the frame of its previous choice; it must find the
images in them, tell the images apart and remember the rewarded one.

Train: python -m harlow.train --config=configs/harlow_pixels.py --workdir=runs/pixels
"""

from pathlib import Path

import ml_collections

from harlow.config_files import load_config_file


def get_config() -> ml_collections.ConfigDict:
    """Returns the pixels experiment: the default Harlow config with a whole-frame conv encoder."""
    config = load_config_file(Path(__file__).with_name("harlow.py"))
    config.env.observation = "pixels"
    config.env.pixels_size = 42
    config.agent.encoder = "conv"
    config.agent.conv_pairwise_differences = True  # |current - previous frame embedding|
    config.agent.lstm_units = 64
    config.train.total_env_steps = 300_000  # trials: 50,000 episodes
    config.train.learning_rate = 3e-3
    return config
