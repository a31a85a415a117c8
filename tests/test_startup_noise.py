"""The commands start without TensorFlow's start-up noise, and keep real errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harlow import quiet_startup
from harlow.quiet_startup import startup_noise, stderr_without_startup_noise

REPO = Path(__file__).resolve().parent.parent

# What `python -m harlow.train --config=configs/two_step.py ...` printed on stderr before
# its first line, on a CPU-only machine with TensorFlow 2.21 (TF_CPP_MIN_LOG_LEVEL unset).
NOISE_2_21 = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796412588.190830   13097 port.cc:153] oneDNN custom operations are on. You may see \
slightly different numerical results due to floating-point round-off errors from different \
computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796412588.191332   13097 cudart_stub.cc:31] Could not find cuda drivers on your \
machine, GPU will not be used.
I0000 00:00:1796412588.247030   13097 cpu_feature_guard.cc:227] This TensorFlow binary is \
optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild \
TensorFlow with the appropriate compiler flags.
E0000 00:00:1796412591.762380   13097 cuda_platform.cc:52] failed call to cuInit: INTERNAL: \
CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""
# The same from TensorFlow 2.16 with CUDA, in its older log format.
NOISE_2_16 = """\
2024-05-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on.
2024-05-01 10:00:00.234567: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] \
Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when one has \
already been registered
2024-05-01 10:00:00.234600: E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1515] \
Unable to register cuBLAS factory: Attempting to register factory for plugin cuBLAS when one has \
already been registered
2024-05-01 10:00:01.000000: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT \
Warning: Could not find TensorRT
2024-05-01 10:00:02.000000: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:282] \
failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected
"""
# Substrings of noise lines: none may reach a command's stderr.
NOISE_MARKERS = (
    "cuInit",
    "oneDNN",
    "This TensorFlow binary is optimized",
    "Unable to register cu",
    "Could not find cuda drivers",
    "absl::InitializeLog",
    "Sharding callback duration",  # TensorFlow's INFO line per checkpoint saved
)


def test_the_known_noise_is_noise():
    for text in (NOISE_2_21, NOISE_2_16):
        assert startup_noise(text) == [True] * len(text.splitlines())


def test_errors_and_anything_else_are_kept():
    real = [
        "E0000 00:00:1796412591.762380   13097 some_op.cc:52] Something real failed",
        "F0000 00:00:1796412591.762380   13097 check.cc:10] Check failed: x == y",
        "Traceback (most recent call last):",
        "/usr/lib/python3/site-packages/x.py:3: UserWarning: something to know",
        "2024-05-01 10:00:00.234567: E tensorflow/core/x.cc:1] out of memory",
    ]
    assert startup_noise("\n".join(real)) == [False] * len(real)
    # With a driver there (no "Could not find cuda drivers"), a failed cuInit is a problem.
    broken_driver = NOISE_2_21.splitlines()[-1]
    assert startup_noise(broken_driver) == [False]


def test_stderr_is_given_back_without_the_noise(capfd):
    with stderr_without_startup_noise():
        os.write(2, NOISE_2_21.encode())
        os.write(2, b"E0000 00:00:1.5   1 op.cc:2] Something real failed\n")
        os.write(2, b"x.py:3: UserWarning: a Python warning\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == (
        "E0000 00:00:1.5   1 op.cc:2] Something real failed\n"
        "x.py:3: UserWarning: a Python warning\nafter\n"
    )


def test_the_users_log_level_decides_what_is_noise():
    lines = NOISE_2_21.splitlines()
    assert startup_noise(NOISE_2_21, 0) == [False] * len(lines)  # everything, as asked
    warning = "W0000 00:00:1.5   1 op.cc:2] a warning"
    error = "E0000 00:00:1.5   1 op.cc:2] an error"
    text = "\n".join([lines[1], warning, error, lines[-1]])
    assert startup_noise(text, 1) == [True, False, False, False]
    assert startup_noise(text, 2) == [True, True, False, False]  # driver found: cuInit kept
    assert startup_noise(text, 3) == [True, True, True, True]


@pytest.mark.parametrize(
    ("users", "level", "hooked"), [(None, "2", 2), ("1", "1", 1), ("0", "0", 0)]
)
def test_the_users_log_level_is_kept(monkeypatch, users, level, hooked):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    if users is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", users)
    quiet_startup.quiet_tensorflow_startup()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == level
    finders = [f for f in sys.meta_path if isinstance(f, quiet_startup._QuietTensorFlowFinder)]
    assert [f.min_level for f in finders] == ([hooked] if hooked else [])


def _environment(log_level: str | None = None) -> dict[str, str]:
    """The user's environment: without the log level the tests' conftest sets, or with
    the one given."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    return env


def _run(*args: str, log_level: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_environment(log_level),
        timeout=300,
    )


def _noise_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(m in line for m in NOISE_MARKERS)]


def test_training_starts_quietly(tmp_path):
    result = _run(
        "harlow.train",
        "--config=configs/two_step.py",
        f"--workdir={tmp_path / 'run'}",
        "--config.train.total_env_steps=2000",
        "--noprogress",
    )
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout
    assert _noise_in(result.stderr) == []


@pytest.mark.parametrize("log_level", [None, "2"])  # unset, and as the user set it
def test_evaluate_starts_quietly(log_level):
    result = _run("harlow.evaluate", "--help", log_level=log_level)
    assert result.returncode == 1 and "flags:" in result.stdout  # absl's --help: status 1
    assert _noise_in(result.stderr) == []
    assert result.stderr == ""


def test_benchmarks_start_quietly(tmp_path):
    result = _run(
        "harlow.benchmark",
        "harlow_train",
        f"--workdir={tmp_path}",
        "--config.train.num_envs=2",
        "--throughput_updates=2",
    )
    assert _noise_in(result.stderr) == [], result.stderr


def test_ctrl_c_while_tensorflow_starts_still_gives_its_one_line(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harlow.train",
            "--config=configs/two_step.py",
            f"--workdir={tmp_path / 'run'}",
        ],
        cwd=REPO,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # importing TensorFlow, stderr set aside
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip() == "interrupted: harlow.train stopped while starting; nothing was written"
    assert not (tmp_path / "run").exists()
