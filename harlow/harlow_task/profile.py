"""Where Harlow training time goes: simulator, vision, wrapper, TensorFlow acting, learning."""

from __future__ import annotations

import time

import ml_collections

from harlow.harlow_task.env import build_trial_env, spec_from_config
from harlow.rollout import Actor
from harlow.tasks import build_agent
from harlow.trainer import build_learner, seed_everything


def profile_training(config: ml_collections.ConfigDict, updates: int) -> dict[str, float]:
    """Runs ``updates`` A2C updates in this process; returns rates and time shares.

    The environments run in this process (whatever ``config.env.num_workers``
    says), so the simulator's and the vision pipeline's seconds can be told apart.
    Shares: ``backend`` (simulator or DeepMind Lab), ``vision`` (locating the
    screen's parts and building observations), ``wrapper`` (the rest of the
    saccade wrapper), ``policy`` (TensorFlow acting), ``learn`` (TensorFlow updates).
    """
    env_seed, actor_rng = seed_everything(config.seed)
    spec = spec_from_config(config, config.train.num_envs, env_seed, config.env.split)
    env = build_trial_env(spec)
    try:
        agent = build_agent(config, env)
        learner = build_learner(config, agent)
        actor = Actor(env, agent, actor_rng)
        learner.update(actor.collect(config.train.unroll_length))  # compile outside the timing
        actor.time.drain()
        env.seconds = dict.fromkeys(env.seconds, 0.0)
        learn_seconds = 0.0
        start = time.perf_counter()
        for _ in range(updates):
            segment = actor.collect(config.train.unroll_length)
            learn_start = time.perf_counter()
            learner.update(segment)
            learn_seconds += time.perf_counter() - learn_start
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    acting = actor.time.drain()
    seconds = {
        "backend": env.seconds["backend"],
        "vision": env.seconds["vision"],
        "wrapper": acting.env - env.seconds["backend"] - env.seconds["vision"],
        "policy": acting.policy,
        "learn": learn_seconds,
    }
    trials = updates * config.train.num_envs * config.train.unroll_length
    return {
        "trials_per_second": trials / elapsed,
        "frames_per_second": acting.frames / elapsed,
        "frames_per_trial": acting.frames / trials,
        "seconds": elapsed,
        **{f"share_{part}": value / elapsed for part, value in seconds.items()},
    }
