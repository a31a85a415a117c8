"""Environment workers as Ray actors: throughput against the number of actors, the
learner's own cost in the same run, and a model of larger clusters.

For each ``--actors`` count n, the benchmark trains ``--throughput_updates`` updates as
``harlow.train`` does (``harlow_train.profile_training``) with ``config.env.executor``
'ray' and ``config.env.num_workers`` n, then the same with n local worker processes,
and times a lockstep call that does no work on the n actors (Ray's round trip). Each
row gives trials/s, frames/s and the shares of time: ``env`` (waiting for the
workers), ``policy`` and ``learn`` (this process's TensorFlow).

The model. Training is synchronous: each agent step waits for every actor, then acts;
every ``unroll_length`` steps the learner updates. With N actors of E environments
each, one step takes

    E * c_env + rpc(N) + N * E * c_learner

seconds for N * E trials, where ``c_env`` is one environment step's compute on one
core (from the 1-actor run, its round trip taken off), ``rpc(N) = a + b * N`` is the
lockstep round trip (fitted to the no-op calls), and ``c_learner`` is the learner's
seconds per trial (policy and learn, measured in the same runs). So throughput grows
with N until the learner's share dominates, and cannot pass ``1 / c_learner``. The
model assumes a core per actor and no straggler; measured rows beyond this machine's
cores (4 actors on 2 cores) share cores and sit below it. ``--config.env.backend=dmlab``
measures the real engine instead of the simulator.
"""

from __future__ import annotations

import time

import ml_collections
import numpy as np

from harlow.benchmarks.common import Options, load_config, write_report
from harlow.benchmarks.harlow_train import profile_training

MODEL_ACTORS = (1, 2, 4, 8, 16, 32, 64)
MODEL_ENVS_PER_ACTOR = 8
NOOP_CALLS = 200


def noop_round_trip(config: ml_collections.ConfigDict, calls: int = NOOP_CALLS) -> float:
    """Seconds per lockstep call that does no work on the config's workers."""
    from harlow.tasks import get_task

    env = get_task(config.task).make_env(config, config.train.num_envs, config.seed)
    try:
        env.call_each("__getattribute__", "num_envs")  # warm
        start = time.perf_counter()
        for _ in range(calls):
            env.call_each("__getattribute__", "num_envs")
        return (time.perf_counter() - start) / calls
    finally:
        env.close()


def measure(config: ml_collections.ConfigDict, executor: str, actors: int, updates: int) -> dict:
    """One row: training throughput and time shares with ``actors`` workers of
    ``executor``, and its no-op round trip."""
    config = ml_collections.ConfigDict(config.to_dict())
    config.env.executor, config.env.num_workers = executor, actors
    row = profile_training(config, updates)
    steps = updates * config.train.unroll_length
    trials = steps * config.train.num_envs
    row.update(
        executor=executor,
        actors=actors,
        env_seconds_per_step=row["share_env"] * row["seconds"] / steps,
        learner_seconds_per_trial=(row["share_policy"] + row["share_learn"])
        * row["seconds"]
        / trials,
        round_trip_seconds=noop_round_trip(config),
    )
    return row


def fit_model(rows: list[dict], num_envs: int) -> dict[str, float]:
    """``c_env``, ``rpc = a + b * N`` and ``c_learner`` from the Ray rows (see the
    module docstring)."""
    ray_rows = sorted((r for r in rows if r["executor"] == "ray"), key=lambda r: r["actors"])
    single = ray_rows[0]
    c_env = max(single["env_seconds_per_step"] - single["round_trip_seconds"], 0.0) / (
        num_envs / single["actors"]
    )
    counts = np.array([r["actors"] for r in ray_rows], float)
    trips = np.array([r["round_trip_seconds"] for r in ray_rows])
    if len(counts) > 1:
        b, a = np.polyfit(counts, trips, 1)
    else:
        a, b = float(trips[0]), 0.0
    c_learner = float(np.median([r["learner_seconds_per_trial"] for r in ray_rows]))
    return {"c_env": c_env, "rpc_a": float(a), "rpc_b": max(float(b), 0.0), "c_learner": c_learner}


def predict(model: dict[str, float], actors: int, envs_per_actor: int) -> float:
    """Modelled trials/s of ``actors`` actors of ``envs_per_actor`` environments."""
    trials = actors * envs_per_actor
    step = (
        envs_per_actor * model["c_env"]
        + model["rpc_a"]
        + model["rpc_b"] * actors
        + trials * model["c_learner"]
    )
    return trials / step


def run(options: Options) -> bool:
    """Measures ``--actors`` counts on Ray and on local processes, then models 1..64."""
    from harlow.psychlab.ray_workers import connect

    config = load_config(options, "harlow.py")
    config.seed = options.seeds[0]
    actors = sorted(set(options.actors))
    if not actors or actors[0] < 1:
        raise ValueError(f"--actors must be counts >= 1, got {options.actors}")
    num_envs = config.train.num_envs
    if num_envs % max(actors):
        raise ValueError(
            f"config.train.num_envs={num_envs} must split evenly over {max(actors)} actors"
        )
    connect(config.env.get("ray_address", ""), local_cpus=max(actors))
    print(
        f"{options.throughput_updates} updates of {num_envs} environments x "
        f"{config.train.unroll_length} trials ({config.env.observation} observations, "
        f"{config.env.backend}) per row; Ray at {config.env.get('ray_address', '') or 'local'}",
        flush=True,
    )
    rows = []
    header = (
        f"{'workers':>12} {'actors':>6} {'trials/s':>9} {'frames/s':>9} {'env':>5} "
        f"{'policy':>6} {'learn':>5} {'round trip':>10}"
    )
    print(header)
    for count in actors:
        for executor in ("ray", "processes"):
            row = measure(config, executor, count, options.throughput_updates)
            rows.append(row)
            print(
                f"{executor:>12} {count:>6} {row['trials_per_second']:>9,.0f} "
                f"{row['frames_per_second']:>9,.0f} {100 * row['share_env']:>4.0f}% "
                f"{100 * row['share_policy']:>5.0f}% {100 * row['share_learn']:>4.0f}% "
                f"{1000 * row['round_trip_seconds']:>8.2f}ms",
                flush=True,
            )
    model = fit_model(rows, num_envs)
    print(
        f"model: c_env {1e3 * model['c_env']:.3f} ms per environment step, round trip "
        f"{1e3 * model['rpc_a']:.2f} + {1e3 * model['rpc_b']:.3f} x N ms, learner "
        f"{1e6 * model['c_learner']:.0f} us per trial (cap {1 / model['c_learner']:,.0f} trials/s)"
    )
    predictions = {n: predict(model, n, MODEL_ENVS_PER_ACTOR) for n in MODEL_ACTORS}
    print(
        f"modelled trials/s, {MODEL_ENVS_PER_ACTOR} environments per actor, a core each: "
        + ", ".join(f"{n}: {value:,.0f}" for n, value in predictions.items())
    )
    ray_rows = {r["actors"]: r for r in rows if r["executor"] == "ray"}
    checks = {
        f"{n}_actors_measured_vs_model": ray_rows[n]["trials_per_second"]
        / predict(model, n, num_envs // n)
        for n in actors
    }
    print(
        "measured / modelled at the measured layout: "
        + ", ".join(
            f"{n} actors {ratio:.2f}" for n, ratio in zip(actors, checks.values(), strict=True)
        )
    )
    path = write_report(
        options,
        {
            "config": config.to_dict(),
            "updates": options.throughput_updates,
            "rows": rows,
            "model": model,
            "model_envs_per_actor": MODEL_ENVS_PER_ACTOR,
            "predicted_trials_per_second": {str(n): v for n, v in predictions.items()},
            "measured_over_model": checks,
        },
    )
    print(f"report {path}")
    return True
