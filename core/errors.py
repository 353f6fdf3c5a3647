"""Errors a creator can act on. Each class carries the CLI exit code it maps to."""
from __future__ import annotations

from typing import Iterable


class MouthpieceError(Exception):
    """Base class; the message is one line meant for the creator, never a traceback."""

    exit_code = 1


class BadInputError(MouthpieceError):
    """The input cannot be used (corrupt file, no face, no audio stream, out of GPU memory...)."""

    exit_code = 2


class MissingWeightsError(MouthpieceError):
    """Model files are absent; the message names them and the command that fetches them."""

    exit_code = 3

    def __init__(self, engine: str, missing: Iterable[str]):
        self.engine = engine
        self.missing = list(missing)
        shown = ", ".join(self.missing[:6]) + (f" and {len(self.missing) - 6} more" if len(self.missing) > 6 else "")
        super().__init__(
            f"missing model files for {engine}: {shown}. "
            f"Fetch them with: python download_weights.py --engine {engine}"
        )


class JobCancelled(MouthpieceError):
    """The creator cancelled the job; raised between batches."""

    exit_code = 130
