"""The words config checks are written in: a field, its test, and what it must be.

``harlow.config.validation`` applies the checks every task shares and those each task
declares (``Task.checks``); an error reads "config.<field> must be <requirement>, got X".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldCheck:
    """``config.<path>`` must pass ``is_valid``; ``requirement`` says so in words."""

    path: str
    is_valid: Callable[[Any], bool]
    requirement: str


def one_of(path: str, values: tuple[str, ...]) -> FieldCheck:
    """A field taking one of ``values``; its requirement reads "'a', 'b' or 'c'"."""
    quoted = [repr(value) for value in values]
    listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return FieldCheck(path, lambda v: v in values, listed)


def in_range(path: str, low: float, high: float) -> FieldCheck:
    """A number in ``[low, high]``."""
    return FieldCheck(path, lambda v: low <= v <= high, f"in [{low}, {high}]")


def at_least(path: str, low: float) -> FieldCheck:
    """A number ``>= low``."""
    return FieldCheck(path, lambda v: v >= low, f">= {low}")


def positive(path: str) -> FieldCheck:
    """A number ``> 0``."""
    return FieldCheck(path, lambda v: v > 0, "> 0")


def probability(path: str) -> FieldCheck:
    """A number in ``[0, 1]``."""
    return FieldCheck(path, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")


def boolean(path: str) -> FieldCheck:
    """``true`` or ``false`` (not a string or number standing for one)."""
    return FieldCheck(path, lambda v: isinstance(v, bool), "true or false")
