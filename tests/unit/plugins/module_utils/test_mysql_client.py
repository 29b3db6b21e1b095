"""Connection settings, option files and tool detection, without a server."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.mutuapix.infra.plugins.module_utils import mysql_client as mc
from ansible_collections.mutuapix.infra.plugins.module_utils.mysql_login import LOGIN_ARGUMENT_SPEC, connection_params


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("plain", '"plain"'),
        ("has#hash", '"has#hash"'),
        ('q"uote', '"q\\"uote"'),
        ("back\\slash", '"back\\\\slash"'),
        (" spaced ", '" spaced "'),
    ],
)
def test_option_file_values_are_quoted(value, rendered):
    assert mc.option_file_value(value) == rendered


def test_option_file_includes_config_file_first_and_skips_unset_values():
    params = mc.ConnectionParams(user="backup", password="pw", config_file="/etc/mysql/backup.cnf")
    assert mc.render_option_file(params) == '!include /etc/mysql/backup.cnf\n[client]\nuser="backup"\npassword="pw"\n'


def test_option_file_is_private_and_removed():
    with mc.client_option_file(mc.ConnectionParams(password="secret")) as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        with open(path, encoding="utf-8") as handle:
            assert 'password="secret"' in handle.read()
    assert not os.path.exists(os.path.dirname(path))


def test_password_is_not_in_repr():
    assert "secret" not in repr(mc.ConnectionParams(user="u", password="secret"))


def fake_runner(argv):
    return 0, f"{os.path.basename(argv[0])} Ver 1.0\n", ""


@pytest.mark.parametrize(
    ("installed", "flavor", "dump"),
    [
        ({"mariadb-dump", "mariadb", "mysqldump", "mysql"}, "mariadb", "mariadb-dump"),
        ({"mysqldump", "mysql"}, "mysql", "mysqldump"),
        ({"mariadb-dump", "mysqldump", "mysql"}, "mysql", "mysqldump"),
    ],
    ids=["both-prefers-mariadb", "mysql-only", "incomplete-mariadb-pair"],
)
def test_tool_detection(installed, flavor, dump):
    tools = mc.detect_client_tools(fake_runner, which=lambda name: f"/usr/bin/{name}" if name in installed else None)
    assert (tools.flavor, os.path.basename(tools.dump)) == (flavor, dump)
    assert tools.as_manifest()["dump_version"] == f"{dump} Ver 1.0"


def test_missing_tools_and_failing_version_are_reported():
    with pytest.raises(mc.ToolMissingError, match="install mariadb-client"):
        mc.detect_client_tools(fake_runner, which=lambda name: None)
    with pytest.raises(mc.ToolMissingError, match="--version failed"):
        mc.detect_client_tools(lambda argv: (1, "", "broken"), which=lambda name: f"/usr/bin/{name}")


class FakeMySQLError(Exception):
    pass


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (2003, mc.ServerUnreachableError),
        (2013, mc.ServerUnreachableError),
        (1045, mc.AccessDeniedError),
        (1049, mc.UnknownDatabaseError),
        (1064, mc.DatabaseError),
    ],
)
def test_classify_error(code, error_type):
    error = mc.classify_error(FakeMySQLError(code, "text"), mc.ConnectionParams(host="db", port=3307), "app")
    assert error.__class__ is error_type and error.details["code"] == code


@pytest.mark.parametrize(
    ("version", "flavor", "numbers"),
    [
        ("10.11.19-MariaDB-0+deb12u1", "mariadb", (10, 11, 19)),
        ("8.0.36", "mysql", (8, 0, 36)),
        ("weird", "mysql", (0, 0, 0)),
    ],
)
def test_versions(version, flavor, numbers):
    assert mc.server_flavor(version) == flavor and mc.version_tuple(version) == numbers


def test_quote_identifier_doubles_backticks():
    assert mc.quote_identifier("we`ird") == "`we``ird`"


def test_login_spec_matches_its_doc_fragment():
    import yaml

    from ansible_collections.mutuapix.infra.plugins.doc_fragments.mysql_login import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(LOGIN_ARGUMENT_SPEC)
    for name, spec in LOGIN_ARGUMENT_SPEC.items():
        assert documented[name]["type"] == spec["type"]
        assert documented[name].get("default") == spec.get("default")
    assert LOGIN_ARGUMENT_SPEC["login_password"]["no_log"] is True


def test_connection_params_from_module_options():
    params = connection_params({"login_host": "db", "login_port": 3307, "login_password": "pw", "connect_timeout": 3})
    assert (params.host, params.port, params.password, params.connect_timeout) == ("db", 3307, "pw", 3)
