"""A detector's ``skip_views`` written as the views it reads: every other view is skipped, including
any view added later (a detector that reads only what it was built for stays so)."""

from __future__ import annotations


class OnlyViews:
    __slots__ = ("_read",)

    def __init__(self, *read: str) -> None:
        self._read = frozenset(read)

    def __contains__(self, name: object) -> bool:
        return name not in self._read
