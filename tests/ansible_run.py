"""Run a real ansible-playbook against localhost and return the parsed results of each task.

Integration tests of modules and roles use this instead of calling module code directly, so they go
through AnsiballZ, argument_spec validation, no_log censoring and check mode exactly as users do.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    tasks: list = field(default_factory=list)

    def result(self, name: str) -> dict:
        """The localhost result of the task called ``name``."""
        for task in self.tasks:
            if task["task"]["name"] == name:
                return task["hosts"]["localhost"]
        raise KeyError(f"no task named {name!r}; ran: {[t['task']['name'] for t in self.tasks]}")


def run_playbook(tmp_path, plays: list, **options) -> PlaybookRun:
    """Write ``plays`` (a list of play dicts) to a file and run them on localhost."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    return run_playbook_file(tmp_path, str(playbook), **options)


def run_playbook_file(
    tmp_path, playbook: str, *, check: bool = False, diff: bool = False, extra_args: tuple = (), env: dict | None = None
) -> PlaybookRun:
    """Run a playbook file on localhost; the collection's own playbooks are run this way too."""
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", playbook, *extra_args]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    run_env = dict(os.environ)
    run_env.update(
        {
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        }
    )
    run_env.update(env or {})
    proc = subprocess.run(command, capture_output=True, text=True, env=run_env, cwd=tmp_path, check=False)
    tasks = []
    with contextlib.suppress(ValueError, KeyError):
        tasks = [task for play in json.loads(proc.stdout)["plays"] for task in play["tasks"]]
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, tasks)


def localhost_play(tasks: list, **play_options) -> dict:
    return {"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": tasks, **play_options}
