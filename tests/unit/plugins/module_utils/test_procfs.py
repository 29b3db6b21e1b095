"""Reading a worker's memory and --memory option from /proc (this test process is the subject)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import procfs


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["php", "artisan", "queue:work", "--memory=512"], "512"),
        (["php", "artisan", "queue:work", "--memory", "256", "--tries=3"], "256"),
        (["php", "artisan", "queue:work", "--memory-limit=9"], None),
        (["php", "artisan", "queue:work", "--memory"], None),
    ],
)
def test_option_value(argv, value):
    assert procfs.option_value(argv, "--memory") == value


def test_tree_rss_counts_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (30 * 1024 * 1024); time.sleep(30)"])
    try:
        own = procfs.rss_kib(os.getpid())
        assert child.pid in procfs.descendants(os.getpid())
        for _attempt in range(100):
            if (procfs.rss_kib(child.pid) or 0) > 30 * 1024:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert procfs.tree_rss_kib(os.getpid()) >= own + 30 * 1024
    finally:
        child.kill()
        child.wait()


def test_gone_process_has_no_rss_or_cmdline():
    child = subprocess.Popen(["true"])
    child.wait()
    assert procfs.rss_kib(child.pid) is None
    assert procfs.tree_rss_kib(child.pid) is None
    assert procfs.cmdline(child.pid) == []
