# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What /proc says about a worker: resident memory of it and its children, and its command line.

A worker's memory is counted with its descendants because a program may be started through a shell
or wrapper, and a job may fork; supervisord's ``killasgroup`` kills them all together too.
"""

from __future__ import annotations

import os

PROC = "/proc"


def _parent_of(pid: int, proc: str) -> int | None:
    try:
        with open(os.path.join(proc, str(pid), "stat"), encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def descendants(pid: int, proc: str = PROC) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir(proc):
        if entry.isdigit():
            parent = _parent_of(int(entry), proc)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def rss_kib(pid: int, proc: str = PROC) -> int | None:
    """VmRSS of one process in KiB, or None if it is gone (or a kernel thread without one)."""
    try:
        with open(os.path.join(proc, str(pid), "status"), encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def tree_rss_kib(pid: int, proc: str = PROC) -> int | None:
    """Resident memory of ``pid`` plus all its descendants, in KiB; None if ``pid`` is gone."""
    own = rss_kib(pid, proc)
    if own is None:
        return None
    return own + sum(rss_kib(child, proc) or 0 for child in descendants(pid, proc))


def cmdline(pid: int, proc: str = PROC) -> list[str]:
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def option_value(argv: list[str], option: str) -> str | None:
    """The value of ``--option=value`` or ``--option value`` in an argument list, as Symfony Console reads it."""
    for index, arg in enumerate(argv):
        if arg.startswith(option + "="):
            return arg[len(option) + 1 :]
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
    return None
