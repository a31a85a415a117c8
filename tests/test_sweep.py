"""Sweeps: seed parsing, override forwarding, early errors, and a real two-seed sweep."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags
from ml_collections import config_flags

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
