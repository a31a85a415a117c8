"""Command line: train several seeds in parallel subprocesses, then evaluate them together.

    python -m harlow.sweep --config=configs/two_step.py --seeds=0-4 --workdir=runs/sweep \
        [--parallel=2] [--episodes=300] [--eval_args="--greedy"] \
        [--config.train.learning_rate=1e-3 ...]

    python -m harlow.sweep ... --grid=train.learning_rate=1e-3,3e-3 [--grid=KEY=V1,V2 ...]
    python -m harlow.sweep --executor=ray --address=auto [--cpus_per_seed=3] ...

Each seed trains in ``<workdir>/seed_<s>`` (``python -m harlow.train``, output in its
``train.log``), at most ``--parallel`` at a time (default: the cores here; on Ray: all
seeds, as the cluster's free CPUs allow); ``--config.*`` overrides apply to every
seed. The progress bar follows each running seed through the ``progress.json`` its
trainer rewrites at each logging window (``harlow.run_progress``). Then one ``python -m
harlow.evaluate`` call over all seeds writes the per-seed reports and the aggregated
``<workdir>/eval/seeds.json`` and ``seeds.png``. Running the same command again
resumes: each seed continues from its latest checkpoint, and a seed that has finished
only re-saves its last checkpoint.

``--grid=KEY=V1,V2`` (repeatable) trains every seed at every combination of the values
(``harlow.sweep_grid``): each grid point has a folder of its own in the workdir, named
after its values, holding its ``seed_<s>/`` runs and ``eval/`` report as a sweep without
a grid holds them in the workdir; ``<workdir>/grid.json`` lists the points and their
reports. Every point's config is checked before anything starts.

With ``--executor=ray`` each seed's training runs on a node of the Ray cluster at
``--address`` ('' a private instance on this machine, 'auto' the cluster started here
with ``ray start``, or 'host:port'), reserving ``--cpus_per_seed`` CPUs there (default:
1 + the config's ``env.num_workers``). The workdir must be on a file system every node
shares, at the same path (checked before anything starts); logs, checkpoints and the
progress files are then in one place, and the evaluation runs here. A seed whose node
leaves the cluster starts again on another node and resumes from its latest checkpoint.
"""

from __future__ import annotations

import harlow.quiet_startup  # noqa: F401 - first: Ctrl-C while importing gives one line

# isort: split
import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from harlow.cli_flags import fail, parse_flags
from harlow.config.validation import validate_config
from harlow.progress import PostfixUpdater, progress_bar
from harlow.psychlab import ray_workers
from harlow.ray_processes import NodeLostError, RemoteProcess, check_shared_folder
from harlow.run_progress import RunProgress, read_progress
from harlow.seeds import (
    config_override_args,
    log_tail,
    parse_seeds,
    seed_workdir,
    thread_env,
)
from harlow.signals import (
    describe_interrupt,
    install_stop_handlers,
    interrupt_exit_code,
    interrupt_signal,
    raise_if_interrupted,
)
from harlow.sweep_grid import GridPoint, grid_points, write_grid_report
from harlow.workdirs import WorkdirError, checked_workdir, writable_folder

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to an ml_collections config file.", lock_config=True
)
_SEEDS = flags.DEFINE_string("seeds", None, "N (seeds 0..N-1), a range 'A-B', or a list '1,3'.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Sweep directory: seed_<s>/ per seed, eval/.")
_PARALLEL = flags.DEFINE_integer(
    "parallel", None, "Seeds trained at once; default: the number of CPU cores.", lower_bound=1
)
_EPISODES = flags.DEFINE_integer(
    "episodes", None, "Test episodes; default: config.eval.episodes.", lower_bound=1
)
_EVAL_ARGS = flags.DEFINE_string(
    "eval_args", "", "Extra flags for harlow.evaluate, as one string, e.g. '--greedy --seed=7'."
)
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar of finished seeds.")
_GRID = flags.DEFINE_multi_string(
    "grid",
    None,
    "KEY=V1,V2,...: train every seed at each value of config.KEY; repeat the flag for a "
    "grid over several keys (every combination), e.g. --grid=train.learning_rate=1e-3,3e-3.",
)
_EXECUTOR = flags.DEFINE_enum(
    "executor", "processes", ["processes", "ray"], "Where seeds train: here, or on Ray nodes."
)
_ADDRESS = flags.DEFINE_string(
    "address", "", "--executor=ray: '' (a private instance here), 'auto' or 'host:port'."
)
_CPUS_PER_SEED = flags.DEFINE_float(
    "cpus_per_seed", None, "--executor=ray: CPUs each seed reserves (default 1 + env.num_workers)."
)
flags.mark_flags_as_required(["config", "seeds", "workdir"])

LOG_FILE = "train.log"
_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
_POLL_SECONDS = 0.5
MAX_NODE_LOSSES = 3  # per seed, on Ray: then it fails


@dataclass(frozen=True)
class RaySettings:
    """Seeds on a Ray cluster: its address and each seed's CPUs."""

    address: str
    cpus_per_seed: float


@dataclass(frozen=True)
class Job:
    """One training run of the sweep: ``seed`` at a grid point, in the sweep's ``workdir``."""

    seed: int
    point: GridPoint
    workdir: Path

    @property
    def run_dir(self) -> Path:
        """Its training workdir: ``seed_<s>`` in its grid point's folder."""
        return seed_workdir(self.point.folder(self.workdir), self.seed)

    @property
    def name(self) -> str:
        """``seed <s>``, after the grid point's values if there is a grid."""
        return f"{self.point.name} seed {self.seed}".strip()


@dataclass
class _Run:
    """One job's training subprocess."""

    job: Job
    log_path: Path
    process: subprocess.Popen | RemoteProcess
    log: IO[bytes] | None  # None on Ray: the remote process writes the log
    start: float = field(default_factory=time.perf_counter)
    node_losses: int = 0
    # The last progress record this child wrote (None until its first logging window).
    progress: RunProgress | None = None

    def follow_progress(self) -> RunProgress | None:
        """Reads the seed's progress file; keeps the last record of this child (the file
        may be missing, unreadable or left by an earlier run of the seed)."""
        record = read_progress(self.log_path.parent)
        if record is not None and record.pid == self.process.pid:
            self.progress = record
        return self.progress

    def finish(self) -> None:
        """Closes its log here, or frees its Ray actor."""
        if self.log is not None:
            self.log.close()
        if isinstance(self.process, RemoteProcess):
            self.process.release()


def progress_text(runs: list[_Run]) -> str:
    """The bar's postfix: each running seed's share of its env steps, or 'starting'."""
    parts = []
    for run in runs:
        progress = run.follow_progress()
        shown = "starting" if progress is None else f"{100 * progress.fraction:.0f}%"
        parts.append(f"{run.job.name}: {shown}")
    return ", ".join(parts)


def _start(
    job: Job,
    base_args: list[str],
    env: dict[str, str],
    ray_settings: RaySettings | None = None,
) -> _Run:
    run_dir = job.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    args = ["-m", "harlow.train", *base_args, *job.point.args()]
    args += [f"--workdir={run_dir}", f"--config.seed={job.seed}", "--noprogress"]
    log_path = run_dir / LOG_FILE
    with log_path.open("ab") as header:
        command = shlex.join([sys.executable, *args])
        header.write(f"=== {datetime.now():%Y-%m-%d %H:%M:%S} {command}\n".encode())
    if ray_settings is not None:
        cpus = ray_settings.cpus_per_seed
        threads = str(max(1, int(cpus)))
        process = RemoteProcess(
            ["python", *args],
            log_path,
            cwd=Path.cwd(),
            env={name: threads for name in _THREAD_VARIABLES},
            cpus=cpus,
            address=ray_settings.address,
        )
        return _Run(job, log_path, process, None)
    log = log_path.open("ab")
    # A session of its own: a Ctrl-C reaches the sweep only, which forwards exactly one
    # SIGINT (SIGTERM when it got one) per child, so that each child saves a checkpoint
    # once and exits.
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    return _Run(job, log_path, process, log)


def train_jobs(
    jobs: list[Job],
    base_args: list[str],
    parallel: int,
    show_progress: bool,
    ray_settings: RaySettings | None = None,
) -> dict[Job, int]:
    """Trains every job, ``parallel`` at a time; returns each one's exit code."""
    env = thread_env(os.cpu_count() or 1, parallel)
    pending = list(jobs)
    running: list[_Run] = []
    codes: dict[Job, int] = {}
    bar = progress_bar(total=len(jobs), unit="run", desc="sweep", disable=not show_progress)
    postfix = PostfixUpdater(bar)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                run = _start(pending.pop(0), base_args, env, ray_settings)
                if ray_settings is not None:
                    bar.write(f"{run.job.name} started on {run.process.node}")
                running.append(run)
            time.sleep(_POLL_SECONDS)
            raise_if_interrupted()  # a Ctrl-C or SIGTERM lost in a finalizer stops here
            for run in list(running):
                try:
                    code = run.process.poll()
                except NodeLostError as lost:
                    running[running.index(run)] = _restart(
                        run, lost, bar.write, base_args, env, ray_settings
                    )
                    continue
                if code is None:
                    continue
                running.remove(run)
                run.finish()
                codes[run.job] = code
                status = "done" if code == 0 else "FAILED"
                bar.write(
                    f"{run.job.name} {status} in {time.perf_counter() - run.start:.0f} s "
                    f"(exit code {code}); log {run.log_path}"
                )
                bar.update(1)
            postfix.show(progress_text(running))
    except KeyboardInterrupt as interrupt:
        bar.close()
        print(
            f"\n{describe_interrupt(interrupt)}: stopping the running seeds "
            "(each saves a checkpoint)...",
            flush=True,
        )
        for run in running:
            with contextlib.suppress(NodeLostError):
                run.process.send_signal(interrupt_signal(interrupt))  # harlow.train saves
        for run in running:
            with contextlib.suppress(NodeLostError):
                run.process.wait()
            run.finish()
        raise
    bar.close()
    return codes


def _restart(
    run: _Run,
    lost: Exception,
    write: Callable[[str], None],
    base_args: list[str],
    env: dict[str, str],
    ray_settings: RaySettings | None,
) -> _Run:
    """Starts a seed whose node left the cluster again, elsewhere: it resumes from its
    latest checkpoint. After ``MAX_NODE_LOSSES`` the loss is an error."""
    if run.node_losses + 1 > MAX_NODE_LOSSES:
        raise RuntimeError(f"{run.job.name} lost its node {MAX_NODE_LOSSES + 1} times: {lost}")
    write(f"{run.job.name}: {lost}; starting it again on another node, from its latest checkpoint")
    again = _start(run.job, base_args, env, ray_settings)
    again.node_losses = run.node_losses + 1
    write(f"{run.job.name} started again on {again.process.node}")
    return again


def evaluate_seeds(
    seeds: list[int], workdir: Path, episodes: int | None, eval_args: list[str]
) -> int:
    """Evaluates all seeds in one ``harlow.evaluate`` call; returns its exit code."""
    output_dir = workdir / "eval"
    command = [
        sys.executable,
        "-m",
        "harlow.evaluate",
        *(f"--workdir={seed_workdir(workdir, s)}" for s in seeds),
        f"--output_dir={output_dir}",
        *([f"--episodes={episodes}"] if episodes is not None else []),
        *eval_args,
    ]
    print(f"evaluating {len(seeds)} seed(s): {shlex.join(command)}", flush=True)
    # A session of its own, as for the training runs: a Ctrl-C reaches the sweep only,
    # which forwards exactly one signal (two could interrupt its exit, with a traceback).
    process = subprocess.Popen(command, start_new_session=True)
    try:
        code = process.wait()
    except KeyboardInterrupt as interrupt:
        process.send_signal(interrupt_signal(interrupt))
        code = process.wait()
        if code != interrupt_exit_code(interrupt):
            raise
        return code  # it stopped and said so in one line: nothing to add
    if code == 0:
        if len(seeds) > 1:
            print(
                f"aggregated report: {output_dir / 'seeds.json'}; "
                f"figure: {output_dir / 'seeds.png'}"
            )
        else:
            print(f"report: {output_dir / 'report.json'}")
    return code


def checked_eval_args(text: str) -> list[str]:
    """``--eval_args`` split into flags; raises ``ValueError`` on flags the sweep sets.

    The sweep gives ``harlow.evaluate`` one ``--workdir`` per seed and the output folder:
    another ``--workdir`` would count as one more seed, another output folder would
    scatter the reports.
    """
    args = shlex.split(text)
    for arg in args:
        if re.match(r"-{1,2}(workdir|output_dir)(=|$)", arg):
            raise ValueError(
                f"--eval_args cannot contain {arg}: the sweep sets the workdirs (one per seed) "
                "and the output folder"
            )
    return args


def main(argv: list[str]) -> None:
    """Entry point: check the config, train the seeds, report failures, evaluate."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config_flag = flags.FLAGS[_CONFIG.name]
    fixed_keys = set(config_flags.get_override_values(config_flag))
    if "seed" in fixed_keys:
        fail("--config.seed cannot be set in a sweep: choose the seeds with --seeds")
    try:
        workdir = checked_workdir(_WORKDIR.value).resolve()
        seeds = parse_seeds(_SEEDS.value)
        eval_args = checked_eval_args(_EVAL_ARGS.value)
        validate_config(_CONFIG.value)
        points = grid_points(_CONFIG.value, _GRID.value or [], fixed_keys)
        jobs = [Job(seed, point, workdir) for point in points for seed in seeds]
        # Before any training: a sweep over a file, a read-only or full disk fails here.
        writable_folder(workdir)
        for job in jobs:
            writable_folder(job.run_dir, "a seed's workdir")
    except (ValueError, OSError, WorkdirError) as e:
        fail(e)
    ray_settings = None
    if _EXECUTOR.value == "ray":
        try:
            ray_settings = ray_settings_for(
                _CONFIG.value, workdir, _ADDRESS.value, _CPUS_PER_SEED.value
            )
        except (ValueError, OSError, RuntimeError) as e:
            fail(e)
    default_parallel = len(jobs) if ray_settings else os.cpu_count() or 1
    parallel = min(_PARALLEL.value or default_parallel, len(jobs))
    argv_overrides = flags.FLAGS.read_flags_from_files(sys.argv[1:], force_gnu=False)
    base_args = [config_flag.serialize(), *config_override_args(argv_overrides, flags.FLAGS)]
    # Until here a Ctrl-C exits at once in one line (harlow.quiet_startup); from here on
    # kill, timeout and schedulers stop the children as a Ctrl-C does.
    install_stop_handlers()
    where = (
        f" on the Ray cluster at {ray_settings.address or 'a private instance'}"
        if ray_settings
        else ""
    )
    grid = f" at {len(points)} grid points" if len(points) > 1 else ""
    print(f"training seeds {seeds}{grid} in {workdir}{where}, {parallel} at a time; logs:")
    for job in jobs:
        print(f"  {job.name}: {job.run_dir / LOG_FILE}")
    sys.stdout.flush()
    try:
        codes = train_jobs(jobs, base_args, parallel, _PROGRESS.value, ray_settings)
        _report_failures(jobs, codes)
        code = 0
        for point in points:
            if point.overrides:
                print(f"grid point {point.name}:", flush=True)
            code = evaluate_seeds(seeds, point.folder(workdir), _EPISODES.value, eval_args) or code
        if len(points) > 1:
            print(f"grid report: {write_grid_report(workdir, points, seeds)}")
    except KeyboardInterrupt as interrupt:
        print(f"{describe_interrupt(interrupt)}: run the same command to resume", file=sys.stderr)
        sys.exit(interrupt_exit_code(interrupt))
    sys.exit(code)


def ray_settings_for(
    config: ml_collections.ConfigDict, workdir: Path, address: str, cpus: float | None
) -> RaySettings:
    """``address`` and the CPUs per seed (``cpus``, default 1 + the config's
    env.num_workers), once the cluster is joined and reads ``workdir``."""
    if not ray_workers.ray_installed():
        raise ValueError(ray_workers.ray_missing("--executor=ray"))
    if cpus is None:
        cpus = 1 + (config.env.get("num_workers", 0) if "env" in config else 0)
    if cpus <= 0:
        raise ValueError(f"--cpus_per_seed must be > 0, got {cpus}")
    check_shared_folder(workdir, address)
    return RaySettings(address, float(cpus))


def _report_failures(jobs: list[Job], codes: dict[Job, int]) -> None:
    """Prints the end of each failed run's log and exits with status 1, if any failed."""
    failed = [job for job in jobs if codes[job] != 0]
    if failed:
        for job in failed:
            log_path = job.run_dir / LOG_FILE
            print(
                f"\n--- {job.name} failed (exit code {codes[job]}); end of {log_path}:\n"
                f"{log_tail(log_path)}",
                file=sys.stderr,
            )
        grid = any(job.point.overrides for job in jobs)
        names = [job.name for job in failed] if grid else [job.seed for job in failed]
        every = sorted({job.seed for job in jobs})
        print(
            f"\nerror: seeds {names} failed (of {every}); nothing was evaluated. Fix the "
            "cause and run the same command again: finished seeds are not retrained.",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
