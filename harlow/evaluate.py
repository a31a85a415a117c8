"""Command line: evaluate saved checkpoints with frozen weights.

    python -m harlow.evaluate --workdir=runs/two_step [--checkpoint=PATH] --episodes=300
    python -m harlow.evaluate --workdir=runs/s0 --workdir=runs/s1 ... --output_dir=runs/figure

Writes ``report.json``, a per-trial CSV and plots to ``<workdir>/eval`` (or
``--output_dir``); with several workdirs (one per seed) also the multi-seed figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import app, flags

from harlow.checkpointing import (
    CheckpointError,
    atomic_write_text,
    load_config,
    resolve_checkpoint,
)
from harlow.evaluation import evaluate_checkpoint
from harlow.tasks import get_task

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "Training workdir(s); one per seed.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint path (e.g. runs/x/checkpoints/ckpt-100); default: latest."
)
_EPISODES = flags.DEFINE_integer("episodes", None, "Test episodes; default: config.eval.episodes.")
_SEED = flags.DEFINE_integer("seed", 12345, "Seed of the test episodes (differs from training).")
_GREEDY = flags.DEFINE_bool("greedy", False, "Take the most likely action instead of sampling.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Where reports go; default <workdir>/eval, or <first workdir>/../eval."
)
flags.mark_flag_as_required("workdir")


def _write_eval_summaries(workdir: Path, summary: dict) -> None:
    writer = tf.summary.create_file_writer(str(workdir / "eval"))
    with writer.as_default(step=summary["env_steps"]):
        tf.summary.scalar("eval/reward_per_trial", summary["reward_per_trial"])
        for name, entry in summary.get("stay_probabilities", {}).items():
            if entry["p_stay"] is not None:
                tf.summary.scalar(f"eval/p_stay/{name}", entry["p_stay"])
    writer.flush()


def main(argv: list[str]) -> None:
    """Entry point: evaluate each workdir, then draw the multi-seed figure."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    workdirs = [Path(w) for w in _WORKDIRS.value]
    if _CHECKPOINT.value and len(workdirs) > 1:
        raise app.UsageError("--checkpoint applies to a single --workdir")
    summaries = []
    try:
        for workdir in workdirs:
            config = load_config(workdir)
            checkpoint = resolve_checkpoint(workdir, _CHECKPOINT.value)
            episodes = _EPISODES.value or config.eval.episodes
            if episodes < 1:
                raise ValueError(f"--episodes must be >= 1, got {episodes}")
            single = len(workdirs) == 1 and _OUTPUT_DIR.value
            output_dir = Path(_OUTPUT_DIR.value) if single else workdir / "eval"
            print(f"== {workdir}: {checkpoint}, {episodes} episodes", flush=True)
            summary = evaluate_checkpoint(
                config, checkpoint, episodes, _SEED.value, _GREEDY.value, output_dir
            )
            _write_eval_summaries(workdir, summary)
            print(get_task(config.task).format_summary(summary))
            print(f"report: {output_dir / 'report.json'}; plots and CSV in {output_dir}")
            summaries.append(summary)
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if len(summaries) > 1:
        _write_multi_seed(summaries, workdirs, get_task(config.task))


def _write_multi_seed(summaries: list[dict], workdirs: list[Path], task) -> None:
    output_dir = Path(_OUTPUT_DIR.value or workdirs[0].parent / "eval")
    figure = output_dir / "seeds.png"
    task.plot_seeds(summaries, figure)
    rewards = [s["reward_per_trial"] for s in summaries]
    report = {
        "workdirs": [str(w) for w in workdirs],
        "reward_per_trial_mean": float(np.mean(rewards)),
        "per_seed": summaries,
    }
    atomic_write_text(output_dir / "seeds.json", json.dumps(report, indent=2) + "\n")
    print(f"multi-seed figure: {figure}; report: {output_dir / 'seeds.json'}")


if __name__ == "__main__":
    app.run(main)
