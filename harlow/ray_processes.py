"""Commands run on a Ray cluster's nodes, behind the interface of ``subprocess.Popen``
the sweep uses (``pid``, ``returncode``, ``poll``, ``send_signal``, ``wait``).

``RemoteProcess(command, log_path, cwd, env, cpus)`` places a small Ray actor that asks
for ``cpus`` CPUs on some node (spread over the nodes) and starts the command there in
a session of its own, its output appended to ``log_path``. Paths are the same on every
node: the sweep's workdir must be on a file system every node shares (or the cluster
is this machine), which ``check_shared_folder`` verifies from a node before anything
starts. If the actor's node leaves the cluster, ``poll`` raises ``NodeLostError``: the
caller may start the command again elsewhere (``harlow.train`` resumes from the
workdir's latest checkpoint).
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

from harlow.psychlab.ray_workers import PLACEMENT_TIMEOUT_SECONDS, connect, this_node

_STOP_SECONDS = 600.0


class NodeLostError(RuntimeError):
    """The node running a remote command left the cluster (or its actor died)."""


class _CommandRunner:
    """The Ray actor: one command's process on this node."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None

    def node(self) -> str:
        """The node this actor runs on (``this_node``)."""
        return this_node()

    def start(self, command: list[str], log_path: str, cwd: str, env: dict[str, str]) -> int:
        """Starts ``command`` (with this node's Python for ``python``) in ``cwd``; returns
        its pid."""
        import sys  # noqa: PLC0415

        command = [sys.executable if part == "python" else part for part in command]
        with open(log_path, "ab") as log:
            log.write(f"=== on {self.node()}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={**os.environ, **env},
                start_new_session=True,
            )
        return self._process.pid

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self._process.poll()

    def send_signal(self, signum: int) -> None:
        """Sends ``signum`` to the command, if it still runs."""
        if self._process.poll() is None:
            self._process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """Waits up to ``timeout`` s; the exit code, or None if it still runs."""
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def read(self, path: str) -> str | None:
        """The text of ``path`` on this node, or None if it cannot be read."""
        try:
            return Path(path).read_text()
        except OSError:
            return None


def _runner_class(ray: Any, cpus: float) -> Any:
    return ray.remote(num_cpus=cpus, scheduling_strategy="SPREAD", max_restarts=0)(_CommandRunner)


def check_shared_folder(folder: Path, address: str) -> None:
    """Raises ``ValueError`` unless a Ray node reads a file written here into ``folder``
    (the sweep's workdir must be on a file system every node shares)."""
    ray = connect(address)
    probe = folder / f".ray_probe_{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    probe.write_text(token)
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: PLC0415

        runner = _runner_class(ray, 0)
        actors = [
            runner.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote()
            for node in ray.nodes()
            if node["Alive"]
        ]
        seen = ray.get([a.read.remote(str(probe)) for a in actors], timeout=120)
        nodes = ray.get([a.node.remote() for a in actors], timeout=120)
        for actor in actors:
            ray.kill(actor)
    finally:
        probe.unlink(missing_ok=True)
    missing = [node for node, text in zip(nodes, seen, strict=True) if text != token]
    if missing:
        raise ValueError(
            f"Ray nodes {', '.join(sorted(set(missing)))} cannot read {folder}: a sweep on Ray "
            "needs its --workdir on a file system every node shares (e.g. NFS), at the same path"
        )


class RemoteProcess:
    """``command`` on a Ray node (see the module docstring); ``python`` in the command
    is that node's Python."""

    def __init__(
        self,
        command: list[str],
        log_path: Path,
        cwd: Path,
        env: dict[str, str],
        cpus: float,
        address: str,
    ) -> None:
        self._ray = ray = connect(address)
        self._actor = _runner_class(ray, cpus).remote()
        try:
            self.node = ray.get(self._actor.node.remote(), timeout=PLACEMENT_TIMEOUT_SECONDS)
        except ray.exceptions.GetTimeoutError:
            ray.kill(self._actor)
            raise RuntimeError(
                f"no Ray node had {cpus:g} free CPUs within {PLACEMENT_TIMEOUT_SECONDS:.0f} s "
                "(--cpus_per_seed; `ray status` shows what the cluster has)"
            ) from None
        self.pid = ray.get(self._actor.start.remote(command, str(log_path), str(cwd), env))
        self.returncode: int | None = None

    def _get(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayActorError as error:
            raise NodeLostError(f"the command's Ray actor on {self.node} died: {error}") from None

    def poll(self) -> int | None:
        """The exit code, or None while it runs; ``NodeLostError`` if its node left."""
        if self.returncode is None:
            self.returncode = self._get(self._actor.poll.remote())
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Sends ``signum`` (e.g. SIGINT: ``harlow.train`` saves a checkpoint) to it."""
        self._get(self._actor.send_signal.remote(int(signum)))

    def wait(self, timeout: float = _STOP_SECONDS) -> int:
        """Waits for it to end; its exit code (-SIGKILL if it had to be killed)."""
        code = self._get(self._actor.wait.remote(timeout))
        if code is None:
            self.send_signal(signal.SIGKILL)
            code = self._get(self._actor.wait.remote(timeout))
        self.returncode = code
        return code

    def release(self) -> None:
        """Frees the actor (after the command ended)."""
        self._ray.kill(self._actor)
