"""Checkpoints: round trip, resume state, clear errors for missing/corrupt/mismatched files."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from harlow.agent.network import ActorCritic
from harlow.checkpointing import (
    CheckpointError,
    TrainingState,
    all_checkpoints,
    load_config,
    remove_interrupted_saves,
    resolve_checkpoint,
    restore_agent,
    save_config,
)
from harlow.learner.a2c import make_optimizer


def _state(workdir: Path, units: int = 8, seed: int = 0) -> TrainingState:
    agent = ActorCritic(3, 2, units, seed=seed)
    optimizer = make_optimizer("adam", 1e-3)
    optimizer.build(agent.trainable_variables)
    return TrainingState(agent, optimizer, workdir, keep=3)


def _outputs(agent: ActorCritic) -> np.ndarray:
    obs = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]][:, None].repeat(2, 1)
    zeros_i = np.zeros((4, 2), np.int32)
    out, _ = agent.unroll(
        obs, zeros_i, np.ones((4, 2), np.float32), zeros_i > 0, agent.initial_state(2)
    )
    return out.policy_logits.numpy()


def test_round_trip_restores_identical_outputs(tmp_path):
    state = _state(tmp_path)
    agent = state.checkpoint.agent
    state.env_steps.assign(1234)
    expected = _outputs(agent)
    path = state.save()
    for v in agent.trainable_variables:
        v.assign_add(tf.random.normal(v.shape))
    assert not np.allclose(_outputs(agent), expected)
    restored = _state(tmp_path)
    assert restored.restore_latest() == path
    np.testing.assert_array_equal(_outputs(restored.checkpoint.agent), expected)
    assert int(restored.env_steps.numpy()) == 1234
    fresh = ActorCritic(3, 2, 8, seed=99)
    restore_agent(fresh, path)
    np.testing.assert_array_equal(_outputs(fresh), expected)


def test_keeps_only_the_newest_checkpoints(tmp_path):
    state = _state(tmp_path)
    for i in range(5):
        state.updates.assign(i)
        state.save()
    kept = all_checkpoints(tmp_path)
    assert [Path(p).name for p in kept] == ["ckpt-2", "ckpt-3", "ckpt-4"]


def test_mismatched_shapes_give_a_clear_error(tmp_path):
    path = _state(tmp_path, units=8).save()
    with pytest.raises(CheckpointError, match="does not match the agent"):
        restore_agent(ActorCritic(3, 2, 16), path)
    with pytest.raises(CheckpointError, match="does not match the agent"):
        _state(tmp_path, units=16).restore_latest()


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resolve_checkpoint(tmp_path, None)
    with pytest.raises(CheckpointError, match="not found"):
        resolve_checkpoint(tmp_path, str(tmp_path / "ckpt-7"))
    path = _state(tmp_path).save()
    data = next(Path(tmp_path, "checkpoints").glob("*.data-*"))
    data.write_bytes(b"garbage")
    Path(path + ".index").write_bytes(b"not an index")
    with pytest.raises(CheckpointError, match=r"cannot be read: its index file .* is corrupt"):
        restore_agent(ActorCritic(3, 2, 8), path)


def test_config_round_trip_and_errors(tmp_path, tiny_two_step_config):
    save_config(tiny_two_step_config, tmp_path)
    loaded = load_config(tmp_path)
    assert loaded.to_dict() == tiny_two_step_config.to_dict()
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_config(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        load_config(tmp_path / "nowhere")


def test_a_checkpoint_named_only_as_the_latest_is_not_taken_for_a_leftover(tmp_path):
    """A hand-written state file may list the latest checkpoint only as
    ``model_checkpoint_path``: its files are recorded, not leftovers of a killed save."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / "checkpoint").write_text('model_checkpoint_path: "ckpt-5"\n')
    (directory / "ckpt-5.index").write_bytes(b"garbage")
    (directory / "ckpt-4.index").write_bytes(b"never recorded")
    removed = remove_interrupted_saves(tmp_path)
    assert [p.name for p in removed] == ["ckpt-4.index"]
    assert (directory / "ckpt-5.index").read_bytes() == b"garbage"
