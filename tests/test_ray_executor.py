"""Environment workers as Ray actors (``config.env.executor='ray'``, issue 16), on a real
local cluster: a head node and a second node on loopback, torn down by the tests.

The actors' environments equal local workers' for the same seed, span both nodes, and
a killed actor or a lost node is replaced while training goes on.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_module, start_module, wait_for_text
from env_playback import assert_same, play
from ray_cluster import CLIENT_ENV, local_cluster

from configs.harlow import get_config
from configs.harlow_frames import get_config as get_frames_config
from harlow import sweep
from harlow.benchmarks import ray_scaling
from harlow.benchmarks.common import Options
from harlow.checkpointing import all_checkpoints
from harlow.config.validation import validate_config
from harlow.harlow_frames import env as frames_env
from harlow.harlow_task import env as harlow_env
from harlow.learner import trainer
from harlow.psychlab import ray_workers
from harlow.psychlab.dmlab_workers import DmlabWorkerError
from harlow.psychlab.parallel_env import Executor

NUM_ENVS = 5  # 2 workers: 2 and 3 environments
TRIALS = 12


def _harlow_config(executor: str, address: str = "", num_workers: int = 2):
    config = get_config()
    config.env.num_workers = num_workers
    config.env.executor, config.env.ray_address = executor, address
    return config


# ------------------------------------------------------------ without a cluster
def test_the_executor_fields_are_checked_naming_the_field(monkeypatch):
    config = _harlow_config("threads")
    with pytest.raises(ValueError, match="config.env.executor must be 'processes' or 'ray'"):
        validate_config(config)
    config = _harlow_config("ray", num_workers=0)
    with pytest.raises(ValueError, match="config.env.executor='ray' runs the environments in"):
        validate_config(config)
    config = _harlow_config("processes")
    del config.env["ray_address"]
    config.env.ray_address = 6379
    with pytest.raises(ValueError, match="config.env.ray_address must be a Ray address"):
        validate_config(config)
    with pytest.raises(ValueError, match="config.env.executor must be one of"):
        Executor("threads")
    for config in (get_config(), get_frames_config()):  # older runs lack the fields
        del config.env["executor"]
        del config.env["ray_address"]
        validate_config(config)


def test_without_ray_the_flag_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(ray_workers, "ray_installed", lambda: False)
    with pytest.raises(ValueError, match=r"needs Ray, which is an optional extra: pip install"):
        validate_config(_harlow_config("ray"))
    with pytest.raises(ray_workers.RayUnavailableError, match=r"pip install -e '.\[ray\]'"):
        ray_workers.connect("")
    validate_config(_harlow_config("processes"))  # the default path does not need Ray
    with pytest.raises(ValueError, match=r"--executor=ray needs Ray, which is an optional"):
        sweep.ray_settings_for(get_config(), Path("unused"), "auto", None)


def test_the_scaling_model_fits_what_it_was_given():
    """Rows made from known constants give those constants back, and the model's
    throughput rises with actors towards the learner's cap."""
    c_env, a, b, c_learner, num_envs = 2e-3, 1e-3, 2e-4, 1e-4, 32
    rows = [
        {
            "executor": "ray",
            "actors": n,
            "env_seconds_per_step": num_envs / n * c_env + a + b * n,
            "round_trip_seconds": a + b * n,
            "learner_seconds_per_trial": c_learner,
        }
        for n in (1, 2, 4)
    ]
    rows.append({**rows[0], "executor": "processes", "round_trip_seconds": 1.0})  # ignored
    model = ray_scaling.fit_model(rows, num_envs)
    for key, value in {"c_env": c_env, "rpc_a": a, "rpc_b": b, "c_learner": c_learner}.items():
        assert model[key] == pytest.approx(value), key
    rates = [ray_scaling.predict(model, n, 8) for n in ray_scaling.MODEL_ACTORS]
    assert all(low < high for low, high in zip(rates, rates[1:], strict=False))
    assert rates[-1] < 1 / c_learner
    assert ray_scaling.predict(model, 1, 8) == pytest.approx(
        8 / (8 * c_env + a + b + 8 * c_learner)
    )


# --------------------------------------------------------------- on a cluster
@pytest.fixture(scope="module")
def cluster():
    """A head node with 2 CPUs and a second node with 1, this process joined to them."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    saved = {key: os.environ.get(key) for key in CLIENT_ENV}
    os.environ.update(CLIENT_ENV)
    try:
        with local_cluster(head_cpus=2, node_cpus=1) as started:
            ray.init(address=started.address, logging_level="error")
            try:
                yield started
            finally:
                ray.shutdown()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _play(env, steps: int) -> dict[str, np.ndarray]:
    """``steps`` steps under a fixed action sequence that differs by env and step."""
    return play(env, steps, lambda step: (np.arange(env.num_envs) * 3 + step * step) % 2)


def test_ray_actors_span_both_nodes_and_play_what_local_workers_play(cluster):
    env = harlow_env.make_env(_harlow_config("ray", cluster.address), NUM_ENVS, seed=11)
    assert env.pool.num_workers == 2
    assert len({node.split("node ")[1] for node in env.pool.nodes}) == 2  # both nodes
    # The actors build the environments without TensorFlow (this process has it).
    assert env.pool.workers_loaded("harlow.psychlab.simulator") == [True, True]
    assert env.pool.workers_loaded("tensorflow") == [False, False]
    on_ray = _play(env, TRIALS)
    local = _play(harlow_env.make_env(_harlow_config("processes"), NUM_ENVS, seed=11), TRIALS)
    assert {-4.0, 6.0} <= set(local["reward"].ravel().tolist())
    assert_same(local, on_ray)


def _frames_config(executor: str, address: str = ""):
    config = get_frames_config()
    config.env.frame_size, config.env.observation_size = 48, 24
    config.env.spawn_curriculum_steps = 1_000
    config.env.executor, config.env.ray_address = executor, address
    return config


def _kill(actor) -> None:
    """Kills a Ray actor and waits until it is gone (``ray.kill`` does not wait)."""
    import ray

    ray.kill(actor)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ray.get(actor.node.remote(), timeout=60)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.1)
    raise AssertionError("the killed actor still answers after 60 s")


def test_a_killed_actor_is_replaced_its_episodes_end_and_its_curriculum_goes_on(cluster):
    env = frames_env.make_env(_frames_config("ray", cluster.address), 4, seed=2)
    env.start_at(200)
    env.reset()
    for _ in range(10):
        env.step(np.zeros(4, np.int64))
    _kill(env.pool.actor(1))  # environments 2..3
    _, _, done, _ = env.step(np.zeros(4, np.int64))
    assert done.tolist() == [False, False, True, True] and env.pool.replacements == 1
    assert env.pool.last_call_replaced == [1]
    # The replacement's curriculum stands where the others' do: 200 + 11 steps x 4 envs.
    ranges = env.call_each("__getattribute__", "spawn_yaw_range_deg")
    assert ranges[0] == ranges[1] == pytest.approx(22.5 * 244 / 1_000)
    _, _, done, _ = env.step(np.zeros(4, np.int64))
    assert not done.any() and env.pool.last_call_replaced == []
    env.pool.max_replacements = 1
    _kill(env.pool.actor(0))
    died = r"worker 0 \(environments 0..1\) died during 'step' after 1 replacements"
    with pytest.raises(DmlabWorkerError, match=died):
        env.step(np.zeros(4, np.int64))


def test_an_error_inside_an_actor_is_raised_with_its_traceback_not_retried(cluster):
    env = harlow_env.make_env(_harlow_config("ray", cluster.address), NUM_ENVS, seed=0)
    env.reset()
    with pytest.raises(DmlabWorkerError) as raised:
        env.pool.call("step", [(np.zeros(7),), (np.zeros(7),)])
    message = str(raised.value)
    assert "worker 0 (environments 0..1) raised an error during 'step'" in message
    assert "ValueError: choices must be 2 values in {0, 1}" in message
    assert "\x1b[" not in message  # no terminal colours
    assert env.pool.replacements == 0


def _tiny(config):
    config.agent.lstm_units = 8
    config.train.num_envs = 4
    config.train.total_env_steps = 480
    config.train.checkpoint_every_seconds = 1000.0
    return config


def _weights(workdir: Path) -> dict[str, np.ndarray]:
    """The last checkpoint's variables (its object graph, which differs run to run, aside)."""
    reader = tf.train.load_checkpoint(all_checkpoints(workdir)[-1])
    names = set(reader.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    return {name: reader.get_tensor(name) for name in names}


def test_training_on_ray_equals_training_on_local_workers(cluster, tmp_path):
    local = trainer.train(_tiny(_harlow_config("processes")), tmp_path / "local", False)
    on_ray = trainer.train(
        _tiny(_harlow_config("ray", cluster.address)), tmp_path / "ray", show_progress=False
    )
    assert local.env_steps == on_ray.env_steps == 480
    expected, actual = _weights(tmp_path / "local"), _weights(tmp_path / "ray")
    assert expected.keys() == actual.keys() and len(expected) > 5
    for name, value in expected.items():
        np.testing.assert_array_equal(value, actual[name], err_msg=name)


def test_the_ray_benchmark_measures_both_executors_and_models_64_actors(cluster, tmp_path):
    overrides = [
        ("env.ray_address", cluster.address),
        ("train.num_envs", "4"),
        ("agent.lstm_units", "8"),
    ]
    options = Options(
        name="ray", workdir=tmp_path, overrides=overrides, throughput_updates=1, actors=(1, 2)
    )
    assert ray_scaling.run(options)
    report = json.loads((tmp_path / "ray_benchmark.json").read_text())
    rows = {(row["executor"], row["actors"]): row for row in report["rows"]}
    assert set(rows) == {("ray", 1), ("ray", 2), ("processes", 1), ("processes", 2)}
    assert all(
        row["trials_per_second"] > 0 and row["round_trip_seconds"] > 0 for row in rows.values()
    )
    assert set(report["predicted_trials_per_second"]) == {"1", "2", "4", "8", "16", "32", "64"}


SWEEP_CONFIG = '''"""Two-step training that runs for a minute or so, checkpointing every second."""

from configs.two_step import get_config as two_step_config


def get_config():
    config = two_step_config()
    config.env.trials_per_episode = 10
    config.agent.lstm_units = 8
    config.train.num_envs = 8
    config.train.unroll_length = 4
    config.train.total_env_steps = 120_000
    config.train.log_every_updates = 100
    config.train.checkpoint_every_seconds = 1.0
    config.train.jit_compile = False
    config.eval.episodes = 10
    config.eval.num_envs = 10
    return config
'''


def _started_nodes(text: str) -> dict[int, str]:
    """Seed -> the node its last start line names."""
    nodes = {}
    for line in text.splitlines():
        if " started " in line and " on " in line and line.startswith("seed "):
            nodes[int(line.split()[1])] = line.rsplit("(node ", 1)[1].rstrip(")")
    return nodes


def test_a_sweep_on_ray_spans_the_nodes_survives_a_lost_node_and_resumes(cluster, tmp_path):
    config_file = tmp_path / "long_two_step.py"
    config_file.write_text(SWEEP_CONFIG)
    workdir = tmp_path / "sweep"
    args = [
        f"--config={config_file}",
        "--seeds=2",
        f"--workdir={workdir}",
        "--executor=ray",
        f"--address={cluster.address}",
        "--noprogress",
    ]
    log = tmp_path / "sweep.log"
    process = start_module(log, "harlow.sweep", *args, extra_env=CLIENT_ENV)
    try:
        deadline = time.monotonic() + 180
        while len(_started_nodes(log.read_text(errors="replace"))) < 2:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        nodes = _started_nodes(log.read_text())
        assert len(set(nodes.values())) == 2, nodes  # one seed on each node
        head_node = next(node for node in nodes.values() if node != _node_id_of_second(cluster))
        lost_seed = next(seed for seed, node in nodes.items() if node != head_node)
        seed_dir = workdir / f"seed_{lost_seed}"
        wait_for_text(seed_dir / "train.log", "env steps", process, timeout=180)
        while not all_checkpoints(seed_dir):
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        cluster.stop_node(1)  # the second machine leaves, with a training seed
        assert process.wait(timeout=400) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
        cluster.start_second_node()
    text = log.read_text()
    assert f"seed {lost_seed}: the command's Ray actor on" in text
    assert f"seed {lost_seed} started again on" in text
    assert "Resuming from" in (seed_dir / "train.log").read_text()
    assert (workdir / "eval" / "seeds.json").is_file()
    # Run again: nothing left to train, both seeds are evaluated again.
    again = run_module("harlow.sweep", *args, extra_env=CLIENT_ENV)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done in") == 2


def _node_id_of_second(cluster) -> str:
    """The start of the second node's id (as the sweep prints it)."""
    import ray

    alive = [node for node in ray.nodes() if node["Alive"]]
    second = [node for node in alive if node["Resources"].get("CPU") == cluster.node_cpus]
    return second[0]["NodeID"][:8]


def _actor_pids(cluster, node: int) -> list[int]:
    """Processes running an environment actor on the cluster's node ``node``."""
    marker = f"HARLOW_TEST_RAY_NODE={cluster.temp_dir}/{node}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_RunnerGroup") and (
                    marker in (entry / "environ").read_bytes()
                ):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _progress_lines(log: Path) -> int:
    return log.read_text(errors="replace").count("reward per trial")


def test_training_survives_a_killed_actor_then_a_node_that_leaves(cluster, tmp_path):
    """Runs until stopped: after both faults it must keep logging progress, then save a
    checkpoint on SIGTERM as any run does."""
    log = tmp_path / "train.log"
    process = start_module(
        log,
        "harlow.train",
        "--config=configs/harlow.py",
        f"--workdir={tmp_path / 'run'}",
        "--noprogress",
        "--config.agent.lstm_units=8",
        "--config.train.num_envs=4",
        "--config.train.log_every_updates=10",
        "--config.env.executor=ray",
        f"--config.env.ray_address={cluster.address}",
        extra_env=CLIENT_ENV,
    )
    try:
        wait_for_text(log, "reward per trial", process, timeout=180)
        on_head, on_second = _actor_pids(cluster, 0), _actor_pids(cluster, 1)
        assert len(on_head) == len(on_second) == 1, (on_head, on_second)
        # An actor's process crashes; the second node's one CPU is taken, so its
        # replacement starts on the head node.
        os.kill(on_head[0], signal.SIGKILL)
        wait_for_text(log, "replacement 1 of", process)
        cluster.stop_node(1)  # the second machine leaves, with its actor
        wait_for_text(log, "replacement 2 of", process, timeout=180)
        logged = _progress_lines(log)
        deadline = time.monotonic() + 120
        while _progress_lines(log) < logged + 2:  # training goes on
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert "checkpoint saved; run the same command to resume" in text, text[-3000:]
    assert text.count("died during") == 2
    assert all_checkpoints(tmp_path / "run")
