"""Where Harlow training time goes, on the layout training uses.

The environments, agent, learner and actor are the trainer's own
(``harlow.learner.trainer.training_setup``), so ``config.env.num_workers`` is honoured: with
worker processes the environments' seconds are those the trainer waits for them
(``env``), as the backend and vision pipeline run in the workers and cannot be told
apart from here; in this process (``num_workers=0``) they split into ``backend``
(simulator or DeepMind Lab), ``vision`` (locating the screen's parts and building
observations) and ``wrapper`` (the rest of the saccade wrapper). ``policy`` is
TensorFlow acting, ``learn`` the TensorFlow updates.
"""

from __future__ import annotations

import time

import ml_collections

from harlow.benchmarks.common import Options, load_config, write_report


def profile_training(config: ml_collections.ConfigDict, updates: int) -> dict[str, float]:
    """Runs ``updates`` A2C updates as training does; returns rates and time shares."""
    from harlow.learner.trainer import training_setup

    length = config.train.unroll_length
    with training_setup(config) as training:
        training.update(length)  # compile outside the timing
        env_seconds = getattr(training.env, "seconds", None)  # in-process only
        if env_seconds is not None:
            env_seconds.update(dict.fromkeys(env_seconds, 0.0))
        policy = env = learn = 0.0
        frames = 0
        start = time.perf_counter()
        for _ in range(updates):
            _, acting, learn_seconds = training.update(length)
            policy += acting.policy
            env += acting.env
            frames += acting.frames
            learn += learn_seconds
        elapsed = time.perf_counter() - start
    if env_seconds is not None:
        seconds = {
            "backend": env_seconds["backend"],
            "vision": env_seconds["vision"],
            "wrapper": env - env_seconds["backend"] - env_seconds["vision"],
        }
    else:
        seconds = {"env": env}
    seconds.update(policy=policy, learn=learn)
    trials = updates * config.train.num_envs * length
    return {
        "num_workers": config.env.num_workers,
        "trials_per_second": trials / elapsed,
        "frames_per_second": frames / elapsed,
        "frames_per_trial": frames / trials,
        "seconds": elapsed,
        **{f"share_{part}": value / elapsed for part, value in seconds.items()},
    }


def run(options: Options) -> bool:
    """Profiles ``--throughput_updates`` updates of the Harlow config; prints the split."""
    config = load_config(options, "harlow.py")
    config.seed = options.seeds[0]
    workers = config.env.num_workers
    layout = f"{workers} worker processes" if workers else "in this process"
    print(
        f"profiling {options.throughput_updates} updates of {config.train.num_envs} environments "
        f"x {config.train.unroll_length} trials ({config.env.observation} observations, "
        f"{config.env.backend}, environments {layout})...",
        flush=True,
    )
    results = profile_training(config, options.throughput_updates)
    print(
        f"{results['trials_per_second']:,.0f} trials/s, {results['frames_per_second']:,.0f} "
        f"frames/s ({results['frames_per_trial']:.1f} frames per trial)"
    )
    shares = {k.removeprefix("share_"): v for k, v in results.items() if k.startswith("share_")}
    print("time: " + ", ".join(f"{part} {100 * share:.0f} %" for part, share in shares.items()))
    if workers:
        print(
            "(with worker processes the environments' time is one share, env: backend and "
            "vision run in the workers; --num_workers=0 splits it)"
        )
    path = write_report(
        options,
        {"config": config.to_dict(), "updates": options.throughput_updates, "results": results},
    )
    print(f"report {path}")
    return True
