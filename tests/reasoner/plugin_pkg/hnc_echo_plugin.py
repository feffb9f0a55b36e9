"""A dummy hybrid-nc reasoner plugin: answers every line in capitals (tests only)."""

from __future__ import annotations

from typing import Any

from reasoner.base import Context, Reply


class ShoutReasoner:
    """Shouts the line back; `suffix` shows that create() passes options through."""

    name = "shout"

    def __init__(self, suffix: str = "!") -> None:
        self.suffix = suffix
        self.closed = False

    def answer(self, line: str, context: Context) -> Reply:
        """The line in capitals."""
        return Reply(text=line.upper() + self.suffix, trace={"plugin": "shout", "cols": context.cols})

    def close(self) -> None:
        """Nothing to release."""
        self.closed = True


class NotAReasoner:
    """Has no answer(): the registry must refuse it with a clear message."""

    name = "shout-incomplete"

    def __init__(self, **options: Any) -> None:
        self.options = options
