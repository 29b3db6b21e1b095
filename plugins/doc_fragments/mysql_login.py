# -*- coding: utf-8 -*-  # noqa: UP009 (the header ansible-test expects of a plugin)
# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The MySQL/MariaDB login options shared by mutuapix.infra.db_snapshot and mutuapix.infra.db_restore.
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or IP address of the MySQL/MariaDB server.
      - When neither this nor O(login_unix_socket) is set, the value from O(config_file) applies, and then the
        client default (V(localhost)).
    type: str
  login_port:
    description: TCP port of the server; the default comes from O(config_file), then V(3306).
    type: int
  login_user:
    description: User name to connect as; the default comes from O(config_file).
    type: str
  login_password:
    description:
      - Password of O(login_user). Never logged, and never put on a command line - the client tools read it
        from a private mode 0600 option file that is removed after the run.
    type: str
  login_unix_socket:
    description: Path of the server's Unix socket, used instead of TCP.
    type: path
  config_file:
    description:
      - A MySQL client option file (for example V(/etc/mysql/debian.cnf)) whose C([client]) section supplies any
        connection setting not given explicitly. Explicit O(login_host), O(login_port), O(login_user) and
        O(login_password) take precedence.
    type: path
  connect_timeout:
    description: Seconds to wait when connecting before reporting the server unreachable.
    type: int
    default: 10
attributes:
  idempotent:
    description:
      - When run twice in a row, the second run reports no change and changes nothing.
"""
