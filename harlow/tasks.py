"""The registry of tasks the trainer and the evaluator know (``config.task``)."""

from __future__ import annotations

from harlow.harlow_frames.task import TASK as HARLOW_FRAMES
from harlow.harlow_task.task import TASK as HARLOW
from harlow.task import Task
from harlow.two_step.task import TASK as TWO_STEP

TASKS: dict[str, Task] = {task.name: task for task in (TWO_STEP, HARLOW, HARLOW_FRAMES)}


def get_task(name: str) -> Task:
    """The task called ``name``; raises ``ValueError`` listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}")
    return TASKS[name]
