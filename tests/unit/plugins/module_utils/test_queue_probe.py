"""The probe's state file and the queue findings derived from it (no servers needed)."""

from __future__ import annotations

from ansible_collections.mutuapix.infra.plugins.module_utils import queue_probe
from ansible_collections.mutuapix.infra.plugins.module_utils.fsutil import write_json_atomic
from ansible_collections.mutuapix.infra.plugins.module_utils.laravel_queue import FailedJobs, QueueDepth

NOW = 2_000_000.0


def test_missing_torn_or_foreign_state_means_no_previous_probe(tmp_path):
    path = tmp_path / "state.json"
    assert queue_probe.load_state(str(path)) == {}
    path.write_text("{not json")
    assert queue_probe.load_state(str(path)) == {}
    write_json_atomic(str(path), {"version": 99})
    assert queue_probe.load_state(str(path)) == {}
    write_json_atomic(str(path), {"version": 1, "probed_at": 5})
    assert queue_probe.load_state(str(path)) == {"version": 1, "probed_at": 5}
    assert queue_probe.load_state(None) == {}


def test_queue_findings_carry_the_head_forward():
    config = queue_probe.ProbeConfig(driver="database", queues=["default"])
    depth = QueueDepth("database", "default", 4, 0, 1, 0, 20.0, "41")
    failed = FailedJobs(total=3, in_window=1, window=3600, by_queue={"default": 3})
    previous = {
        "probed_at": NOW - 400,
        "failed_total": 3,
        "queues": {"database:default": {"head_job": "41", "head_since": NOW - 400}},
    }

    findings, state = queue_probe.queue_findings(config, [depth], failed, previous, NOW)

    assert [f["rule"] for f in findings] == ["stalled_no_progress"]
    assert state == {
        "version": 1,
        "probed_at": NOW,
        "failed_total": 3,
        "queues": {"database:default": {"head_job": "41", "head_since": NOW - 400}},
    }


def test_without_failed_jobs_source_the_state_has_no_count():
    config = queue_probe.ProbeConfig(driver="redis", queues=["default"])
    findings, state = queue_probe.queue_findings(
        config, [QueueDepth("redis", "default", 0, 0, 0, 0, None, None)], None, {}, NOW
    )
    assert findings == []
    assert "failed_total" not in state
