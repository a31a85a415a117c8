"""Which config fields may differ from the ones a run was trained with, and when.

A resumed run (``harlow.train`` on a workdir with a checkpoint) may change the schedule
fields in ``RESUMABLE_FIELDS`` (total steps, learning rate, entropy, gradient clipping,
logging, checkpoint cadence, XLA compilation, evaluation) and its task's
``Task.resumable_fields`` (for Harlow: worker processes, DeepMind Lab's episodes per
reset): they are applied and logged. Any other change (network sizes, observations, the
task's parameters, the loss, the seed) would make the checkpoint mean something else,
and is refused. Fields added to (or removed from) the configs since the run started are
logged, not refused: the run's ``config.json`` cannot have them, and the code reading a
config keeps the old behaviour for a field it lacks.
Evaluation refuses the fields that shape the agent (``harlow.agent.builder.AGENT_FIELDS``
and the task's ``Task.model_fields``) and those that change what its inputs mean
(``Task.input_meaning_fields``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ml_collections

from harlow.tasks import get_task

RESUMABLE_FIELDS = (
    "train.total_env_steps",
    "train.learning_rate",
    "train.entropy_coef",
    "train.entropy_coef_final",
    "train.max_grad_norm",
    "train.log_every_updates",
    "train.checkpoint_every_seconds",
    "train.keep_checkpoints",
    "train.jit_compile",
)
RESUMABLE_PREFIXES = ("eval.",)  # evaluation settings do not touch training


class _Absent:
    """Stands for a field one of two configs lacks."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


@dataclass(frozen=True)
class Change:
    """One field whose value differs between two configs."""

    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"config.{self.path} {self.old!r} -> {self.new!r}"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of a nested dict."""
    if not isinstance(node, dict):
        return {prefix: node}
    leaves: dict[str, Any] = {}
    for key, value in node.items():
        leaves |= _flatten(value, f"{prefix}.{key}" if prefix else key)
    return leaves


def config_changes(old: ml_collections.ConfigDict, new: ml_collections.ConfigDict) -> list[Change]:
    """The fields that differ, compared as ``config.json`` stores them (tuples as lists).

    A field only one config has is a change from or to ``ABSENT``.
    """
    before, after = (_flatten(json.loads(json.dumps(c.to_dict()))) for c in (old, new))
    return [
        Change(path, before.get(path, ABSENT), after.get(path, ABSENT))
        for path in sorted(before.keys() | after.keys())
        if before.get(path, ABSENT) != after.get(path, ABSENT)
    ]


def resumable_fields(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The fields a resumed run of ``config.task`` may change (and ``eval.*``)."""
    return RESUMABLE_FIELDS + get_task(config.task).resumable_fields


def check_resume_changes(
    old: ml_collections.ConfigDict, new: ml_collections.ConfigDict, workdir: object
) -> list[Change]:
    """The changes a resume of ``workdir`` applies; raises ``ValueError`` naming any other."""
    changes = config_changes(old, new)
    resumable = resumable_fields(new)
    refused = [
        c
        for c in changes
        if c.path not in resumable
        and not c.path.startswith(RESUMABLE_PREFIXES)
        and ABSENT not in (c.old, c.new)  # in both configs
    ]
    if refused:
        raise ValueError(
            f"cannot resume {workdir} with a changed "
            + ", ".join(str(c) for c in refused)
            + ": the checkpoint was trained with the old value(s). Use them, or train "
            f"in another --workdir. A resume may change: {', '.join(resumable)}, eval.*"
        )
    return changes
