"""What an observation vector holds: its parts, in order, with their shapes and kinds.

Every environment hands the agent one flat float32 vector per step. Its observer (or
the environment itself) publishes an ``ObservationSpec`` saying what the vector is made
of, e.g. three 24x24 grayscale images, or three one-hot vectors of 2 image ids. A task
computes the spec from its config alone, so the agent is built without an environment,
and the conv encoder reads its patch layout from the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ONE_HOT = "one-hot"  # a vector with at most one 1, zeros elsewhere (all zeros: unknown)
IMAGE = "image"  # a grayscale image in [0, 1], rows flattened
KINDS = (ONE_HOT, IMAGE)


@dataclass(frozen=True)
class ObservationPart:
    """One part of the observation vector: ``name``, ``shape`` and ``kind`` (``KINDS``).

    A one-hot part has shape ``(length,)``, an image ``(height, width)``.
    """

    name: str
    shape: tuple[int, ...]
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"observation part {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        dims = 1 if self.kind == ONE_HOT else 2
        if len(self.shape) != dims or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in self.shape
        ):
            raise ValueError(
                f"observation part {self.name!r} ({self.kind}): its shape must be {dims} "
                f"positive int(s), got {self.shape!r}"
            )

    @property
    def size(self) -> int:
        """Values this part takes in the flat vector."""
        return math.prod(self.shape)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind} {'x'.join(map(str, self.shape))})"


@dataclass(frozen=True)
class ObservationSpec:
    """The parts of a flat observation vector, in the order they are concatenated."""

    parts: tuple[ObservationPart, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("an observation spec needs at least one part")
        names = [part.name for part in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"observation part names must differ, got {names}")

    @property
    def size(self) -> int:
        """Length of the flat observation vector."""
        return sum(part.size for part in self.parts)

    def image_layout(self) -> tuple[int, int]:
        """``(images, side)`` of an observation made only of square images of one size.

        Raises ``ValueError`` otherwise: a patch encoder cannot read it.
        """
        shapes = {part.shape for part in self.parts}
        if any(part.kind != IMAGE for part in self.parts) or len(shapes) != 1:
            raise ValueError(f"not made of images of one size: {self}")
        ((height, width),) = shapes
        if height != width:
            raise ValueError(f"not made of square images: {self}")
        return len(self.parts), height

    def __str__(self) -> str:
        return ", ".join(str(part) for part in self.parts)
