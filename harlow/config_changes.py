"""Which config fields may differ from the ones a run was trained with, and when.

A resumed run (``harlow.train`` on a workdir with a checkpoint) may change the schedule
fields in ``RESUMABLE_FIELDS`` (total steps, learning rate, entropy, gradient clipping,
logging, checkpoint cadence, evaluation, worker processes, DeepMind Lab's episodes per
reset): they are applied and logged. Any other change (network sizes, observations, the
task's parameters, the loss, the seed) would make the checkpoint mean something else,
and is refused. Fields added to (or removed from) the configs since the run started are
logged, not refused: the run's ``config.json`` cannot have them, and the code reading a
config keeps the old behaviour for a field it lacks.
Evaluation refuses the fields that shape the agent (``Task.model_fields``) and those in
``INPUT_MEANING_FIELDS``, which change what the agent's inputs mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ml_collections

RESUMABLE_FIELDS = (
    "train.total_env_steps",
    "train.learning_rate",
    "train.entropy_coef",
    "train.entropy_coef_final",
    "train.max_grad_norm",
    "train.log_every_updates",
    "train.checkpoint_every_seconds",
    "train.keep_checkpoints",
    "env.num_workers",
    "env.dmlab_episodes_per_reset",
)
RESUMABLE_PREFIXES = ("eval.",)  # evaluation settings do not touch training

# Per task: fields that keep the agent's shapes but change what its inputs mean.
INPUT_MEANING_FIELDS: dict[str, tuple[str, ...]] = {
    "two_step": (),
    # Per-episode ids (first image seen = 0) or per-dataset ids: same one-hot size,
    # another meaning.
    "harlow": ("env.id_scope",),
}


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


def is_resumable(path: str) -> bool:
    """Whether a resumed run may change the field at ``path``."""
    return path in RESUMABLE_FIELDS or path.startswith(RESUMABLE_PREFIXES)


def check_resume_changes(
    old: ml_collections.ConfigDict, new: ml_collections.ConfigDict, workdir: object
) -> list[Change]:
    """The changes a resume of ``workdir`` applies; raises ``ValueError`` naming any other."""
    changes = config_changes(old, new)
    refused = [
        c
        for c in changes
        if not is_resumable(c.path) and ABSENT not in (c.old, c.new)  # in both configs
    ]
    if refused:
        raise ValueError(
            f"cannot resume {workdir} with a changed "
            + ", ".join(str(c) for c in refused)
            + ": the checkpoint was trained with the old value(s). Use them, or train "
            f"in another --workdir. A resume may change: {', '.join(RESUMABLE_FIELDS)}, eval.*"
        )
    return changes
