"""Sweeps: seed parsing, override forwarding, early errors, and a real two-seed sweep."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags
from ml_collections import config_flags

from harlow.run_progress import (
    PROGRESS_FILE,
    RunProgress,
    progress_path,
    read_progress,
    write_progress,
)
from harlow.seeds import config_override_args, parse_seeds, thread_env

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = '''"""A two-step config that trains 2,000 env steps in a few seconds."""

from configs.two_step import get_config as two_step_config


def get_config():
    config = two_step_config()
    config.env.trials_per_episode = 10
    config.agent.lstm_units = 8
    config.train.num_envs = 8
    config.train.unroll_length = 4
    config.train.total_env_steps = 2_000
    config.train.log_every_updates = 20
    config.eval.episodes = 10
    config.eval.num_envs = 10
    return config
'''


@pytest.mark.parametrize(
    "text, seeds",
    [("0-4", [0, 1, 2, 3, 4]), ("0,2,5", [0, 2, 5]), ("3", [0, 1, 2]), (" 2-2 ", [2])],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "x", "0", "4-1", "-2", "1,x", "1-2-3", "1,1"])
def test_parse_seeds_rejects_nonsense_naming_it(text):
    with pytest.raises(ValueError, match=f"--seeds={text.strip()!r}"):
        parse_seeds(text)


def test_config_overrides_are_forwarded_as_given():
    argv = [
        "--config",
        str(REPO / "configs" / "two_step.py"),
        "--config.agent.lstm_units",
        "16",
        "--workdir",
        "runs/x",
        "--config.train.learning_rate",
        "-1e-3",
        "--config.train.discount=0.5",
        "--config.eval.greedy",
        "--noconfig.eval.greedy",
    ]
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file(
        "config", None, "config", flag_values=flag_values, sys_argv=["sweep", *argv]
    )
    flags.DEFINE_string("workdir", None, "workdir", flag_values=flag_values)
    flag_values(["sweep", *argv])
    assert config_override_args(argv, flag_values) == [
        "--config.agent.lstm_units",
        "16",
        "--config.train.learning_rate",
        "-1e-3",
        "--config.train.discount=0.5",
        "--config.eval.greedy",
        "--noconfig.eval.greedy",
    ]


def test_thread_env_shares_the_cores(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = thread_env(cores=8, parallel=4)
    assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "2"
    assert env["OMP_NUM_THREADS"] == "3"  # the user's own setting wins
    assert thread_env(cores=2, parallel=4)["TF_NUM_INTRAOP_THREADS"] == "1"
    assert "TF_NUM_INTRAOP_THREADS" not in thread_env(cores=8, parallel=1)


def test_progress_file_round_trips_and_bad_files_read_as_none(tmp_path):
    progress = RunProgress(
        pid=42,
        env_steps=250,
        total_env_steps=1000,
        episodes=7,
        reward_per_trial=None,
        steps_per_second=123.5,
    )
    assert read_progress(tmp_path) is None  # missing
    write_progress(tmp_path, progress)
    assert read_progress(tmp_path) == progress
    assert read_progress(tmp_path).fraction == 0.25
    assert [p.name for p in tmp_path.iterdir()] == [PROGRESS_FILE]
    record = json.loads(progress_path(tmp_path).read_text())
    assert record == {
        "pid": 42,
        "env_steps": 250,
        "total_env_steps": 1000,
        "episodes": 7,
        "reward_per_trial": None,
        "steps_per_second": 123.5,
    }
    whole = progress_path(tmp_path).read_text()
    for bad in (whole[: len(whole) // 2], "", "[1, 2]", '{"pid": 42}', "\xff\xfe"):
        progress_path(tmp_path).write_text(bad, errors="surrogateescape")
        assert read_progress(tmp_path) is None, bad
    write_progress(tmp_path, RunProgress(1, 10, 10, 1, float("nan"), float("inf")))
    record = json.loads(progress_path(tmp_path).read_text())  # strict JSON: no NaN
    assert record["reward_per_trial"] is None and record["steps_per_second"] is None


# Stands in for ``python -m harlow.train`` under the sweep: writes its seed's progress
# file in stages, each after the sweep's progress bar has shown the previous one (the
# bar's texts go to SHOWN), and checks what the bar showed meanwhile.
_FAKE_TRAINER = """
import os, sys, time
from pathlib import Path
from harlow.run_progress import RunProgress, progress_path, write_progress

workdir = Path(next(a for a in sys.argv if a.startswith("--workdir="))[len("--workdir="):])
shown_file = Path(os.environ["SHOWN"])

def shown():
    return shown_file.read_text().splitlines() if shown_file.exists() else []

def wait_for(condition):
    deadline = time.monotonic() + 60
    while not condition(shown()):
        if time.monotonic() > deadline:
            sys.exit(f"timed out; shown: {shown()}")
        time.sleep(0.01)

def polls_after(count):  # the sweep looked at the file twice more
    wait_for(lambda texts: len(texts) >= count + 2)

def record(steps):
    return RunProgress(os.getpid(), steps, 1000, steps // 100, 0.5, 99.0)

wait_for(lambda texts: "seed 0: starting" in texts)  # the earlier run's file is not ours
progress_path(workdir).write_text('{"pid": %d, "env_steps": 5' % os.getpid())  # partial
polls_after(len(shown()))
write_progress(workdir, record(250))
wait_for(lambda texts: "seed 0: 25%" in texts)
progress_path(workdir).unlink()  # missing: the last record stays shown
polls_after(len(shown()))
write_progress(workdir, record(1000))
wait_for(lambda texts: "seed 0: 100%" in texts)
"""

# Runs the sweep's own training loop on the fake trainer, in a process of its own
# (harlow.sweep defines absl flags that other test modules define too).
_SWEEP_LOOP = """
import json, sys
from pathlib import Path
from harlow import sweep

class Recorder:
    def __init__(self, bar):
        self.file = Path(sys.argv[2])
    def show(self, text):
        with self.file.open("a") as f:
            f.write(text + "\\n")

sweep.sys.executable = sys.argv[3]
sweep.PostfixUpdater = Recorder
sweep._POLL_SECONDS = 0.02
job = sweep.Job(0, sweep.GridPoint(), Path(sys.argv[1]))
codes = sweep.train_jobs([job], [], parallel=1, show_progress=False)
print(json.dumps({j.seed: code for j, code in codes.items()}))
"""


def test_sweep_progress_follows_the_progress_file(tmp_path):
    workdir, shown = tmp_path / "sweep", tmp_path / "shown.txt"
    run_dir = workdir / "seed_0"
    run_dir.mkdir(parents=True)
    # An earlier run's record (another process): not this child's progress.
    write_progress(run_dir, RunProgress(1, 900, 1000, 9, 0.5, 99.0))
    trainer = tmp_path / "fake_trainer.py"
    trainer.write_text(_FAKE_TRAINER)
    python = tmp_path / "python"  # what the sweep runs as ``sys.executable -m harlow.train``
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{trainer}" "$@"\n')
    python.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-c", _SWEEP_LOOP, str(workdir), str(shown), str(python)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "SHOWN": str(shown), "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    log = (run_dir / "train.log").read_text()
    assert json.loads(result.stdout.splitlines()[-1]) == {"0": 0}, log
    texts = [text for text in shown.read_text().splitlines() if text]  # "": none running
    changes = [text for i, text in enumerate(texts) if i == 0 or text != texts[i - 1]]
    assert changes == ["seed 0: starting", "seed 0: 25%", "seed 0: 100%"]


def _sweep(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "harlow.sweep", f"--workdir={workdir}", "--noprogress", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


TWO_STEP = "--config=configs/two_step.py"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [TWO_STEP, "--seeds=2", "--config.train.lerning_rate=0.1"],
            "no field 'train.lerning_rate'; did you mean 'train.learning_rate'",
        ),
        ([TWO_STEP, "--seeds=2", "--config.train.learning_rate=-1"], "config.train.learning_rate"),
        ([TWO_STEP, "--seeds=2", "--config.train.num_envs=many"], "--config.train.num_envs=many"),
        ([TWO_STEP, "--seeds=2", "--config.seed=3"], "--seeds"),
        ([TWO_STEP, "--seeds=2-1"], "--seeds='2-1'"),
        (["--config=configs/nope.py", "--seeds=2"], "configs/nope.py not found"),
        ([TWO_STEP, "--seeds=2", "--eval_args=--workdir=x"], "--eval_args cannot contain"),
        ([TWO_STEP, "--seeds=2", "--config.train.learning_rate=inf"], "must be a finite"),
    ],
)
def test_bad_flags_fail_before_any_training(tmp_path, args, message):
    result = _sweep(tmp_path / "sweep", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "sweep").exists()


def test_an_empty_workdir_is_refused(tmp_path):
    """``--workdir=`` would put the seeds in the current folder (here ``tmp_path``)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harlow.sweep",
            f"--config={REPO / 'configs' / 'two_step.py'}",
            "--seeds=1",
            "--workdir=",
            "--config.train.total_env_steps=100",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert result.returncode == 1
    assert "error: --workdir is empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_config_file_with_a_syntax_error_fails_in_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    result = _sweep(tmp_path / "sweep", f"--config={broken}", "--seeds=2")
    assert result.returncode == 1
    assert f"error: config file {broken}, line 1: invalid syntax" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sweep_reports_a_failed_seed_then_resumes_and_evaluates(tmp_path):
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    workdir = tmp_path / "sweep"
    # Seed 1's workdir holds a corrupt checkpoint: only its child can find out.
    broken = workdir / "seed_1" / "checkpoints"
    broken.mkdir(parents=True)
    (broken / "checkpoint").write_text('model_checkpoint_path: "ckpt-5"\n')
    (broken / "ckpt-5.index").write_bytes(b"garbage")
    args = [f"--config={config}", "--seeds=0-1", "--parallel=2", "--episodes=6"]

    result = _sweep(workdir, *args)
    assert result.returncode == 1
    assert "seeds [1] failed" in result.stderr
    assert "none of the checkpoints" in result.stderr  # the tail of seed 1's log
    assert "ckpt-5: its index file" in result.stderr  # is corrupt: not deleted as a leftover
    assert "seed 0 done" in result.stdout
    assert (workdir / "seed_0" / "checkpoints" / "checkpoint").exists()
    assert not (workdir / "eval").exists()

    for path in broken.iterdir():
        path.unlink()
    result = _sweep(workdir, *args, "--config.train.log_every_updates", "10")
    assert result.returncode == 0, result.stderr
    assert "Resuming from" in (workdir / "seed_0" / "train.log").read_text()
    for seed in (0, 1):
        run = workdir / f"seed_{seed}"
        saved_config = json.loads((run / "config.json").read_text())
        assert saved_config["seed"] == seed
        assert saved_config["train"]["log_every_updates"] == 10
        assert any((run / "checkpoints").glob("ckpt-*.index"))
        assert json.loads((run / "eval" / "report.json").read_text())["env_steps"] >= 2_000
    report = json.loads((workdir / "eval" / "seeds.json").read_text())
    assert len(report["per_seed"]) == 2
    assert (workdir / "eval" / "seeds.png").read_bytes()[:4] == b"\x89PNG"
    assert f"aggregated report: {workdir / 'eval' / 'seeds.json'}" in result.stdout
