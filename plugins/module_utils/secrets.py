# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse weak and placeholder secrets before anything is changed.

``secret_weakness`` returns why a value must not be used as a secret, or an empty string when it is
acceptable. The reason never quotes the value, so it can go into play output and logs as it is.
"""

from __future__ import annotations

import re

MIN_LENGTH = 16

# Words that betray a copied example or an unset default. Matched case-insensitively after removing
# separators, so "Change-Me", "CHANGE_ME" and "changeme" are all caught.
PLACEHOLDER_WORDS = (
    "changeme",
    "replaceme",
    "password",
    "passw0rd",
    "secret",
    "example",
    "placeholder",
    "default",
    "dummy",
    "letmein",
    "qwerty",
    "123456",
    "todo",
    "fixme",
    "xxxxxx",
)


def _folded(value: str) -> str:
    return re.sub(r"[\s_\-.]", "", value).lower()


def secret_weakness(value: object) -> str:
    """Return the reason ``value`` is not a usable secret, or ``""`` when it is one."""
    if value is None:
        return "it is not set"
    if not isinstance(value, str):
        return "it is not a string"
    if not value.strip():
        return "it is empty"
    if "{{" in value or "{%" in value:
        return "it looks like an unrendered template"
    if len(value) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    folded = _folded(value)
    for word in PLACEHOLDER_WORDS:
        if word in folded:
            return f"it contains the placeholder '{word}'"
    if len(set(value)) < 4:
        return "it uses fewer than 4 distinct characters"
    return ""
