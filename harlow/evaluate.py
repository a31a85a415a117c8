"""Command line: evaluate saved checkpoints with frozen weights.

    python -m harlow.evaluate --workdir=runs/harlow [--checkpoint=PATH] --episodes=500 \
        [--split=heldout|train] [--config.env.backend=dmlab --config.dataset=DIR ...]
    python -m harlow.evaluate --workdir=runs/s0 --workdir=runs/s1 ... --output_dir=runs/figure

Each workdir is evaluated with the config it was trained with (``config.json``),
changed by any ``--config.*`` overrides (listed in ``report.json``); overrides of what
shapes the agent (observation mode and sizes, network sizes) or of what its inputs mean
(the task's ``input_meaning_fields``, e.g. Harlow's ``env.id_scope``) are refused, since
the checkpoint could not work. Writes ``report.json``, a per-trial CSV and plots, for
tasks that have them the curves of successive checkpoints (``stages.png``), and with
several workdirs (one per seed) the multi-seed figure.

Reports go to ``--output_dir``, by default to ``<workdir>/eval/<name>``, where the task
names what was evaluated (``Task.evaluation_name``), so that evaluations on other images
do not replace each other: for Harlow ``[<backend>-][<dataset>-]<split>``, e.g.
``heldout``, ``train``, ``dmlab-heldout`` or ``my_faces-heldout`` (the backend unless it
is the simulator, the dataset folder's name unless it is the bundled faces); for the
two-step task, nothing to tell apart: ``<workdir>/eval``. The TensorBoard summaries go to
that default folder whatever ``--output_dir`` says; a multi-seed report without
``--output_dir`` goes to ``<first workdir>/../eval/<name>``.
"""

from __future__ import annotations

import harlow.quiet_startup  # noqa: F401 - first: Ctrl-C while importing gives one line

# isort: split
import json
import sys
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf
from absl import app, flags

from harlow.agent.builder import AGENT_FIELDS
from harlow.checkpointing import (
    CHECKPOINT_DIR,
    CheckpointError,
    atomic_write_text,
    load_config,
    newest_readable_checkpoint,
    none_readable,
    read_checkpoint,
    resolve_checkpoint,
)
from harlow.config.overrides import apply_overrides, split_overrides
from harlow.config.validation import validate_config
from harlow.datasets.manifest import SPLITS
from harlow.evaluation import evaluate_checkpoint, evaluate_stages, print_warning
from harlow.psychlab.dmlab import DmlabUnavailableError
from harlow.signals import describe_interrupt, install_stop_handlers, interrupt_exit_code
from harlow.task import Task
from harlow.tasks import get_task
from harlow.workdirs import WorkdirError, checked_workdir, output_folders, writable_folder

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "Training workdir(s); one per seed.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint path (e.g. runs/x/checkpoints/ckpt-100); default: latest."
)
_EPISODES = flags.DEFINE_integer("episodes", None, "Test episodes; default: config.eval.episodes.")
_SEED = flags.DEFINE_integer("seed", 12345, "Seed of the test episodes (differs from training).")
_GREEDY = flags.DEFINE_bool("greedy", False, "Take the most likely action instead of sampling.")
_SPLIT = flags.DEFINE_enum(
    "split", None, list(SPLITS), "Images to test on (Harlow); default: config.eval.split."
)
_STAGES = flags.DEFINE_bool(
    "stages", True, "Also evaluate successive checkpoints (learning-set curves across training)."
)
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir",
    None,
    "Where reports go; default <workdir>/eval/<what was evaluated, e.g. heldout>, or "
    "<first workdir>/../eval/<the same> for the multi-seed report.",
)
flags.mark_flag_as_required("workdir")

_OVERRIDES: list[tuple[str, str]] = []


def _write_eval_summaries(folder: Path, summary: dict, task: Task) -> None:
    """The reward per trial and the task's ``eval_scalars`` as TensorBoard summaries."""
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default(step=summary["env_steps"]):
        tf.summary.scalar("eval/reward_per_trial", summary["reward_per_trial"])
        for tag, value in task.eval_scalars(summary).items():
            tf.summary.scalar(f"eval/{tag}", value)
    writer.flush()


def _lookup(config: ml_collections.ConfigDict, path: str):
    """The value at ``path``, or ``None`` where a config from an older version lacks it."""
    node = config
    for key in path.split("."):
        if key not in node:
            return None
        node = node[key]
    return node


def evaluation_config(workdir: Path) -> ml_collections.ConfigDict:
    """The workdir's training config with the command line's overrides and ``--split``.

    Raises ``ValueError`` naming every override of a field that shapes the agent or
    changes what its inputs mean (the checkpoint cannot work with another value), or
    naming the first invalid field.
    """
    trained = load_config(workdir)
    config = ml_collections.ConfigDict(trained.to_dict())
    apply_overrides(config, _OVERRIDES)
    if _SPLIT.value is not None:
        if "split" not in config.eval:
            raise ValueError(f"--split does not apply to the {config.task!r} task")
        config.eval.split = _SPLIT.value
    task = get_task(config.task)
    fixed = AGENT_FIELDS + task.model_fields + task.input_meaning_fields
    refused = [
        f"config.{path}={_lookup(trained, path)!r} (not {_lookup(config, path)!r})"
        for path in fixed
        if _lookup(trained, path) != _lookup(config, path)
    ]
    if refused:
        raise ValueError(
            f"the checkpoints in {workdir} were trained with {', '.join(refused)}; evaluating "
            "them otherwise cannot work (the agent's inputs or sizes would differ)"
        )
    validate_config(config)
    return config


def default_output_dir(folder: Path, config: ml_collections.ConfigDict) -> Path:
    """``<folder>/eval/<name>``: ``name`` says what ``config`` evaluates (may be empty)."""
    return folder / "eval" / get_task(config.task).evaluation_name(config)


def overrides_used(config: ml_collections.ConfigDict) -> dict[str, object]:
    """The evaluation's changes to the training config, ``{"config.a.b": value}``."""
    used: dict[str, object] = {f"config.{key}": _lookup(config, key) for key, _ in _OVERRIDES}
    if _SPLIT.value is not None:
        used["config.eval.split"] = _SPLIT.value
    return used


def checked_workdirs(values: list[str]) -> list[Path]:
    """The ``--workdir`` values as paths; raises ``ValueError`` on an empty or repeated one."""
    workdirs = [checked_workdir(value) for value in values]
    seen: dict[Path, Path] = {}
    for workdir in workdirs:
        first = seen.setdefault(workdir.resolve(), workdir)
        if first is not workdir:
            raise ValueError(
                f"--workdir {workdir} is given twice (also as {first}): each workdir is one "
                "seed, and a seed must count once"
            )
    return workdirs


def _summaries_writable(summaries_dir: Path, output_dir: Path) -> bool:
    """Whether ``summaries_dir`` takes TensorBoard summaries (else one warning line)."""
    if output_dir == summaries_dir:
        return True  # checked with the other output folders
    try:
        writable_folder(summaries_dir, "the folder of its TensorBoard summaries")
    except WorkdirError as e:
        print_warning(f"{e}; evaluating without writing TensorBoard summaries there")
        return False
    return True


def _evaluate_workdir(
    workdir: Path, config: ml_collections.ConfigDict, output_dir: Path, summaries_dir: Path | None
) -> dict:
    """Evaluates a workdir's checkpoint (and its stages) with ``config``; returns the summary.

    Without ``--checkpoint``, the newest checkpoint that can be read: each newer one that
    cannot gets a warning line and is listed in ``report.json`` (``skipped_checkpoints``).
    The checkpoint is read into memory first, whatever training does meanwhile. The
    TensorBoard summaries go to ``summaries_dir`` (none where it is None).
    """
    task = get_task(config.task)
    report: dict = {"config_overrides": overrides_used(config)}
    if _CHECKPOINT.value:  # that one or an error, never another
        checkpoint = read_checkpoint(resolve_checkpoint(workdir, _CHECKPOINT.value))
    else:
        checkpoint, unreadable = newest_readable_checkpoint(workdir)
        if checkpoint is None:
            raise CheckpointError(
                none_readable(workdir, unreadable)
                if unreadable
                else f"no checkpoint in {workdir / CHECKPOINT_DIR}"
            )
        for error in unreadable:
            print_warning(f"{error}; evaluating the newest readable one, {checkpoint.path}")
        if unreadable:
            report["skipped_checkpoints"] = {e.path: e.reason for e in unreadable}
    episodes = config.eval.episodes if _EPISODES.value is None else _EPISODES.value
    print(f"== {workdir}: {checkpoint.path}, {episodes} episodes", flush=True)
    summary = evaluate_checkpoint(
        config, checkpoint, episodes, _SEED.value, _GREEDY.value, output_dir, report
    )
    if summaries_dir is not None:
        _write_eval_summaries(summaries_dir, summary, task)
    print(task.format_summary(summary))
    if _STAGES.value and not _CHECKPOINT.value:
        stages = evaluate_stages(config, workdir, _SEED.value, _GREEDY.value, output_dir)
        if stages:
            print(f"learning-set curves of {len(stages)} checkpoints: {output_dir}")
    print(f"report: {output_dir / 'report.json'}; plots and CSV in {output_dir}")
    return summary


def main(argv: list[str]) -> None:
    """Entry point: evaluate each workdir, then draw the multi-seed figure."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _CHECKPOINT.value and len(_WORKDIRS.value) > 1:
        raise app.UsageError("--checkpoint applies to a single --workdir")
    install_stop_handlers()  # kill, timeout and schedulers: stop as on Ctrl-C, with one line
    try:
        if _EPISODES.value is not None and _EPISODES.value < 1:
            raise ValueError(f"--episodes must be >= 1, got {_EPISODES.value}")
        workdirs = checked_workdirs(_WORKDIRS.value)
        configs = [evaluation_config(w) for w in workdirs]
        defaults = [default_output_dir(w, c) for w, c in zip(workdirs, configs, strict=True)]
        single = len(workdirs) == 1 and _OUTPUT_DIR.value
        output_dirs = [Path(_OUTPUT_DIR.value) if single else d for d in defaults]
        multi_seed_dir = Path(
            _OUTPUT_DIR.value or default_output_dir(workdirs[0].parent, configs[0])
        )
        # Every folder written to, checked (and created) before the first episode; those
        # created are removed again if the evaluation fails before writing anything there.
        # The default folder also takes the TensorBoard summaries: where the reports go
        # elsewhere (--output_dir), a workdir that cannot take them (read-only) only loses
        # those.
        folders = [
            (default, "an evaluation folder")
            for default, out in zip(defaults, output_dirs, strict=True)
            if out == default
        ]
        if _OUTPUT_DIR.value:
            folders.insert(0, (multi_seed_dir, "--output_dir"))
        elif len(workdirs) > 1:
            folders.append((multi_seed_dir, "the multi-seed report folder"))
        with output_folders(folders):
            summaries = [
                _evaluate_workdir(w, c, out, d if _summaries_writable(d, out) else None)
                for w, c, out, d in zip(workdirs, configs, output_dirs, defaults, strict=True)
            ]
            if len(summaries) > 1:
                _write_multi_seed(summaries, workdirs, get_task(configs[0].task), multi_seed_dir)
    except (CheckpointError, ValueError, DmlabUnavailableError, WorkdirError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as interrupt:
        print(
            f"\n{describe_interrupt(interrupt)}: evaluation stopped; "
            "reports already written are complete",
            file=sys.stderr,
        )
        sys.exit(interrupt_exit_code(interrupt))


def _write_multi_seed(
    summaries: list[dict], workdirs: list[Path], task: Task, output_dir: Path
) -> None:
    """The multi-seed figure and ``seeds.json`` (mean reward, the task's aggregate)."""
    figure = output_dir / "seeds.png"
    task.plot_seeds(summaries, figure)
    rewards = [s["reward_per_trial"] for s in summaries]
    report = {
        "workdirs": [str(w) for w in workdirs],
        "reward_per_trial_mean": float(np.mean(rewards)),
    }
    report["aggregate"] = task.aggregate_seeds(summaries)
    print(task.format_aggregate(report["aggregate"]))
    report["per_seed"] = summaries
    atomic_write_text(output_dir / "seeds.json", json.dumps(report, indent=2) + "\n")
    print(f"multi-seed figure: {figure}; report: {output_dir / 'seeds.json'}")


def run() -> None:
    """Takes the ``--config.*`` overrides out of the command line, then runs ``main``."""
    try:
        overrides, argv = split_overrides(sys.argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    _OVERRIDES[:] = overrides
    app.run(main, argv=argv)


if __name__ == "__main__":
    run()
