"""Damaged, deleted and vanishing checkpoints: named in one line, never a traceback.

The fast tests damage checkpoints written in-process; the command-line tests damage a
copy of one small trained two-step run. Checkpoints deleted by a training run while
``harlow.evaluate`` reads them are simulated deterministically: a hook deletes the
files after they were listed, or while the episodes run.
"""

import dataclasses
import importlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_module
from test_cli import TINY

from harlow import evaluation
from harlow.agent.builder import build_agent
from harlow.agent.network import ActorCritic
from harlow.checkpointing import (
    CheckpointError,
    TrainingState,
    read_checkpoint,
    recorded_checkpoints,
    resolve_checkpoint,
    restore_agent,
)
from harlow.learner.a2c import make_optimizer
from harlow.learner.trainer import train
from harlow.task import StageReport
from harlow.tasks import get_task

DATA = ".data-00000-of-00001"


def _state(workdir: Path, agent: ActorCritic | None = None, keep: int = 3) -> TrainingState:
    agent = agent or ActorCritic(3, 2, 8, seed=0)
    optimizer = make_optimizer("adam", 1e-3)
    optimizer.build(agent.trainable_variables)
    return TrainingState(agent, optimizer, workdir, keep=keep)


def _save_three(workdir: Path, agent: ActorCritic | None = None) -> list[str]:
    """Checkpoints of updates 1, 2, 3 (100, 200, 300 env steps), each with other weights."""
    state = _state(workdir, agent)
    paths = []
    for update in (1, 2, 3):
        state.updates.assign(update)
        state.env_steps.assign(100 * update)
        for v in state.checkpoint.agent.trainable_variables:
            v.assign_add(tf.ones_like(v))
        paths.append(state.save())
    return paths


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _damage(path: str, how: str) -> None:
    index, data = Path(path + ".index"), Path(path + DATA)
    if how == "truncated data":
        _truncate(data)
    elif how == "garbage data":
        data.write_bytes(np.random.default_rng(0).bytes(data.stat().st_size))
    elif how == "truncated index":
        _truncate(index)
    elif how == "garbage index":
        index.write_bytes(np.random.default_rng(0).bytes(index.stat().st_size))
    elif how == "missing data":
        data.unlink()
    elif how == "missing index":
        index.unlink()
    elif how == "deleted":
        index.unlink()
        data.unlink()
    else:
        raise AssertionError(how)


def _names(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative name -> contents)."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


EXPECTED = {
    "truncated data": r"its data file {p}\.data-00000-of-00001 is truncated or corrupt "
    r"\(Read less bytes than requested\)",
    "garbage data": r"its data file {p}\.data-00000-of-00001 is truncated or corrupt \(.*hecksum",
    "truncated index": r"its index file {p}\.index is corrupt \(",
    "garbage index": r"its index file {p}\.index is corrupt \(",
    "missing data": r"its data file {p}\.data-00000-of-00001 is missing$",
    "missing index": r"its index file {p}\.index is missing$",
    "deleted": r"its files \(ckpt-3\.index, ckpt-3\.data-\*\) are gone$",
}


@pytest.mark.parametrize("how", list(EXPECTED))
def test_a_damaged_checkpoint_is_named_with_its_file(tmp_path, how):
    path = _save_three(tmp_path)[-1]
    _damage(path, how)
    expected = f"checkpoint {path} cannot be read: " + EXPECTED[how].format(p=path)
    with pytest.raises(CheckpointError, match=expected) as raised:
        restore_agent(ActorCritic(3, 2, 8), path)
    assert "does not match the agent" not in str(raised.value)


def test_training_resumes_from_the_newest_readable_checkpoint_and_sets_the_other_aside(
    tmp_path, caplog
):
    paths = _save_three(tmp_path)
    checkpoints = tmp_path / "checkpoints"
    damaged = {name: data for name, data in _names(checkpoints).items() if "ckpt-3" in name}
    _truncate(checkpoints / f"ckpt-3{DATA}")
    damaged[f"ckpt-3{DATA}"] = (checkpoints / f"ckpt-3{DATA}").read_bytes()

    state = _state(tmp_path)
    assert state.restore_latest() == paths[1]
    assert int(state.env_steps.numpy()) == 200
    assert "ckpt-3 cannot be read: its data file" in caplog.text
    assert "resuming from the newest readable checkpoint" in caplog.text
    # Kept whole, out of the way; no longer listed.
    assert _names(checkpoints / "unreadable") == damaged
    assert recorded_checkpoints(tmp_path) == paths[:2]
    assert resolve_checkpoint(tmp_path, None) == paths[1]

    # Training goes on: the next save is the latest, and a restart keeps what was set aside.
    state.updates.assign(3)
    saved = state.save()
    assert recorded_checkpoints(tmp_path) == [*paths[:2], saved]
    assert _state(tmp_path).restore_latest() == saved
    assert _names(checkpoints / "unreadable") == damaged


def test_training_drops_a_deleted_newest_checkpoint_from_the_list(tmp_path):
    paths = _save_three(tmp_path)
    _damage(paths[-1], "deleted")
    assert _state(tmp_path).restore_latest() == paths[1]
    assert recorded_checkpoints(tmp_path) == paths[:2]
    assert not (tmp_path / "checkpoints" / "unreadable").exists()


def test_training_refuses_when_no_checkpoint_can_be_read_and_changes_nothing(tmp_path):
    for path in _save_three(tmp_path):
        _damage(path, "truncated data")
    before = _names(tmp_path)
    with pytest.raises(CheckpointError, match="none of the checkpoints in .* can be read") as e:
        _state(tmp_path).restore_latest()
    assert "nothing was changed" in str(e.value)
    assert _names(tmp_path) == before


def test_a_corrupt_state_file_is_named(tmp_path):
    _save_three(tmp_path)
    state_file = tmp_path / "checkpoints" / "checkpoint"
    state_file.write_text("garbage\n")
    expected = f"{state_file} \\(the list of checkpoints\\) is corrupt: .*ckpt-3"
    with pytest.raises(CheckpointError, match=expected):
        _state(tmp_path)
    with pytest.raises(CheckpointError, match=expected):
        resolve_checkpoint(tmp_path, None)


def _delete_checkpoint_files(workdir: Path) -> None:
    for file in (workdir / "checkpoints").glob("ckpt-*"):
        file.unlink()


def test_evaluation_reads_the_checkpoint_before_the_episodes(
    tmp_path, tiny_two_step_config, monkeypatch
):
    result = train(tiny_two_step_config, tmp_path, show_progress=False)
    task = get_task("two_step")

    def evaluate_while_training_deletes(*args):
        _delete_checkpoint_files(tmp_path)  # as a training run's CheckpointManager would
        return task.evaluate(*args)

    monkeypatch.setattr(
        evaluation,
        "get_task",
        lambda name: dataclasses.replace(task, evaluate=evaluate_while_training_deletes),
    )
    out = tmp_path / "eval"
    summary = evaluation.evaluate_checkpoint(
        tiny_two_step_config, result.last_checkpoint, 4, 0, False, out
    )
    assert summary["env_steps"] == 200 and summary["checkpoint"] == result.last_checkpoint
    assert json.loads((out / "report.json").read_text()) == summary


def test_the_report_is_written_once_and_complete(tmp_path, tiny_two_step_config, monkeypatch):
    checkpoint = train(tiny_two_step_config, tmp_path, show_progress=False).last_checkpoint
    writes = []
    for module in ("harlow.evaluation", "harlow.two_step.evaluation"):
        original = importlib.import_module(module).atomic_write_text

        def counted(path, text, original=original):
            writes.append(Path(path).name)
            original(path, text)

        monkeypatch.setattr(f"{module}.atomic_write_text", counted)
    out = tmp_path / "eval"
    evaluation.evaluate_checkpoint(tiny_two_step_config, checkpoint, 4, 0, False, out)
    assert writes.count("report.json") == 1
    overrides = {"config_overrides": {"config.eval.num_envs": 4}}
    summary = evaluation.evaluate_checkpoint(
        tiny_two_step_config, checkpoint, 4, 0, False, out, overrides
    )
    assert writes.count("report.json") == 2
    report = json.loads((out / "report.json").read_text())
    assert report == summary and report["config_overrides"] == {"config.eval.num_envs": 4}
    assert report["checkpoint"] == checkpoint and report["env_steps"] == 200


def _stage_run(workdir: Path, config, monkeypatch, on_stage=None) -> tuple[list[str], list]:
    """Three checkpoints of a two-step agent, and a two-step task given stage plots whose
    stage summary is the sum of the agent's weights (after calling ``on_stage``)."""
    config.eval.stages, config.eval.stage_episodes = 3, 1
    task = get_task("two_step")
    paths = _save_three(workdir, build_agent(config))
    plotted = []

    def stage_summary(agent, *args):
        if on_stage:
            on_stage()
        return {"weights": float(sum(tf.reduce_sum(v) for v in agent.trainable_variables))}

    staged = dataclasses.replace(
        task,
        stages=StageReport(stage_summary, lambda stages, path, note: plotted.append(path)),
    )
    monkeypatch.setattr(evaluation, "get_task", lambda name: staged)
    return paths, plotted


def _weights(config, path: str) -> float:
    agent = build_agent(config)
    restore_agent(agent, path)
    return float(sum(tf.reduce_sum(v) for v in agent.trainable_variables))


def test_stages_are_read_before_training_deletes_them(tmp_path, tiny_two_step_config, monkeypatch):
    config = tiny_two_step_config
    paths, plotted = _stage_run(
        tmp_path, config, monkeypatch, on_stage=lambda: _delete_checkpoint_files(tmp_path)
    )
    expected = [_weights(config, p) for p in paths]
    stages = evaluation.evaluate_stages(config, tmp_path, 0, False, tmp_path / "eval")
    assert [s["checkpoint"] for s in stages] == paths
    assert [s["env_steps"] for s in stages] == [100, 200, 300]
    assert [s["weights"] for s in stages] == pytest.approx(expected)
    assert plotted and json.loads((tmp_path / "eval" / "stages.json").read_text()) == stages


def test_a_stage_that_vanished_before_it_was_read_is_skipped_in_one_line(
    tmp_path, tiny_two_step_config, monkeypatch, capsys
):
    paths, _ = _stage_run(tmp_path, tiny_two_step_config, monkeypatch)
    listed = evaluation.stage_checkpoints

    def list_then_training_deletes(workdir, stages, *args):
        checkpoints = listed(workdir, stages, *args)
        _damage(paths[1], "deleted")
        return checkpoints

    monkeypatch.setattr(evaluation, "stage_checkpoints", list_then_training_deletes)
    stages = evaluation.evaluate_stages(tiny_two_step_config, tmp_path, 0, False, tmp_path)
    assert [s["checkpoint"] for s in stages] == [paths[0], paths[2]]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: learning-set stages: skipped checkpoint {paths[1]} cannot be read: "
        "its files (ckpt-2.index, ckpt-2.data-*) are gone"
    ]


# The command lines, on copies of one small trained run.

TRAIN = [
    "--config=configs/two_step.py",
    "--noprogress",
    *TINY,
    "--config.train.checkpoint_every_seconds=0.001",
    "--config.train.keep_checkpoints=3",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("trained") / "run"
    result = run_module("harlow.train", f"--workdir={workdir}", *TRAIN)
    assert result.returncode == 0, result.stderr
    assert len(recorded_checkpoints(workdir)) == 3
    return workdir


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run, to damage."""
    shutil.copytree(trained, tmp_path / "run")
    return tmp_path / "run"


def _lines(result: subprocess.CompletedProcess, prefix: str) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith(prefix)]


def _evaluate(run: Path, *args: str) -> subprocess.CompletedProcess:
    return run_module("harlow.evaluate", f"--workdir={run}", "--episodes=4", *args)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("truncated data", "its data file {p}.data-00000-of-00001 is truncated or corrupt"),
        ("deleted", "its files ({n}.index, {n}.data-*) are gone"),
    ],
)
def test_evaluate_falls_back_to_the_newest_readable_checkpoint(run, how, reason):
    *_, older, newest = recorded_checkpoints(run)
    older_steps = read_checkpoint(older).env_steps
    _damage(newest, how)
    result = _evaluate(run)
    assert result.returncode == 0, result.stderr
    (warning,) = _lines(result, "warning:")
    assert warning.startswith(f"warning: checkpoint {newest} cannot be read: ")
    assert reason.format(p=newest, n=Path(newest).name) in warning
    assert warning.endswith(f"; evaluating the newest readable one, {older}")
    assert f"== {run}: {older}, 4 episodes" in result.stdout
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["checkpoint"] == older and report["env_steps"] == older_steps
    assert list(report["skipped_checkpoints"]) == [newest]
    assert report["config_overrides"] == {}


def test_evaluate_never_falls_back_from_an_explicit_checkpoint(run, tmp_path):
    newest = recorded_checkpoints(run)[-1]
    _damage(newest, "truncated data")
    result = _evaluate(run, f"--checkpoint={newest}", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 1
    assert _lines(result, "error:") == [
        f"error: checkpoint {newest} cannot be read: its data file {newest}{DATA} is truncated "
        "or corrupt (Read less bytes than requested)"
    ]
    assert not (tmp_path / "out" / "report.json").exists()


def test_evaluate_names_a_missing_data_file(run):
    newest = recorded_checkpoints(run)[-1]
    _damage(newest, "missing data")
    result = _evaluate(run, f"--checkpoint={newest}")
    assert result.returncode == 1
    assert _lines(result, "error:") == [
        f"error: checkpoint {newest} cannot be read: its data file {newest}{DATA} is missing"
    ]


def test_resume_sets_an_unreadable_newest_checkpoint_aside(run):
    *_, older, newest = recorded_checkpoints(run)
    older_steps = read_checkpoint(older).env_steps
    _damage(newest, "garbage index")
    garbage = Path(newest + ".index").read_bytes()
    result = run_module("harlow.train", f"--workdir={run}", *TRAIN)
    assert result.returncode == 0, result.stderr
    assert f"checkpoint {newest} cannot be read: its index file" in result.stderr
    assert f"Resuming from {older} at {older_steps} env steps" in result.stderr
    assert "trained 200 env steps" in result.stdout
    aside = run / "checkpoints" / "unreadable"
    assert (aside / f"{Path(newest).name}.index").read_bytes() == garbage
    # Trained on to the same update again: a new, whole checkpoint of that name is the latest.
    assert recorded_checkpoints(run)[-1] == newest
    assert read_checkpoint(newest).env_steps == 200


def test_resume_refuses_when_no_checkpoint_can_be_read(run):
    for path in recorded_checkpoints(run):
        _damage(path, "truncated data")
    before = _names(run / "checkpoints")
    result = run_module("harlow.train", f"--workdir={run}", *TRAIN)
    assert result.returncode == 1
    (error,) = _lines(result, "error:")
    assert error.startswith(f"error: none of the checkpoints in {run / 'checkpoints'} can be read")
    assert error.endswith("to train from scratch")
    assert _names(run / "checkpoints") == before
