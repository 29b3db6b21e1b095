# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type the engine raises.

Every failure the engine reports is a MutuapixError (or a subclass named for its concern), carrying a
message written for the operator and a ``details`` mapping with the evidence. Modules turn it into a
single ``fail_json``; the host agent prints it and exits non-zero. Details must never hold secrets.
"""

from __future__ import annotations


class MutuapixError(Exception):
    """A failure the operator can act on: ``message`` says what and why, ``details`` holds evidence."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"msg": self.message, **self.details}


class LockHeldError(MutuapixError):
    """Another run holds the lock; overlapping runs are refused, never queued silently."""
