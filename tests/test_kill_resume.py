"""Killing training at random moments (SIGKILL, mid-save included) never loses the run.

The slow test trains the two-step task in a subprocess that saves a checkpoint every
0.2 s, kills it with SIGKILL three times at random moments, resumes it each time and
finally runs it to the end; it then checks every recorded checkpoint. The kills come at
random points of training (measured in updates, so that a fast machine does not finish
first) plus a random fraction of the save interval, so some land during a save. The
fast tests plant the leftovers of a save killed half-way and check that they are
cleaned up and never taken for a checkpoint.
"""

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from harlow.agent.builder import build_agent
from harlow.agent.network import ActorCritic
from harlow.checkpointing import (
    TrainingState,
    all_checkpoints,
    load_config,
    remove_interrupted_saves,
    resolve_checkpoint,
    restore_agent,
)
from harlow.evaluation import checkpoint_env_steps
from harlow.learner.a2c import make_optimizer

REPO = Path(__file__).resolve().parent.parent
STEPS_PER_UPDATE = 8 * 4
TOTAL_UPDATES = 1_250
TOTAL_ENV_STEPS = TOTAL_UPDATES * STEPS_PER_UPDATE
TRAIN_ARGS = [
    "--config=configs/two_step.py",
    "--noprogress",
    "--config.env.trials_per_episode=10",
    "--config.agent.lstm_units=8",
    "--config.train.num_envs=8",
    "--config.train.unroll_length=4",
    f"--config.train.total_env_steps={TOTAL_ENV_STEPS}",
    "--config.train.checkpoint_every_seconds=0.2",
    "--config.train.keep_checkpoints=2",
    "--config.train.log_every_updates=100",
]
RESUMED = re.compile(r"Resuming from (\S+) at (\d+) env steps")
LATEST = re.compile(r'^model_checkpoint_path: "ckpt-(\d+)"', re.MULTILINE)


def _state(workdir: Path) -> TrainingState:
    agent = ActorCritic(3, 2, 8, seed=0)
    optimizer = make_optimizer("adam", 1e-3)
    optimizer.build(agent.trainable_variables)
    return TrainingState(agent, optimizer, workdir, keep=2)


def _plant_interrupted_saves(checkpoints: Path) -> list[Path]:
    """What SIGKILLs during saves leave, as observed with TensorFlow 2.21."""
    temp_dir = checkpoints / "ckpt-999999_temp"
    temp_dir.mkdir()
    (temp_dir / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"\0" * 99)
    orphan_index = checkpoints / "ckpt-999999.index"  # newest by name, never recorded
    orphan_index.write_bytes(b"garbage")
    orphan_data = checkpoints / "ckpt-999999.data-00000-of-00001"
    orphan_data.write_bytes(b"garbage")
    temp_state = checkpoints / f"checkpoint.tmp{'0' * 32}"
    temp_state.write_text("half")
    return [temp_dir, orphan_index, orphan_data, temp_state]


def test_leftovers_of_interrupted_saves_are_removed_and_ignored(tmp_path):
    state = _state(tmp_path)
    state.env_steps.assign(64)
    state.updates.assign(2)
    saved = state.save()
    debris = _plant_interrupted_saves(tmp_path / "checkpoints")
    assert resolve_checkpoint(tmp_path, None) == saved
    assert all_checkpoints(tmp_path) == [saved]

    restarted = _state(tmp_path)  # as harlow.train does when it starts again
    assert not any(p.exists() for p in debris)
    assert restarted.restore_latest() == saved
    assert int(restarted.env_steps.numpy()) == 64
    assert remove_interrupted_saves(tmp_path) == []


def test_without_a_state_file_unrecorded_checkpoints_are_kept(tmp_path):
    saved = Path(_state(tmp_path).save())
    (tmp_path / "checkpoints" / "checkpoint").unlink()
    assert remove_interrupted_saves(tmp_path) == []
    assert saved.with_suffix(".index").exists()


def test_a_checkpoint_deleted_by_an_interrupted_sweep_is_not_listed(tmp_path):
    state = _state(tmp_path)
    paths = []
    for update in (1, 2):
        state.updates.assign(update)
        paths.append(state.save())
    # Killed after the sweep deleted ckpt-1's index, before the state file was rewritten.
    Path(paths[0] + ".index").unlink()
    assert all_checkpoints(tmp_path) == [paths[1]]


def _start(workdir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harlow.train", f"--workdir={workdir}", *TRAIN_ARGS],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _wait_for_checkpoint(
    process: subprocess.Popen, state_file: Path, old_state: str | None, min_update: int
) -> None:
    """Waits until ``process`` has recorded a checkpoint of update ``min_update`` or later."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "training ended before the kill: raise TOTAL_UPDATES"
        assert time.monotonic() < deadline, f"no checkpoint of update {min_update} within 60 s"
        state = state_file.read_text() if state_file.exists() else None
        if state and state != old_state and int(LATEST.search(state)[1]) >= min_update:
            return
        time.sleep(0.02)


def _resumed_env_steps(log: Path, latest: str) -> int:
    match = RESUMED.search(log.read_text())
    assert match, f"{log.name} does not say it resumed:\n{log.read_text()[-2000:]}"
    assert Path(match[1]).name == Path(latest).name
    return int(match[2])


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_to_the_end(tmp_path):
    seed = int(os.environ.get("KILL_RESUME_SEED", random.randrange(1_000_000)))
    print(f"KILL_RESUME_SEED={seed}")  # shown if the test fails, to replay it
    rng = random.Random(seed)
    workdir = tmp_path / "run"
    state_file = workdir / "checkpoints" / "checkpoint"
    for attempt in range(3):
        # Read before starting: the run soon deletes the checkpoint it resumed from.
        old_state = state_file.read_text() if attempt else None
        latest = resolve_checkpoint(workdir, None) if attempt else None
        latest_steps = checkpoint_env_steps(latest) if attempt else 0
        log = tmp_path / f"attempt_{attempt}.log"
        process = _start(workdir, log)
        kill_fraction = rng.uniform(0.1, 0.25) + 0.2 * attempt
        _wait_for_checkpoint(process, state_file, old_state, int(kill_fraction * TOTAL_UPDATES))
        time.sleep(rng.uniform(0.0, 0.4))  # anywhere in the next two 0.2 s save cycles
        assert process.poll() is None, "training ended before the kill: raise TOTAL_UPDATES"
        process.send_signal(signal.SIGKILL)
        process.wait()
        if attempt:
            assert _resumed_env_steps(log, latest) == latest_steps > 0

    latest = resolve_checkpoint(workdir, None)
    latest_steps = checkpoint_env_steps(latest)
    planted = _plant_interrupted_saves(workdir / "checkpoints")
    log = tmp_path / "final.log"
    assert _start(workdir, log).wait(timeout=120) == 0, log.read_text()[-3000:]
    assert _resumed_env_steps(log, latest) == latest_steps > 0
    assert f"trained {TOTAL_ENV_STEPS:,} env steps" in log.read_text()
    assert not any(p.exists() for p in planted)

    state = tf.train.get_checkpoint_state(str(workdir / "checkpoints"))
    recorded = list(state.all_model_checkpoint_paths)
    assert recorded and recorded[-1] == state.model_checkpoint_path
    steps = [checkpoint_env_steps(p) for p in recorded]  # each one loads
    assert steps == sorted(steps) and steps[-1] == TOTAL_ENV_STEPS
    names = {p.name for p in (workdir / "checkpoints").iterdir()}
    assert names == {"checkpoint"} | {
        f"{Path(p).name}{suffix}" for p in recorded for suffix in (".index", ".data-00000-of-00001")
    }
    config = load_config(workdir)
    assert config.train.total_env_steps == TOTAL_ENV_STEPS
    agent = build_agent(config)
    restore_agent(agent, resolve_checkpoint(workdir, None))
    assert all(np.isfinite(v.numpy()).all() for v in agent.trainable_variables)
