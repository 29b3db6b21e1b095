"""A loopback TCP proxy in front of an HTTP server that misbehaves on demand, once.

It understands just enough HTTP/1.1 (request line, Content-Length) to find request bodies, so a fault
lands inside the bytes of an upload and not in its headers. The fault fires in the first request
whose method is ``method`` and whose body is at least ``min_body`` bytes:

- ``flip_at``: the body byte at that offset is inverted on its way to the server (corruption in flight);
- ``trigger_at``: when that many body bytes have passed, ``on_trigger`` is called (e.g. kill the server).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Callable

HEADER_END = b"\r\n\r\n"


class FaultyProxy:
    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.method = b"PUT"
        self.min_body = 1
        self.flip_at: int | None = None
        self.trigger_at: int | None = None
        self.on_trigger: Callable[[], None] | None = None
        self.fired = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        self._close(source, target)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward client bytes request by request, tampering with the one armed body."""
        buffer = b""
        with contextlib.suppress(OSError):
            while True:
                while HEADER_END not in buffer:
                    data = client.recv(65536)
                    if not data:
                        return self._close(client, upstream)
                    buffer += data
                head, buffer = buffer.split(HEADER_END, 1)
                upstream.sendall(head + HEADER_END)
                length = _content_length(head)
                armed = head.startswith(self.method + b" ") and length >= self.min_body and not self.fired.is_set()
                buffer = self._forward_body(client, upstream, buffer, length, armed)
        self._close(client, upstream)

    def _forward_body(self, client, upstream, buffer: bytes, length: int, armed: bool) -> bytes:
        sent = 0
        while sent < length:
            if not buffer:
                buffer = client.recv(65536)
                if not buffer:
                    raise OSError("client closed mid-body")
            chunk, buffer = buffer[: length - sent], buffer[length - sent :]
            if armed:
                chunk = self._tamper(chunk, sent)
            upstream.sendall(chunk)
            sent += len(chunk)
        return buffer

    def _tamper(self, chunk: bytes, offset: int) -> bytes:
        end = offset + len(chunk)
        if self.flip_at is not None and offset <= self.flip_at < end and not self.fired.is_set():
            self.fired.set()
            index = self.flip_at - offset
            return chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
        if self.trigger_at is not None and offset <= self.trigger_at < end and not self.fired.is_set():
            self.fired.set()
            if self.on_trigger:
                self.on_trigger()
            raise OSError("endpoint died")
        return chunk

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def kill(self) -> None:
        """The endpoint dies: stop listening and cut every open connection."""
        self.listener.close()
        with self.lock:
            self._close(*self.sockets)
            self.sockets.clear()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _colon, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
