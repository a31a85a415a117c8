"""The task protocol: every task fills its slots, observation specs describe what the
environments emit, and agents are built (and old checkpoints restored) from specs alone."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from configs.harlow import get_config as harlow_config
from harlow.agent.builder import AGENT_FIELDS, build_agent
from harlow.checkpointing import load_config, read_checkpoint, restore_agent
from harlow.config.checks import FieldCheck
from harlow.config.files import load_config_file
from harlow.config.validation import validate_config
from harlow.evaluation import evaluate_checkpoint, evaluate_stages
from harlow.harlow_task import env as harlow_env
from harlow.learner.rollout import Actor
from harlow.learner.trainer import train
from harlow.observation_spec import IMAGE, ONE_HOT, ObservationPart, ObservationSpec
from harlow.task import Lazy, StageReport, Task
from harlow.tasks import TASKS, get_task
from harlow.two_step import env as two_step_env

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
# Each task's config file.
SHIPPED = {"two_step": "two_step", "harlow": "harlow", "harlow_frames": "harlow_frames"}
# Checkpoints saved by the code before the task protocol (agents sized from a live
# environment): tiny agents of each observation mode, with their config.json.
OLD_CHECKPOINTS = Path(__file__).resolve().parent / "data" / "checkpoints_before_task_protocol"


def _config(name: str) -> ml_collections.ConfigDict:
    return load_config_file(CONFIGS / f"{name}.py")


def _has(config: ml_collections.ConfigDict, path: str) -> bool:
    node = config
    for key in path.split("."):
        if key not in node:
            return False
        node = node[key]
    return True


def _callables(task: Task) -> list[object]:
    """Every function a task provides, its stage report's included."""
    values = [getattr(task, field.name) for field in dataclasses.fields(task)]
    if task.stages is not None:
        values += [task.stages.summarize, task.stages.plot]
    return [value for value in values if callable(value)]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_fills_every_slot(name):
    task = get_task(name)
    assert task.name == name
    for field in dataclasses.fields(Task):
        value = getattr(task, field.name)
        if field.name == "stages":
            assert value is None or isinstance(value, StageReport)
        elif field.name in ("steps_per_trial", "trials_per_episode"):
            continue  # one of the two, checked below
        else:
            assert value is not None, f"{name}: slot {field.name} is empty"
    assert isinstance(task.num_actions, int) and task.num_actions >= 2
    if task.steps_per_trial is None:  # trials take as many steps as the agent needs
        assert isinstance(task.trials_per_episode, int) and task.trials_per_episode >= 1
        assert task.trials_in(1234.0) == task.trials_per_episode
    else:
        assert isinstance(task.steps_per_trial, int) and task.steps_per_trial >= 1
        assert task.trials_in(12.0 * task.steps_per_trial) == 12.0
    assert all(isinstance(check, FieldCheck) for check in task.checks + task.optional_checks)
    for function in _callables(task):
        target = function.resolve() if isinstance(function, Lazy) else function
        assert callable(target), f"{name}: {function} is not callable"
    # Every field a task names exists in its shipped config (a typo would never match).
    config = _config(SHIPPED[name])
    validate_config(config)
    named = task.model_fields + task.input_meaning_fields + task.resumable_fields
    named += tuple(check.path for check in task.checks + task.optional_checks)
    assert [path for path in named if not _has(config, path)] == []
    assert isinstance(task.observation_spec(config), ObservationSpec)
    assert isinstance(task.evaluation_name(config), str)


def test_the_agent_fields_are_those_of_the_conv_configs():
    config = _config("harlow_patches")
    assert [path for path in AGENT_FIELDS if not _has(config, path)] == []


def test_validating_a_config_imports_no_tensorflow():
    code = (
        "import sys; from harlow.config.validation import validate_config; "
        "from configs.harlow import get_config; validate_config(get_config()); "
        "print(sorted(m for m in ('tensorflow', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _check_parts(spec: ObservationSpec, observations: np.ndarray) -> None:
    """Each part of ``observations`` [N, size] holds what its kind says."""
    assert observations.dtype == np.float32
    assert observations.shape[1] == spec.size
    start = 0
    for part in spec.parts:
        values = observations[:, start : start + part.size]
        start += part.size
        if part.kind == ONE_HOT:
            assert set(np.unique(values)) <= {0.0, 1.0}, part
            assert (values.sum(axis=1) <= 1).all(), part
        else:
            assert part.kind == IMAGE and len(part.shape) == 2
            assert values.min() >= 0.0 and values.max() <= 1.0, part


@pytest.mark.parametrize("show_chosen", [True, False])
@pytest.mark.parametrize("observation", ["ids", "patches", "pixels"])
def test_the_harlow_spec_describes_what_the_environment_emits(observation, show_chosen):
    config = harlow_config()
    config.env.observation, config.env.show_chosen = observation, show_chosen
    spec = get_task("harlow").observation_spec(config)
    names = [part.name for part in spec.parts]
    if observation == "pixels":
        assert names == (["frame", "chosen_half"] if show_chosen else ["frame"])
    else:
        assert names == (["left", "right", "chosen"] if show_chosen else ["left", "right"])
    env = harlow_env.make_env(config, 2, seed=0)
    try:
        assert env.observation_size == spec.size
        observations = [env.reset()]
        for _ in range(2):
            observations.append(env.step(np.array([0, 1]))[0])
    finally:
        env.close()
    for observation_batch in observations:
        _check_parts(spec, observation_batch)
    if observation != "ids":  # the images of the screen show: not all zeros
        assert observations[0][:, : spec.parts[0].size].max() > 0


def test_the_two_step_spec_describes_what_the_environment_emits():
    config = _config("two_step")
    spec = get_task("two_step").observation_spec(config)
    assert spec == two_step_env.BatchedTwoStep.observation_spec
    assert spec.parts == (ObservationPart("state", (3,), ONE_HOT),)
    env = get_task("two_step").make_env(config, 3, seed=0)
    observations = [env.reset()]
    for _ in range(4):
        observations.append(env.step(np.array([0, 1, 0]))[0])
    for batch in observations:
        _check_parts(spec, batch)
        assert (batch.sum(axis=1) == 1).all()  # always in exactly one state


def test_an_environment_that_does_not_match_the_agent_is_refused():
    config = harlow_config()
    agent = build_agent(config)  # shows the chosen image: 3 one-hots of 2 ids
    config.env.show_chosen = False
    env = harlow_env.make_env(config, 2, seed=0)
    try:
        with pytest.raises(ValueError, match=r"shape \(2, 4\), the agent takes \(2, 6\)"):
            Actor(env, agent, np.random.default_rng(0))
    finally:
        env.close()


def test_a_conv_encoder_needs_square_images_of_one_size():
    config = harlow_config()
    config.agent.encoder = "conv"  # on ids: validation says which observations fit
    with pytest.raises(ValueError, match="needs config.env.observation='patches' or 'pixels'"):
        validate_config(config)
    with pytest.raises(ValueError, match="needs image observations: not made of images"):
        build_agent(config)
    mixed = ObservationSpec(
        (ObservationPart("a", (6, 6), IMAGE), ObservationPart("b", (6, 4), IMAGE))
    )
    with pytest.raises(ValueError, match="not made of images of one size"):
        mixed.image_layout()
    square = ObservationSpec((ObservationPart("a", (6, 6), IMAGE),) * 1)
    assert square.image_layout() == (1, 6)


def test_observation_parts_check_their_shapes():
    with pytest.raises(ValueError, match="kind must be one of"):
        ObservationPart("x", (3,), "sound")
    with pytest.raises(
        ValueError, match=r"'x' \(image\): its shape must be 2 positive int\(s\), got \(3,\)"
    ):
        ObservationPart("x", (3,), IMAGE)
    with pytest.raises(ValueError, match="names must differ"):
        ObservationSpec((ObservationPart("x", (3,), ONE_HOT),) * 2)
    spec = ObservationSpec(
        (ObservationPart("left", (2,), ONE_HOT), ObservationPart("frame", (3, 4), IMAGE))
    )
    assert spec.size == 14
    assert str(spec) == "left (one-hot 2), frame (image 3x4)"


# Variable shapes of the shipped configs' agents, as built from a live environment
# before the task protocol: checkpoints of those runs must still fit.
SHAPES_BEFORE = {
    "two_step": {"w_x": [6, 192], "b": [192], "b_pi": [2], "w_pi": [48, 2], "w_h": [48, 192],
                 "b_v": [1], "w_v": [48, 1]},
    "harlow": {"w_x": [64, 192], "b": [192], "b_pi": [2], "w_pi": [48, 2], "w_h": [48, 192],
               "b_torso": [64], "w_torso": [9, 64], "b_v": [1], "w_v": [48, 1]},
    "harlow_patches": {"b_conv0": [16], "b_conv1": [32], "w_conv0": [5, 5, 1, 16],
                       "w_conv1": [3, 3, 16, 32], "b_embed": [64], "w_embed": [512, 64],
                       "g_embed": [64], "o_embed": [64], "w_x": [64, 256], "b": [256],
                       "b_pi": [2], "w_pi": [64, 2], "w_h": [64, 256], "b_torso": [64],
                       "w_torso": [387, 64], "b_v": [1], "w_v": [64, 1]},
    "harlow_pixels": {"b_conv0": [16], "b_conv1": [32], "w_conv0": [8, 8, 1, 16],
                      "w_conv1": [4, 4, 16, 32], "b_embed": [64], "w_embed": [2592, 64],
                      "g_embed": [64], "o_embed": [64], "w_x": [64, 256], "b": [256],
                      "b_pi": [2], "w_pi": [64, 2], "w_h": [64, 256], "b_torso": [64],
                      "w_torso": [195, 64], "b_v": [1], "w_v": [64, 1]},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SHAPES_BEFORE))
def test_agents_from_specs_have_the_shapes_of_agents_sized_by_environments(name):
    agent = build_agent(_config(name))
    shapes = {v.name.removeprefix("actor_critic/").removesuffix(":0"): v.shape.as_list()
              for v in agent.variables}  # fmt: skip
    assert shapes == SHAPES_BEFORE[name]


def _agent_values(values: list[np.ndarray]) -> list[tuple[tuple[int, ...], float]]:
    return sorted((tuple(v.shape), round(float(np.sum(v)), 5)) for v in values)


@pytest.mark.parametrize("name", sorted(p.name for p in OLD_CHECKPOINTS.iterdir()))
def test_checkpoints_saved_before_the_task_protocol_still_load(name):
    workdir = OLD_CHECKPOINTS / name
    config = load_config(workdir)
    agent = build_agent(config)
    prefix = str(workdir / "checkpoints" / "ckpt-7")
    snapshot = restore_agent(agent, prefix)
    assert snapshot.env_steps == 1000
    saved = [
        tf.train.load_variable(prefix, key)
        for key, _ in tf.train.list_variables(prefix)
        if key.startswith("agent/") and key.endswith("/.ATTRIBUTES/VARIABLE_VALUE")
    ]
    assert _agent_values(saved) == _agent_values([v.numpy() for v in agent.variables])


def test_an_old_two_step_checkpoint_evaluates(tmp_path):
    workdir = OLD_CHECKPOINTS / "two_step"
    config = load_config(workdir)
    checkpoint = read_checkpoint(str(workdir / "checkpoints" / "ckpt-7"))
    summary = evaluate_checkpoint(config, checkpoint, 2, 0, False, tmp_path)
    assert summary["env_steps"] == 1000 and (tmp_path / "report.json").is_file()


@pytest.fixture
def counted_harlow_envs(monkeypatch) -> list[int]:
    """How many trial environments are built (their num_envs), in this process."""
    built = []
    real = harlow_env.build_trial_env

    def build(spec):
        built.append(spec.num_envs)
        return real(spec)

    monkeypatch.setattr(harlow_env, "build_trial_env", build)
    return built


def test_evaluation_builds_only_the_environments_it_evaluates_on(tmp_path, counted_harlow_envs):
    config = harlow_config()
    config.env.num_workers = 0  # the environments are built (and counted) in this process
    config.agent.lstm_units, config.agent.torso_units = 4, 4
    config.train.num_envs, config.eval.num_envs = 4, 2
    config.train.total_env_steps, config.train.checkpoint_every_seconds = 48, 1e-6
    config.eval.stages, config.eval.stage_episodes = 2, 2
    result = train(config, tmp_path / "run", show_progress=False)
    counted_harlow_envs.clear()
    evaluate_checkpoint(config, result.last_checkpoint, 2, 0, False, tmp_path / "eval")
    assert counted_harlow_envs == [2]  # the evaluation's, no other
    stages = evaluate_stages(config, tmp_path / "run", 0, False, tmp_path / "eval")
    assert stages is not None and counted_harlow_envs == [2] + [2] * len(stages)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({}, "heldout"),
        ({"eval.split": "train"}, "train"),
        ({"env.backend": "dmlab"}, "dmlab-heldout"),
        ({"dataset": "datasets/my_faces/"}, "my_faces-heldout"),
        ({"dataset": "/data/other", "env.backend": "dmlab", "eval.split": "train"},
         "dmlab-other-train"),
    ],
)  # fmt: skip
def test_harlow_evaluations_are_named_by_what_they_ran_on(changes, name):
    config = harlow_config()
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    assert get_task("harlow").evaluation_name(config) == name


def test_a_two_step_evaluation_has_one_name():
    assert get_task("two_step").evaluation_name(_config("two_step")) == ""
