"""The training loop on tiny configs: outputs, resume, interrupt, non-finite stop."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from harlow.checkpointing import all_checkpoints, load_config
from harlow.learner import trainer
from harlow.run_progress import read_progress


def _scalar_steps(workdir, tag):
    steps = []
    for path in sorted(glob.glob(str(workdir / "train" / "events*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return steps


def test_tiny_run_writes_config_checkpoint_and_summaries(tmp_path, tiny_two_step_config):
    result = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert result.env_steps == 200 and result.updates == 10
    assert result.episodes == 4 * 200 // (4 * 10)
    assert load_config(tmp_path).to_dict() == tiny_two_step_config.to_dict()
    assert all_checkpoints(tmp_path)[-1].endswith("ckpt-10")
    for tag in ("losses/policy", "losses/value", "policy/entropy", "perf/steps_per_second"):
        assert _scalar_steps(tmp_path, tag) == [40, 80, 120, 160, 200]
    assert _scalar_steps(tmp_path, "episode/return")


def test_resume_continues_step_count_and_curves(tmp_path, tiny_two_step_config):
    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    tiny_two_step_config.train.total_env_steps = 400
    result = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert result.env_steps == 400 and result.updates == 20
    assert _scalar_steps(tmp_path, "losses/policy") == list(range(40, 401, 40))


def test_keyboard_interrupt_saves_a_checkpoint(tmp_path, tiny_two_step_config, monkeypatch):
    update = trainer.Training.update
    calls = {"n": 0}

    def interrupted(self, length):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return update(self, length)

    monkeypatch.setattr(trainer.Training, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert all_checkpoints(tmp_path)[-1].endswith("ckpt-3")


def test_non_finite_loss_stops_and_keeps_last_checkpoint(
    tmp_path, tiny_two_step_config, monkeypatch
):
    tiny_two_step_config.train.checkpoint_every_seconds = 1e-9  # save after every update
    update = trainer.Training.update
    calls = {"n": 0}

    def exploding(self, length):
        calls["n"] += 1
        if calls["n"] == 3:  # a weight gone NaN: the loss of this update is not finite
            weight = self.agent.trainable_variables[0]
            weight.assign(tf.fill(weight.shape, np.nan))
        return update(self, length)

    monkeypatch.setattr(trainer.Training, "update", exploding)
    with pytest.raises(trainer.NonFiniteLossError, match="non-finite loss .* update 3"):
        trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert all_checkpoints(tmp_path)[-1].endswith("ckpt-2")


def test_entropy_schedule_is_linear(tiny_two_step_config):
    tiny_two_step_config.train.entropy_coef = 0.1
    tiny_two_step_config.train.entropy_coef_final = 0.0
    assert trainer.entropy_coef_at(tiny_two_step_config, 0) == pytest.approx(0.1)
    assert trainer.entropy_coef_at(tiny_two_step_config, 100) == pytest.approx(0.05)
    assert trainer.entropy_coef_at(tiny_two_step_config, 10_000) == pytest.approx(0.0)


def _learning_rate(checkpoint: str) -> float:
    reader = tf.train.load_checkpoint(checkpoint)
    return float(reader.get_tensor("optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"))


def test_resume_applies_a_changed_learning_rate_and_logs_it(tmp_path, tiny_two_step_config, caplog):
    tiny_two_step_config.train.learning_rate = 3e-3
    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert _learning_rate(all_checkpoints(tmp_path)[-1]) == pytest.approx(3e-3)
    tiny_two_step_config.train.total_env_steps = 400
    tiny_two_step_config.train.learning_rate = 1e-4
    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert _learning_rate(all_checkpoints(tmp_path)[-1]) == pytest.approx(1e-4)
    assert load_config(tmp_path).train.learning_rate == 1e-4
    assert "changed config.train.learning_rate 0.003 -> 0.0001" in caplog.text
    assert "changed config.train.total_env_steps 200 -> 400" in caplog.text


def test_resume_refuses_changes_of_shape_or_meaning_naming_each(tmp_path, tiny_two_step_config):
    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    changed = tiny_two_step_config.copy_and_resolve_references()
    changed.agent.lstm_units = 16
    changed.env.common_prob = 0.7
    changed.train.learning_rate = 1e-4  # allowed, but not with the others
    message = (
        r"cannot resume .* config.agent.lstm_units 8 -> 16, config.env.common_prob 0.8 -> 0.7:"
    )
    with pytest.raises(ValueError, match=message):
        trainer.train(changed, tmp_path, show_progress=False)
    assert load_config(tmp_path).to_dict() == tiny_two_step_config.to_dict()


def test_a_run_shorter_than_a_logging_window_reports_its_reward(tmp_path, tiny_two_step_config):
    tiny_two_step_config.train.log_every_updates = 50  # more than the run's 10 updates
    result = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert result.recent_reward_per_trial is not None
    assert 0.0 <= result.recent_reward_per_trial <= 1.0
    finished = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert finished.updates == 10 and finished.recent_reward_per_trial is None


def test_resume_accepts_fields_added_to_the_configs_since_the_run_started(
    tmp_path, tiny_two_step_config, caplog
):
    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["env"]["switch_prob"]  # as written by a version without the field
    (tmp_path / "config.json").write_text(json.dumps(saved))
    tiny_two_step_config.train.total_env_steps = 400
    assert trainer.train(tiny_two_step_config, tmp_path, show_progress=False).env_steps == 400
    assert "changed config.env.switch_prob (absent) -> 0.025" in caplog.text
    assert load_config(tmp_path).env.switch_prob == 0.025


def test_each_logging_window_rewrites_the_progress_file(
    tmp_path, tiny_two_step_config, monkeypatch
):
    written = []
    write = trainer.write_progress

    def spy(workdir, progress):
        written.append(progress)
        write(workdir, progress)

    monkeypatch.setattr(trainer, "write_progress", spy)
    result = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert [p.env_steps for p in written] == [40, 80, 120, 160, 200]  # every 2 updates
    assert {(p.pid, p.total_env_steps) for p in written} == {(os.getpid(), 200)}
    assert all(p.steps_per_second > 0 for p in written)
    last = read_progress(tmp_path)
    assert last == written[-1]
    assert last.episodes == result.episodes and last.fraction == 1.0
    assert 0.0 <= last.reward_per_trial <= 1.0


def test_a_progress_file_that_cannot_be_written_only_warns(
    tmp_path, tiny_two_step_config, monkeypatch, caplog
):
    def full_disk(workdir, progress):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "write_progress", full_disk)
    result = trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    assert result.env_steps == 200
    warnings = [r for r in caplog.records if "progress.json" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()


def _count_closes(monkeypatch) -> list[int]:
    """Makes every environment the two-step task builds count its ``close`` calls."""
    from harlow.two_step.env import BatchedTwoStep

    closes: list[int] = []
    close = BatchedTwoStep.close

    def counted(self) -> None:
        closes.append(id(self))
        close(self)

    monkeypatch.setattr(BatchedTwoStep, "close", counted)
    return closes


def test_training_closes_its_environments_however_it_ends(
    tmp_path, tiny_two_step_config, monkeypatch
):
    """Worker processes and Labs are released when training ends, not at interpreter exit."""
    closes = _count_closes(monkeypatch)
    trainer.train(tiny_two_step_config, tmp_path / "done", show_progress=False)
    assert len(closes) == 1

    def interrupted(self, length):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.Training, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(tiny_two_step_config, tmp_path / "interrupted", show_progress=False)
    assert len(closes) == 2


def test_evaluation_closes_the_environments_it_builds(tmp_path, tiny_two_step_config, monkeypatch):
    from harlow.evaluation import evaluate_checkpoint

    trainer.train(tiny_two_step_config, tmp_path, show_progress=False)
    closes = _count_closes(monkeypatch)
    evaluate_checkpoint(
        tiny_two_step_config, all_checkpoints(tmp_path)[-1], 4, 0, False, tmp_path / "eval"
    )
    assert len(closes) == 1  # the one it played: the agent is sized from the spec
