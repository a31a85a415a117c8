"""The command lines as a user runs them: train, resume, evaluate, errors."""

import json
import subprocess
from pathlib import Path

import pytest
from cli_runner import run_module

TINY = [
    "--config.env.trials_per_episode=5",
    "--config.agent.lstm_units=8",
    "--config.train.num_envs=4",
    "--config.train.unroll_length=5",
    "--config.train.total_env_steps=200",
    "--config.eval.num_envs=4",
]


def _train(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_module(
        "harlow.train",
        "--config=configs/two_step.py",
        f"--workdir={workdir}",
        "--noprogress",
        *TINY,
        *extra,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("run")
    result = _train(workdir)
    assert result.returncode == 0, result.stderr
    assert "trained 200 env steps" in result.stdout
    return workdir


def test_rerunning_resumes(trained, tmp_path):
    result = _train(trained, "--config.train.total_env_steps=400")
    assert result.returncode == 0, result.stderr
    assert "trained 400 env steps" in result.stdout
    assert "Resuming from" in result.stderr


def _errors(result: subprocess.CompletedProcess) -> list[str]:
    """The stderr lines of a command line's own errors; fails on a traceback."""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_typo_in_a_config_field_fails_in_one_line_with_close_matches(tmp_path):
    result = _train(tmp_path, "--config.train.lerning_rate=0.1")
    assert result.returncode == 1
    assert _errors(result) == [
        "error: --config.train.lerning_rate: the config has no field 'train.lerning_rate'; "
        "did you mean 'train.learning_rate' or 'train.log_every_updates'? "
        "(in configs/two_step.py)"
    ]
    assert not (tmp_path / "checkpoints").exists()


def test_a_missing_or_broken_config_file_fails_in_one_line(tmp_path):
    result = run_module("harlow.train", "--config=configs/nope.py", f"--workdir={tmp_path}")
    assert result.returncode == 1
    assert _errors(result) == ["error: config file configs/nope.py not found"]
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    result = run_module("harlow.train", f"--config={broken}", f"--workdir={tmp_path / 'run'}")
    assert result.returncode == 1
    assert _errors(result) == [f"error: config file {broken}, line 1: invalid syntax"]
    assert not (tmp_path / "run").exists()


def test_a_resume_refuses_a_changed_network_size_in_one_line(trained):
    config = (trained / "config.json").read_text()
    result = _train(trained, "--config.agent.lstm_units=16")
    assert result.returncode == 1
    (error,) = _errors(result)
    assert error.startswith(f"error: cannot resume {trained} with a changed ")
    assert "config.agent.lstm_units 8 -> 16:" in error
    assert (trained / "config.json").read_text() == config


@pytest.mark.parametrize(
    "override, field",
    [
        ("--config.train.learning_rate=-0.1", "config.train.learning_rate"),
        ("--config.env.common_prob=1.3", "config.env.common_prob"),
        ("--config.train.num_envs=0", "config.train.num_envs"),
        ("--config.train.learning_rate=inf", "config.train.learning_rate must be a finite"),
        ("--config.train.learning_rate=nan", "config.train.learning_rate must be a finite"),
    ],
)
def test_invalid_values_fail_naming_the_field(tmp_path, override, field):
    result = _train(tmp_path, override)
    assert result.returncode == 1
    assert field in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_writes_report_csv_and_plot(trained, tmp_path):
    out = tmp_path / "eval"
    result = run_module(
        "harlow.evaluate", f"--workdir={trained}", "--episodes=6", f"--output_dir={out}"
    )
    assert result.returncode == 0, result.stderr
    assert "rewarded_common" in result.stdout and "reward per trial" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["episodes"] == 6 and report["trials_per_episode"] == 5
    assert set(report["stay_probabilities"]) == {
        "rewarded_common",
        "rewarded_rare",
        "unrewarded_common",
        "unrewarded_rare",
    }
    assert report["env_steps"] >= 200
    rows = (out / "trials.csv").read_text().splitlines()
    assert rows[0] == "episode,trial,action,state,transition,reward"
    assert len(rows) == 1 + 6 * 5
    assert (out / "stay_probability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_several_workdirs_draws_the_seed_figure(trained, tmp_path):
    second = tmp_path / "seed1"
    assert _train(second, "--config.seed=1").returncode == 0
    out = tmp_path / "figure"
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        f"--workdir={second}",
        "--episodes=4",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    assert (out / "seeds.png").exists()
    assert len(json.loads((out / "seeds.json").read_text())["per_seed"]) == 2


def test_evaluate_errors_are_clear(trained, tmp_path):
    result = run_module("harlow.evaluate", f"--workdir={tmp_path}")
    assert result.returncode == 1 and "config.json not found" in result.stderr
    result = run_module(
        "harlow.evaluate", f"--workdir={trained}", f"--checkpoint={tmp_path}/ckpt-9"
    )
    assert result.returncode == 1 and "not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--episodes=0"], "error: --episodes must be >= 1, got 0"),
        (["--workdir="], "error: --workdir is empty"),
        (["--workdir={trained}/../{name}"], "error: --workdir {trained}/../{name} is given twice"),
    ],
)
def test_evaluate_refuses_no_episodes_and_empty_or_repeated_workdirs(
    trained, tmp_path, args, message
):
    fill = {"trained": trained, "name": trained.name}
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        *(arg.format(**fill) for arg in args),
        f"--output_dir={tmp_path}",
    )
    assert result.returncode == 1
    (error,) = _errors(result)
    assert error.startswith(message.format(**fill))
    assert list(tmp_path.iterdir()) == []


def test_evaluate_rejects_a_checkpoint_of_another_shape(trained, tmp_path):
    other = tmp_path / "wide"
    assert _train(other, "--config.agent.lstm_units=16").returncode == 0
    checkpoint = sorted((other / "checkpoints").glob("*.index"))[-1].with_suffix("")
    result = run_module("harlow.evaluate", f"--workdir={trained}", f"--checkpoint={checkpoint}")
    assert result.returncode == 1
    assert "does not match the agent" in result.stderr
    assert "Traceback" not in result.stderr
