"""Command line: train an agent.

    python -m harlow.train --config=configs/two_step.py --workdir=runs/two_step \
        [--config.seed=3 --config.agent.lstm_units=64 ...]

Running the same command again resumes from the latest checkpoint in --workdir (with
changed schedule fields applied, other changes refused: see harlow.config.changes).
SIGTERM, like Ctrl-C, saves a checkpoint before exiting; one process trains per workdir.
A workdir that cannot be written is refused before training starts, and a disk that fills
up stops training with one line naming the checkpoint folder, the last checkpoint kept.
"""

from __future__ import annotations

import harlow.quiet_startup  # noqa: F401 - first: Ctrl-C while importing gives one line

# isort: split
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from harlow.checkpointing import CheckpointError
from harlow.cli_flags import parse_flags
from harlow.learner.trainer import NonFiniteLossError, train
from harlow.psychlab.dmlab import DmlabUnavailableError
from harlow.signals import describe_interrupt, install_stop_handlers, interrupt_exit_code
from harlow.workdirs import WorkdirError

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to an ml_collections config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and config.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    """Entry point: parse flags, train, report."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    install_stop_handlers()  # kill, timeout and schedulers: save a checkpoint as on Ctrl-C
    try:
        result = train(_CONFIG.value, _WORKDIR.value, show_progress=_PROGRESS.value)
    except (
        ValueError,
        CheckpointError,
        NonFiniteLossError,
        DmlabUnavailableError,
        WorkdirError,
    ) as e:
        logging.error("%s", e)
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as interrupt:
        outcome = (
            "checkpoint saved; run the same command to resume"
            if getattr(interrupt, "saved_checkpoint", None)
            else "stopped while starting, before training; no checkpoint was saved"
        )
        print(f"\n{describe_interrupt(interrupt)}: {outcome}", file=sys.stderr)
        sys.exit(interrupt_exit_code(interrupt))
    reward = result.recent_reward_per_trial
    print(
        f"trained {result.env_steps:,} env steps ({result.episodes:,} episodes, "
        f"{result.updates:,} updates) at {result.steps_per_second:,.0f} steps/s; "
        + (
            "no episode ended in this run"
            if reward is None
            else f"recent reward per trial {reward:.3f}"
        )
        + f"; checkpoint {result.last_checkpoint}"
    )
    split = ", ".join(
        f"{part} {100 * share:.0f} %" for part, share in result.time_fractions.items()
    )
    frames = f"; {result.frames_per_second:,.0f} frames/s" if result.frames_per_second else ""
    print(f"time: {split}{frames}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
