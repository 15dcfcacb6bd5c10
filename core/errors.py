"""Errors that are meant for the user: a clear, one-line reason, never a traceback."""
from __future__ import annotations


class StudioError(Exception):
    """Base class: the message is shown to the user as it is (UI) or printed as one line (CLI)."""


class DataError(StudioError):
    """A dataset file or folder is missing or malformed.

    ``path`` and ``line`` (1-based, counting the header as line 1) locate the problem where known.
    """

    def __init__(self, message: str, path: object | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.reason = message


class ImageError(DataError):
    """An image could not be decoded or is outside the accepted limits."""
