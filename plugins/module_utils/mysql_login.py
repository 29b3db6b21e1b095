# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of the MySQL login options, kept next to the engine type it builds.

The spec mirrors plugins/doc_fragments/mysql_login.py (a unit test keeps the two in sync). Plain data and
one constructor, so both modules and the host agent can use it without importing Ansible.
"""

from __future__ import annotations

from .mysql_client import ConnectionParams

LOGIN_ARGUMENT_SPEC = {
    "login_host": {"type": "str"},
    "login_port": {"type": "int"},
    "login_user": {"type": "str"},
    "login_password": {"type": "str", "no_log": True},
    "login_unix_socket": {"type": "path"},
    "config_file": {"type": "path"},
    "connect_timeout": {"type": "int", "default": 10},
}


def connection_params(options: dict) -> ConnectionParams:
    """ConnectionParams from module parameters (or any mapping with the login option names)."""
    return ConnectionParams(
        host=options.get("login_host"),
        port=options.get("login_port"),
        user=options.get("login_user"),
        password=options.get("login_password"),
        unix_socket=options.get("login_unix_socket"),
        config_file=options.get("config_file"),
        connect_timeout=options.get("connect_timeout") or 10,
    )
