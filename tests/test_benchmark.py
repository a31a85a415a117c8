"""Benchmarks: seed parsing, configs and overrides, throughput and profiling on the
trainer's set-up, the command line's help and errors, and the import graph."""

import ast
import json
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from harlow.benchmarks import BENCHMARKS, DEFAULT_WORKDIR
from harlow.benchmarks.common import CONFIGS, Options, load_config
from harlow.benchmarks.dmlab import measure_dmlab
from harlow.benchmarks.harlow_env import measure_saccade_trials
from harlow.benchmarks.harlow_learning import seed_row
from harlow.benchmarks.harlow_train import profile_training
from harlow.benchmarks.two_step import measure_throughput
from harlow.config.files import load_config_file
from harlow.seeds import parse_seeds
from tests.cli_runner import REPO, run_module


@pytest.mark.parametrize(
    "text, seeds", [("8", list(range(8))), ("2-4", [2, 3, 4]), ("1,5", [1, 5]), (" 3 ", [0, 1, 2])]
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


def test_parse_seeds_refuses_absurd_ranges_before_building_them():
    with pytest.raises(ValueError, match="selects 100,000,000,000 seeds, over 10,000"):
        parse_seeds("0-99999999999")


@pytest.mark.parametrize("text", ["", "a", "0", "3-1", "-2", "1,x"])
def test_parse_seeds_rejects_nonsense(text):
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(text)


def test_load_config_file(tmp_path):
    assert load_config_file(CONFIGS / "two_step.py").task == "two_step"
    with pytest.raises(ValueError, match="not found"):
        load_config_file(tmp_path / "nope.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="empty.py defines no get_config"):
        load_config_file(tmp_path / "empty.py")


def test_every_benchmark_has_a_module_with_run_and_an_existing_default_config():
    for name, bench in BENCHMARKS.items():
        assert callable(bench.runner()), name
        if bench.config:
            assert (CONFIGS / bench.config).is_file(), name


def test_config_overrides_and_num_workers_apply(tmp_path):
    options = Options(
        name="harlow_train",
        workdir=tmp_path,
        overrides=[("train.num_envs", "6"), ("env.observation", "patches")],
        num_workers=2,
    )
    config = load_config(options, "harlow.py")
    assert config.train.num_envs == 6 and config.env.observation == "patches"
    assert config.env.num_workers == 2
    with pytest.raises(ValueError, match="no_such_field"):
        load_config(
            Options("harlow_train", tmp_path, overrides=[("no_such_field", "1")]), "harlow.py"
        )
    with pytest.raises(ValueError, match="no env.num_workers"):
        load_config(Options("two_step", tmp_path, num_workers=1), "two_step.py")


def test_measure_throughput_reports_consistent_fractions(tiny_two_step_config):
    result = measure_throughput(tiny_two_step_config, updates=3)
    assert result["train_env_steps_per_second"] > 0
    assert result["acting_fraction"] + result["learning_fraction"] == pytest.approx(1.0)
    assert result["train_over_pure_ratio"] == pytest.approx(
        result["train_env_steps_per_second"] / result["pure_lstm_forward_backward_steps_per_second"]
    )


def _tiny_harlow_config(num_workers: int):
    config = load_config_file(CONFIGS / "harlow.py")
    config.agent.lstm_units = 8
    config.train.num_envs = 2
    config.env.num_workers = num_workers
    return config


def test_harlow_profile_with_workers_reports_the_whole_environment_share():
    results = profile_training(_tiny_harlow_config(num_workers=2), updates=2)
    shares = {k.removeprefix("share_") for k in results if k.startswith("share_")}
    assert shares == {"env", "policy", "learn"}  # backend and vision run in the workers
    assert results["num_workers"] == 2 and results["share_env"] > 0
    assert 10 <= results["frames_per_trial"] <= 20


def test_saccade_measurement_reports_trials_and_frames():
    result = measure_saccade_trials(_tiny_harlow_config(0), num_envs=2, trials=2)
    assert result["trials"] == 4 and result["timeouts"] == 0
    assert result["trials_per_second"] > 0 and 8 <= result["frames_per_trial"] <= 60


def test_dmlab_measurement_on_the_fake_deepmind_lab(fake_deepmind_lab, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config_file(CONFIGS / "harlow.py")
    result = measure_dmlab(config, num_envs=2, num_workers=1, trials=2)
    assert result["timeouts"] == 0 and result["raw_frames_per_second"] > 0
    assert result["trials_per_second"] > 0 and 8 <= result["frames_per_trial"] <= 60
    assert result["share_of_raw"] == pytest.approx(
        result["trials_per_second"] * result["frames_per_trial"] / result["raw_frames_per_second"]
    )
    assert os.listdir(tmp_path) == []


def test_help_lists_every_benchmark_with_its_config_and_workdir():
    result = run_module("harlow.benchmark", "--help")
    assert result.returncode == 1, result.stderr  # absl's --help exits with status 1
    for name, bench in BENCHMARKS.items():
        config = f"configs/{bench.config}" if bench.config else "no config"
        assert any(
            line.strip().startswith(name) and f"[{config}]" in line
            for line in result.stdout.splitlines()
        ), name
    assert f"default {DEFAULT_WORKDIR}" in result.stdout


def test_vision_without_the_recording_fails_in_one_line(tmp_path):
    missing = tmp_path / "shared" / "fixtures" / "harlow_84.npz"
    result = run_module("harlow.benchmark", "vision", f"--recording={missing}", "--repeats=1")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: recording ")
    assert f"{tmp_path / 'shared'} does not exist" in lines[0]
    assert "met" not in result.stdout + result.stderr


def test_unknown_benchmark_and_bad_override_give_one_line_errors():
    result = run_module("harlow.benchmark", "nope")
    assert result.returncode == 1 and result.stderr.startswith("error: usage:")
    result = run_module("harlow.benchmark", "simulator", "--config.train.num_envs=2")
    assert result.returncode == 1 and "takes no config" in result.stderr


def _imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("package", ["harlow/harlow_task", "harlow/psychlab", "preprocessing"])
def test_task_and_environment_modules_import_no_trainer_or_benchmark(package):
    upward = ("harlow.learner.trainer", "harlow.benchmark", "harlow.benchmarks")
    for path in sorted((REPO / package).rglob("*.py")):
        bad = {m for m in _imports(path) if m in upward or m.startswith("harlow.benchmarks.")}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def _summary(later: float, first: float) -> dict:
    return {
        "trials_2_to_6": {"accuracy": later},
        "trial_1": {"accuracy": first},
        "trial_2_after_wrong_trial_1": {"accuracy": later},
    }


@pytest.mark.parametrize(
    "later, first, seconds, passed",
    [
        (0.97, 0.50, 180.0, True),
        (0.969, 0.50, 100.0, False),  # not learned
        (1.0, 0.61, 100.0, False),  # trial 1 above chance: it cannot know the first answer
        (1.0, 0.39, 100.0, False),
        (1.0, 0.50, 180.5, False),  # over time
    ],
)
def test_harlow_seed_passes_only_when_every_target_holds(later, first, seconds, passed):
    row = seed_row(3, seconds, _summary(later, first), time_limit=180.0)
    assert row["passed"] is passed and row["seed"] == 3


def test_harlow_learning_benchmark_trains_tests_and_reports_each_seed(tmp_path):
    result = run_module(
        "harlow.benchmark",
        "harlow",
        "--seeds=0-1",
        f"--workdir={tmp_path}",
        "--episodes=4",
        "--config.train.total_env_steps=192",
        "--config.train.num_envs=8",
        "--config.eval.num_envs=4",
    )
    assert result.returncode == 1, result.stderr  # 192 trials learn nothing: the seeds fail
    report = json.loads((tmp_path / "harlow_benchmark.json").read_text())
    assert [row["seed"] for row in report["seeds"]] == [0, 1]
    assert report["passed_seeds"] == 0 and report["targets"]["train_seconds"] == 180.0
    assert all(row["train_seconds"] > report["startup_seconds"] > 0 for row in report["seeds"])
    assert (tmp_path / "harlow_seeds.png").exists()
    assert (tmp_path / "harlow__seed1" / "eval" / "report.json").exists()
    assert result.stdout.count("| FAIL") == 2 and "0 of 2 seeds pass" in result.stdout


def test_learning_benchmarks_test_each_seed_on_the_episodes_given(tmp_path, monkeypatch):
    import harlow.evaluation
    import harlow.learner.trainer
    from harlow.benchmarks import learning

    tested: list[tuple[int, int]] = []

    def fake_train(config, workdir, show_progress):
        return SimpleNamespace(last_checkpoint=f"{workdir}/ckpt-1", steps_per_second=10.0)

    def fake_evaluate(config, checkpoint, episodes, seed, greedy, output_dir):
        tested.append((config.seed, episodes))
        return {"seed": config.seed}

    monkeypatch.setattr(harlow.learner.trainer, "train", fake_train)
    monkeypatch.setattr(harlow.evaluation, "evaluate_checkpoint", fake_evaluate)
    options = Options("harlow", tmp_path, seeds=[2, 5])  # options.episodes: None
    base = load_config(options, "harlow.py")
    runs = list(learning.train_and_test(base, options, startup=1.5, episodes=7))
    assert tested == [(2, 7), (5, 7)]
    assert [(r.seed, r.summary) for r in runs] == [(2, {"seed": 2}), (5, {"seed": 5})]
    assert all(r.seconds >= 1.5 for r in runs)
