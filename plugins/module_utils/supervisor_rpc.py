# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client of supervisord's own XML-RPC interface, over its unix socket.

The probe asks supervisord rather than scraping ``supervisorctl status`` text: the RPC gives each
process's state, start time, PID and last exit status as typed values, and ``readLog`` gives the main
log, whose ``exited:`` lines are the only record supervisord keeps of past restarts and their exit
statuses (it has no restart counter).
"""

from __future__ import annotations

import http.client
import re
import socket
import time
import xmlrpc.client
from dataclasses import dataclass
from urllib.parse import quote

from .errors import MutuapixError

# Bytes of the main log read from its end: enough for hours of exits on a busy host, small to fetch.
LOG_TAIL_BYTES = 128 * 1024

EXIT_LINE = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ exited: (?P<name>\S+) "
    r"\((?:exit status (?P<status>\d+)|terminated by (?P<signal>[A-Z0-9]+))(?: \(core dumped\))?; "
    r"(?P<unexpected>not )?expected\)"
)
GAVE_UP_LINE = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ gave up: (?P<name>\S+) entered FATAL")


class SupervisorError(MutuapixError):
    """supervisord cannot be asked: not running, socket unreadable, or it refused the call."""


@dataclass(frozen=True)
class ProcessInfo:
    group: str
    name: str
    statename: str
    pid: int
    start: int
    now: int
    exitstatus: int
    spawnerr: str

    @property
    def full_name(self) -> str:
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @property
    def uptime(self) -> int:
        return self.now - self.start if self.statename == "RUNNING" and self.start else 0


@dataclass(frozen=True)
class ExitEvent:
    """One ``exited:`` (or ``gave up:``) line of supervisord's main log."""

    name: str
    at: float
    exit_status: int | None
    signal: str | None
    expected: bool
    gave_up: bool = False


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class UnixSocketTransport(xmlrpc.client.Transport):
    """xmlrpc.client's HTTP transport, with the TCP connection swapped for supervisord's unix socket."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.timeout = timeout

    def make_connection(self, host):
        # get_host_info turns user:password@ of the URL into the Basic auth header sent with each call.
        self._extra_headers = self.get_host_info(host)[1]
        # A fresh connection per call: the probe makes three calls, keep-alive would save nothing.
        return _UnixHTTPConnection(self.socket_path, self.timeout)


class SupervisorClient:
    def __init__(
        self, socket_path: str, username: str | None = None, password: str | None = None, timeout: float = 5.0
    ) -> None:
        self.socket_path = socket_path
        # xmlrpc.client unquotes these for the Basic auth header, so ':' or '@' in them stay intact.
        credentials = f"{quote(username, safe='')}:{quote(password or '', safe='')}@" if username else ""
        self._proxy = xmlrpc.client.ServerProxy(
            f"http://{credentials}localhost/RPC2", transport=UnixSocketTransport(socket_path, timeout)
        )

    def _call(self, method: str, *args):
        try:
            return getattr(self._proxy, method)(*args)
        except FileNotFoundError as exc:
            raise SupervisorError(
                f"supervisord is not running: no socket at {self.socket_path}", socket=self.socket_path
            ) from exc
        except ConnectionRefusedError as exc:
            raise SupervisorError(
                f"supervisord is not running: {self.socket_path} refuses connections (stale socket)",
                socket=self.socket_path,
            ) from exc
        except PermissionError as exc:
            raise SupervisorError(
                f"cannot read supervisord's socket {self.socket_path}: permission denied; run the probe as root or "
                "as a member of the socket's group (chown= in [unix_http_server])",
                socket=self.socket_path,
            ) from exc
        except xmlrpc.client.ProtocolError as exc:
            raise SupervisorError(
                f"supervisord refused {method}: HTTP {exc.errcode} {exc.errmsg} (check the socket's username/password)",
                socket=self.socket_path,
                http_status=exc.errcode,
            ) from None  # the ProtocolError names the URL, which carries the credentials
        except (OSError, xmlrpc.client.Fault, http.client.HTTPException) as exc:
            raise SupervisorError(
                f"supervisord call {method} failed on {self.socket_path}: {exc}", socket=self.socket_path
            ) from exc

    def state(self) -> str:
        return self._call("supervisor.getState")["statename"]

    def processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(
                group=item["group"],
                name=item["name"],
                statename=item["statename"],
                pid=int(item["pid"]),
                start=int(item["start"]),
                now=int(item["now"]),
                exitstatus=int(item["exitstatus"]),
                spawnerr=item.get("spawnerr", ""),
            )
            for item in self._call("supervisor.getAllProcessInfo")
        ]

    def main_log_tail(self, length: int = LOG_TAIL_BYTES) -> str | None:
        """The end of supervisord's main log, or None when it has no readable log file (e.g. syslog only)."""
        try:
            return self._call("supervisor.readLog", -length, 0)
        except SupervisorError as exc:
            if isinstance(exc.__cause__, xmlrpc.client.Fault):
                return None
            raise


def parse_exit_events(log_text: str) -> list[ExitEvent]:
    """The exits recorded in a piece of supervisord's main log (timestamps are the host's local time)."""
    events = []
    for line in log_text.splitlines():
        match = EXIT_LINE.match(line)
        if match:
            status = match.group("status")
            events.append(
                ExitEvent(
                    name=match.group("name"),
                    at=time.mktime(time.strptime(match.group("stamp"), "%Y-%m-%d %H:%M:%S")),
                    exit_status=int(status) if status is not None else None,
                    signal=match.group("signal"),
                    expected=match.group("unexpected") is None,
                )
            )
            continue
        match = GAVE_UP_LINE.match(line)
        if match:
            events.append(
                ExitEvent(
                    name=match.group("name"),
                    at=time.mktime(time.strptime(match.group("stamp"), "%Y-%m-%d %H:%M:%S")),
                    exit_status=None,
                    signal=None,
                    expected=False,
                    gave_up=True,
                )
            )
    return events
