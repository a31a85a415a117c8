"""A real Ray cluster on this machine for tests: a head node and a second node, both on
loopback, started with ``ray start --block`` and torn down by the test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
# For the nodes and for every process that joins them: no usage reports, and no token
# (the cluster listens on loopback only; Ray's token would live in ~/.ray).
CLIENT_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@dataclass
class LocalCluster:
    """A started cluster: its address, its node processes and their logs."""

    address: str
    temp_dir: Path
    nodes: list[subprocess.Popen] = field(default_factory=list)
    node_cpus: int = 1

    def stop_node(self, index: int) -> None:
        """Kills node ``index`` (its raylet, its workers and its actors) at once, as a
        machine that leaves the cluster."""
        _kill_group(self.nodes[index], signal.SIGKILL)
        _kill_marked(_node_marker(self.temp_dir, index))

    def start_second_node(self) -> None:
        """Starts the second node (again, after ``stop_node(1)``) and waits for it."""
        self.nodes[1:] = [_start_worker_node(self, len(self.nodes))]
        _wait_for_nodes(self.address, 2, self.nodes)


def _node_marker(temp_dir: Path, index: int) -> str:
    """In the environment of every process node ``index`` starts (they inherit it)."""
    return f"HARLOW_TEST_RAY_NODE={temp_dir}/{index}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(15)


def _kill_marked(marker: str) -> None:
    """SIGKILLs every process whose command line or environment holds ``marker``."""
    marker = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in text:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [str(RAY), "start", "--block", "--disable-usage-stats", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait_for_nodes(address: str, count: int, processes: list[subprocess.Popen]) -> None:
    """Waits until ``count`` nodes are alive (asked from a short-lived Python)."""
    env = {**os.environ, **CLIENT_ENV}
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='error'); "
        "print(sum(node['Alive'] for node in ray.nodes()))"
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"a Ray node exited with {process.returncode}"
        result = subprocess.run(
            [sys.executable, "-c", probe, address],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        if result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} did not reach {count} nodes")


def _start_worker_node(cluster: LocalCluster, attempt: int) -> subprocess.Popen:
    env = {**os.environ, **CLIENT_ENV, **dict([_node_marker(cluster.temp_dir, 1).split("=", 1)])}
    return _start_node(
        [
            f"--address={cluster.address}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={cluster.node_cpus}",
        ],
        cluster.temp_dir / f"node_{attempt}.log",
        env,
    )


@contextlib.contextmanager
def local_cluster(head_cpus: int, node_cpus: int) -> Iterator[LocalCluster]:
    """A head node with ``head_cpus`` CPUs and a second node with ``node_cpus``, in a
    private temporary folder (short: Ray's socket paths are limited); everything they
    started is killed on exit."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ray_", dir="/tmp"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, **CLIENT_ENV}
    cluster = LocalCluster(address, temp_dir, node_cpus=node_cpus)
    try:
        cluster.nodes.append(
            _start_node(
                [
                    "--head",
                    f"--port={port}",
                    "--node-ip-address=127.0.0.1",
                    f"--num-cpus={head_cpus}",
                    "--include-dashboard=false",
                    f"--temp-dir={temp_dir}",
                ],
                temp_dir / "head.log",
                {**env, **dict([_node_marker(temp_dir, 0).split("=", 1)])},
            )
        )
        _wait_for_nodes(address, 1, cluster.nodes)
        cluster.nodes.append(_start_worker_node(cluster, 1))
        _wait_for_nodes(address, 2, cluster.nodes)
        yield cluster
    finally:
        for process in reversed(cluster.nodes):
            _kill_group(process, signal.SIGKILL)
        _kill_marked(f"HARLOW_TEST_RAY_NODE={temp_dir}/")
