"""Figure titles: settings joined into lines of a width, for every task's plots."""

from __future__ import annotations


def join_lines(parts: list[str], width: int) -> list[str]:
    """``parts`` joined by commas into lines of at most ``width`` characters (a part longer
    than that gets a line of its own)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(part) + 2 <= width:
            lines[-1] += f", {part}"
        elif lines:
            lines[-1] += ","
            lines.append(part)
        else:
            lines.append(part)
    return lines
