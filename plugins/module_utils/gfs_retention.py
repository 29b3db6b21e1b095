# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grandfather-father-son retention as a pure function: which backups to keep, and why.

The rules follow restic's ``forget`` semantics, which operators already know: ``keep_daily: 7`` keeps
the newest backup of each of the 7 most recent days *that have a backup* (a gap of missed nights does
not shorten history). Days, ISO weeks, months and years are taken in the policy's time zone, so a
backup at 00:30 local time counts for the local day. A size cap then drops the oldest kept backups.
Whatever the policy, the newest backup and every held backup are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import MutuapixError

NEWEST = "newest"
HELD = "held"


class RetentionError(MutuapixError):
    """The policy or the backups given to it are invalid."""


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: timedelta | None = None
    max_total_bytes: int | None = None
    timezone: str = "UTC"

    def validate(self) -> None:
        counts = (self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly)
        if any(count < 0 for count in counts):
            raise RetentionError("keep_* counts must not be negative", policy=repr(self))
        if self.keep_within is not None and self.keep_within < timedelta(0):
            raise RetentionError("keep_within must not be negative", policy=repr(self))
        if self.max_total_bytes is not None and self.max_total_bytes < 0:
            raise RetentionError("the size cap must not be negative", policy=repr(self))
        self.zone()

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RetentionError(f"unknown time zone {self.timezone!r}", timezone=self.timezone) from exc

    @property
    def has_keep_rules(self) -> bool:
        counts = (self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly)
        return any(counts) or self.keep_within is not None


@dataclass(frozen=True)
class RetentionItem:
    id: str
    timestamp: datetime
    size: int = 0
    held: bool = False


@dataclass
class RetentionDecision:
    """``keep`` maps ids to the reasons they stay; both lists are newest first."""

    keep: dict = field(default_factory=dict)
    delete: list = field(default_factory=list)
    over_cap: bool = False


def _daily(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _weekly(moment: datetime) -> str:
    iso = moment.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _monthly(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _yearly(moment: datetime) -> str:
    return moment.strftime("%Y")


BUCKETS: tuple[tuple[str, str, Callable[[datetime], str]], ...] = (
    ("daily", "keep_daily", _daily),
    ("weekly", "keep_weekly", _weekly),
    ("monthly", "keep_monthly", _monthly),
    ("yearly", "keep_yearly", _yearly),
)


def apply_retention(items: Sequence[RetentionItem], policy: RetentionPolicy, now: datetime) -> RetentionDecision:
    """Decide, for every item, whether it stays (with the rules that keep it) or goes.

    With no keep rule at all everything stays (only the size cap, if any, removes backups): an empty
    policy must never be read as "delete everything".
    """
    policy.validate()
    _check_aware(items, now)
    ordered = sorted(items, key=lambda item: (item.timestamp, item.id), reverse=True)
    reasons: dict[str, list] = {item.id: [] for item in ordered}
    if not ordered:
        return RetentionDecision()
    reasons[ordered[0].id].append(NEWEST)
    for item in ordered:
        if item.held:
            reasons[item.id].append(HELD)
    _keep_rules(ordered, policy, now, reasons)
    if not policy.has_keep_rules:
        for item in ordered:
            reasons[item.id].append("no keep rule")
    over_cap = _apply_size_cap(ordered, policy.max_total_bytes, reasons)
    return RetentionDecision(
        keep={item.id: reasons[item.id] for item in ordered if reasons[item.id]},
        delete=[item.id for item in ordered if not reasons[item.id]],
        over_cap=over_cap,
    )


def _check_aware(items: Sequence[RetentionItem], now: datetime) -> None:
    naive = [item.id for item in items if item.timestamp.tzinfo is None]
    if naive or now.tzinfo is None:
        raise RetentionError("retention needs time-zone-aware timestamps", naive_items=naive[:5])


def _keep_rules(ordered: list, policy: RetentionPolicy, now: datetime, reasons: dict) -> None:
    for item in ordered[: policy.keep_last]:
        reasons[item.id].append("last")
    if policy.keep_within is not None:
        cutoff = now - policy.keep_within
        for item in ordered:
            if item.timestamp >= cutoff:
                reasons[item.id].append("within")
    zone = policy.zone()
    for name, attribute, bucket_of in BUCKETS:
        _keep_newest_per_bucket(
            ordered, getattr(policy, attribute), name, lambda t, f=bucket_of: f(t.astimezone(zone)), reasons
        )


def _keep_newest_per_bucket(ordered: list, count: int, name: str, bucket_of: Callable, reasons: dict) -> None:
    """Keep the newest item of each of the ``count`` most recent buckets that hold an item."""
    seen: set = set()
    for item in ordered:
        if len(seen) >= count:
            return
        bucket = bucket_of(item.timestamp)
        if bucket not in seen:
            seen.add(bucket)
            reasons[item.id].append(f"{name} {bucket}")


def _apply_size_cap(ordered: list, cap: int | None, reasons: dict) -> bool:
    """Drop the oldest kept, unprotected items until the kept total fits; True if it still does not."""
    if cap is None:
        return False
    kept = [item for item in ordered if reasons[item.id]]
    total = sum(item.size for item in kept)
    for item in reversed(kept):
        if total <= cap:
            break
        if NEWEST in reasons[item.id] or HELD in reasons[item.id]:
            continue
        reasons[item.id].clear()
        total -= item.size
    return total > cap


DURATION_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
DURATION = re.compile(r"(\d+)([hdw])")


def parse_duration(text: str) -> timedelta:
    """``keep_within`` as written by operators: V(36h), V(14d), V(2w) or combinations like V(1w3d)."""
    compact = text.replace(" ", "").lower()
    parts = DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise RetentionError(f"{text!r} is not a duration such as 36h, 14d, 2w or 1w3d", value=text)
    return sum((int(number) * DURATION_UNITS[unit] for number, unit in parts), timedelta(0))
