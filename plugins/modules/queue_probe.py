#!/usr/bin/python
# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a module)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules keep their documentation strings above the imports, so imports are not at the top.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: queue_probe
short_description: Probe Laravel queue workers under supervisord and judge their health
version_added: 0.1.0
description:
  - Reads the workers' state from supervisord's own XML-RPC interface on its unix socket (not by
    parsing C(supervisorctl) output) -- each process's state, uptime, PID and last exit status --
    plus its resident memory (with children) from C(/proc), the C(--memory) limit from its command
    line, and its recent exits from supervisord's main log.
  - Reads the queue itself, for Laravel's C(database) driver (the C(jobs) table) or C(redis) driver
    (C(queues:<name>) lists and their C(:delayed) and C(:reserved) sorted sets). It reports pending,
    delayed and reserved counts, the age of the oldest pending job, and the C(failed_jobs) table.
  - Applies explicit rules, each reported with its evidence in RV(findings), and returns an overall
    RV(status) of V(ok), V(warning) or V(critical). O(fail_on) makes a play stop on a level.
  - Read-only for the system it looks at. Its only write is its own state file O(state_file), which
    lets the next probe see whether a queue made progress and how fast failures grow; that file is
    bookkeeping and never reported as a change, and it is not written in check mode.
  - "The rules, each named in RV(findings[].rule):"
  - V(not_running) - a process is not RUNNING; critical, or a warning while supervisord still retries it.
  - V(restarted) and V(flapping) - exits other than Laravel's planned exit 0 within O(restart_window); a
    warning, critical from O(flapping_restarts) exits or when supervisord gives up.
  - V(no_workers) - no process matches O(programs).
  - V(stalled_oldest_job) - the oldest pending job has waited O(stalled_after) seconds.
  - V(stalled_no_progress) - the same job has been first in line for O(no_progress_after) seconds, across
    probes (needs O(state_file)).
  - V(failed_jobs) - more than O(failed_threshold) failed jobs.
  - V(failed_jobs_rate) - failures grow faster than O(failed_rate_per_minute) since the previous probe
    (needs O(state_file)).
  - V(memory_near_limit) - resident memory reaches O(memory_warning_ratio) of the worker's C(--memory).
author:
  - mutuapix.infra maintainers (@mutuapix)
requirements:
  - Python >= 3.11 on the target
  - PyMySQL, to read the C(database) driver or the C(failed_jobs) table (Debian package C(python3-pymysql))
  - redis-py, for the C(redis) driver (Debian package C(python3-redis))
  - Read access to supervisord's unix socket (root, or the group set by C(chown=) in C([unix_http_server]))
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The probe runs in check mode too; only the state file is not written.
  diff_mode:
    support: none
  idempotent:
    description: Running it again with the same arguments changes nothing.
    support: full
    details: It never reports a change; the state file it keeps is the probe's own memory, not managed state.
  platform:
    platforms: debian
options:
  driver:
    description: The Laravel queue driver of the connection the workers consume.
    type: str
    required: true
    choices: [database, redis]
  connection:
    description:
      - The Laravel connection name, as it appears in C(failed_jobs.connection).
      - Defaults to the O(driver) name, which is how Laravel's default C(config/queue.php) names them.
    type: str
  queues:
    description: The queue names the workers consume (C(--queue=)).
    type: list
    elements: str
    default: [default]
  programs:
    description:
      - The supervisord program (group) names of the workers, or C(group:process) names.
      - Empty means every process supervisord runs.
    type: list
    elements: str
    default: []
  supervisor_socket:
    description: supervisord's unix socket (C(file=) in C([unix_http_server])).
    type: path
    default: /var/run/supervisor.sock
  supervisor_username:
    description: The socket's C(username=), if one is set.
    type: str
  supervisor_password:
    description: The socket's C(password=), if one is set.
    type: str
  db_name:
    description:
      - The application's database, which holds the C(jobs) and C(failed_jobs) tables.
      - Required with O(driver=database). With O(driver=redis) it is optional and enables the failed-job rules.
    type: str
  db_host:
    description: Database host, when O(db_unix_socket) is not used.
    type: str
    default: 127.0.0.1
  db_port:
    description: Database TCP port.
    type: int
    default: 3306
  db_user:
    description: Database user; it only needs C(SELECT) on the two tables.
    type: str
    default: root
  db_password:
    description: Database password.
    type: str
    default: ""
  db_unix_socket:
    description: Database unix socket; takes precedence over O(db_host).
    type: path
  jobs_table:
    description: The database driver's jobs table (C(DB_QUEUE_TABLE)).
    type: str
    default: jobs
  failed_jobs_table:
    description: The failed jobs table (C(queue.failed.table)).
    type: str
    default: failed_jobs
  retry_after:
    description:
      - The database connection's C(retry_after) in C(config/queue.php) (C(DB_QUEUE_RETRY_AFTER)). A job
        reserved longer ago than this is available again, as Laravel's database driver sees it, so it counts
        as pending (and in RV(queues[].expired_reservations)).
      - The Redis driver needs no such setting; each reservation's expiry is stored with it.
    type: int
    default: 90
  redis_host:
    description: Redis host.
    type: str
    default: 127.0.0.1
  redis_port:
    description: Redis port.
    type: int
    default: 6379
  redis_username:
    description: Redis ACL user name, if the application uses one.
    type: str
  redis_password:
    description: Redis password.
    type: str
  redis_db:
    description: Redis database number of the queue connection.
    type: int
    default: 0
  redis_prefix:
    description:
      - The Redis client key prefix (C(database.redis.options.prefix)). Laravel's default is the slug of
        C(APP_NAME) followed by C(_database_), for example V(laravel_database_).
    type: str
    default: ""
  stalled_after:
    description: Seconds the oldest pending job may wait before the queue counts as stalled.
    type: int
    default: 300
  no_progress_after:
    description: Seconds the same job may stay first in line, across probes, before the queue counts as stalled.
    type: int
    default: 300
  failed_threshold:
    description: More failed jobs than this is critical.
    type: int
    default: 100
  failed_rate_per_minute:
    description: New failed jobs per minute, since the previous probe, above which the probe warns.
    type: float
    default: 10
  failed_window:
    description: Seconds counted as "recent" in the RV(failed_jobs.in_window) count.
    type: int
    default: 3600
  flapping_restarts:
    description: This many unplanned exits of one worker within O(restart_window) is critical.
    type: int
    default: 3
  restart_window:
    description: Seconds of supervisord's log considered for restarts.
    type: int
    default: 600
  memory_warning_ratio:
    description: Warn when a worker's resident memory reaches this fraction of its memory limit.
    type: float
    default: 0.9
  memory_limit_mb:
    description:
      - The memory limit to compare against, in MB. By default each worker's own C(--memory) option is read
        from its command line.
    type: int
  state_file:
    description:
      - Where the probe keeps what it saw last (mode C(0600), written atomically). Without it the
        no-progress and failure-rate rules cannot run.
      - Keep it under C(/var/lib), not C(/tmp).
    type: path
  fail_on:
    description: Fail the task when RV(status) is at least this level.
    type: str
    choices: [never, warning, critical]
    default: never
notes:
  - Laravel's workers exit 0 after C(--max-time), C(--max-jobs) or C(queue:restart) and 12 past
    C(--memory); exit 0 is not counted as a restart, exit 12 is (a leak deserves a look).
  - Exit times come from supervisord's main log; with C(logfile=syslog) or no log the restart rules are skipped
    and a V(restarts_unknown) finding of level V(ok) says so.
seealso:
  - name: Laravel queue workers in production
    description: Supervisor configuration and worker options the probe expects.
    link: https://laravel.com/docs/11.x/queues#supervisor-configuration
"""

EXAMPLES = r"""
- name: Probe the Redis queue workers and stop the play if anything is critical
  mutuapix.infra.queue_probe:
    driver: redis
    queues: [high, default]
    programs: [laravel-worker-redis]
    redis_password: "{{ vault_redis_password }}"
    redis_prefix: mutuapix_database_
    db_name: mutuapix
    db_user: queue_probe
    db_password: "{{ vault_queue_probe_db_password }}"
    state_file: /var/lib/mutuapix/queue-probe.json
    fail_on: critical
  register: queue_health

- name: Probe a database-driver queue with a tighter stall threshold
  mutuapix.infra.queue_probe:
    driver: database
    db_name: mutuapix
    db_unix_socket: /run/mysqld/mysqld.sock
    stalled_after: 120
    fail_on: warning

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ queue_health.findings | map(attribute='message') | list }}"
"""

RETURN = r"""
status:
  description: The worst level of all findings.
  returned: success
  type: str
  sample: warning
findings:
  description: What each rule found, with its evidence; empty when all is well.
  returned: success
  type: list
  elements: dict
  contains:
    rule:
      description: The rule's name.
      type: str
      sample: restarted
    level:
      description: V(ok), V(warning) or V(critical).
      type: str
      sample: warning
    subject:
      description: The process (C(group:process)) or queue (C(connection:queue)) concerned.
      type: str
      sample: laravel-worker-redis:laravel-worker-redis_00
    message:
      description: One sentence for a person.
      type: str
      sample: >-
        worker laravel-worker-redis:laravel-worker-redis_00 exited 1 time(s) in the last 600 s;
        last: exit 12: reached its --memory limit
    evidence:
      description: The numbers behind the message; keys depend on the rule.
      type: dict
      sample:
        exits: 1
        window: 600
        gave_up: false
        last_exit_status: 12
        last_signal: null
        last_exit_age: 41.0
processes:
  description: Each worker process supervisord runs (filtered by O(programs)).
  returned: success
  type: list
  elements: dict
  sample:
    - name: laravel-worker-redis:laravel-worker-redis_00
      group: laravel-worker-redis
      state: RUNNING
      pid: 4242
      uptime: 1312
      exit_status: 12
      rss_mb: 61.5
      memory_limit_mb: 512
      exits_in_window: 1
      last_exit: "exit 12: reached its --memory limit"
queues:
  description: Depth of each queue, as the driver's next pop would see it.
  returned: success
  type: list
  elements: dict
  contains:
    connection:
      description: The connection name.
      type: str
      sample: redis
    queue:
      description: The queue name.
      type: str
      sample: default
    pending:
      description: Jobs a worker could take now (including due delayed jobs and expired reservations).
      type: int
      sample: 3
    delayed:
      description: Jobs not yet due.
      type: int
      sample: 0
    reserved:
      description: Jobs a worker holds, within C(retry_after).
      type: int
      sample: 1
    expired_reservations:
      description:
        - Jobs reserved longer than C(retry_after) ago, whose worker died or hung; counted in RV(queues[].pending).
      type: int
      sample: 0
    oldest_pending_age:
      description:
        - Seconds the oldest pending job has waited.
        - Null when no job is pending, or when a Redis payload carries no C(createdAt) (before Laravel 11).
      type: float
      sample: 12.5
    head_job:
      description: Id of the job first in line (database id, or the Redis payload's id).
      type: str
      sample: 0c8a4b9e-7d3c-4d0e-9a55-3f2d7f1c1e11
failed_jobs:
  description: Failed jobs of this connection and these queues; null with O(driver=redis) and no O(db_name).
  returned: success
  type: dict
  contains:
    total:
      description: All failed jobs of these queues.
      type: int
      sample: 150
    in_window:
      description: Those that failed within the last O(failed_window) seconds.
      type: int
      sample: 150
    window:
      description: O(failed_window), in seconds.
      type: int
      sample: 3600
    by_queue:
      description: Failed jobs per queue.
      type: dict
      sample: {"default": 150}
supervisor_state:
  description: supervisord's own state.
  returned: success
  type: str
  sample: RUNNING
probed_at:
  description: Unix time of this probe.
  returned: success
  type: float
  sample: 1795869121.5
previous_probe_at:
  description: Unix time of the probe recorded in O(state_file), if any.
  returned: success
  type: float
  sample: 1795869061.2
duration_ms:
  description: How long the probe took.
  returned: success
  type: float
  sample: 38.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mutuapix.infra.plugins.module_utils.errors import MutuapixError
from ansible_collections.mutuapix.infra.plugins.module_utils.laravel_queue import (
    PYMYSQL_IMPORT_ERROR,
    REDIS_IMPORT_ERROR,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.module_support import (
    fail_from_engine,
    fail_on_missing_libs,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.queue_probe import (
    DatabaseSettings,
    ProbeConfig,
    RedisSettings,
    probe,
)
from ansible_collections.mutuapix.infra.plugins.module_utils.queue_rules import Thresholds, at_least

ARGUMENT_SPEC = {
    "driver": {"type": "str", "required": True, "choices": ["database", "redis"]},
    "connection": {"type": "str"},
    "queues": {"type": "list", "elements": "str", "default": ["default"]},
    "programs": {"type": "list", "elements": "str", "default": []},
    "supervisor_socket": {"type": "path", "default": "/var/run/supervisor.sock"},
    "supervisor_username": {"type": "str"},
    "supervisor_password": {"type": "str", "no_log": True},
    "db_name": {"type": "str"},
    "db_host": {"type": "str", "default": "127.0.0.1"},
    "db_port": {"type": "int", "default": 3306},
    "db_user": {"type": "str", "default": "root"},
    "db_password": {"type": "str", "default": "", "no_log": True},
    "db_unix_socket": {"type": "path"},
    "jobs_table": {"type": "str", "default": "jobs"},
    "failed_jobs_table": {"type": "str", "default": "failed_jobs"},
    "retry_after": {"type": "int", "default": 90},
    "redis_host": {"type": "str", "default": "127.0.0.1"},
    "redis_port": {"type": "int", "default": 6379},
    "redis_username": {"type": "str"},
    "redis_password": {"type": "str", "no_log": True},
    "redis_db": {"type": "int", "default": 0},
    "redis_prefix": {"type": "str", "default": ""},
    "stalled_after": {"type": "int", "default": 300},
    "no_progress_after": {"type": "int", "default": 300},
    "failed_threshold": {"type": "int", "default": 100},
    "failed_rate_per_minute": {"type": "float", "default": 10},
    "failed_window": {"type": "int", "default": 3600},
    "flapping_restarts": {"type": "int", "default": 3},
    "restart_window": {"type": "int", "default": 600},
    "memory_warning_ratio": {"type": "float", "default": 0.9},
    "memory_limit_mb": {"type": "int"},
    "state_file": {"type": "path"},
    "fail_on": {"type": "str", "default": "never", "choices": ["never", "warning", "critical"]},
}


def probe_config(params: dict, check_mode: bool) -> ProbeConfig:
    database = None
    if params["db_name"]:
        database = DatabaseSettings(
            name=params["db_name"],
            host=params["db_host"],
            port=params["db_port"],
            user=params["db_user"],
            password=params["db_password"],
            unix_socket=params["db_unix_socket"],
            jobs_table=params["jobs_table"],
            failed_jobs_table=params["failed_jobs_table"],
            retry_after=params["retry_after"],
        )
    return ProbeConfig(
        driver=params["driver"],
        connection=params["connection"],
        queues=params["queues"],
        programs=params["programs"],
        supervisor_socket=params["supervisor_socket"],
        supervisor_username=params["supervisor_username"],
        supervisor_password=params["supervisor_password"],
        database=database,
        redis=RedisSettings(
            host=params["redis_host"],
            port=params["redis_port"],
            username=params["redis_username"],
            password=params["redis_password"],
            db=params["redis_db"],
            prefix=params["redis_prefix"],
        ),
        thresholds=Thresholds(
            stalled_after=params["stalled_after"],
            no_progress_after=params["no_progress_after"],
            failed_threshold=params["failed_threshold"],
            failed_rate_per_minute=params["failed_rate_per_minute"],
            flapping_restarts=params["flapping_restarts"],
            restart_window=params["restart_window"],
            memory_warning_ratio=params["memory_warning_ratio"],
        ),
        failed_window=params["failed_window"],
        memory_limit_mb=params["memory_limit_mb"],
        state_file=params["state_file"],
        write_state=not check_mode,
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("driver", "database", ("db_name",))],
        supports_check_mode=True,
    )
    params = module.params
    needed = []
    if params["db_name"]:
        needed.append(("PyMySQL", PYMYSQL_IMPORT_ERROR))
    if params["driver"] == "redis":
        needed.append(("redis", REDIS_IMPORT_ERROR))
    fail_on_missing_libs(module, needed)

    try:
        report = probe(probe_config(params, module.check_mode))
    except MutuapixError as error:
        fail_from_engine(module, error, changed=False)
        return

    result = {"changed": False, **report}
    if params["fail_on"] != "never" and at_least(report["findings"], params["fail_on"]):
        problems = [f["message"] for f in report["findings"] if f["level"] != "ok"]
        module.fail_json(msg=f"queue health is {report['status']}: " + "; ".join(problems), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
