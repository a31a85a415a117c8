"""SIGTERM (kill, timeout, schedulers) stops train, evaluate and sweep as Ctrl-C does.

Training saves a checkpoint and exits with a one-line message; evaluation exits with a
one-line message and leaves no half-written report; a sweep stops its training children
(each saves) and exits.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_runner import LONG_TWO_STEP_RUN, start_module, wait_for_text

from harlow import signals
from harlow.checkpointing import all_checkpoints

SIGTERM_STATUS = 128 + signal.SIGTERM


def _processes_mentioning(text: str) -> list[int]:
    """Pids of the running processes whose command line contains ``text``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:  # ended meanwhile
            continue
    return pids


def _terminate(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


def test_interrupt_helpers_tell_sigterm_from_ctrl_c():
    assert signals.interrupt_signal(signals.Terminated()) == signal.SIGTERM
    assert signals.interrupt_signal(KeyboardInterrupt()) == signal.SIGINT
    assert signals.interrupt_exit_code(signals.Terminated()) == 143
    assert signals.interrupt_exit_code(KeyboardInterrupt()) == 130


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run stopped with SIGTERM (the train test), reused to evaluate."""
    tmp = tmp_path_factory.mktemp("sigterm")
    workdir = tmp / "run"
    log = tmp / "train.log"
    process = start_module(
        log,
        "harlow.train",
        "--config=configs/two_step.py",
        f"--workdir={workdir}",
        *LONG_TWO_STEP_RUN,
    )
    try:
        wait_for_text(log, "env steps", process)
        assert _terminate(process) == SIGTERM_STATUS, log.read_text()[-3000:]
    finally:
        process.kill()  # a failing test leaves no training running
        process.wait()
    output = log.read_text()
    assert "terminated (SIGTERM): checkpoint saved" in output
    assert "Traceback" not in output
    return workdir


def test_sigterm_saves_a_checkpoint_and_exits(trained):
    checkpoints = all_checkpoints(trained)
    assert len(checkpoints) == 1 and int(checkpoints[0].rsplit("-", 1)[1]) >= 20


def test_sigterm_stops_evaluation_with_one_line_and_no_half_written_report(trained, tmp_path):
    out = tmp_path / "eval"
    log = tmp_path / "evaluate.log"
    process = start_module(
        log, "harlow.evaluate", f"--workdir={trained}", "--episodes=1000000", f"--output_dir={out}"
    )
    try:
        wait_for_text(log, "1000000 episodes", process)
        time.sleep(1.0)  # into the episodes
        assert _terminate(process) == SIGTERM_STATUS
    finally:
        process.kill()  # a failing test leaves no evaluation running (after it ended: a no-op)
        process.wait()
    output = log.read_text()
    assert "terminated (SIGTERM): evaluation stopped" in output
    assert "Traceback" not in output
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.slow
def test_sigterm_stops_a_sweep_and_its_children(tmp_path):
    workdir = tmp_path / "sweep"
    log = tmp_path / "sweep.log"
    process = start_module(
        log,
        "harlow.sweep",
        "--config=configs/two_step.py",
        f"--workdir={workdir}",
        "--seeds=2",
        "--parallel=2",
        *LONG_TWO_STEP_RUN,
    )
    try:
        for seed in (0, 1):
            wait_for_text(workdir / f"seed_{seed}" / "train.log", "env steps", process)
        assert _terminate(process) == SIGTERM_STATUS
        assert _processes_mentioning(str(workdir)) == []
    finally:
        for pid in _processes_mentioning(str(workdir)):  # children left by a failing sweep
            os.kill(pid, signal.SIGKILL)
    assert "terminated (SIGTERM): run the same command to resume" in log.read_text()
    for seed in (0, 1):
        run = workdir / f"seed_{seed}"
        assert "terminated (SIGTERM): checkpoint saved" in (run / "train.log").read_text()
        assert all_checkpoints(run)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "signum, exception", [(signal.SIGTERM, signals.Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_lost_in_a_finalizer_is_raised_again(monkeypatch, signum, exception):
    """Python ignores exceptions raised inside finalizers: the loops ask again."""
    monkeypatch.setattr(signals, "_received", [])
    signals.raise_if_interrupted()  # nothing received: nothing raised

    class Finalized:
        def __del__(self):
            signals._raise_stop(signum, None)  # as if the signal came here

    Finalized()  # "Exception ignored in ... __del__": the exception is lost
    with pytest.raises(exception) as raised:
        signals.raise_if_interrupted()
    assert signals.interrupt_signal(raised.value) == signum


def test_stop_handlers_record_ctrl_c_but_keep_an_ignored_one(monkeypatch):
    monkeypatch.setattr(signals, "_before_start", {})
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signals.install_stop_handlers()
        assert signal.getsignal(signal.SIGINT) is signals._raise_stop
        assert signal.getsignal(signal.SIGTERM) is signals._raise_stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a process started in the background
        signals.install_stop_handlers()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
