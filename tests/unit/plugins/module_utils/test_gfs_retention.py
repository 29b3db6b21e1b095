"""GFS retention: tables for the calendar's corners, properties for everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mutuapix.infra.plugins.module_utils.gfs_retention import (
    RetentionError,
    RetentionItem,
    RetentionPolicy,
    apply_retention,
    parse_duration,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def items_at(*stamps: str, size: int = 0) -> list:
    return [RetentionItem(stamp, at(stamp), size) for stamp in stamps]


def kept(items, policy, now=NOW) -> set:
    return set(apply_retention(items, policy, now).keep)


def test_nothing_to_decide_for_no_backups():
    decision = apply_retention([], RetentionPolicy(keep_last=3), NOW)
    assert (decision.keep, decision.delete) == ({}, [])


def test_an_empty_policy_keeps_everything():
    items = items_at("2026-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00")
    assert kept(items, RetentionPolicy()) == {item.id for item in items}


def test_keep_last_keeps_the_newest_n_whatever_their_spacing():
    items = items_at(*(f"2026-06-{day:02d}T02:00:00+00:00" for day in range(1, 11)))
    decision = apply_retention(items, RetentionPolicy(keep_last=3), NOW)
    assert list(decision.keep) == [f"2026-06-{day:02d}T02:00:00+00:00" for day in (10, 9, 8)]
    assert decision.delete == [f"2026-06-{day:02d}T02:00:00+00:00" for day in range(7, 0, -1)]


def test_the_newest_backup_survives_a_policy_that_matches_nothing():
    items = items_at("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00")
    decision = apply_retention(items, RetentionPolicy(keep_within=timedelta(hours=1)), NOW)
    assert decision.keep == {"2026-01-02T00:00:00+00:00": ["newest"]}


def test_held_backups_are_kept_whatever_their_age():
    items = [
        *items_at("2026-06-14T02:00:00+00:00"),
        RetentionItem("pre-migrate", at("2019-01-01T00:00:00+00:00"), held=True),
    ]
    decision = apply_retention(items, RetentionPolicy(keep_last=1), NOW)
    assert decision.keep["pre-migrate"] == ["held"]


def test_daily_keeps_the_newest_of_each_day():
    items = items_at("2026-06-14T02:00:00+00:00", "2026-06-14T14:00:00+00:00", "2026-06-13T02:00:00+00:00")
    assert kept(items, RetentionPolicy(keep_daily=2)) == {"2026-06-14T14:00:00+00:00", "2026-06-13T02:00:00+00:00"}


def test_daily_counts_days_that_have_backups_so_gaps_do_not_shorten_history():
    items = items_at(*(f"2026-06-{day:02d}T02:00:00+00:00" for day in (1, 5, 9, 10)))
    assert kept(items, RetentionPolicy(keep_daily=3)) == {
        "2026-06-10T02:00:00+00:00",
        "2026-06-09T02:00:00+00:00",
        "2026-06-05T02:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # In UTC the two late backups fall on two days.
        ("UTC", {"2026-03-01T23:30:00+00:00", "2026-03-02T00:30:00+00:00"}),
        # In New York (UTC-5) both are the evening of 1 March: the older one yields to 28 February's.
        ("America/New_York", {"2026-03-02T00:30:00+00:00", "2026-02-28T12:00:00+00:00"}),
        # In Kolkata (UTC+5:30) both are the morning of 2 March.
        ("Asia/Kolkata", {"2026-03-02T00:30:00+00:00", "2026-02-28T12:00:00+00:00"}),
    ],
)
def test_days_are_taken_in_the_policy_time_zone(zone, expected):
    items = items_at("2026-03-01T23:30:00+00:00", "2026-03-02T00:30:00+00:00", "2026-02-28T12:00:00+00:00")
    assert kept(items, RetentionPolicy(keep_daily=2, timezone=zone)) == expected


def test_a_dst_change_neither_merges_nor_splits_local_days():
    # Berlin springs forward on 29 March 2026: 00:30 local is 23:30 UTC before and 22:30 UTC after.
    stamps = [
        "2026-03-27T23:30:00+00:00",  # 28 March local
        "2026-03-28T23:30:00+00:00",  # 29 March local (CET, before the switch at 02:00)
        "2026-03-29T22:30:00+00:00",  # 30 March local (CEST)
        "2026-03-30T22:30:00+00:00",  # 31 March local
    ]
    decision = apply_retention(items_at(*stamps), RetentionPolicy(keep_daily=4, timezone="Europe/Berlin"), NOW)
    assert [reason for reasons in decision.keep.values() for reason in reasons if reason.startswith("daily")] == [
        "daily 2026-03-31",
        "daily 2026-03-30",
        "daily 2026-03-29",
        "daily 2026-03-28",
    ]


def test_monthly_takes_the_last_backup_of_each_month_including_leap_day():
    items = items_at(
        "2028-01-31T02:00:00+00:00",
        "2028-02-28T02:00:00+00:00",
        "2028-02-29T02:00:00+00:00",
        "2028-03-01T02:00:00+00:00",
    )
    decision = apply_retention(items, RetentionPolicy(keep_monthly=3), datetime(2028, 3, 2, tzinfo=UTC))
    assert decision.delete == ["2028-02-28T02:00:00+00:00"]
    assert decision.keep["2028-02-29T02:00:00+00:00"] == ["monthly 2028-02"]


def test_month_ends_of_short_and_long_months_are_distinct_buckets():
    items = items_at("2026-04-30T23:00:00+00:00", "2026-05-01T00:00:00+00:00", "2026-05-31T23:59:59+00:00")
    decision = apply_retention(items, RetentionPolicy(keep_monthly=2), NOW)
    assert set(decision.keep) == {"2026-05-31T23:59:59+00:00", "2026-04-30T23:00:00+00:00"}


def test_weekly_uses_iso_weeks_across_the_new_year():
    # 31 Dec 2026 (Thursday) and 1 Jan 2027 (Friday) are both in ISO week 2026-W53.
    items = items_at("2026-12-31T02:00:00+00:00", "2027-01-01T02:00:00+00:00", "2027-01-04T02:00:00+00:00")
    decision = apply_retention(items, RetentionPolicy(keep_weekly=2), datetime(2027, 1, 5, tzinfo=UTC))
    assert decision.keep == {
        "2027-01-04T02:00:00+00:00": ["newest", "weekly 2027-W01"],
        "2027-01-01T02:00:00+00:00": ["weekly 2026-W53"],
    }
    assert decision.delete == ["2026-12-31T02:00:00+00:00"]


def test_yearly_keeps_the_last_backup_of_each_year():
    items = items_at("2026-12-31T23:59:00+00:00", "2027-01-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00")
    decision = apply_retention(items, RetentionPolicy(keep_yearly=2), datetime(2027, 2, 1, tzinfo=UTC))
    assert set(decision.keep) == {"2027-01-01T00:00:00+00:00", "2026-12-31T23:59:00+00:00"}


def test_keep_within_keeps_everything_newer_than_the_cutoff_inclusive():
    items = items_at("2026-06-05T12:00:00+00:00", "2026-06-05T11:59:59+00:00", "2026-06-15T00:00:00+00:00")
    assert kept(items, RetentionPolicy(keep_within=timedelta(days=10))) == {
        "2026-06-05T12:00:00+00:00",
        "2026-06-15T00:00:00+00:00",
    }


def test_rules_combine_and_every_reason_is_reported():
    items = items_at(*(f"2026-{month:02d}-28T02:00:00+00:00" for month in range(1, 7)))
    decision = apply_retention(items, RetentionPolicy(keep_last=1, keep_daily=2, keep_monthly=4), NOW)
    assert decision.keep["2026-06-28T02:00:00+00:00"] == ["newest", "last", "daily 2026-06-28", "monthly 2026-06"]
    assert decision.keep["2026-05-28T02:00:00+00:00"] == ["daily 2026-05-28", "monthly 2026-05"]
    assert decision.delete == ["2026-02-28T02:00:00+00:00", "2026-01-28T02:00:00+00:00"]


def test_size_cap_drops_the_oldest_kept_first():
    items = items_at(*(f"2026-06-{day:02d}T02:00:00+00:00" for day in range(1, 6)), size=100)
    decision = apply_retention(items, RetentionPolicy(keep_daily=5, max_total_bytes=250), NOW)
    assert list(decision.keep) == ["2026-06-05T02:00:00+00:00", "2026-06-04T02:00:00+00:00"]
    assert decision.over_cap is False


def test_size_cap_never_removes_the_newest_or_held_and_reports_it_still_overflows():
    items = [
        RetentionItem("new", at("2026-06-14T00:00:00+00:00"), 300),
        RetentionItem("held", at("2026-01-01T00:00:00+00:00"), 300, held=True),
        RetentionItem("mid", at("2026-03-01T00:00:00+00:00"), 10),
    ]
    decision = apply_retention(items, RetentionPolicy(keep_last=3, max_total_bytes=100), NOW)
    assert set(decision.keep) == {"new", "held"}
    assert decision.delete == ["mid"]
    assert decision.over_cap is True


def test_a_cap_alone_applies_to_everything():
    items = items_at("2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", size=10)
    assert kept(items, RetentionPolicy(max_total_bytes=10)) == {"2026-06-02T00:00:00+00:00"}


def test_equal_timestamps_are_ordered_by_id_so_decisions_are_stable():
    moment = at("2026-06-01T00:00:00+00:00")
    items = [RetentionItem("b", moment), RetentionItem("a", moment)]
    assert list(apply_retention(items, RetentionPolicy(keep_last=1), NOW).keep) == ["b"]
    assert list(apply_retention(items[::-1], RetentionPolicy(keep_last=1), NOW).keep) == ["b"]


@pytest.mark.parametrize(
    "policy",
    [
        RetentionPolicy(keep_last=-1),
        RetentionPolicy(keep_weekly=-2),
        RetentionPolicy(keep_within=timedelta(days=-1)),
        RetentionPolicy(max_total_bytes=-5),
        RetentionPolicy(timezone="Mars/Olympus_Mons"),
    ],
)
def test_invalid_policies_are_refused(policy):
    with pytest.raises(RetentionError):
        apply_retention(items_at("2026-06-01T00:00:00+00:00"), policy, NOW)


def test_naive_timestamps_are_refused():
    with pytest.raises(RetentionError):
        apply_retention([RetentionItem("x", datetime(2026, 1, 1))], RetentionPolicy(keep_last=1), NOW)


# Properties over arbitrary histories: hourly-ish backups spread over ~3 years, any policy.
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC))
histories = st.lists(st.tuples(moments, st.integers(0, 1000), st.booleans()), max_size=60).map(
    lambda rows: [RetentionItem(f"b{n}", moment, size, held) for n, (moment, size, held) in enumerate(rows)]
)
policies = st.builds(
    RetentionPolicy,
    keep_last=st.integers(0, 5),
    keep_daily=st.integers(0, 10),
    keep_weekly=st.integers(0, 6),
    keep_monthly=st.integers(0, 13),
    keep_yearly=st.integers(0, 3),
    keep_within=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    max_total_bytes=st.none() | st.integers(0, 20000),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Chatham"]),
)


@settings(max_examples=300, deadline=None)
@given(histories, policies)
def test_every_backup_is_decided_once_and_newest_and_held_always_stay(items, policy):
    decision = apply_retention(items, policy, NOW)
    assert set(decision.keep) | set(decision.delete) == {item.id for item in items}
    assert not set(decision.keep) & set(decision.delete)
    if items:
        newest = max(items, key=lambda item: (item.timestamp, item.id))
        assert newest.id in decision.keep
    assert all(item.id in decision.keep for item in items if item.held)


@settings(max_examples=300, deadline=None)
@given(histories, policies)
def test_bucket_rules_keep_at_most_their_count_and_only_each_buckets_newest(items, policy):
    decision = apply_retention(items, policy, NOW)
    by_id = {item.id: item for item in items}
    for rule, count in (("daily", policy.keep_daily), ("weekly", policy.keep_weekly), ("monthly", policy.keep_monthly)):
        buckets = [reason for reasons in decision.keep.values() for reason in reasons if reason.startswith(rule + " ")]
        assert len(buckets) <= count
        assert len(buckets) == len(set(buckets))
    for item_id, reasons in decision.keep.items():
        for reason in reasons:
            if reason.startswith("daily "):
                day = reason.split(" ")[1]
                zone = policy.zone()
                same_day = [i for i in items if i.timestamp.astimezone(zone).strftime("%Y-%m-%d") == day]
                assert max(same_day, key=lambda i: (i.timestamp, i.id)) is by_id[item_id]


@settings(max_examples=200, deadline=None)
@given(histories, policies)
def test_without_a_cap_retention_is_idempotent(items, policy):
    uncapped = RetentionPolicy(**{**policy.__dict__, "max_total_bytes": None})
    first = apply_retention(items, uncapped, NOW)
    survivors = [item for item in items if item.id in first.keep]
    assert apply_retention(survivors, uncapped, NOW).delete == []


@settings(max_examples=200, deadline=None)
@given(histories, policies, st.integers(1, 5))
def test_a_more_generous_policy_never_deletes_more(items, policy, extra):
    uncapped = RetentionPolicy(**{**policy.__dict__, "max_total_bytes": None})
    generous = RetentionPolicy(**{**uncapped.__dict__, "keep_daily": uncapped.keep_daily + extra})
    assert set(apply_retention(items, generous, NOW).delete) <= set(apply_retention(items, uncapped, NOW).delete)


@settings(max_examples=200, deadline=None)
@given(histories, policies)
def test_the_cap_is_met_unless_protected_backups_alone_exceed_it(items, policy):
    decision = apply_retention(items, policy, NOW)
    if policy.max_total_bytes is None:
        return
    total = sum(item.size for item in items if item.id in decision.keep)
    assert (total > policy.max_total_bytes) == decision.over_cap
    if decision.over_cap:
        protected = {"newest", "held"}
        assert all(set(reasons) & protected for reasons in decision.keep.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", timedelta(hours=36)),
        ("14d", timedelta(days=14)),
        ("2w", timedelta(weeks=2)),
        ("1w 3d", timedelta(days=10)),
    ],
)
def test_durations_are_parsed(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "14", "d", "3m", "1y", "-1d", "1d-2h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(RetentionError):
        parse_duration(text)
