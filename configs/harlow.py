"""Harlow task (Harlow 1949; Wang et al. 2018, Fig. 6), default experiment.

Built-in Psychlab simulator, trial-level actions (the saccade wrapper fixates the
cross and looks at the chosen image), per-episode image ids, bundled face dataset.

Train:    python -m harlow.train --config=configs/harlow.py --workdir=runs/harlow
Evaluate: python -m harlow.evaluate --workdir=runs/harlow --episodes=500
Override: --config.seed=3 --config.env.backend=dmlab --config.dataset=datasets/my_faces
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """Returns the default Harlow experiment (per-episode image ids)."""
    config = ml_collections.ConfigDict()
    config.task = "harlow"
    config.seed = 0
    config.dataset = ""  # a dataset folder; empty: the bundled datasets/faces

    config.env = ml_collections.ConfigDict()
    config.env.backend = "simulator"  # or "dmlab" (needs an importable deepmind_lab)
    config.env.observation = "ids"  # "ids", "patches" or "pixels"
    config.env.show_chosen = True  # also show the image chosen in the previous trial
    config.env.num_ids = 2
    config.env.id_scope = "episode"  # first image seen in an episode is id 0
    config.env.patch_size = 24
    config.env.pixels_size = 21
    config.env.frame_size = 84  # frames are frame_size x frame_size RGB
    config.env.spawn_yaw_range_deg = 22.5  # measured on DeepMind Lab
    config.env.max_frames_per_trial = 400
    # Environment worker processes (0: in the trainer's process). Two use both cores of a
    # 2-core machine: 1.3-1.4x the trials/s of 0 (docs/benchmarks.md); same trials either way.
    config.env.num_workers = 2
    # Where the workers run: "processes" on this machine, or "ray": one Ray actor per
    # worker (pip install -e '.[ray]') on the cluster at ray_address ('' a private local
    # instance, 'auto' the cluster started here with `ray start`, or 'host:port').
    config.env.executor = "processes"
    config.env.ray_address = ""
    # DeepMind Lab only: episodes played per Lab reset (1: exactly the stock level).
    # Each reset reloads the level's map, which cost 2/3 of the time at 1; the other
    # episodes start in place, with the view where it was instead of a new spawn angle
    # (the saccade controller plays those frames: the agent's trials are the same).
    config.env.dmlab_episodes_per_reset = 10
    # Simulator only: each episode's room (walls, bezel) in random grey levels, gain 1 +- this
    # and gamma exp(+-this); 0 draws the measured ones. Whole-frame agents need it to work on
    # DeepMind Lab's frames (configs/harlow_pixels.py).
    config.env.room_jitter = 0.0
    # The level's rule: the rewarded image on the left in exactly half of an episode's
    # trials. False (simulator only) draws each training trial's side on its own, so that
    # counting sides pays nothing; evaluation always plays the level's rule.
    config.env.balanced_sides = True
    config.env.split = "train"  # images the agent trains on

    config.agent = ml_collections.ConfigDict()
    config.agent.lstm_units = 48
    config.agent.torso_units = 64  # a ReLU layer before the LSTM (0: none)
    config.agent.encoder = "none"  # "conv": one conv encoder shared by the image patches
    config.agent.conv_filters = (16, 32)
    config.agent.conv_kernel_sizes = (5, 3)
    config.agent.conv_strides = (2, 2)
    config.agent.conv_embedding_size = 64
    config.agent.conv_pairwise_differences = True  # |difference| of each pair of embeddings
    config.agent.conv_layer_norm = True  # layer-normalize the embeddings (fixed scale)

    config.train = ml_collections.ConfigDict()
    config.train.num_envs = 32  # episodes advancing in parallel
    config.train.unroll_length = 6  # trials per update (one episode)
    config.train.total_env_steps = 120_000  # trials: 20,000 episodes (held-out 97 % by ~10,000)
    config.train.discount = 0.9
    config.train.gae_lambda = 1.0
    config.train.value_coef = 0.5
    config.train.entropy_coef = 0.1  # keeps exploring until "switch after -5" is learned
    config.train.entropy_coef_final = 0.0  # linear decay over training
    config.train.optimizer = "adam"  # or "rmsprop"
    config.train.learning_rate = 3e-3
    config.train.max_grad_norm = 1.0
    config.train.log_every_updates = 50
    config.train.checkpoint_every_seconds = 10.0  # small checkpoints; early stages matter
    config.train.keep_checkpoints = 100  # all of a run's stages, for the learning-set plot

    config.eval = ml_collections.ConfigDict()
    config.eval.episodes = 500
    config.eval.num_envs = 50
    config.eval.greedy = False
    config.eval.split = "heldout"  # images never seen in training
    config.eval.stages = 6  # checkpoints in the learning-set plot across training
    config.eval.stage_episodes = 100  # episodes per stage
    return config
