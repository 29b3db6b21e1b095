# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the engine reaches a MySQL/MariaDB server: connection settings, client option files, client tools.

Passwords never travel on a command line, where any local user could read them from /proc: the client
tools get a 0600 option file in a private directory (``--defaults-extra-file``), removed after the run.
The client tools are detected once per run: MariaDB 11 dropped the ``mysqldump``/``mysql`` names, and
hosts with Oracle's packages only have those.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .errors import MutuapixError

try:
    import pymysql

    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    pymysql = None
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

# A runner takes argv and returns (rc, stdout, stderr): AnsibleModule.run_command has this shape.
Runner = Callable[[list], tuple]

SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

# Client error codes (CR_*) and server error codes (ER_*) that deserve their own message.
_UNREACHABLE_CODES = frozenset({2002, 2003, 2005, 2006, 2013})
_ACCESS_DENIED_CODES = frozenset({1044, 1045, 1698})
_UNKNOWN_DATABASE_CODE = 1049


class DatabaseError(MutuapixError):
    """The server refused or failed a request."""


class ServerUnreachableError(DatabaseError):
    """Nothing answers at the configured address, or the connection was lost."""


class AccessDeniedError(DatabaseError):
    """The server answered but refused the credentials."""


class UnknownDatabaseError(DatabaseError):
    """A named database does not exist on the server."""


class ToolMissingError(MutuapixError):
    """Neither the MariaDB nor the MySQL client tools are installed."""


class MissingLibraryError(MutuapixError):
    """An optional Python library the operation needs is not installed."""


@dataclass(frozen=True)
class ConnectionParams:
    """Where and as whom to connect; unset values fall back to ``config_file`` and then client defaults."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    unix_socket: str | None = None
    config_file: str | None = None
    connect_timeout: int = 10

    def describe(self) -> str:
        if self.unix_socket:
            return f"socket {self.unix_socket}"
        return f"{self.host or 'localhost'}:{self.port or 3306}"


@dataclass(frozen=True)
class ClientTools:
    """The dump and client programs of one flavour, with the versions they report."""

    flavor: str
    dump: str
    client: str
    dump_version: str
    client_version: str

    def as_manifest(self) -> dict:
        return {
            "flavor": self.flavor,
            "dump": os.path.basename(self.dump),
            "dump_version": self.dump_version,
            "client": os.path.basename(self.client),
            "client_version": self.client_version,
        }


def run_command(argv: list) -> tuple:
    """The default runner: run ``argv`` without a shell and return (rc, stdout, stderr)."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


_TOOL_PAIRS = (("mariadb", "mariadb-dump", "mariadb"), ("mysql", "mysqldump", "mysql"))


def detect_client_tools(runner: Runner = run_command, which: Callable = shutil.which) -> ClientTools:
    """Prefer the MariaDB names, fall back to the MySQL ones; a pair must be complete to be used."""
    for flavor, dump_name, client_name in _TOOL_PAIRS:
        dump, client = which(dump_name), which(client_name)
        if dump and client:
            return ClientTools(flavor, dump, client, tool_version(runner, dump), tool_version(runner, client))
    raise ToolMissingError(
        "no MySQL/MariaDB client tools found: install mariadb-client (mariadb-dump and mariadb) "
        "or mysql-client (mysqldump and mysql)",
        searched=[name for _flavor, dump, client in _TOOL_PAIRS for name in (dump, client)],
    )


def tool_version(runner: Runner, path: str) -> str:
    rc, out, err = runner([path, "--version"])
    if rc != 0:
        raise ToolMissingError(f"{path} --version failed (rc={rc}): {err.strip()}", tool=path, rc=rc)
    return out.strip()


def option_file_value(value: str) -> str:
    """Quote a value for a MySQL option file so '#', quotes, backslashes and spaces survive."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_option_file(params: ConnectionParams) -> str:
    lines = []
    if params.config_file:
        # Included first so that explicitly given values below override the operator's file.
        lines.append(f"!include {params.config_file}")
    lines.append("[client]")
    settings = (
        ("host", params.host),
        ("port", params.port),
        ("user", params.user),
        ("password", params.password),
        ("socket", params.unix_socket),
    )
    for key, value in settings:
        if value is not None and value != "":
            lines.append(f"{key}={option_file_value(str(value))}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def client_option_file(params: ConnectionParams) -> Iterator[str]:
    """Yield the path of a private 0600 option file holding ``params``; it is removed afterwards."""
    directory = tempfile.mkdtemp(prefix="mutuapix-mysql-")
    path = os.path.join(directory, "client.cnf")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_option_file(params))
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def require_pymysql() -> None:
    if pymysql is None:
        raise MissingLibraryError("the PyMySQL library is required (Debian: python3-pymysql)", library="pymysql")


def connect(params: ConnectionParams, database: str | None = None, **options):
    """Open a PyMySQL connection (autocommit, utf8mb4), turning failures into typed errors."""
    require_pymysql()
    kwargs = {
        "host": params.host,
        "user": params.user,
        "password": params.password or "",
        "unix_socket": params.unix_socket,
        "database": database,
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": params.connect_timeout,
    }
    if params.port is not None:
        kwargs["port"] = int(params.port)
    if params.config_file:
        kwargs["read_default_file"] = params.config_file
    kwargs.update(options)
    try:
        return pymysql.connect(**kwargs)
    except pymysql.MySQLError as exc:
        raise classify_error(exc, params, database) from exc


def classify_error(exc: Exception, params: ConnectionParams, database: str | None = None) -> DatabaseError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    where = params.describe()
    if code in _UNREACHABLE_CODES:
        return ServerUnreachableError(f"cannot reach the database server at {where}: {text}", code=code, server=where)
    if code in _ACCESS_DENIED_CODES:
        return AccessDeniedError(
            f"the server at {where} refused the credentials of user {params.user!r}: {text}", code=code, server=where
        )
    if code == _UNKNOWN_DATABASE_CODE:
        return UnknownDatabaseError(f"database {database!r} does not exist on {where}", code=code, database=database)
    return DatabaseError(f"database error on {where}: {text}", code=code, server=where)


def quote_identifier(name: str) -> str:
    """Backtick-quote an identifier; a backtick inside is doubled, as the server expects."""
    return "`" + name.replace("`", "``") + "`"


def server_flavor(version: str) -> str:
    return "mariadb" if "mariadb" in version.lower() else "mysql"


_VERSION_NUMBER = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def version_tuple(version: str) -> tuple:
    match = _VERSION_NUMBER.search(version)
    return tuple(int(part) for part in match.groups()) if match else (0, 0, 0)


def list_user_databases(cursor) -> list:
    cursor.execute("SHOW DATABASES")
    return sorted(row[0] for row in cursor.fetchall() if row[0].lower() not in SYSTEM_DATABASES)


def database_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
    return cursor.fetchone() is not None
