"""The one error type of the dataset tools: a summary plus one line per problem."""

from __future__ import annotations

from collections.abc import Sequence


class DatasetError(ValueError):
    """A dataset (or the input of a dataset tool) is not usable.

    ``summary`` says what failed; ``problems`` holds one line per problem, each
    naming the file or value at fault and what is wrong with it.
    """

    def __init__(self, summary: str, problems: Sequence[str] = ()) -> None:
        self.summary = summary
        self.problems = list(problems)
        super().__init__("\n".join([summary, *(f"  {line}" for line in self.problems)]))
