"""The Harlow command lines as a user runs them: train, evaluate (held-out, custom data), errors."""

import csv
import importlib.util
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from cli_runner import REPO, run_module, start_module, wait_for_text

FAKE_DEEPMIND_LAB = REPO / "tests" / "fake_deepmind_lab"

TINY = [
    "--config.agent.lstm_units=8",
    "--config.train.num_envs=4",
    "--config.train.total_env_steps=480",
    "--config.train.checkpoint_every_seconds=0.5",
    "--config.eval.num_envs=4",
    "--config.eval.stages=3",
    "--config.eval.stage_episodes=4",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("harlow_run")
    result = run_module(
        "harlow.train", "--config=configs/harlow.py", f"--workdir={workdir}", "--noprogress", *TINY
    )
    assert result.returncode == 0, result.stderr
    assert "trained 480 env steps (80 episodes" in result.stdout
    assert "frames/s" in result.stdout  # where the time went
    return workdir


def test_evaluate_writes_the_learning_set_report(trained, tmp_path):
    out = tmp_path / "eval"
    result = run_module(
        "harlow.evaluate", f"--workdir={trained}", "--episodes=8", f"--output_dir={out}"
    )
    assert result.returncode == 0, result.stderr
    assert "trials 2..6:" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "heldout" and report["episodes"] == 8
    assert report["backend"] == "simulator" and report["observation"] == "ids"
    assert [e["trial"] for e in report["accuracy_by_trial"]] == [1, 2, 3, 4, 5, 6]
    assert report["env_steps"] == 480 and report["timeouts"] == 0
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48
    assert all(int(row["left_image"]) > 200 for row in rows)  # held-out faces
    assert (out / "accuracy_by_trial.png").stat().st_size > 0
    stages = json.loads((out / "stages.json").read_text())
    assert 2 <= len(stages) <= 3
    assert stages[-1]["env_steps"] == 480
    assert (out / "stages.png").stat().st_size > 0


def test_evaluate_on_training_images_and_a_custom_dataset(trained, tmp_path):
    out = tmp_path / "train_split"
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        "--episodes=4",
        "--split=train",
        "--nostages",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "train"
    assert report["config_overrides"] == {"config.eval.split": "train"}
    assert not (out / "stages.png").exists()

    faces = tmp_path / "other_faces"
    made = run_module(
        "harlow.datasets", "generate-faces", f"--out={faces}", "--count=12", "--heldout=4",
        "--seed=99",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    out = tmp_path / "custom"
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        "--episodes=4",
        "--nostages",
        f"--config.dataset={faces}",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == str(faces) and report["episodes"] == 4
    assert report["config_overrides"] == {"config.dataset": str(faces)}


def test_evaluations_on_other_images_go_to_folders_named_after_them(trained, tmp_path):
    """Without --output_dir, each evaluation goes to <workdir>/eval/<what it ran on>, with
    its TensorBoard summaries: held-out and training faces do not replace each other."""
    workdir = tmp_path / "run"
    shutil.copytree(trained, workdir)
    for flag, name in (("--split=heldout", "heldout"), ("--split=train", "train")):
        result = run_module(
            "harlow.evaluate", f"--workdir={workdir}", "--episodes=2", "--nostages", flag
        )
        assert result.returncode == 0, result.stderr
        assert f"report: {workdir / 'eval' / name / 'report.json'}" in result.stdout
    for name in ("heldout", "train"):
        report = json.loads((workdir / "eval" / name / "report.json").read_text())
        assert report["split"] == name
        assert list((workdir / "eval" / name).glob("events.out.tfevents.*"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--config.env.observation=patches", "trained with config.env.observation='ids'"),
        ("--config.env.show_chosen=false", "config.env.show_chosen=True"),
        ("--config.agent.lstm_units=16", "config.agent.lstm_units=8"),
        ("--config.agent.conv_layer_norm=false", "config.agent.conv_layer_norm=True"),
        ("--config.env.id_scope=dataset", "config.env.id_scope='episode' (not 'dataset')"),
        ("--config.env.colour=red", "no field 'env.colour'"),
        ("--config.env.backend=unreal", "config.env.backend must be"),
    ],
)
def test_evaluate_refuses_configs_that_cannot_fit(trained, tmp_path, override, message):
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        "--episodes=2",
        override,
        f"--output_dir={tmp_path}",
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "report.json").exists()


def _deepmind_lab_importable() -> bool:
    return importlib.util.find_spec("deepmind_lab") is not None


@pytest.mark.skipif(_deepmind_lab_importable(), reason="deepmind_lab is importable here")
def test_dmlab_backend_without_deepmind_lab_says_how_to_get_it(tmp_path):
    result = run_module(
        "harlow.train",
        "--config=configs/harlow.py",
        f"--workdir={tmp_path}",
        "--noprogress",
        "--config.env.backend=dmlab",
        *TINY,
    )
    assert result.returncode == 1
    assert "cannot import deepmind_lab" in result.stderr
    assert "--config.env.backend=simulator" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def _fake_deepmind_lab_env(log_dir: Path) -> dict[str, str]:
    """The test fake of deepmind_lab, crashing like the real engine next to TensorFlow."""
    log_dir.mkdir()
    return {
        "PYTHONPATH": str(FAKE_DEEPMIND_LAB),
        "FAKE_DMLAB_CRASH_NEXT_TO_TENSORFLOW": "1",
        "FAKE_DMLAB_LOG_DIR": str(log_dir),
    }


def _assert_labs_without_tensorflow(log_dir: Path) -> None:
    records = [path.read_text() for path in log_dir.iterdir()]
    assert records, "no Lab was created"
    assert all("tensorflow=False" in record for record in records), records


@pytest.mark.parametrize(("train_workers", "eval_workers"), [(0, 2), (2, 1)])
def test_train_and_evaluate_on_the_dmlab_backend(tmp_path, train_workers, eval_workers):
    """The whole stack on DeepMind Lab's backend, with the test fake of deepmind_lab.

    Every Lab lives in a process without TensorFlow (the real renderer crashes next to
    it, and so does the fake here), whatever ``num_workers`` says; every trial's reward
    in trials.csv is the level's fixation +1 plus the choice's +-5."""
    fake = _fake_deepmind_lab_env(tmp_path / "labs")
    workdir = tmp_path / "run"
    result = run_module(
        "harlow.train",
        "--config=configs/harlow.py",
        f"--workdir={workdir}",
        "--noprogress",
        "--config.env.backend=dmlab",
        f"--config.env.num_workers={train_workers}",
        *TINY,
        extra_env=fake,
    )
    assert result.returncode == 0, result.stderr
    assert "trained 480 env steps (80 episodes" in result.stdout
    assert json.loads((workdir / "config.json").read_text())["env"]["backend"] == "dmlab"

    out = tmp_path / "eval"
    result = run_module(
        "harlow.evaluate",
        f"--workdir={workdir}",
        "--episodes=8",
        "--nostages",
        f"--output_dir={out}",
        f"--config.env.num_workers={eval_workers}",
        extra_env=fake,
    )
    assert result.returncode == 0, result.stderr
    _assert_labs_without_tensorflow(tmp_path / "labs")
    report = json.loads((out / "report.json").read_text())
    assert report["episodes"] == 8 and report["timeouts"] == 0
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48
    assert {float(row["reward"]) for row in rows} <= {6.0, -4.0}
    for episode in range(8):
        trials = [row for row in rows if row["episode"] == str(episode)]
        pairs = {frozenset((row["left_image"], row["right_image"])) for row in trials}
        assert len(pairs) == 1  # one pair of images per episode
        (pair,) = pairs
        assert len(pair) == 2 and all(int(image) > 200 for image in pair)  # held-out faces
        rewarded = {row[f"{row['correct_side']}_image"] for row in trials}
        assert len(rewarded) == 1  # the same image is rewarded wherever it is shown
        assert {row["left_image"] for row in trials} == pair  # both sides are used


def test_simulator_run_evaluates_on_the_dmlab_backend(trained, tmp_path):
    """A run trained on the simulator, evaluated on DeepMind Lab (the test fake)."""
    result = run_module(
        "harlow.evaluate",
        f"--workdir={trained}",
        "--episodes=4",
        "--nostages",
        "--config.env.backend=dmlab",
        f"--output_dir={tmp_path}",
        extra_env={"PYTHONPATH": str(FAKE_DEEPMIND_LAB)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["episodes"] == 4 and report["timeouts"] == 0
    assert report["backend"] == "dmlab" and "images (dmlab):" in result.stdout
    assert report["config_overrides"] == {"config.env.backend": "dmlab"}
    assert json.loads((trained / "config.json").read_text())["env"]["backend"] == "simulator"


def _start_dmlab_training(tmp_path: Path, num_workers: int) -> tuple:
    """A long training run on the fake DeepMind Lab, its TMPDIR in tmp_path/tmp."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    log = tmp_path / "train.log"
    process = start_module(
        log,
        "harlow.train",
        "--config=configs/harlow.py",
        f"--workdir={tmp_path / 'run'}",
        "--noprogress",
        "--config.env.backend=dmlab",
        f"--config.env.num_workers={num_workers}",
        *TINY,
        "--config.train.total_env_steps=10000000",
        "--config.train.log_every_updates=1",
        extra_env={**_fake_deepmind_lab_env(tmp_path / "labs"), "TMPDIR": str(temporary)},
    )
    wait_for_text(log, "env steps", process)  # the training loop runs
    return process, log, temporary


def _lab_processes(log_dir: Path) -> set[int]:
    return {int(path.read_text().split()[0].removeprefix("pid=")) for path in log_dir.iterdir()}


def _wait_until_gone(pids: set[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes {pids} still run"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("num_workers", [0, 2])
def test_sigterm_on_the_dmlab_backend_leaves_no_temporary_folder(tmp_path, num_workers):
    process, log, temporary = _start_dmlab_training(tmp_path, num_workers)
    assert list(temporary.glob("harlow_dmlab_*"))  # the dataset copies, while it runs
    process.send_signal(signal.SIGTERM)
    assert process.wait(120) == 143, log.read_text()[-3000:]
    _wait_until_gone(_lab_processes(tmp_path / "labs"))
    assert list(temporary.iterdir()) == []
    assert "Traceback" not in log.read_text()


def test_killed_trainer_leaves_quiet_workers_and_a_folder_the_next_run_removes(tmp_path):
    """SIGKILL (or a crash) runs no clean-up in the trainer: its Lab workers see their
    socket close and exit without a traceback, and the next adapter started on the
    machine removes the dataset copy the trainer left."""
    from harlow.psychlab.dmlab import remove_stale_temporary_folders

    process, log, temporary = _start_dmlab_training(tmp_path, num_workers=0)
    process.kill()
    process.wait(60)
    _wait_until_gone(_lab_processes(tmp_path / "labs"))
    left = list(temporary.glob("harlow_dmlab_*"))
    assert [folder.name.split("_")[2] for folder in left] == [str(process.pid)]
    assert remove_stale_temporary_folders(temporary) == left
    text = log.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text
