"""Benchmarks: learning targets over seeds and training throughput.

    python -m harlow.benchmark two_step --seeds=8 [--workdir=runs/benchmark]
    python -m harlow.benchmark harlow_env      # simulator, vision and saccade speed
    python -m harlow.benchmark harlow_train    # Harlow training throughput, time split
    python -m harlow.benchmark dmlab --dmlab_workers=0,1,2   # real DeepMind Lab

``two_step`` prints, for each seed, the training wall-clock time and the
frozen-weights test result, checks them against the targets of the two-step task,
measures training throughput next to the pure-TensorFlow cost of the same LSTM
forward+backward (in the same run), and writes a JSON report and the multi-seed
figure. ``dmlab`` measures, for each worker count, DeepMind Lab's raw frames/s
(random look actions) and the trials/s of the trial-level environment on it, and
the share of the raw rate that the trials reach at the frames per trial they take.
Each writes ``<workdir>/<name>_benchmark.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf
from absl import app, flags

from harlow.atomic_io import atomic_write_text
from harlow.config_files import load_config_file
from harlow.evaluation import evaluate_checkpoint
from harlow.rollout import Actor
from harlow.seeds import parse_seeds
from harlow.tasks import build_agent, get_task
from harlow.trainer import build_learner, train

DEFAULT_CONFIGS = Path(__file__).resolve().parent.parent / "configs"

_CONFIG = flags.DEFINE_string("config", None, "Config file; default configs/<benchmark>.py.")
_SEEDS = flags.DEFINE_string("seeds", "8", "N (seeds 0..N-1), a range 'A-B', or a list '1,3'.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/benchmark", "Where runs and reports go.")
_EPISODES = flags.DEFINE_integer("episodes", 300, "Frozen-weights test episodes per seed.")
_TIME_LIMIT = flags.DEFINE_float("time_limit", 180.0, "Training seconds allowed per seed.")
_THROUGHPUT_UPDATES = flags.DEFINE_integer("throughput_updates", 100, "Updates timed.")
_FRESH = flags.DEFINE_bool("fresh", True, "Delete earlier runs of the same seeds first.")
_DMLAB_WORKERS = flags.DEFINE_string(
    "dmlab_workers", "0,1,2", "dmlab: the config.env.num_workers values measured."
)
_DMLAB_ENVS = flags.DEFINE_integer(
    "dmlab_envs", 0, "dmlab: environments (0: the config's train.num_envs)."
)
_DMLAB_TRIALS = flags.DEFINE_integer("dmlab_trials", 12, "dmlab: trials timed per environment.")
_DMLAB_EPISODES_PER_RESET = flags.DEFINE_integer(
    "dmlab_episodes_per_reset", 0, "dmlab: episodes per Lab reset (0: the config's value)."
)

TWO_STEP_TARGETS = {
    "rewarded_common_minus_rare": 0.20,
    "unrewarded_rare_minus_common": 0.20,
    "reward_per_trial": 0.63,
}


def git_commit() -> str:
    """The current commit of the project, or 'unknown'."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure_throughput(config: ml_collections.ConfigDict, updates: int) -> dict[str, float]:
    """Env steps/s of training, split into acting and learning, and the pure LSTM cost.

    The pure cost is a compiled forward+backward pass of the same agent unroll on a
    segment of the same shape, with no environment, no sampling and no optimizer.
    """
    task = get_task(config.task)
    env = task.make_env(config, config.train.num_envs, 0)
    agent = build_agent(config, env)
    learner = build_learner(config, agent)
    actor = Actor(env, agent, np.random.default_rng(0))
    length = config.train.unroll_length
    steps = config.train.num_envs * length
    segment = actor.collect(length)
    learner.update(segment)  # compile
    act_time = learn_time = 0.0
    for _ in range(updates):
        start = time.perf_counter()
        segment = actor.collect(length)
        middle = time.perf_counter()
        float(learner.update(segment)["losses/total"])
        act_time += middle - start
        learn_time += time.perf_counter() - middle

    @tf.function
    def forward_backward(seg):
        with tf.GradientTape() as tape:
            out, _ = agent.unroll(
                seg.observations, seg.prev_actions, seg.prev_rewards, seg.first, seg.initial_state
            )
            loss = tf.reduce_sum(out.policy_logits) + tf.reduce_sum(out.value)
        return tape.gradient(loss, agent.trainable_variables)

    forward_backward(segment)
    start = time.perf_counter()
    for _ in range(updates):
        grads = forward_backward(segment)
    float(grads[0][0, 0])
    pure_time = time.perf_counter() - start
    train_sps = updates * steps / (act_time + learn_time)
    pure_sps = updates * steps / pure_time
    return {
        "train_env_steps_per_second": train_sps,
        "acting_fraction": act_time / (act_time + learn_time),
        "learning_fraction": learn_time / (act_time + learn_time),
        "pure_lstm_forward_backward_steps_per_second": pure_sps,
        "train_over_pure_ratio": train_sps / pure_sps,
        "num_envs": config.train.num_envs,
        "unroll_length": length,
        "lstm_units": config.agent.lstm_units,
    }


def _seed_config(base: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict(base.to_dict())
    config.seed = seed
    return config


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:+.3f}"


def run_two_step(seeds: list[int], workdir: Path) -> bool:
    """Trains and tests every seed; prints the table; returns whether all targets hold."""
    base = load_config_file(_CONFIG.value or DEFAULT_CONFIGS / "two_step.py")
    print(f"two_step benchmark: seeds {seeds}, commit {git_commit()}, {os.cpu_count()} cores")
    throughput = measure_throughput(base, _THROUGHPUT_UPDATES.value)
    print(
        f"throughput: {throughput['train_env_steps_per_second']:,.0f} env steps/s training "
        f"(acting {throughput['acting_fraction']:.0%}, learning "
        f"{throughput['learning_fraction']:.0%}); pure TF LSTM forward+backward "
        f"{throughput['pure_lstm_forward_backward_steps_per_second']:,.0f} steps/s; "
        f"ratio {throughput['train_over_pure_ratio']:.2f}",
        flush=True,
    )
    rows = []
    for seed in seeds:
        config = _seed_config(base, seed)
        seed_dir = workdir / f"two_step__seed{seed}"
        if _FRESH.value and seed_dir.exists():
            shutil.rmtree(seed_dir)
        start = time.perf_counter()
        result = train(config, seed_dir, show_progress=sys.stderr.isatty())
        seconds = time.perf_counter() - start
        summary = evaluate_checkpoint(
            config, result.last_checkpoint, _EPISODES.value, 10_000 + seed, False, seed_dir / "eval"
        )
        measured = {
            **summary["model_based_indices"],
            "reward_per_trial": summary["reward_per_trial"],
        }
        checks = {name: measured[name] for name in TWO_STEP_TARGETS}
        passed = all(v is not None and v >= TWO_STEP_TARGETS[k] for k, v in checks.items())
        passed = passed and seconds <= _TIME_LIMIT.value
        rows.append(
            {
                "seed": seed,
                "train_seconds": seconds,
                "passed": passed,
                **checks,
                "summary": summary,
                "train_steps_per_second": result.steps_per_second,
            }
        )
        print(
            f"seed {seed}: trained {seconds:5.1f}s ({result.steps_per_second:,.0f} steps/s) | "
            f"rc-rr {_fmt(checks['rewarded_common_minus_rare'])} "
            f"ur-uc {_fmt(checks['unrewarded_rare_minus_common'])} "
            f"reward/trial {checks['reward_per_trial']:.3f} | {'PASS' if passed else 'FAIL'}",
            flush=True,
        )
    get_task("two_step").plot_seeds([r["summary"] for r in rows], workdir / "two_step_seeds.png")
    passes = sum(r["passed"] for r in rows)
    report = {
        "benchmark": "two_step",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
        },
        "targets": {
            **TWO_STEP_TARGETS,
            "train_seconds": _TIME_LIMIT.value,
            "train_env_steps_per_second": 100_000,
        },
        "throughput": throughput,
        "seeds": rows,
        "passed_seeds": passes,
    }
    atomic_write_text(workdir / "two_step_benchmark.json", json.dumps(report, indent=2) + "\n")
    print(
        f"{passes} of {len(rows)} seeds meet every target; figure "
        f"{workdir / 'two_step_seeds.png'}; report {workdir / 'two_step_benchmark.json'}"
    )
    return passes == len(rows) and throughput["train_env_steps_per_second"] >= 100_000


HARLOW_ENV_TARGETS = {"simulator_fps_84": 12_000, "vision_fps_84": 5_000}


def _recorded_or_simulated_frames() -> tuple[np.ndarray, np.ndarray, str]:
    """DeepMind Lab's 84x84 recording when the fixtures are there, else simulator frames."""
    from preprocessing.benchmark import DEFAULT_RECORDING, load_recording

    if DEFAULT_RECORDING.is_file():
        frames, episodes = load_recording(DEFAULT_RECORDING)
        return frames, episodes, f"DeepMind Lab recording {DEFAULT_RECORDING.name}"
    from harlow.datasets import default_dataset_path, load_dataset
    from harlow.psychlab.simulator import BatchedHarlowSimulator

    dataset = load_dataset(default_dataset_path())
    sim = BatchedHarlowSimulator(1, dataset.images, dataset.ids("train"), seed=0)
    frames = [sim.reset()[0]]
    rng = np.random.default_rng(0)
    for _ in range(1999):
        action = np.zeros((1, 7), np.intc)
        action[0, 0] = rng.integers(-20, 21)
        frames.append(sim.step(action)[0][0])
    return np.stack(frames), np.zeros(len(frames), np.int32), "simulator frames (no fixtures)"


def measure_saccade_trials(num_envs: int = 16, trials: int = 24) -> dict[str, float]:
    """Trials/s and frames per trial of the saccade wrapper on the simulator (ids mode)."""
    from harlow.datasets import default_dataset_path, load_dataset
    from harlow.psychlab.observations import IdsObserver
    from harlow.psychlab.saccade import SaccadeWrapper
    from harlow.psychlab.simulator import BatchedHarlowSimulator

    dataset = load_dataset(default_dataset_path())
    sim = BatchedHarlowSimulator(num_envs, dataset.images, dataset.ids("train"), seed=0)
    wrapper = SaccadeWrapper(sim, IdsObserver(num_envs))
    wrapper.reset()
    rng = np.random.default_rng(0)
    frames = timeouts = 0
    start = time.perf_counter()
    for _ in range(trials):
        _, _, _, info = wrapper.step(rng.integers(0, 2, num_envs))
        frames += int(info["frames"].sum())
        timeouts += int(info["timeouts"].sum())
    elapsed = time.perf_counter() - start
    return {
        "trials_per_second": num_envs * trials / elapsed,
        "frames_per_trial": frames / (num_envs * trials),
        "timeouts": timeouts,
        "trials": num_envs * trials,
    }


def run_harlow_env(seeds: list[int], workdir: Path) -> bool:
    """Frames/s of the simulator (batch 64) and of the vision pipeline, one core each."""
    import cv2

    from harlow.psychlab.sim_benchmark import measure_simulator_fps
    from preprocessing.benchmark import measure_frames_per_second

    del seeds  # nothing is trained here
    cv2.setNumThreads(1)
    results: dict[str, float | str] = {}
    for size in (84, 256):
        fps = measure_simulator_fps(num_envs=64, width=size, height=size)
        results[f"simulator_fps_{size}"] = fps
        print(f"simulator, batch 64, {size}x{size}: {fps:,.0f} frames/s", flush=True)
    frames, episodes, source = _recorded_or_simulated_frames()
    results["vision_source"] = source
    results["vision_fps_84"] = measure_frames_per_second(frames, episodes)
    results["locate_fps_84"] = measure_frames_per_second(frames, episodes, locate_only=True)
    print(
        f"vision pipeline on {source}: {results['vision_fps_84']:,.0f} frames/s "
        f"(locating alone {results['locate_fps_84']:,.0f})",
        flush=True,
    )
    saccade = measure_saccade_trials()
    results.update({f"saccade_{k}": v for k, v in saccade.items()})
    print(
        f"saccade wrapper on the simulator (16 envs): {saccade['trials_per_second']:,.1f} "
        f"trials/s, {saccade['frames_per_trial']:.1f} frames per trial, "
        f"{saccade['timeouts']} timeouts in {saccade['trials']} trials"
    )
    report = {
        "benchmark": "harlow_env",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "targets": HARLOW_ENV_TARGETS,
        "results": results,
    }
    atomic_write_text(workdir / "harlow_env_benchmark.json", json.dumps(report, indent=2) + "\n")
    met = all(results[k] >= v for k, v in HARLOW_ENV_TARGETS.items())
    met = met and saccade["timeouts"] == 0
    print(f"targets {'met' if met else 'NOT met'}; report {workdir / 'harlow_env_benchmark.json'}")
    return met


def run_harlow_train(seeds: list[int], workdir: Path) -> bool:
    """Training throughput of the Harlow config (trials/s, frames/s) and where time goes."""
    from harlow.harlow_task.profile import profile_training

    config = load_config_file(_CONFIG.value or DEFAULT_CONFIGS / "harlow.py")
    config.seed = seeds[0]
    print(
        f"profiling {_THROUGHPUT_UPDATES.value} updates of {config.train.num_envs} environments "
        f"x {config.train.unroll_length} trials ({config.env.observation} observations)...",
        flush=True,
    )
    results = profile_training(config, _THROUGHPUT_UPDATES.value)
    print(
        f"{results['trials_per_second']:,.0f} trials/s, {results['frames_per_second']:,.0f} "
        f"frames/s ({results['frames_per_trial']:.1f} frames per trial)"
    )
    shares = {k.removeprefix("share_"): v for k, v in results.items() if k.startswith("share_")}
    print("time: " + ", ".join(f"{part} {100 * share:.0f} %" for part, share in shares.items()))
    report = {
        "benchmark": "harlow_train",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "config": config.to_dict(),
        "updates": _THROUGHPUT_UPDATES.value,
        "results": results,
    }
    path = workdir / "harlow_train_benchmark.json"
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"report {path}")
    return True


def measure_dmlab(
    config: ml_collections.ConfigDict, num_envs: int, num_workers: int, trials: int
) -> dict[str, float]:
    """DeepMind Lab's raw frames/s and the trial-level environment's trials/s on it.

    Both use the same process layout (``num_workers``; 0 runs the Labs in one worker
    next to a process that imported TensorFlow, as training does). The raw rate
    steps random look actions; ``share_of_raw`` is trials/s over what the raw rate
    allows at the measured frames per trial.
    """
    from harlow.datasets import load_dataset
    from harlow.harlow_task.env import dataset_path, make_env
    from harlow.psychlab.dmlab import (
        DmlabHarlowEnv,
        HarlowLevelSettings,
        measure_steps_per_second,
    )

    config = ml_collections.ConfigDict(config.to_dict())
    config.env.backend, config.env.num_workers = "dmlab", num_workers
    dataset = load_dataset(dataset_path(config))
    ids = dataset.ids(config.env.split)
    size = config.env.frame_size
    raw = DmlabHarlowEnv(
        num_envs,
        dataset.images[ids - 1],
        ids,
        width=size,
        height=size,
        num_workers=num_workers,
        level=HarlowLevelSettings(episodes_per_reset=config.env.dmlab_episodes_per_reset),
    )
    try:
        start = time.perf_counter()
        raw.reset()
        reset_seconds = time.perf_counter() - start
        raw_fps = measure_steps_per_second(raw, num_steps=max(20, 14 * trials))
    finally:
        raw.close()
    env = make_env(config, num_envs, seed=0)
    rng = np.random.default_rng(0)
    frames = timeouts = 0
    try:
        env.reset()
        start = time.perf_counter()
        for _ in range(trials):
            _, _, _, info = env.step(rng.integers(0, 2, num_envs))
            frames += int(info["frames"].sum())
            timeouts += int(info["timeouts"].sum())
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    frames_per_trial = frames / (num_envs * trials)
    trials_per_second = num_envs * trials / elapsed
    return {
        "num_envs": num_envs,
        "num_workers": num_workers,
        "raw_frames_per_second": raw_fps,
        "batched_reset_seconds": reset_seconds,
        "trials_per_second": trials_per_second,
        "frames_per_second": frames / elapsed,
        "frames_per_trial": frames_per_trial,
        "timeouts": timeouts,
        "share_of_raw": trials_per_second * frames_per_trial / raw_fps,
    }


def run_dmlab(seeds: list[int], workdir: Path) -> bool:
    """Real DeepMind Lab throughput per worker count (see ``measure_dmlab``)."""
    del seeds  # nothing is trained here
    config = load_config_file(_CONFIG.value or DEFAULT_CONFIGS / "harlow.py")
    if _DMLAB_EPISODES_PER_RESET.value:
        config.env.dmlab_episodes_per_reset = _DMLAB_EPISODES_PER_RESET.value
    num_envs = _DMLAB_ENVS.value or config.train.num_envs
    try:
        workers = [int(w) for w in _DMLAB_WORKERS.value.split(",")]
    except ValueError:
        raise ValueError(
            f"--dmlab_workers must be integers like 0,1,2, got {_DMLAB_WORKERS.value!r}"
        ) from None
    rows = []
    for num_workers in workers:
        row = measure_dmlab(config, num_envs, num_workers, _DMLAB_TRIALS.value)
        rows.append(row)
        print(
            f"DeepMind Lab, {num_envs} envs, {config.env.frame_size}px, "
            f"{config.env.dmlab_episodes_per_reset} episodes per reset, num_workers="
            f"{num_workers}: raw {row['raw_frames_per_second']:,.0f} frames/s, reset of all "
            f"envs {row['batched_reset_seconds']:.2f} s | trials {row['trials_per_second']:,.1f}"
            f"/s at {row['frames_per_trial']:.1f} frames per trial ({row['frames_per_second']:,.0f}"
            f" frames/s, {row['share_of_raw']:.0%} of raw), {row['timeouts']} timeouts",
            flush=True,
        )
    report = {
        "benchmark": "dmlab",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "episodes_per_reset": config.env.dmlab_episodes_per_reset,
        "results": rows,
    }
    path = workdir / "dmlab_benchmark.json"
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"report {path}")
    return all(row["timeouts"] == 0 for row in rows)


BENCHMARKS = {
    "two_step": run_two_step,
    "harlow_env": run_harlow_env,
    "harlow_train": run_harlow_train,
    "dmlab": run_dmlab,
}


def main(argv: list[str]) -> None:
    """Entry point: ``python -m harlow.benchmark NAME [flags]``."""
    if len(argv) != 2 or argv[1] not in BENCHMARKS:
        raise app.UsageError(f"usage: python -m harlow.benchmark {{{','.join(BENCHMARKS)}}} ...")
    try:
        seeds = parse_seeds(_SEEDS.value)
        ok = BENCHMARKS[argv[1]](seeds, Path(_WORKDIR.value))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    app.run(main)
