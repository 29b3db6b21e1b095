"""The pure parts of the Laravel queue readers: identifiers, drivers and job identities."""

from __future__ import annotations

import json

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import laravel_queue as lq


@pytest.mark.parametrize("name", ["jobs", "failed_jobs", "queue_jobs2"])
def test_plain_table_names_are_quoted(name):
    assert lq.quote_identifier(name) == f"`{name}`"


@pytest.mark.parametrize("name", ["jobs`; DROP TABLE x; --", "", "db.jobs", "a" * 65])
def test_anything_else_is_refused(name):
    with pytest.raises(lq.QueueBackendError, match="not a plain SQL table name"):
        lq.quote_identifier(name)


def test_unknown_driver():
    lq.check_driver("database")
    lq.check_driver("redis")
    with pytest.raises(lq.QueueBackendError) as caught:
        lq.check_driver("beanstalkd")
    assert caught.value.details == {"driver": "beanstalkd"}


@pytest.mark.parametrize(
    ("raw", "identity"),
    [
        (None, (None, None)),
        (json.dumps({"id": "abc", "uuid": "u", "createdAt": 1700000000}).encode(), ("abc", 1700000000.0)),
        (json.dumps({"uuid": "u"}).encode(), ("u", None)),  # payloads before Laravel 11 carry no createdAt
        (b"not json", ("not json", None)),
    ],
)
def test_job_identity(raw, identity):
    assert lq._job_identity(raw) == identity
