"""Two-step task (Daw et al. 2011) learned by an LSTM A2C agent (Wang et al. 2018, Fig. 5).

Train:    python -m harlow.train --config=configs/two_step.py --workdir=runs/two_step
Override: --config.seed=3 --config.agent.lstm_units=64 --config.train.learning_rate=1e-3
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """Returns the default two-step experiment."""
    config = ml_collections.ConfigDict()
    config.task = "two_step"
    config.seed = 0

    config.env = ml_collections.ConfigDict()
    config.env.common_prob = 0.8
    config.env.reward_prob_good = 0.9
    config.env.reward_prob_bad = 0.1
    config.env.switch_prob = 0.025
    config.env.trials_per_episode = 100

    config.agent = ml_collections.ConfigDict()
    config.agent.lstm_units = 48

    config.train = ml_collections.ConfigDict()
    # 256 x 20 steps per update, acted and learned in one compiled call (the task is
    # written in TensorFlow: harlow/learner/act_and_learn.py), Adam 1e-2. 512 x 10 is as fast,
    # but 2 of 8 seeds never left chance with its 5-trial segments. See docs/benchmarks.md.
    config.train.num_envs = 256  # episodes advancing in parallel
    config.train.unroll_length = 20  # environment steps per update (10 trials)
    # When a seed leaves chance varies from about 1 M to 3 M steps; 6 M steps with the
    # entropy bonus below let every one of 24 seeds learn (3.5 M steps at 0.01: 14 of 16).
    config.train.total_env_steps = 6_000_000  # 30,000 episodes
    config.train.discount = 0.9
    # 0.9 rather than 1.0: less variance in the advantages. In 16 seeds every run left
    # chance within 3.5 M steps; at 1.0, 3 of 8 seeds never did (docs/benchmarks.md).
    config.train.gae_lambda = 0.9
    config.train.value_coef = 0.5
    # 0.05 keeps the policy exploring until it finds the task (at 0.01 a few seeds
    # settled on a fixed choice at chance).
    config.train.entropy_coef = 0.05
    config.train.entropy_coef_final = 0.0  # linear decay over training
    config.train.optimizer = "adam"  # or "rmsprop"
    config.train.learning_rate = 1e-2
    config.train.max_grad_norm = 1.0
    # XLA compiles the acting-and-learning call (a few seconds): the small ops fused run
    # about a fifth faster on CPU (docs/benchmarks.md).
    config.train.jit_compile = True
    config.train.log_every_updates = 50
    config.train.checkpoint_every_seconds = 60.0
    config.train.keep_checkpoints = 5

    config.eval = ml_collections.ConfigDict()
    config.eval.episodes = 300
    config.eval.num_envs = 100
    config.eval.greedy = False
    return config
