"""roles/base through real ansible-playbook runs on this machine, confined to temporary folders."""

import os
import stat

from ansible_run import localhost_play, run_playbook

STRONG = "N4rq8WcYpZ3sLx0aVd6TeB1u"
WEAK = "changeme-changeme-1234"


def _base_play(tmp_path, secret):
    return localhost_play(
        [{"name": "Apply roles/base", "ansible.builtin.include_role": {"name": "mutuapix.infra.base"}}],
        vars={
            "app_db_password": secret,
            "base_check_secret_names": ["app_db_password"],
            "base_state_dir": str(tmp_path / "state"),
            "base_config_dir": str(tmp_path / "etc"),
            "base_log_dir": str(tmp_path / "log"),
        },
    )


def test_a_placeholder_secret_stops_the_role_before_any_change_and_is_never_printed(tmp_path):
    run = run_playbook(tmp_path, [_base_play(tmp_path, WEAK)], extra_args=("-vvv",))
    output = run.stdout + run.stderr
    assert run.rc != 0
    assert "Secret variable 'app_db_password' is refused: it contains the placeholder 'changeme'" in output
    assert WEAK not in output
    assert not any((tmp_path / name).exists() for name in ("state", "etc", "log"))


def test_a_missing_secret_is_refused_by_name(tmp_path):
    play = _base_play(tmp_path, STRONG)
    del play["vars"]["app_db_password"]
    run = run_playbook(tmp_path, [play])
    assert run.rc != 0
    assert "Secret variable 'app_db_password' is refused: it is not set" in run.stdout
    assert not (tmp_path / "state").exists()


def test_a_strong_secret_passes_and_the_folders_are_private_and_idempotent(tmp_path):
    play = _base_play(tmp_path, STRONG)
    first = run_playbook(tmp_path, [play], extra_args=("--skip-tags", "install"))
    second = run_playbook(tmp_path, [play], extra_args=("--skip-tags", "install"))
    assert first.rc == 0, first.stdout
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ("state", "etc", "log")}
    assert modes == {"state": 0o700, "etc": 0o700, "log": 0o750}
    assert STRONG not in first.stdout + first.stderr
    stats = second.stdout and __import__("json").loads(second.stdout)["stats"]["localhost"]
    assert second.rc == 0 and stats["changed"] == 0
